# cython: language_level=3
"""HTTP apps with routes for the black-box tests (tests/http)."""
from libc.stdint cimport int64_t, uint64_t, INT64_MIN
from libc.string cimport memcpy, memset
from pxcy.protocols.http11 cimport HttpProtocol, Request, Response, Handler, Slice

cdef extern from "<fcntl.h>" nogil:
    int openat(int dirfd, const char* path, int flags)
    enum: O_RDONLY, O_CLOEXEC

cdef extern from "<stdio.h>" nogil:
    int snprintf(char* buf, size_t n, const char* fmt, ...)

DEF PIECE_N = 262144
cdef char PIECE[PIECE_N]            # what /stream/<n> sends: 'x' * n
memset(PIECE, 120, PIECE_N)

cdef char LONGTYPE[301]             # a 300-character content type (multipart part headers)
memset(LONGTYPE, 97, 300)
LONGTYPE[0] = 116; LONGTYPE[1] = 101; LONGTYPE[2] = 120; LONGTYPE[3] = 116; LONGTYPE[4] = 47  # "text/"
LONGTYPE[300] = 0


cdef uint64_t parse_u64(const char* p, size_t n) noexcept nogil:
    cdef uint64_t v = 0
    cdef size_t i
    for i in range(n):
        if p[i] < c'0' or p[i] > c'9':
            return <uint64_t>-1
        v = v * 10 + <uint64_t>(p[i] - c'0')
    return v

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
    /jsonstr/<i> (escaping), /method, /status/<code>, /guard/ (403), /f/<rest>
    (res.file(req.arg)), /fq?p=<rel>, /assets/<rest> (res.file("site/<rest>")), /longtype (multipart ranges with a 300-char type), POST
    /upload (streamed body: count and sum), /stream/<n> (n bytes, streamed response),
    /sse (server-sent events), /host, /items (GET and POST), /early (103 then 200);
    everything else: static files when a root is given."""
    cdef uint64_t up_n              # /upload: bytes so far (this connection)
    cdef uint64_t up_sum
    cdef uint64_t left              # /stream: bytes still to send
    cdef int sse_i                  # /sse: events sent

    def prepare(self):
        if not self.routes():
            self.route(b"/echo", <Handler>Routes.echo, False, methods=("POST", "PUT"))
            self.route(b"/status/", <Handler>Routes.status, True,
                       methods=("GET", "POST", "PUT", "DELETE", "PATCH"))
            self.route(b"/guard/", <Handler>Routes.guard, True)
            self.route(b"/f/", <Handler>Routes.file_arg, True)
            self.route(b"/fq", <Handler>Routes.file_query)
            self.route(b"/assets/", <Handler>Routes.file_mapped, True)
            self.route(b"/longtype", <Handler>Routes.longtype)
            self.route(b"/upload", <Handler>Routes.upload, False, methods=("POST",), stream_body=True)
            self.route(b"/stream/", <Handler>Routes.stream, True)
            self.route(b"/sse", <Handler>Routes.sse)
            self.route(b"/host", <Handler>Routes.host)
            self.route(b"/items", <Handler>Routes.items_get)
            self.route(b"/items", <Handler>Routes.items_post, False, methods=("POST",))
            self.route(b"/early", <Handler>Routes.early)
            self.route(b"/method", <Handler>Routes.method, False,
                       methods=("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"))
            self.route(b"/q", <Handler>Routes.q)
            self.route(b"/p/", <Handler>Routes.prefix, True)
            self.route(b"/p/deeper/", <Handler>Routes.deeper, True)
            self.route(b"/p/exact", <Handler>Routes.exact)
            self.route(b"/jsonstr/", <Handler>Routes.jsonstr, True)
            self.route(b"/jsonarg/", <Handler>Routes.jsonarg, True)

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

    cdef int status(self, Request req, Response res) noexcept nogil:
        cdef uint64_t code = parse_u64(req.arg.p, req.arg.n)
        if code > 999:
            return res.error(400)
        if 300 <= code < 400:
            res.header(b"Location", b"/elsewhere")
        return res.send(<int>code, b"text/plain", b"status body\n", 12)

    cdef int guard(self, Request req, Response res) noexcept nogil:
        return res.error(403)

    cdef int file_arg(self, Request req, Response res) noexcept nogil:
        return res.file(req.arg.p, req.arg.n)

    cdef int file_mapped(self, Request req, Response res) noexcept nogil:
        # /assets/<rest> -> res.file("site/<rest>"): the URL mapped to another folder
        cdef char rel[512]
        if req.arg.n > 500:
            return res.error(414)
        memcpy(rel, b"site/", 5)
        memcpy(rel + 5, req.arg.p, req.arg.n)
        return res.file(rel, req.arg.n + 5)

    cdef int file_query(self, Request req, Response res) noexcept nogil:
        cdef Slice p = req.query_param(b"p")
        if p.p == NULL:
            return res.error(400)
        return res.file(p.p, p.n)

    cdef int longtype(self, Request req, Response res) noexcept nogil:
        cdef int fd = openat(self.cfg.root_fd, b"ten.txt", O_RDONLY | O_CLOEXEC)
        if fd < 0:
            return res.error(404)
        return res.file_range(fd, 0, 10, LONGTYPE, True)

    cdef int upload(self, Request req, Response res) noexcept nogil:
        cdef size_t i
        cdef char buf[64]
        cdef int k
        self.up_n += req.body.n
        for i in range(req.body.n):
            self.up_sum += <unsigned char>req.body.p[i]
        if req.body_more:
            return 0
        k = snprintf(buf, sizeof(buf), "%llu %llu", <unsigned long long>self.up_n,
                     <unsigned long long>self.up_sum)
        self.up_n = 0
        self.up_sum = 0
        return res.send(200, b"text/plain", buf, k)

    cdef int stream(self, Request req, Response res) noexcept nogil:
        cdef size_t k
        if not req.resumed:
            self.left = parse_u64(req.arg.p, req.arg.n)
            if self.left == <uint64_t>-1:
                return res.error(400)
            res.stream_start(200, b"application/octet-stream")
        k = PIECE_N if self.left > PIECE_N else <size_t>self.left
        if k:
            res.stream_write(PIECE, k)
            self.left -= k
        if self.left == 0:
            res.stream_end()
        return 0

    cdef int sse(self, Request req, Response res) noexcept nogil:
        cdef char buf[64]
        cdef int k
        if not req.resumed:
            self.sse_i = 0
            res.header(b"Cache-Control", b"no-store")
            res.stream_start(200, b"text/event-stream")
        if self.sse_i == 5:
            return res.stream_end()
        k = snprintf(buf, sizeof(buf), "id: %d\ndata: event %d\n\n", self.sse_i, self.sse_i)
        self.sse_i += 1
        return res.stream_write(buf, k)

    cdef int host(self, Request req, Response res) noexcept nogil:
        return res.send(200, b"text/plain", req.host.p, req.host.n)

    cdef int items_get(self, Request req, Response res) noexcept nogil:
        return res.send(200, b"text/plain", b"list", 4)

    cdef int items_post(self, Request req, Response res) noexcept nogil:
        return res.send(201, b"text/plain", b"created", 7)

    cdef int early(self, Request req, Response res) noexcept nogil:
        res.header(b"Link", b"</style.css>; rel=preload")
        res.send(103, NULL, NULL, 0)
        return res.send(200, b"text/plain", b"after hints", 11)



# ---- the tutorial's "fast path in Cython, the rest in Python" (docs/tutorial.md)

def report(req):
    """A plain Python function: runs on the server's Python threads."""
    import json
    return {"path": req.path, "who": req.query_param("who") or "world",
            "words": len(req.body.split())}


cdef class Mixed(HttpProtocol):
    def prepare(self):
        self.route(b"/fast", <Handler>Mixed.fast)              # nogil, on the worker
        self.route_py("/report", report, methods=("GET", "POST"))   # Python, on the pool

    cdef int fast(self, Request req, Response res) noexcept nogil:
        return res.send(200, b"text/plain", b"fast", 4)
