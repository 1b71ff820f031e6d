"""The training run of the profile-guided build (tools/pgo_build.py): drives pxcy's own
servers, in this process, with a mix of ordinary and unusual traffic, so that the
compiler learns which paths are hot and lays them out together.

    PYTHONPATH=. python tools/pgo_train.py

Run with this checkout's root on PYTHONPATH (pgo_build.py does; it refuses to train
another checkout's pxcy); the profile is written when this process exits normally.
What it sends (bounded: a few seconds, every socket with a timeout, every answer's
status checked): HTTP/1.1 GETs one at a time and pipelined, with a short head (as
wrk sends) and a browser's head; JSON; HEAD; 404, 405 and 400; bodies with
Content-Length and chunked; HTTP/1.0; OPTIONS; /healthz and /metrics; static files
whole, by range and conditionally, with an access log; Echo and Lines streams (lines
split across reads). Exit status 0, or 1 with one line on stderr (the build then
goes on without a profile).
"""
import os
import socket
import sys
import tempfile

TIMEOUT = 10.0
BROWSER = (b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
           b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
           b"Accept-Language: en-US,en;q=0.5\r\n"
           b"Accept-Encoding: gzip, deflate, br\r\n"
           b"Connection: keep-alive\r\n"
           b"Cookie: session=0123456789abcdef; theme=dark\r\n"
           b"Upgrade-Insecure-Requests: 1\r\n"
           b"Cache-Control: max-age=0\r\n")


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def exchange(s, data, status, answers=1, bodies=True):
    """Send data, read exactly `answers` complete responses (their heads and, with
    bodies, their Content-Length bodies), each with this status; anything else
    raises RuntimeError (so a server that answers everything with an error does not
    train its error path as the hot one)."""
    s.sendall(data)
    buf = b""
    got = 0
    while got < answers:
        head_end = buf.find(b"\r\n\r\n")
        if head_end >= 0:
            head = buf[:head_end].lower()
            if head[9:12] != b"%d" % status:
                raise RuntimeError(f"{head[:12]!r} where {status} was expected, for {data[:40]!r}")
            n = 0
            k = head.find(b"content-length:")
            if k >= 0 and bodies and status != 304:
                n = int(head[k + 15:].split(b"\r\n", 1)[0])
            if len(buf) >= head_end + 4 + n:
                buf = buf[head_end + 4 + n:]
                got += 1
                continue
        chunk = s.recv(1 << 16)
        if not chunk:
            raise RuntimeError(f"closed after {got} of {answers} answers to {data[:40]!r}")
        buf += chunk
    if buf:
        raise RuntimeError(f"{len(buf)} bytes more than {answers} answers to {data[:40]!r}")


def train_http(port, static):
    host = b"Host: 127.0.0.1:%d\r\n" % port
    plain = b"GET /plaintext HTTP/1.1\r\n" + host + b"\r\n"
    with connect(port) as s:
        for _ in range(3000):
            exchange(s, plain, 200)
        for _ in range(300):
            exchange(s, plain * 16, 200, 16)
        for i in range(600):
            path, status = ((b"/json", 200), (b"/plaintext?x=%d" % i, 200), (b"/missing", 404),
                            (b"/plain%74ext", 200))[i % 4]
            exchange(s, b"GET " + path + b" HTTP/1.1\r\n" + host + BROWSER + b"\r\n", status)
        for _ in range(100):
            exchange(s, b"HEAD /plaintext HTTP/1.1\r\n" + host + b"\r\n", 200, bodies=False)
            exchange(s, b"POST /plaintext HTTP/1.1\r\n" + host + b"Content-Length: 5\r\n\r\nhello", 405)
            exchange(s, b"POST /json HTTP/1.1\r\n" + host +
                     b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 405)
            exchange(s, b"OPTIONS * HTTP/1.1\r\n" + host + b"\r\n", 204)
        for path in (b"/healthz", b"/metrics") * 20:
            exchange(s, b"GET " + path + b" HTTP/1.1\r\n" + host + b"\r\n", 200)
    for i in range(200):                       # one request per connection, and errors
        with connect(port) as s:
            req, status = ((b"GET /plaintext HTTP/1.0\r\n\r\n", 200),
                           (b"GET /json HTTP/1.1\r\n" + host + b"Connection: close\r\n\r\n", 200),
                           (b"GET /../etc HTTP/1.1\r\n" + host + b"\r\n", 400),
                           (b"BREW / HTTP/1.1\r\nHost\r\n\r\n", 400))[i % 4]
            exchange(s, req, status)
    if static:
        with connect(static) as s:
            h = b"Host: 127.0.0.1:%d\r\n" % static
            for i in range(300):
                extra, status = ((b"", 200), (b"Range: bytes=100-16483\r\n", 206),
                                 (b"Range: bytes=0-9,50-59\r\n", 206), (b"If-None-Match: \"x\"\r\n", 200))[i % 4]
                exchange(s, b"GET /page.html HTTP/1.1\r\n" + h + extra + b"\r\n", status)
                exchange(s, b"GET /big.bin HTTP/1.1\r\n" + h + extra + b"\r\n", status)


def read_exactly(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise RuntimeError(f"closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def train_streams(echo, lines):
    with connect(echo) as s:
        for i in range(500):
            data = bytes([65 + i % 26]) * (100 + 37 * (i % 50))
            s.sendall(data)
            if read_exactly(s, len(data)) != data:
                raise RuntimeError("echo answered other bytes")
    with connect(lines) as s:
        count = 0
        for i in range(500):
            if i % 7 == 0:
                s.sendall(b"LAST\n")
                want = b"LAST line %d\n" % (i - 1) if i else b"LAST \n"
            else:
                count += 1
                s.sendall(b"line %d" % i)           # split: pushed back until its newline
                s.sendall(b"\n")
                want = b"%d line %d\n" % (count, i)
            if read_exactly(s, len(want)) != want:
                raise RuntimeError(f"lines answered other than {want!r}")


def main():
    import pxcy
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.abspath(pxcy.__file__).startswith(os.path.join(root, "pxcy") + os.sep):
        raise RuntimeError(f"pxcy imported from {os.path.dirname(pxcy.__file__)}, not from {root}")
    from pxcy.runtime import Server
    from pxcy.protocols.http11 import HelloWorld, Static
    from pxcy.protocols.echo import Echo
    from pxcy.protocols.lines import Lines
    with tempfile.TemporaryDirectory(prefix="pxcy-pgo-") as root:
        with open(os.path.join(root, "page.html"), "wb") as f:
            f.write(b"<!doctype html><title>pxcy</title>" + b"x" * 2000)
        with open(os.path.join(root, "big.bin"), "wb") as f:
            f.write(os.urandom(1 << 18))
        servers = [Server(HelloWorld(metrics=True), workers=2),
                   Server(Static(root, access_log=os.path.join(root, "access.log")), workers=1),
                   Server(Echo(), workers=1), Server(Lines(), workers=1)]
        try:
            for srv in servers:
                srv.start()
            http, static, echo, lines = (srv.port for srv in servers)
            train_http(http, static)
            train_streams(echo, lines)
        finally:
            for srv in servers:
                srv.stop()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, ValueError, RuntimeError, ImportError) as e:
        print(f"pgo_train: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
