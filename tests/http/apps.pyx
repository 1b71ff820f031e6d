# cython: language_level=3
"""HTTP apps with routes for the black-box tests (tests/http)."""
from libc.stdint cimport int64_t, INT64_MIN
from pxcy.protocols.http11 cimport HttpProtocol, Request, Response, Handler, Slice

# strings the JSON writer must escape (index = /jsonstr/<i>)
cdef const char* JSTR[7]
cdef size_t JSTR_N[7]
JSTR[0] = b'say "hi"';                  JSTR_N[0] = 8
JSTR[1] = b'back\\slash\\';             JSTR_N[1] = 11
JSTR[2] = b'c\x01\x02\x08\x0c\n\r\t\x1f\x7f'; JSTR_N[2] = 10
JSTR[3] = b'caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80'; JSTR_N[3] = 14
JSTR[4] = b'bad \xff\xfe end';          JSTR_N[4] = 10
JSTR[5] = b'trunc \xe2\x82';            JSTR_N[5] = 8
JSTR[6] = b'nul\x00in';                 JSTR_N[6] = 6


cdef class Routes(HttpProtocol):
    """POST /echo (body back), /json, /q (query params), /p/<rest> (prefix, req.arg),
    /jsonstr/<i> (escaping), /method, everything else: static files when a root is given."""

    def prepare(self):
        if not self.routes():
            self.route(b"/echo", <Handler>Routes.echo)
            self.route(b"/q", <Handler>Routes.q)
            self.route(b"/p/", <Handler>Routes.prefix, True)
            self.route(b"/p/deeper/", <Handler>Routes.deeper, True)
            self.route(b"/p/exact", <Handler>Routes.exact)
            self.route(b"/jsonstr/", <Handler>Routes.jsonstr, True)
            self.route(b"/jsonarg/", <Handler>Routes.jsonarg, True)
            self.route(b"/method", <Handler>Routes.method)

    cdef int echo(self, Request req, Response res) noexcept nogil:
        return res.send(200, b"application/octet-stream", req.body.p, req.body.n)

    cdef int method(self, Request req, Response res) noexcept nogil:
        return res.send(200, b"text/plain", req.method.p, req.method.n)

    cdef int q(self, Request req, Response res) noexcept nogil:
        cdef Slice a = req.query_param(b"a")
        cdef Slice b = req.query_param(b"b")
        res.json_start(128)
        res.j_begin_object()
        res.j_key(b"a", 1)
        if a.p == NULL:
            res.j_null()
        else:
            res.j_str(a.p, a.n)
        res.j_key(b"b", 1)
        if b.p == NULL:
            res.j_null()
        else:
            res.j_str(b.p, b.n)
        res.j_end_object()
        return res.send_json(200)

    cdef int prefix(self, Request req, Response res) noexcept nogil:
        res.header(b"X-Route", b"p")
        return res.send(200, b"application/octet-stream", req.arg.p, req.arg.n)

    cdef int deeper(self, Request req, Response res) noexcept nogil:
        res.header(b"X-Route", b"deeper")
        return res.send(200, b"application/octet-stream", req.arg.p, req.arg.n)

    cdef int exact(self, Request req, Response res) noexcept nogil:
        res.header(b"X-Route", b"exact")
        return res.send(200, b"text/plain", b"exact", 5)

    cdef int jsonstr(self, Request req, Response res) noexcept nogil:
        cdef int i
        if req.arg.n != 1 or req.arg.p[0] < c'0' or req.arg.p[0] > c'6':
            return res.error(404)
        i = req.arg.p[0] - c'0'
        res.json_start(0)
        res.j_begin_array()
        res.j_str(JSTR[i], JSTR_N[i])
        res.j_int(INT64_MIN)
        res.j_float(0.1)
        res.j_bool(True)
        res.j_null()
        res.j_begin_object()
        res.j_key(JSTR[i], JSTR_N[i])
        res.j_begin_array()
        res.j_end_array()
        res.j_end_object()
        res.j_end_array()
        return res.send_json(200)

    cdef int jsonarg(self, Request req, Response res) noexcept nogil:
        # the decoded prefix rest as a JSON string (arbitrary bytes in, valid JSON out)
        res.json_start(0)
        res.j_begin_object()
        res.j_key(b"arg", 3)
        res.j_str(req.arg.p, req.arg.n)
        res.j_end_object()
        return res.send_json(200)
