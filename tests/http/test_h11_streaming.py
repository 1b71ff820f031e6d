"""Issue 12, bodies and streaming: chunked request bodies decoded incrementally with
decoded and wire limits, streaming request bodies, streaming responses (chunked on
1.1, close-delimited on 1.0), server-sent events, pipelining behind big output."""
import hashlib
import os
import socket
import time

import pytest

from rawhttp import Conn, build, get


def vm_hwm_reset():
    """Reset this process's peak RSS (Linux clear_refs 5); False if not possible, or
    under a sanitizer (ASan's quarantine and shadow memory make RSS meaningless)."""
    if "ASAN_OPTIONS" in os.environ or "TSAN_OPTIONS" in os.environ:
        return False
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def vm_hwm_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def one_byte_chunks(body):
    return b"".join(b"1\r\n" + body[i:i + 1] + b"\r\n" for i in range(len(body))) + b"0\r\n\r\n"


def test_200kb_in_one_byte_chunks(hello_big_body):
    # 200 KB body, 1.2 MB on the wire (over the runtime's max_pending_input): the
    # whole body comes back (the wire limit is 4 x max_body by default)
    port = hello_big_body
    body = os.urandom(200_000)
    wire = one_byte_chunks(body)
    assert len(wire) > 1 << 20
    with Conn(port) as c:
        c.send(build("POST", "/echo", [("Transfer-Encoding", "chunked")]))
        for i in range(0, len(wire), 65536):
            c.send(wire[i:i + 65536])
        r = c.read_response()
        assert r.status == 200 and r.body == body
        assert c.request("GET", "/method").body == b"GET"     # still in sync


def test_wire_limit_413(app_server):
    # app_server: max_body 64 KiB, so the wire limit is 256 KiB: 50 KB in 1-byte
    # chunks is 300 KB on the wire -> 413 before the close, never a silent drop
    body = b"z" * 50_000
    wire = one_byte_chunks(body)
    with Conn(app_server.port) as c:
        c.send(build("POST", "/echo", [("Transfer-Encoding", "chunked")]))
        try:
            for i in range(0, len(wire), 8192):
                c.send(wire[i:i + 8192])
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = c.read_response()
        assert r.status == 413
        assert c.wait_closed()


def test_chunked_body_across_reads_in_order(app_server):
    body = bytes(range(256)) * 200
    raw = build("POST", "/echo", [("Transfer-Encoding", "chunked")]) + b"".join(
        b"%x;ext=1\r\n" % len(body[i:i + 777]) + body[i:i + 777] + b"\r\n"
        for i in range(0, len(body), 777)) + b"0\r\nTrailer: x\r\n\r\n" + build("GET", "/method")
    with Conn(app_server.port) as c:
        for i in range(0, len(raw), 1000):
            c.send(raw[i:i + 1000])
            time.sleep(0.001)
        assert c.read_response().body == body
        assert c.read_response().body == b"GET"


