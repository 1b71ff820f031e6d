"""Connection management, black-box: pipelining, keep-alive, HTTP/1.0, Connection:
close, HEAD framing, slowloris and idle timeouts, client resets mid-sendfile."""
import hashlib
import os
import select
import socket

import pytest

from pxcy.protocols.http11 import Static
from rawhttp import Conn, build, get


def expected(root, i):
    with open(os.path.join(root, "n", f"{i}.txt"), "rb") as f:
        return f.read()


@pytest.mark.parametrize("batch", [16, 100])
def test_pipelined_batch_in_one_send(server, batch):
    methods = ["HEAD" if i % 10 == 3 else "GET" for i in range(batch)]
    raw = b"".join(build(m, f"/n/{i % 100}.txt") for i, m in enumerate(methods))
    with Conn(server.port) as c:
        c.send(raw)                                   # one write: the whole batch
        for i, m in enumerate(methods):
            r = c.read_response(head=(m == "HEAD"))
            body = expected(server.root, i % 100)
            assert r.status == 200, i
            assert int(r.get("Content-Length")) == len(body)
            assert r.body == (b"" if m == "HEAD" else body), i
        # and the connection is still good
        assert c.request("GET", "/ten.txt").body == b"0123456789"


def test_pipelined_batch_ending_with_close(server):
    raw = b"".join(build("GET", f"/n/{i}.txt") for i in range(5))
    raw += build("GET", "/n/5.txt", [("Connection", "close")])
    raw += build("GET", "/n/6.txt")                    # after the close: never answered
    with Conn(server.port) as c:
        c.send(raw)
        for i in range(6):
            assert c.read_response().body == expected(server.root, i)
        assert c.wait_closed()
        assert bytes(c.buf) == b""


def test_pipelined_mixed_statuses(server):
    raw = (build("GET", "/ten.txt", [("Range", "bytes=1-2")]) + build("GET", "/missing")
           + build("GET", "/ten.txt", [("If-None-Match", "*")]) + build("GET", "/dir")
           + build("GET", "/ten.txt", [("Range", "bytes=50-")]) + build("GET", "/ten.txt"))
    with Conn(server.port) as c:
        c.send(raw)
        got = [c.read_response() for _ in range(6)]
    assert [r.status for r in got] == [206, 404, 304, 301, 416, 200]
    assert got[0].body == b"12" and got[5].body == b"0123456789"


def test_pipelined_bytes_split_at_every_offset(server):
    # two requests delivered in two writes split at varying points
    raw = build("GET", "/ten.txt") + build("GET", "/hello.txt")
    with Conn(server.port) as c:
        for cut in range(1, len(raw), 7):
            c.send(raw[:cut])
            c.send(raw[cut:])
            assert c.read_response().body == b"0123456789"
            assert c.read_response().body == b"Hello, static world!\n"


def test_keepalive_1000_sequential(server):
    with Conn(server.port) as c:
        for i in range(1000):
            r = c.request("GET", f"/n/{i % 100}.txt")
            assert r.status == 200
            assert r.body == expected(server.root, i % 100), i


def test_http10_closes_by_default(server):
    with Conn(server.port) as c:
        r = c.request("GET", "/hello.txt", version="HTTP/1.0", host=False)
        assert r.status == 200
        assert r.version in ("HTTP/1.1", "HTTP/1.0")
        assert r.body == b"Hello, static world!\n"
        assert r.get("Connection", "close").lower() == "close"
        assert c.wait_closed()


def test_http10_keepalive(server):
    with Conn(server.port) as c:
        for _ in range(3):
            r = c.request("GET", "/hello.txt", [("Connection", "keep-alive")], version="HTTP/1.0")
            assert r.status == 200
            assert r.get("Connection").lower() == "keep-alive"
            assert r.body == b"Hello, static world!\n"
        assert c.still_open()
        r = c.request("GET", "/ten.txt", version="HTTP/1.0")    # no keep-alive this time
        assert r.body == b"0123456789"
        assert c.wait_closed()


def test_connection_close_honored(server):
    with Conn(server.port) as c:
        r = c.request("GET", "/hello.txt", [("Connection", "close")])
        assert r.status == 200
        assert r.get("Connection").lower() == "close"
        assert r.body == b"Hello, static world!\n"
        assert c.wait_closed()


def test_connection_close_in_a_list(server):
    with Conn(server.port) as c:
        r = c.request("GET", "/hello.txt", [("Connection", "foo, Close")])
        assert r.body == b"Hello, static world!\n"
        assert c.wait_closed()


def test_keepalive_default_http11(server):
    with Conn(server.port) as c:
        c.request("GET", "/hello.txt")
        assert c.still_open()
        assert c.request("GET", "/ten.txt").body == b"0123456789"


