"""Attack pass on issue 14: listeners attacked (issue 14)."""
import os
import socket
import threading

import pytest

import pxcy
from pxcy.protocols.echo import Echo


def test_unix_path_of_a_server_with_a_full_backlog(tmp_path):
    """The path belongs to a live server that is not accepting (hung, SIGSTOPped) and
    whose backlog is full: the blocking probe connect() waited for good, with the
    Server's lock held (start() never returned, stop() from elsewhere blocked too)."""
    path = str(tmp_path / "s.sock")
    ls = socket.socket(socket.AF_UNIX)
    ls.bind(path)
    ls.listen(0)
    fill = []
    for _ in range(8):
        c = socket.socket(socket.AF_UNIX)
        c.setblocking(False)
        try:
            c.connect(path)
        except BlockingIOError:
            c.close()
            break
        fill.append(c)
    res = []

    def go():
        try:
            pxcy.Server(Echo, listen=["unix:" + path], workers=1).start().stop()
            res.append("started")
        except OSError as e:
            res.append(str(e))
    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(5)
    alive = t.is_alive()
    ls.close()                  # (lets a hung probe go)
    for c in fill:
        c.close()
    t.join(5)
    assert not alive, "start() hung on the probe connect"
    assert res and "in use" in res[0], res


def test_stop_leaves_a_successors_unix_socket(tmp_path):
    """A restart on a Unix path: the new server removes the old one's socket file
    and binds its own; the old server's stop must not remove the new file."""
    import os
    path = str(tmp_path / "s.sock")
    old = pxcy.Server(Echo, listen=[f"unix:{path}"], workers=1)
    old.start()
    os.unlink(path)                          # what a successor does with a stale path
    new = pxcy.Server(Echo, listen=[f"unix:{path}"], workers=1)
    new.start()
    try:
        old.stop()
        assert os.path.exists(path)
        c = socket.socket(socket.AF_UNIX)
        c.connect(path)
        c.sendall(b"ping")
        assert c.recv(4) == b"ping"
        c.close()
    finally:
        new.stop()
    assert not os.path.exists(path)          # its own file, removed by its own stop