def test_streaming_upload_100mib_flat_memory(own_app_server):
    app_server = own_app_server
    total = 100 << 20
    block = bytes(range(256)) * 4096                 # 1 MiB
    can_measure = vm_hwm_reset()
    base = vm_hwm_kib()
    with Conn(app_server.port, timeout=60) as c:
        c.send(build("POST", "/upload", [("Content-Length", str(total))]))
        for _ in range(total // len(block)):
            c.sock.sendall(block)
        r = c.read_response()
        assert r.status == 200
        n, s = map(int, r.body.split())
        assert n == total and s == (total // 256) * sum(range(256))
        # chunked upload of the same kind on the same connection
        c.send(build("POST", "/upload", [("Transfer-Encoding", "chunked")]))
        for _ in range(8):
            c.sock.sendall(b"100000\r\n" + block + b"\r\n")
        c.sock.sendall(b"0\r\n\r\n")
        r = c.read_response()
        assert r.body.split()[0] == str(8 << 20).encode()
    st = app_server.stats()             # the heaps' high-water marks, whatever RSS says
    assert st["transient_peak"] < 8 << 20 and st["input_peak"] < 8 << 20, st
    if can_measure:
        grown = vm_hwm_kib() - base
        print(f"peak RSS growth during the 100 MiB upload: {grown} KiB")
        assert grown < 64 * 1024, f"peak RSS grew by {grown} KiB during a 100 MiB upload"


def read_exact_discard(c, n, sink=None):
    got = len(c.buf)
    if sink is not None:
        sink.update(bytes(c.buf[:n]))
    del c.buf[:n]
    buf = bytearray(1 << 20)
    while got < n:
        k = c.sock.recv_into(buf)
        if not k:
            break
        if sink is not None:
            sink.update(memoryview(buf)[:k])
        got += k
    return got


def test_streamed_response_1gib_chunked_flat_memory(own_app_server):
    app_server = own_app_server
    size = 1 << 30
    can_measure = vm_hwm_reset()
    base = vm_hwm_kib()
    with Conn(app_server.port, timeout=60) as c:
        c.send(build("GET", f"/stream/{size}"))
        head = c.read_response(head=True)
        assert head.status == 200 and head.get("Transfer-Encoding") == "chunked"
        assert "Content-Length" not in head
        # decode the chunked body without keeping it
        seen = 0
        buf = c.buf
        while True:
            while b"\r\n" not in buf:
                assert c._fill(), "EOF inside the chunked body"
            line, _, rest = bytes(buf).partition(b"\r\n")
            del buf[:len(line) + 2]
            n = int(line, 16)
            if n == 0:
                while len(buf) < 2:
                    assert c._fill()
                assert bytes(buf[:2]) == b"\r\n"
                del buf[:2]
                break
            while len(buf) < n + 2:
                if len(buf) < n:
                    k = min(n - len(buf), 1 << 20)
                    chunk = c.sock.recv(k)
                    assert chunk
                    seen += len(chunk)
                    n -= len(chunk)
                    continue
                assert c._fill()
            seen += n
            assert bytes(buf[n - 1:n]) in (b"x", b"") and bytes(buf[n:n + 2]) == b"\r\n"
            del buf[:n + 2]
        assert seen == size
        assert c.request("GET", "/method").body == b"GET"     # keep-alive after the stream
    st = app_server.stats()
    assert st["transient_peak"] < 8 << 20, st
    if can_measure:
        grown = vm_hwm_kib() - base
        print(f"peak RSS growth during the 1 GiB response: {grown} KiB")
        assert grown < 64 * 1024, f"peak RSS grew by {grown} KiB during a 1 GiB response"


def test_streamed_response_http10_close_delimited(app_server):
    with Conn(app_server.port) as c:
        c.send(b"GET /stream/600000 HTTP/1.0\r\n\r\n")
        r = c.read_response()                # no length: the body ends at EOF
        assert r.status == 200 and "Transfer-Encoding" not in r and "Content-Length" not in r
        assert r.get("Connection") == "close"
        assert r.body == b"x" * 600000


def test_streamed_response_head(app_server):
    with Conn(app_server.port) as c:
        r = c.request("HEAD", "/stream/100")
        assert r.status == 200 and r.body == b""
        assert c.request("GET", "/method").body == b"GET"


def test_server_sent_events(app_server):
    with Conn(app_server.port) as c:
        r = c.request("GET", "/sse")
        assert r.get("Content-Type") == "text/event-stream"
        assert r.get("Cache-Control") == "no-store"
        events = [e for e in r.body.decode().split("\n\n") if e]
        assert events == [f"id: {i}\ndata: event {i}" for i in range(5)]


def test_pipelined_behind_stream_answered_in_order(app_server):
    with Conn(app_server.port) as c:
        c.send(build("GET", "/stream/300000") + build("GET", "/method"))
        r = c.read_response()
        assert r.body == b"x" * 300000
        # the pipelined request waited for the stream (also answered without new
        # input: test_pipelined_after_stream_without_new_input)
        c.send(build("GET", "/q?a=2"))
        assert c.read_response().body == b"GET"
        assert c.read_response().body == b'{"a":"2","b":null}'


def test_pipelined_behind_10mib_file(app_server, docroot):
    path = os.path.join(docroot["root"], "ten-mib.bin")
    data = os.urandom(10 << 20)
    with open(path, "wb") as f:
        f.write(data)
    try:
        with Conn(app_server.port, timeout=5) as c:
            c.send(build("GET", "/ten-mib.bin") + build("GET", "/" + "/".join(["ten-mib.bin"]))
                   + build("GET", "/hello.txt"))
            assert c.read_response().body == data
            assert c.read_response().body == data
            assert c.read_response().body == b"Hello, static world!\n"
    finally:
        os.unlink(path)


def test_pipelined_after_stream_without_new_input(app_server):
    with Conn(app_server.port, timeout=5) as c:
        c.send(build("GET", "/stream/300000") + build("GET", "/method"))
        assert c.read_response().body == b"x" * 300000
        assert c.read_response().body == b"GET"


def test_stalled_head_answered_408(timeout_server):
    with Conn(timeout_server, timeout=10) as c:
        c.send(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n")     # and nothing more
        r = c.read_response()
        assert r.status == 408
        assert c.wait_closed()


def test_stalled_body_answered_408(timeout_server):
    with Conn(timeout_server, timeout=10) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        r = c.read_response()
        assert r.status == 408
        assert c.wait_closed()


def test_stall_after_answered_requests_gets_408_after_them(timeout_server):
    # two complete requests answered, then a partial head: 408 comes after both, and
    # the timer of an earlier (completed) request never cuts a later one short
    with Conn(timeout_server, timeout=10) as c:
        c.send(build("GET", "/hello.txt"))
        assert c.read_response().status == 200
        c.send(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.6)
        c.send(b"\r\n" + build("GET", "/hello.txt") + b"GET /hello.txt HTTP/1.1\r\n")
        assert c.read_response().status == 200
        assert c.read_response().status == 200
        assert c.read_response().status == 408
        assert c.wait_closed()


def test_streamed_upload_edge_cases(app_server):
    with Conn(app_server.port) as c:
        # empty chunked body: one final call with an empty piece
        c.send(build("POST", "/upload", [("Transfer-Encoding", "chunked")]) + b"0\r\n\r\n")
        assert c.read_response().body == b"0 0"
        # a streamed upload, then pipelined requests in the same write
        c.send(build("POST", "/upload", body=b"\x01\x02\x03") + build("GET", "/method")
               + build("POST", "/upload", [("Transfer-Encoding", "chunked")]) + b"2\r\n\x05\x05\r\n0\r\n\r\n")
        assert c.read_response().body == b"3 6"
        assert c.read_response().body == b"GET"
        assert c.read_response().body == b"2 10"
        # a streamed upload split at every byte
        raw = build("POST", "/upload", [("Transfer-Encoding", "chunked")]) + b"3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n"
        for i in range(len(raw)):
            c.send(raw[i:i + 1])
        assert c.read_response().body == b"4 %d" % sum(b"abcd")


def test_buffered_body_split_everywhere(app_server):
    body = b"0123456789" * 30
    raw = (build("POST", "/echo", [("Transfer-Encoding", "chunked")]) + b"".join(
        b"%x\r\n" % len(body[i:i + 7]) + body[i:i + 7] + b"\r\n" for i in range(0, len(body), 7))
        + b"0\r\n\r\n" + build("POST", "/echo", body=body))
    with Conn(app_server.port) as c:
        for i in range(0, len(raw), 3):
            c.send(raw[i:i + 3])
        assert c.read_response().body == body
        assert c.read_response().body == body


def test_pipelined_behind_8mib_output_with_new_input(app_server, docroot):
    # the batch stops once 8 MiB are queued; the rest is answered, in order, when
    # more input arrives too (and without it: test_pipelined_behind_10mib_file)
    reqs = b"".join(build("GET", "/big.bin") for _ in range(4))     # 4 x 3 MiB files
    with Conn(app_server.port, timeout=10) as c:
        c.send(reqs + build("GET", "/method"))
        for _ in range(3):                                          # 9 MiB queued: stop
            assert c.read_response().status == 200
        c.send(build("GET", "/q?a=3"))
        assert len(c.read_response().body) == len(docroot["big"])
        assert c.read_response().body == b"GET"
        assert c.read_response().body == b'{"a":"3","b":null}'


def test_bodies_spanning_reads_do_not_accumulate(app_server):
    # each body arrives in a later read than its head (after the 100 Continue), so
    # its head and body are kept in the persistent heap (4 MiB by default) and must
    # be given back: 3,000 of them would not fit if they were not
    with Conn(app_server.port) as c:
        for i in range(3000):
            body = b"%d" % i
            c.send(build("POST", "/echo", [("Content-Length", str(len(body))),
                                            ("Expect", "100-continue"), ("X-Pad", "p" * 200)]))
            assert c.read_response().status == 100
            c.send(body)
            assert c.read_response().body == body