def test_head_headers_without_body(server, docroot):
    with Conn(server.port) as c:
        g = c.request("GET", "/big.bin")
        h = c.request("HEAD", "/big.bin")
        assert h.status == 200
        assert h.body == b""
        assert h.get("Content-Length") == str(len(docroot["big"]))
        for name in ("Content-Type", "ETag", "Last-Modified", "Accept-Ranges"):
            assert h.get(name) == g.get(name), name
        # no stray body bytes: the next response parses right away
        assert c.request("GET", "/ten.txt").body == b"0123456789"
        for path in ("/missing", "/dir"):
            h = c.request("HEAD", path)
            assert h.status in (404, 301) and h.body == b""
        assert c.request("GET", "/ten.txt").body == b"0123456789"


# ------------------------------------------------------------------- slowloris

def test_slowloris_others_still_served(server):
    stalled = []
    try:
        for i in range(50):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX-Slow-%d: aaa" % i)
            stalled.append(s)
        for _ in range(5):
            assert get(server.port, "/hello.txt").body == b"Hello, static world!\n"
        with Conn(server.port) as c:
            c.send(build("GET", "/ten.txt") * 10)
            assert all(c.read_response().body == b"0123456789" for _ in range(10))
    finally:
        for s in stalled:
            s.close()


def wait_all_closed(socks, rounds=150, step=0.1):
    """Poll until every socket saw EOF (or a reset); returns those still open."""
    open_ = list(socks)
    for _ in range(rounds):
        if not open_:
            break
        ready, _, _ = select.select(open_, [], [], step)
        for s in ready:
            try:
                data = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                data = b""
            if not data:
                open_.remove(s)
    return open_


def test_slowloris_closed_by_request_timeout(serve, docroot):
    srv = serve(Static(docroot["root"], request_timeout=1.0, keepalive=30.0))
    stalled = []
    try:
        for i in range(50):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            if i % 2:
                s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX-Slow: a")
            else:                                      # a head trickling in, byte by byte
                s.sendall(b"GET /hel")
            stalled.append(s)
        assert get(srv.port, "/hello.txt").body == b"Hello, static world!\n"
        # keep some of them trickling: a deadline covers the whole head, not each read
        for s in stalled[::2][:10]:
            try:
                s.sendall(b"l")
            except OSError:                            # already closed: fine too
                pass
        assert wait_all_closed(stalled) == []
        assert get(srv.port, "/hello.txt").body == b"Hello, static world!\n"
    finally:
        for s in stalled:
            s.close()


def test_idle_keepalive_closed(serve, docroot):
    srv = serve(Static(docroot["root"], keepalive=1.0, request_timeout=30.0))
    with Conn(srv.port) as c, Conn(srv.port) as never:
        assert c.request("GET", "/hello.txt").status == 200
        assert c.wait_closed(rounds=150, step=0.1)
        assert bytes(c.buf) == b""
        assert never.wait_closed(rounds=150, step=0.1)   # connected, never sent anything
    assert get(srv.port, "/hello.txt").status == 200


def test_request_in_pieces_leaves_no_deadline(serve, docroot):
    # a request that arrived in several reads had a deadline (request_timeout); once
    # answered, the keep-alive connection must live by `keepalive`, not that deadline
    srv = serve(Static(docroot["root"], request_timeout=1.0, keepalive=60.0))
    with Conn(srv.port) as c:
        c.send(b"GET /hello.txt HTTP/1.1\r\n")
        assert c.still_open(0.2)
        c.send(b"Host: localhost\r\n\r\n")
        assert c.read_response().status == 200
        for _ in range(3):                    # well past request_timeout: still open
            assert c.still_open(1.0)
        assert c.request("GET", "/ten.txt").body == b"0123456789"


def test_partial_body_closed_by_request_timeout(serve, apps, docroot):
    srv = serve(apps.Routes(docroot["root"], request_timeout=1.0))
    with Conn(srv.port) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly a part")
        assert c.wait_closed(rounds=150, step=0.1)


# -------------------------------------------------------- resets mid-sendfile

def test_client_reset_mid_sendfile(server, docroot):
    want = docroot["big_sha"]
    for round_ in range(8):
        c = Conn(server.port)
        c.send(build("GET", "/big.bin") * 4)           # 12 MiB: more than the socket buffers hold
        got = 0
        while got < 65536 * (round_ % 3 + 1):
            chunk = c.sock.recv(65536)
            assert chunk
            got += len(chunk)
        c.reset()                                      # RST while the server is sending
        if round_ % 2:
            # a half-read response on a fresh connection, then a full one
            with Conn(server.port) as other:
                r = other.request("GET", "/big.bin")
                assert hashlib.sha256(r.body).hexdigest() == want
    with Conn(server.port) as c:
        for _ in range(2):
            r = c.request("GET", "/big.bin")
            assert hashlib.sha256(r.body).hexdigest() == want


def test_client_close_without_reading(server):
    # the client sends requests for big files and closes without reading anything
    for _ in range(10):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        s.sendall(build("GET", "/big.bin") * 4)
        s.close()
    assert get(server.port, "/hello.txt").body == b"Hello, static world!\n"
