"""The access log as an HttpProtocol option: off by default, combined format, every
line written once the server stops and the log is closed (workers never wait)."""
import re
import threading

import pxcy
from pxcy.protocols.http11 import Static
from rawhttp import Conn, get


def test_access_log_off_by_default(tmp_path, docroot):
    app = Static(docroot["root"])
    assert app.access_log_dropped() == 0
    s = pxcy.Server(app, "127.0.0.1", 0, workers=1).start()
    try:
        assert get(s.port, "/hello.txt").status == 200
    finally:
        s.stop()
    assert list(tmp_path.iterdir()) == []


def test_access_log_many_workers_every_line(tmp_path, docroot):
    log = tmp_path / "access.log"
    app = Static(docroot["root"], access_log=str(log))
    s = pxcy.Server(app, "127.0.0.1", 0, workers=2).start()
    n_threads, per = 4, 250

    def client(k):
        with Conn(s.port) as c:
            for i in range(per):
                r = c.request("GET", f"/ten.txt?c={k}&i={i}", [("Range", "bytes=0-3")])
                assert r.status == 206

    try:
        ts = [threading.Thread(target=client, args=(k,)) for k in range(n_threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        with Conn(s.port) as c:
            c.send(b"GET /streamless HTTP/1.0\r\n\r\n")
            assert c.read_response().status == 404
    finally:
        s.stop()
        app.close_access_log()
    lines = log.read_text().splitlines()
    assert len(lines) == n_threads * per + 1
    got = set()
    for ln in lines[:-1] if "streamless" in lines[-1] else lines:
        m = re.match(r'^127\.0\.0\.1 - - \[[^\]]+\] "GET /ten\.txt\?c=(\d)&i=(\d+) HTTP/1\.1" 206 4 "-" "-"$', ln)
        if m:
            got.add((int(m.group(1)), int(m.group(2))))
    assert len(got) == n_threads * per
    assert any('"GET /streamless HTTP/1.0" 404' in ln for ln in lines)
