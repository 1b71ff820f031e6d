"""HTTP/1.1 peer server for the pxcy benchmarks: asyncio or uvloop + httptools.

    python asyncio_httptools.py --loop asyncio|uvloop --port PORT [--root DIR] [--workers N]

Serves
  /plaintext   "Hello, World!"                (text/plain)
  /json        {"message":"Hello, World!"}    (application/json)
  /file/<name> a file under --root; "Range: bytes=a-b" answered with 206 via
               os.pread + transport.write (uvloop has no loop.sendfile, so both
               loops use the same pread path to stay comparable)
with Server and Date headers, HTTP/1.1 keep-alive and pipelining: every request
parsed from one data_received() chunk is answered, and all the responses of
that chunk go out in ONE transport.write().
--workers N forks N processes sharing the port through SO_REUSEPORT.
"""
import argparse
import asyncio
import os
import socket
import sys

from workers import run_workers  # noqa: E402 (bench/peers is the script's folder)
import time
from email.utils import formatdate

import httptools

PLAIN = b"Hello, World!"
JSON = b'{"message":"Hello, World!"}'


class Clock:
    """Caches the Date header, refreshed once a second by a loop timer."""

    def __init__(self, loop):
        self.loop = loop
        self.date = b""
        self.tick()

    def tick(self):
        self.date = formatdate(time.time(), usegmt=True).encode()
        self.loop.call_later(1.0, self.tick)


def head(status, ctype, length, date, extra=b""):
    return b"".join((
        b"HTTP/1.1 ", status, b"\r\nServer: ", SERVER_NAME, b"\r\nDate: ", date,
        b"\r\nContent-Type: ", ctype, b"\r\nContent-Length: ", str(length).encode(),
        b"\r\n", extra, b"\r\n"))


class Files:
    """Open-once file descriptors under the document root."""

    def __init__(self, root):
        self.root = os.path.realpath(root) if root else None
        self.fds = {}

    def get(self, name):
        if self.root is None or "/" in name or name.startswith("."):
            return None
        ent = self.fds.get(name)
        if ent is None:
            try:
                fd = os.open(os.path.join(self.root, name), os.O_RDONLY)
            except OSError:
                return None
            ent = self.fds[name] = (fd, os.fstat(fd).st_size)
        return ent


def parse_range(value, size):
    """'bytes=a-b' / 'bytes=a-' / 'bytes=-n' -> (start, end inclusive) or None."""
    if not value.startswith(b"bytes=") or b"," in value:
        return None
    a, _, b = value[6:].strip().partition(b"-")
    try:
        if not a:
            n = int(b)
            start, end = max(size - n, 0), size - 1
        else:
            start = int(a)
            end = min(int(b), size - 1) if b else size - 1
    except ValueError:
        return None
    if start > end or start >= size:
        return None
    return start, end


class HttpProtocol(asyncio.Protocol):
    __slots__ = ("transport", "parser", "url", "range", "out", "clock", "files", "keep")

    def __init__(self, clock, files):
        self.clock = clock
        self.files = files
        self.transport = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.range = None
        self.out = []
        self.keep = True

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data):
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.keep = False
        except httptools.HttpParserError:
            self.out.append(head(b"400 Bad Request", b"text/plain", 0, self.clock.date,
                                 b"Connection: close\r\n"))
            self.keep = False
        if self.out:
            self.transport.write(b"".join(self.out) if len(self.out) > 1 else self.out[0])
            self.out.clear()
        if not self.keep:
            self.transport.close()

    # httptools callbacks
    def on_message_begin(self):
        self.url = b""
        self.range = None

    def on_url(self, url):
        self.url += url

    def on_header(self, name, value):
        if len(name) == 5 and name.lower() == b"range":
            self.range = value

    def on_message_complete(self):
        date = self.clock.date
        url = self.url
        if not self.parser.should_keep_alive():
            self.keep = False
        if url == b"/plaintext":
            self.out.append(head(b"200 OK", b"text/plain", len(PLAIN), date) + PLAIN)
        elif url == b"/json":
            self.out.append(head(b"200 OK", b"application/json", len(JSON), date) + JSON)
        elif url.startswith(b"/file/"):
            self.serve_file(url[6:].decode("latin-1"), date)
        else:
            self.out.append(head(b"404 Not Found", b"text/plain", 0, date))

    def serve_file(self, name, date):
        ent = self.files.get(name)
        if ent is None:
            self.out.append(head(b"404 Not Found", b"text/plain", 0, date))
            return
        fd, size = ent
        if self.range is not None:
            rng = parse_range(self.range, size)
            if rng is None:
                self.out.append(head(b"416 Range Not Satisfiable", b"text/plain", 0, date,
                                     b"Content-Range: bytes */%d\r\n" % size))
                return
            start, end = rng
            body = os.pread(fd, end - start + 1, start)
            self.out.append(head(b"206 Partial Content", b"application/octet-stream", len(body), date,
                                 b"Content-Range: bytes %d-%d/%d\r\n" % (start, end, size)) + body)
        else:
            body = os.pread(fd, size, 0)
            self.out.append(head(b"200 OK", b"application/octet-stream", len(body), date) + body)


def make_socket(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((host, port))
    s.listen(4096)
    s.setblocking(False)
    return s


def serve(args):
    if args.loop == "uvloop":
        import uvloop
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    clock = Clock(loop)
    files = Files(args.root)
    sock = make_socket(args.host, args.port)
    server = loop.run_until_complete(
        loop.create_server(lambda: HttpProtocol(clock, files), sock=sock, backlog=4096))
    try:
        loop.run_forever()
    finally:
        server.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--root", default=None, help="directory served under /file/")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    global SERVER_NAME
    SERVER_NAME = b"%s-httptools" % args.loop.encode()
    print(f"{args.loop}+httptools listening on http://{args.host}:{args.port} workers={args.workers}", flush=True)
    run_workers(serve, args)


SERVER_NAME = b"asyncio-httptools"

if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
