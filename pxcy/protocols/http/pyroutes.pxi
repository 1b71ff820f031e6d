# Python routes (pyroutes.pxi): self.route_py(path, fn) registers a plain Python
# function; a request for it is copied into a compact record and handed to the
# server's Python thread pool with Transport.defer; its answer comes back to
# result_received on the connection's worker and is written there. While it runs
# the connection reads nothing (pause_reading), so pipelined requests behind it
# are answered in order; the worker serves its other connections meanwhile.
#
# Request record (native u32 lengths):  index | method_id | minor | keep_alive |
#   method | path | arg | query (len 0xffffffff: no '?') | nheaders | (name, value)* | body
# Answer record:  status | content_type | headers ("name\0value\0"*) | body

import json as _json
import struct as _struct
import sys as _sys
import traceback as _traceback

cdef list _PY_ROUTES = []         # index -> the Python function (module-wide, append-only)

cdef uint32_t PY_NONE = <uint32_t>-1   # the query length of a request without '?'


cdef inline char* _put_u32(char* p, uint32_t v) noexcept nogil:
    memcpy(p, &v, 4)
    return p + 4


cdef inline char* _put_slice(char* p, const char* s, size_t n) noexcept nogil:
    p = _put_u32(p, <uint32_t>n)
    if n:
        memcpy(p, s, n)
    return p + n


cdef int py_route_start(HttpProtocol self, Transport t, Request req, Route* rt) noexcept nogil:
    """Hand the request to the Python route rt. 0: deferred (phase PH_PY), -1: not
    possible (the caller answers 503)."""
    cdef px_request* r = req.r
    cdef size_t need = 4 * 9 + req.method.n + req.path.n + req.arg.n + req.query.n + req.body.n
    cdef size_t i
    cdef char* buf
    cdef char* p
    if req.body.n > <size_t>0xfffffff0:
        return -1
    for i in range(r.num_headers):
        need += 8 + r.headers[i].name.n + r.headers[i].value.n
    buf = <char*>t.alloc(need)
    if buf == NULL:
        return -1
    p = _put_u32(buf, <uint32_t>rt.py_index)
    p = _put_u32(p, <uint32_t>r.method_id)
    p = _put_u32(p, <uint32_t>req.minor)
    p = _put_u32(p, <uint32_t>r.keep_alive)
    p = _put_slice(p, req.method.p, req.method.n)
    p = _put_slice(p, req.path.p, req.path.n)
    p = _put_slice(p, req.arg.p, req.arg.n)
    if req.query.p == NULL:
        p = _put_u32(p, PY_NONE)
    else:
        p = _put_slice(p, req.query.p, req.query.n)
    p = _put_u32(p, <uint32_t>r.num_headers)
    for i in range(r.num_headers):
        p = _put_slice(p, r.headers[i].name.p, r.headers[i].name.n)
        p = _put_slice(p, r.headers[i].value.p, r.headers[i].value.n)
    p = _put_slice(p, req.body.p, req.body.n)
    if t.defer(<uint64_t>rt.py_index, buf, <size_t>(p - buf)) < 0:
        return -1
    self.py_method = <uint8_t>r.method_id
    self.py_minor = <uint8_t>req.minor
    self.py_keep = r.keep_alive
    self.phase = PH_PY
    t.pause_reading()                # pipelined requests wait: answered in order
    return 0


cdef inline uint32_t _get_u32(const char* p) noexcept nogil:
    cdef uint32_t v
    memcpy(&v, p, 4)
    return v


cdef int py_route_answer(HttpProtocol self, Transport t, const char* data, size_t n,
                         int status) noexcept nogil:
    """The Python route's answer (result_received): write it, then read on."""
    cdef Scratch* s = get_scratch(t)
    cdef px_request* r
    cdef PyObject* req
    cdef PyObject* res
    cdef const char* end = data + n
    cdef const char* p = data
    cdef const char* name
    cdef const char* nul
    cdef const char* value
    cdef char ctype[128]
    cdef uint32_t code = 500, k, hn
    cdef const char* hp
    cdef const char* he
    cdef int rc
    if s == NULL:
        return -1
    self.phase = PH_HEAD
    r = &s.resumed
    memset(r, 0, sizeof(px_request))
    r.method_id = self.py_method
    r.method.p = METHOD_NAMES[self.py_method] if 0 < self.py_method < 8 else <const char*>"-"
    r.method.n = strlen(r.method.p)
    r.minor_version = self.py_minor
    r.keep_alive = self.py_keep
    r.target.p = "-"
    r.target.n = 1
    r.path = r.target
    req = bind_request(s, t, r)
    (<Request>req).resumed = True
    res = bind_response(s, t, self.cfg, req)
    (<Response>res).close = not self.py_keep or t.draining()     # (draining: every answer says close)
    ctype[0] = 0
    # status | content_type | headers | body (anything malformed: 500)
    if status == 0 and n >= 16:
        code = _get_u32(p)
        k = _get_u32(p + 4)
        p += 8
        if k < sizeof(ctype) and <size_t>(end - p) >= k + 4:
            memcpy(ctype, p, k)
            ctype[k] = 0
            p += k
            hn = _get_u32(p)
            p += 4
            if <size_t>(end - p) >= <size_t>hn + 4:
                hp = p
                he = p + hn
                p = he
                k = _get_u32(p)
                p += 4
                if <size_t>(end - p) == k and 100 <= code <= 599:
                    while hp < he:
                        nul = <const char*>memchr(hp, 0, he - hp)
                        if nul == NULL:
                            break
                        value = nul + 1
                        nul = <const char*>memchr(value, 0, he - value) if value < he else NULL
                        if nul == NULL:
                            break
                        (<Response>res).header_n(hp, value, nul - value)
                        hp = nul + 1
                    rc = (<Response>res).send(<int>code, ctype if ctype[0] else NULL, p, k)
    if not (<Response>res).done:
        (<Response>res).extra_n = 0
        (<Response>res).error(500)
    self._finish(t, s, <Request>req, <Response>res)
    t.resume_reading()               # the requests pipelined behind it, at once
    return 0


