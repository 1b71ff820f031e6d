"""The access log as an HttpProtocol option: off by default, combined format, every
line written once the server stops and the log is closed (workers never wait)."""
import contextlib
import re
import threading

import pxcy
from pxcy.protocols.http11 import Static
from rawhttp import Conn, get


@contextlib.contextmanager
def logging_server(app):
    """A 1-worker Server of app; on leaving, stopped and its access log closed (written)."""
    s = pxcy.Server(app, "127.0.0.1", 0, workers=1).start()
    try:
        yield s
    finally:
        s.stop()
        app.close_access_log()


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


def test_access_log_names_refused_requests(tmp_path, docroot):
    """Requests refused before a handler (400, 414, 431, 505, 413) are logged too, as
    nginx logs them: by their raw first line when it did not parse (escaped, capped),
    by the parsed head otherwise. A connection that sends nothing logs nothing."""
    import socket
    log = tmp_path / "access.log"
    app = Static(docroot["root"], access_log=str(log))
    sends = [b"GARBAGE\r\n\r\n",
             b"GET /a\x01b HTTP/1.1\r\n\r\n",
             b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n",
             b"GET /h HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(100)) + b"\r\n",
             b"GET / HTTP/2.0\r\n\r\n",
             b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\nUser-Agent: t/1\r\n\r\n"]
    want = [400, 400, 414, 431, 505, 413]
    with logging_server(app) as s:
        socket.create_connection(("127.0.0.1", s.port)).close()
        for data, status in zip(sends, want):
            with Conn(s.port) as c:
                c.send(data)
                assert c.read_response().status == status
    lines = log.read_text().splitlines()
    assert len(lines) == len(want), lines
    fields = [re.match(r'^127\.0\.0\.1 - - \[[^\]]+\] "(.*)" (\d{3}) (\d+) "(.*)" "(.*)"$', ln) for ln in lines]
    assert all(fields), lines
    got = [(m.group(1), int(m.group(2)), m.group(4), m.group(5)) for m in fields]
    assert got[0] == ("GARBAGE", 400, "-", "-")
    assert got[1] == ("GET /a\\x01b HTTP/1.1", 400, "-", "-")
    assert got[2][1] == 414 and got[2][0] == "GET /" + "a" * 1019     # capped at 1024 bytes
    assert got[3] == ("GET /h HTTP/1.1", 431, "-", "-")
    assert got[4] == ("GET / HTTP/2.0", 505, "-", "-")
    assert got[5] == ("POST /up HTTP/1.1", 413, "-", "t/1")
    assert all(int(m.group(3)) > 0 for m in fields)      # the error bodies' bytes


def test_access_log_refused_after_empty_lines_and_pipelined(tmp_path, docroot):
    """The raw line of a refused request is its request line, after the empty lines the
    parser skips; one behind an answered request on the same connection is its own entry;
    quotes and control bytes are escaped (no log injection)."""
    log = tmp_path / "access.log"
    app = Static(docroot["root"], access_log=str(log))
    with logging_server(app) as s:
        with Conn(s.port) as c:
            c.send(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n\r\n\r\nGET /x HTTP/3.0\r\n\r\n")
            assert c.read_response().status == 200
            assert c.read_response().status == 505
        with Conn(s.port) as c:
            c.send(b'BAD"\x1b[2J /" HTTP/1.1\r\n\r\n')
            assert c.read_response().status == 400
    lines = log.read_text().splitlines()
    assert len(lines) == 3, lines
    assert '"GET /hello.txt HTTP/1.1" 200' in lines[0]
    assert '"GET /x HTTP/3.0" 505' in lines[1]
    assert '"BAD\\x22\\x1B[2J /\\x22 HTTP/1.1" 400' in lines[2], lines[2]


def test_access_log_refused_bodies_and_timeouts(tmp_path, apps, docroot):
    """Refusals after the head parsed are logged by that head (its user agent too): a
    chunked body gone wrong in a later read (400), a body over max_body (413, behind an
    answered request), an unsupported coding (501), a body that stops coming (408). A
    head that never ends is a 408 of "-". Each is counted once in the responses metric."""
    log = tmp_path / "access.log"
    app = apps.Routes(docroot["root"], max_body=1000, request_timeout=0.3, access_log=str(log),
                      metrics=True)
    ua = b"Host: x\r\nUser-Agent: ua/1\r\n"

    def exchange(*parts):
        with Conn(s.port) as c:
            for part in parts:
                c.send(part)
            c.sock.settimeout(10)
            data = b""
            while True:                      # until the server closes (refusals close)
                d = c.sock.recv(65536)
                if not d:
                    return data
                data += d

    with logging_server(app) as s:
        # a chunked body that stops coming: its request_timeout answers 408
        assert b" 408 " in exchange(b"POST /echo HTTP/1.1\r\n" + ua +
                                    b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        assert b" 400 " in exchange(b"POST /echo HTTP/1.1\r\n" + ua + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n")
        got = exchange(b"GET /q HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\n" + ua +
                       b"Content-Length: 5000\r\n\r\n")
        assert b" 200 " in got and b" 413 " in got
        assert b" 501 " in exchange(b"POST /echo HTTP/1.1\r\n" + ua + b"Transfer-Encoding: gzip, chunked\r\n\r\n")
        assert b" 408 " in exchange(b"GET /slow HTTP/1.1\r\nHost: x\r\n")
        m = {k: v for k, v in s.stats().items() if k.startswith("responses_")}
    lines = log.read_text().splitlines()
    entries = [re.match(r'^127\.0\.0\.1 - - \[[^\]]+\] "(.*)" (\d{3}) \S+ "(.*)" "(.*)"$', ln) for ln in lines]
    assert all(entries), lines
    got = [(e.group(1), int(e.group(2)), e.group(4)) for e in entries]
    assert got == [("POST /echo HTTP/1.1", 408, "ua/1"),
                   ("POST /echo HTTP/1.1", 400, "ua/1"),
                   ("GET /q HTTP/1.1", 200, "-"),
                   ("POST /echo HTTP/1.1", 413, "ua/1"),
                   ("POST /echo HTTP/1.1", 501, "-"),
                   ("-", 408, "-")], got
    assert m["responses_4xx"] == 4 and m["responses_5xx"] == 1 and m["responses_2xx"] == 1
