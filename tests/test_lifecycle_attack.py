"""Attacks on the connection lifecycle of issue 11 (review of the rewrite): misuse at
the edges that tests/test_lifecycle.py does not cover. Real sockets; no timed
assertions (socket timeouts only turn a hang into a failure; short sleeps only give
a buggy worker the chance to misbehave)."""
import os
import socket
import time

import pytest

import pxcy
from pxcy.protocols.lines import Lines
from netutil import recv_exactly, settled_stats

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "tests", "attack_support")
HANG = float(os.environ.get("PXCY_TEST_HANG", "30"))


@pytest.fixture(scope="module")
def attack():
    from buildutil import import_built
    return import_built("attack", HERE, [os.path.join(ROOT, "pxcy", "runtime.pxd")])


def connect(server):
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(HANG)
    return s


def recv_line(s):
    buf = bytearray()
    while not buf.endswith(b"\n"):
        ch = s.recv(1)
        if not ch:
            break
        buf += ch
    return bytes(buf)


@pytest.mark.parametrize("proto", ["Lines", "PushAll"])
def test_input_pushed_back_without_progress_is_not_redelivered_in_a_loop(serve, attack, proto):
    """k == n with nothing queued (a partial line, a request head still arriving)
    must wait for new bytes; it was redelivered every loop turn, spinning the worker
    at 100% CPU for as long as a client sat on a partial message."""
    cls = Lines if proto == "Lines" else attack.PushAll
    server = serve(cls, workers=1)
    s = connect(server)
    s.sendall(b"partial, no newline")
    st = settled_stats(server, lambda st: st["reads"] >= 1)
    time.sleep(0.2)                     # a spinning worker redelivers ~10^5 times here
    st = server.stats()
    assert st["reads"] == 1
    assert st["redeliveries"] == 0, st["redeliveries"]
    if proto == "Lines":
        s.sendall(b" - the rest\n")     # still answered once the line is complete
        assert recv_line(s).endswith(b"partial, no newline - the rest\n")
    s.close()


def test_pushback_outside_data_received_is_refused(serve, attack):
    """pushback() belongs to data_received; from a timer it used the length of the
    last data_received on the worker (any connection's) and claimed success."""
    server = serve(attack.Edges, workers=1)
    s = connect(server)
    s.sendall(b"p")
    assert recv_line(s) == b"timer-pushback -1\n"
    s.close()


def test_cancel_of_the_running_timer_from_timer_fired_twice(serve, attack):
    server = serve(attack.Edges, workers=1)
    s = connect(server)
    s.sendall(b"c")
    assert recv_line(s) == b"cancel -1 -1\n"          # already fired: its id is stale
    s.sendall(b"z")                                   # a 0 ms timer re-armed from timer_fired
    assert [recv_line(s) for _ in range(3)] == [b"zero 1\n", b"zero 2\n", b"zero 3\n"]
    s.close()


def test_close_then_abort_in_one_callback_aborts(serve, attack):
    server = serve(attack.Edges, workers=1)
    s = connect(server)
    s.sendall(b"k")
    try:
        data = s.recv(100)
    except ConnectionResetError:
        data = b""
    assert data == b""                                # aborted: queued output dropped
    st = settled_stats(server, lambda st: st["connections"] == 0)
    assert st["connections"] == 0
    s.close()


@pytest.mark.parametrize("big", [10, 10 << 20])
def test_pipelined_request_then_half_close_is_answered(serve, big):
    """`printf 'req1\\nreq2\\n' | nc -N`: the FIN arrives with (or behind) input the
    protocol pushed back to answer after its current output. EOF used to close the
    connection at once and drop that input: req2 was never answered."""
    from buildutil import import_built
    protos = import_built("protos", os.path.join(ROOT, "tests", "support"),
                          [os.path.join(ROOT, "pxcy", "runtime.pxd")])
    server = serve(protos.Stall, workers=1)
    s = connect(server)
    s.sendall(b"BIG %d\nhello\nworld\n" % big)
    s.shutdown(socket.SHUT_WR)
    buf = bytearray()
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        buf += d
    assert len(buf) == big + len(b"ok hello\nok world\n")
    assert bytes(buf[big:]) == b"ok hello\nok world\n"
    s.close()
    st = settled_stats(server, lambda st: st["connections"] == 0)
    assert st["connections"] == 0 and st["eofs"] == 1


def rst(s):
    import struct
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


@pytest.mark.parametrize("half_close", [False, True])
def test_reset_with_output_queued_and_redelivery_pending(serve, half_close):
    """A client that pipelines behind a large response, (half-closes,) reads a little
    and resets: the connection goes, every other client is still served."""
    from buildutil import import_built
    protos = import_built("protos", os.path.join(ROOT, "tests", "support"),
                          [os.path.join(ROOT, "pxcy", "runtime.pxd")])
    server = serve(protos.Stall, workers=1)
    for i in range(20):
        s = connect(server)
        s.sendall(b"BIG %d\n" % (8 << 20) + b"line\n" * 100)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        recv_exactly(s, 1000 * (i + 1))
        rst(s)
    p = connect(server)
    p.sendall(b"probe\n")
    assert recv_line(p) == b"ok probe\n"
    p.close()
    st = settled_stats(server, lambda st: st["connections"] == 0)
    assert st["connections"] == 0