# ------------------------------------------------------------ the Python side

class Headers(dict):
    """Request headers: a dict of str keyed by lower-case name, looked up
    case-insensitively (headers["Content-Type"], .get("host"))."""
    __slots__ = ()

    def __getitem__(self, k):
        return dict.__getitem__(self, k.lower())

    def get(self, k, default=None):
        return dict.get(self, k.lower(), default)

    def __contains__(self, k):
        return dict.__contains__(self, k.lower())


class PyRequest:
    """What a Python route gets: method, path (percent-decoded, normalized), arg (the
    rest after a prefix route), query (raw, str), headers (Headers), body (bytes),
    query_param(name) (percent-decoded str, or None)."""
    __slots__ = ("method", "path", "arg", "query", "headers", "body", "has_query")

    def query_param(self, name):
        from urllib.parse import parse_qs
        vals = parse_qs(self.query, keep_blank_values=True).get(name)
        return vals[0] if vals else None

    def __repr__(self):
        return f"<PyRequest {self.method} {self.path}>"


def _decode_request(bytes data):
    cdef Py_ssize_t off = 16
    idx, mid, minor, keep = _struct.unpack_from("=IIII", data, 0)
    out = []
    for _ in range(4):
        (n,) = _struct.unpack_from("=I", data, off)
        off += 4
        if n == PY_NONE:
            out.append(None)
            continue
        out.append(data[off:off + n])
        off += n
    (nh,) = _struct.unpack_from("=I", data, off)
    off += 4
    headers = Headers()
    for _ in range(nh):
        (n,) = _struct.unpack_from("=I", data, off)
        name = data[off + 4:off + 4 + n].decode("latin-1").lower()
        off += 4 + n
        (n,) = _struct.unpack_from("=I", data, off)
        value = data[off + 4:off + 4 + n].decode("latin-1")
        off += 4 + n
        headers[name] = headers[name] + ", " + value if name in headers else value
    (n,) = _struct.unpack_from("=I", data, off)
    req = PyRequest()
    req.method = out[0].decode("latin-1")
    req.path = out[1].decode("utf-8", "replace")
    req.arg = out[2].decode("utf-8", "replace")
    req.has_query = out[3] is not None
    req.query = out[3].decode("utf-8", "replace") if out[3] is not None else ""
    req.headers = headers
    req.body = data[off + 4:off + 4 + n]
    return idx, req


def _encode_answer(int status, ctype, headers, body):
    hb = bytearray()
    items = headers.items() if isinstance(headers, dict) else (headers or ())
    for k, v in items:
        k = str(k).encode("latin-1")
        v = str(v).encode("latin-1")
        if not k or any(c in k for c in b"\r\n\0: ") or any(c in v for c in b"\r\n\0"):
            raise ValueError(f"invalid header {k!r}: {v!r}")
        hb += k + b"\0" + v + b"\0"
    ct = ctype.encode("latin-1") if ctype else b""
    return b"".join((_struct.pack("=II", status, len(ct)), ct, _struct.pack("=I", len(hb)),
                     bytes(hb), _struct.pack("=I", len(body)), body))


def _body_of(body):
    """(content type, bytes) for a route's body value, as PyParallel did."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        return "text/plain", bytes(body)
    if isinstance(body, str):
        return "text/html; charset=utf-8", body.encode()
    if isinstance(body, (dict, list)):
        return "application/json", _json.dumps(body, separators=(",", ":")).encode()
    if body is None:
        return "text/plain", b""
    raise TypeError(f"a Python route returned {type(body).__name__}; "
                    "expected bytes, str, dict, list or (status, headers, body)")


def py_dispatch(bytes data):
    """The defer callable of servers with Python routes (runs on the pool)."""
    try:
        idx, req = _decode_request(data)
        out = _PY_ROUTES[idx](req)
        if isinstance(out, tuple):
            if len(out) != 3:
                raise TypeError("a Python route's tuple must be (status, headers, body)")
            status, headers, body = out
            ctype, raw = _body_of(body)
            headers = list(headers.items() if isinstance(headers, dict) else (headers or ()))
            for k, v in headers:
                if str(k).lower() == "content-type":
                    ctype = str(v)
            headers = [(k, v) for k, v in headers if str(k).lower() not in ("content-type", "content-length")]
            if not isinstance(status, int) or not 100 <= status <= 599:
                raise ValueError(f"status {status!r}")
            return _encode_answer(status, ctype, headers, raw)
        ctype, raw = _body_of(out)
        return _encode_answer(200, ctype, (), raw)
    except BaseException:
        _traceback.print_exc(file=_sys.stderr)
        return _encode_answer(500, "text/plain", (), b"500 Internal Server Error\n")
