"""A tiny raw-socket HTTP/1.1 client for black-box tests: sends exactly the bytes it
is given and parses what comes back by hand (status line, headers, body delimited
by Content-Length, chunked coding, a multipart/byteranges close-delimiter, or EOF).
No http.client: malformed requests must reach the server unchanged."""
import re
import socket
import struct

TIMEOUT = 10.0


class Response:
    def __init__(self, version, status, reason, headers, body, raw_head):
        self.version = version            # "HTTP/1.1"
        self.status = status              # int
        self.reason = reason
        self.headers = headers            # [(name, value)] as received (str, latin-1)
        self.body = body                  # bytes
        self.raw_head = raw_head

    def get(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def get_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def __contains__(self, name):
        return self.get(name) is not None

    def __repr__(self):
        return f"<Response {self.status} {self.headers!r} body={len(self.body)}B>"


class ServerClosed(Exception):
    """EOF (or reset) before a complete response."""


class Conn:
    def __init__(self, port, host="127.0.0.1", timeout=TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)
        return self

    def _fill(self, want=1 << 16):
        if self.eof:
            return False
        try:
            chunk = self.sock.recv(max(want, 1 << 16))
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _take(self, n):
        while len(self.buf) < n:
            if not self._fill(n - len(self.buf)):
                raise ServerClosed(f"EOF after {len(self.buf)} of {n} body bytes")
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                out = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return out
            if not self._fill():
                raise ServerClosed("EOF in a line")

    def read_response(self, head=False):
        """The next response (1xx interim responses included). head=True: the request
        was HEAD, so there is no body whatever the headers say."""
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                break
            if not self._fill():
                if self.buf:
                    raise ServerClosed(f"EOF in a response head: {bytes(self.buf[:200])!r}")
                raise ServerClosed("EOF before a response")
        raw_head = bytes(self.buf[:i + 4])
        del self.buf[:i + 4]
        lines = raw_head[:-4].split(b"\r\n")
        m = re.fullmatch(rb"(HTTP/\d\.\d) (\d\d\d) ?(.*)", lines[0])
        assert m, f"bad status line {lines[0]!r}"
        version, status, reason = m.group(1).decode(), int(m.group(2)), m.group(3).decode("latin-1")
        headers = []
        for ln in lines[1:]:
            name, sep, value = ln.partition(b":")
            assert sep and name and name == name.strip(), f"bad header line {ln!r}"
            headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
        r = Response(version, status, reason, headers, b"", raw_head)
        if head or status < 200 or status in (204, 304):
            return r
        te = r.get("Transfer-Encoding")
        cl = r.get("Content-Length")
        ctype = r.get("Content-Type", "")
        if te is not None:
            assert te.lower() == "chunked", te
            body = bytearray()
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():          # trailers
                        pass
                    break
                body += self._take(size)
                assert self._take(2) == b"\r\n"
            r.body = bytes(body)
        elif cl is not None:
            assert re.fullmatch(r"\d+", cl), cl
            r.body = self._take(int(cl))
        elif ctype.lower().startswith("multipart/byteranges"):
            end = b"--" + boundary_of(ctype).encode() + b"--"
            while end not in self.buf:
                if not self._fill():
                    raise ServerClosed("EOF in a multipart body")
            k = self.buf.index(end) + len(end)
            if self.buf[k:k + 2] == b"\r\n":
                k += 2
            r.body = self._take(k)
        else:
            while self._fill():
                pass
            r.body = bytes(self.buf)
            self.buf.clear()
        return r

    def request(self, method, target, headers=(), body=b"", version="HTTP/1.1", host=True):
        """Send one well-formed request and read its response."""
        self.send(build(method, target, headers, body, version, host))
        return self.read_response(head=(method == "HEAD"))

    def wait_closed(self, rounds=50, step=0.2):
        """True once the server has closed the connection (EOF or reset), polling
        up to rounds * step seconds; data that still arrives is kept in buf."""
        old = self.sock.gettimeout()
        self.sock.settimeout(step)
        try:
            for _ in range(rounds):
                try:
                    chunk = self.sock.recv(1 << 16)
                except socket.timeout:
                    continue
                except (ConnectionResetError, BrokenPipeError):
                    self.eof = True
                    return True
                if not chunk:
                    self.eof = True
                    return True
                self.buf += chunk
            return False
        finally:
            self.sock.settimeout(old)

    def still_open(self, wait=0.3):
        """True when nothing (neither EOF nor data) arrives within `wait` seconds."""
        old = self.sock.gettimeout()
        self.sock.settimeout(wait)
        try:
            chunk = self.sock.recv(1 << 16)
        except socket.timeout:
            return True
        except ConnectionResetError:
            return False
        finally:
            self.sock.settimeout(old)
        if chunk:
            self.buf += chunk
        return False

    def reset(self):
        """Close with RST (SO_LINGER 0)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def build(method, target, headers=(), body=b"", version="HTTP/1.1", host=True):
    lines = [f"{method} {target} {version}"]
    names = {k.lower() for k, _ in headers}
    if host and "host" not in names:
        lines.append("Host: localhost")
    lines += [f"{k}: {v}" for k, v in headers]
    if body and "content-length" not in names and "transfer-encoding" not in names:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def get(port, target, headers=(), method="GET", version="HTTP/1.1"):
    """One request on a fresh connection."""
    with Conn(port) as c:
        return c.request(method, target, headers, version=version)


def boundary_of(ctype):
    m = re.search(r'boundary=("?)([^";]+)\1', ctype)
    assert m, ctype
    return m.group(2)


def parse_byteranges(resp):
    """multipart/byteranges body -> [(first, last, total, content_type, data)]."""
    ctype = resp.get("Content-Type")
    assert ctype and ctype.lower().startswith("multipart/byteranges"), ctype
    delim = b"--" + boundary_of(ctype).encode()
    body = resp.body
    parts = []
    # preamble (ignored), then delimiter lines; the final one is delim + "--"
    i = body.find(delim)
    assert i >= 0, "no boundary in the body"
    while True:
        i += len(delim)
        if body[i:i + 2] == b"--":
            break
        assert body[i:i + 2] == b"\r\n", body[i:i + 20]
        i += 2
        j = body.index(b"\r\n\r\n", i)
        hdrs = {}
        for ln in body[i:j].split(b"\r\n"):
            k, _, v = ln.partition(b":")
            hdrs[k.strip().lower().decode()] = v.strip().decode()
        start = j + 4
        m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", hdrs["content-range"])
        assert m, hdrs
        first, last, total = map(int, m.groups())
        end = start + (last - first + 1)
        data = body[start:end]
        assert body[end:end + 2] == b"\r\n", "part data longer than its Content-Range"
        parts.append((first, last, total, hdrs.get("content-type"), data))
        i = body.index(delim, end)
    return parts


# Shared fixture constants (here rather than in conftest.py, whose module name is
# shared by every test folder).
BIG_SIZE = 3 * 1024 * 1024 + 12345      # multi-MiB, not a multiple of anything
SENTINEL = b"PXCY-SENTINEL-outside-the-root-7f3a9c"
