# cython: language_level=3
"""HTTP/1.1 server protocol: zero-copy parsing, nogil route handlers, static files.

Per read, data_received parses every complete request in the buffer (pipelining),
answers each into the transient heap (contiguous, so a batch leaves in one write),
and pushes back an incomplete tail. Request and Response objects are per-worker
copies kept in the worker's scratch memory: nothing is allocated per request
except what a handler asks for.
"""
cimport cython
from cpython.object cimport PyObject, Py_TYPE
from libc.errno cimport errno, ENOENT, ENOTDIR, ENOSYS, EXDEV, ELOOP, EACCES, ENAMETOOLONG
from libc.stdint cimport uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, calloc, realloc, free
from libc.string cimport memcpy, memcmp, strlen, memchr
from posix.fcntl cimport O_RDONLY, O_CLOEXEC
from posix.unistd cimport close as c_close

from pxcy.runtime cimport Protocol, Transport
from pxcy.protocols.httpparse cimport *

cdef extern from "<stdio.h>" nogil:
    int snprintf(char* buf, size_t n, const char* fmt, ...)

cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    time_t time(time_t* t)

cdef extern from "<sys/stat.h>" nogil:
    struct timespec_:
        long tv_sec
        long tv_nsec
    struct struct_stat "stat":
        long st_size
        unsigned long st_ino
        unsigned int st_mode
        timespec_ st_mtim
    int fstat(int fd, struct_stat* st)
    bint S_ISDIR(unsigned int m)
    bint S_ISREG(unsigned int m)

cdef extern from *:
    """
    #include <fcntl.h>
    #include <sys/syscall.h>
    #include <unistd.h>
    #ifndef O_PATH
    #define O_PATH 010000000
    #endif
    #ifdef SYS_openat2
    #include <linux/openat2.h>
    #endif
    /* Open rel below root_fd; with beneath, no path (symlinks included) may leave
       the root: openat2(RESOLVE_BENEATH), or a /proc/self/fd check without it. */
    static int pxcy_open_beneath(int root_fd, const char *root, size_t root_n,
                                 const char *rel, int beneath) {
        if (!beneath) return openat(root_fd, rel, O_RDONLY | O_CLOEXEC);
    #ifdef SYS_openat2
        struct open_how how = {0};
        how.flags = O_RDONLY | O_CLOEXEC;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        long fd = syscall(SYS_openat2, root_fd, rel, &how, sizeof how);
        if (fd >= 0 || errno != ENOSYS) return (int)fd;
    #endif
        int f = openat(root_fd, rel, O_RDONLY | O_CLOEXEC);
        if (f < 0) return f;
        char link[64], real[4096];
        snprintf(link, sizeof link, "/proc/self/fd/%d", f);
        ssize_t k = readlink(link, real, sizeof real);
        if (k < 0 || (size_t)k < root_n || memcmp(real, root, root_n) != 0 ||
            ((size_t)k > root_n && real[root_n] != '/' && root_n > 1)) {
            close(f);
            errno = EXDEV;
            return -1;
        }
        return f;
    }
    static int pxcy_open_dir(const char *path) { return open(path, O_PATH | O_DIRECTORY | O_CLOEXEC); }
    """
    int pxcy_open_beneath(int root_fd, const char* root, size_t root_n, const char* rel, int beneath) nogil
    int pxcy_open_dir(const char* path)


cdef enum:
    SCRATCH_MAGIC = 0x7078687474703131   # "pxhttp11"
    HEAD_MAX = 256                       # status line + fixed headers, without extras

cdef px_limits LIMITS
LIMITS.max_request_line = 8192
LIMITS.max_header_bytes = 16384
LIMITS.max_headers = 64
LIMITS.require_host = 1          # RFC 9112 3.2: an HTTP/1.1 request without Host is a 400


cdef inline size_t round16(size_t n) noexcept nogil:
    return (n + 15) & ~(<size_t>15)


cdef Request REQ_PROTO = Request.__new__(Request)
cdef Response RES_PROTO = Response.__new__(Response)
cdef size_t REQ_SIZE = Py_TYPE(REQ_PROTO).tp_basicsize
cdef size_t RES_SIZE = Py_TYPE(RES_PROTO).tp_basicsize
cdef size_t REQ_OFF = round16(sizeof(Scratch))
cdef size_t RES_OFF = REQ_OFF + round16(REQ_SIZE)
cdef size_t SCRATCH_SIZE = RES_OFF + round16(RES_SIZE)
cdef void* REQ_PROTO_P = <void*>REQ_PROTO
cdef void* RES_PROTO_P = <void*>RES_PROTO


cdef inline Scratch* get_scratch(Transport t) noexcept nogil:
    """Per-worker request/response objects and parser state (made on first use)."""
    cdef Scratch* s = <Scratch*>t.scratch(SCRATCH_SIZE)
    cdef uint64_t now
    if s == NULL:
        return NULL
    if s.magic != SCRATCH_MAGIC:
        memcpy(<char*>s + REQ_OFF, REQ_PROTO_P, REQ_SIZE)
        memcpy(<char*>s + RES_OFF, RES_PROTO_P, RES_SIZE)
        s.magic = SCRATCH_MAGIC
        s.date_at = 0
    now = t.now_ms()
    if s.date_at == 0 or now - s.date_at >= 1000:
        px_http_date_format(s.date, <int64_t>time(NULL))
        s.date_at = now if now else 1
    return s


cdef inline PyObject* bind_request(Scratch* s, Transport t) noexcept nogil:
    """The worker's Request, reset for the head parsed into s.r (borrowed)."""
    cdef PyObject* req = <PyObject*>(<char*>s + REQ_OFF)
    cdef px_request* r = &s.r
    (<Request>req).r = r
    (<Request>req).t = <PyObject*>t
    (<Request>req).method = r.method
    (<Request>req).target = r.target
    (<Request>req).raw_path = r.path
    (<Request>req).query = r.query
    (<Request>req).minor = r.minor_version
    (<Request>req).arg.p = NULL
    (<Request>req).arg.n = 0
    (<Request>req).path.p = NULL
    (<Request>req).path.n = 0
    (<Request>req).body.p = NULL
    (<Request>req).body.n = 0
    return req


cdef inline PyObject* bind_response(Scratch* s, Transport t, HttpConfig* cfg, PyObject* req) noexcept nogil:
    """The worker's Response for req, empty (borrowed)."""
    cdef PyObject* res = <PyObject*>(<char*>s + RES_OFF)
    (<Response>res).t = <PyObject*>t
    (<Response>res).rq = req
    (<Response>res).cfg = cfg
    (<Response>res).extra_n = 0
    (<Response>res).extra_cap = 0
    (<Response>res).date = s.date
    (<Response>res).done = False
    (<Response>res).close = False
    return res


cdef const char* reason(int status) noexcept nogil:
    if status == 200: return "200 OK"
    if status == 206: return "206 Partial Content"
    if status == 304: return "304 Not Modified"
    if status == 404: return "404 Not Found"
    if status == 400: return "400 Bad Request"
    if status == 100: return "100 Continue"
    if status == 201: return "201 Created"
    if status == 204: return "204 No Content"
    if status == 301: return "301 Moved Permanently"
    if status == 302: return "302 Found"
    if status == 403: return "403 Forbidden"
    if status == 405: return "405 Method Not Allowed"
    if status == 408: return "408 Request Timeout"
    if status == 411: return "411 Length Required"
    if status == 413: return "413 Content Too Large"
    if status == 414: return "414 URI Too Long"
    if status == 416: return "416 Range Not Satisfiable"
    if status == 431: return "431 Request Header Fields Too Large"
    if status == 500: return "500 Internal Server Error"
    if status == 501: return "501 Not Implemented"
    if status == 503: return "503 Service Unavailable"
    if status == 505: return "505 HTTP Version Not Supported"
    return NULL


cdef inline char* put(char* p, const char* s, size_t n) noexcept nogil:
    memcpy(p, s, n)
    return p + n


cdef inline char* puts(char* p, const char* s) noexcept nogil:
    return put(p, s, strlen(s))


# ------------------------------------------------------------------ Request

@cython.final
cdef class Request:

    cdef Slice header(self, const char* name) noexcept nogil:
        cdef const px_slice* v = px_header_get(self.r, name, strlen(name))
        cdef Slice out
        if v == NULL:
            out.p = NULL
            out.n = 0
            return out
        return v[0]

    cdef Slice query_param(self, const char* name) noexcept nogil:
        cdef Slice out
        cdef const char* p = self.query.p
        cdef const char* end = p + self.query.n
        cdef const char* amp
        cdef const char* eq
        cdef size_t nl = strlen(name)
        cdef char* buf
        cdef ptrdiff_t k, raw
        out.p = NULL
        out.n = 0
        if p == NULL:
            return out
        while p < end:
            amp = <const char*>memchr(p, b'&', end - p)
            if amp == NULL:
                amp = end
            eq = <const char*>memchr(p, b'=', amp - p)
            if eq == NULL:
                eq = amp
            if <size_t>(eq - p) == nl and memcmp(p, name, nl) == 0:
                k = amp - eq - 1 if eq < amp else 0
                buf = <char*>(<Transport>self.t).alloc(k + 1)
                if buf == NULL:
                    return out
                raw = k
                k = px_percent_decode(buf, k + 1, eq + 1, k, 1) if k > 0 else 0
                if k < 0:                   # not valid percent-encoding: the raw bytes
                    memcpy(buf, eq + 1, raw)
                    k = raw
                buf[k] = 0
                out.p = buf
                out.n = k
                return out
            p = amp + 1
        return out

    cdef int normalized(self) noexcept nogil:
        cdef char* buf
        cdef ptrdiff_t k
        if self.path.p != NULL:
            return 0
        buf = <char*>(<Transport>self.t).alloc(self.raw_path.n + 1)
        if buf == NULL:
            return -1
        k = px_path_normalize(buf, self.raw_path.n + 1, self.raw_path.p, self.raw_path.n)
        if k < 0:
            return -1
        buf[k] = 0
        self.path.p = buf
        self.path.n = k
        return 0

    cdef bint is_head(self) noexcept nogil:
        return self.r.method_id == PX_METHOD_HEAD


# ----------------------------------------------------------------- Response

@cython.final
cdef class Response:

    cdef int header(self, const char* name, const char* value) noexcept nogil:
        return self.header_n(name, value, strlen(value))

    cdef int header_n(self, const char* name, const char* value, size_t n) noexcept nogil:
        cdef size_t nn = strlen(name)
        cdef size_t need = self.extra_n + nn + n + 4
        cdef char* nb
        cdef size_t i
        # no CR/LF may reach the head from a value (response splitting)
        for i in range(n):
            if value[i] == b'\r' or value[i] == b'\n':
                return -1
        if need > self.extra_cap:
            nb = <char*>(<Transport>self.t).alloc(need * 2)
            if nb == NULL:
                return -1
            if self.extra_n:
                memcpy(nb, self.extra, self.extra_n)
            self.extra = nb
            self.extra_cap = need * 2
        nb = put(self.extra + self.extra_n, name, nn)
        nb = put(nb, ": ", 2)
        nb = put(nb, value, n)
        nb = put(nb, "\r\n", 2)
        self.extra_n = nb - self.extra
        return 0

    cdef char* _head(self, char* p, int status, const char* ctype, int64_t length) noexcept nogil:
        """Status line and headers, through the blank line. length < 0: no Content-Length."""
        cdef const char* why = reason(status)
        cdef Scratch* s
        if why == NULL:
            why = "500 Internal Server Error"
        p = put(p, "HTTP/1.1 ", 9)
        p = puts(p, why)
        p = put(p, "\r\nServer: pxcy\r\nDate: ", 22)
        p = put(p, self.date, PX_HTTP_DATE_LEN)
        p = put(p, "\r\n", 2)
        if ctype != NULL:
            p = put(p, "Content-Type: ", 14)
            p = puts(p, ctype)
            p = put(p, "\r\n", 2)
        if length >= 0:
            p = put(p, "Content-Length: ", 16)
            p += px_write_u64(p, <uint64_t>length)
            p = put(p, "\r\n", 2)
        if self.close:
            p = put(p, "Connection: close\r\n", 19)
        elif (<Request>self.rq).minor == 0:
            p = put(p, "Connection: keep-alive\r\n", 24)
        if self.extra_n:
            p = put(p, self.extra, self.extra_n)
        return put(p, "\r\n", 2)

    cdef int send(self, int status, const char* content_type, const void* body, size_t n) noexcept nogil:
        cdef size_t ctn = strlen(content_type) if content_type != NULL else 0
        cdef bint nobody = (<Request>self.rq).is_head() or status == 304 or status == 204 or status < 200
        cdef char* out
        cdef char* p
        if self.done:
            return -1
        out = (<Transport>self.t).reserve(HEAD_MAX + ctn + self.extra_n + (0 if nobody else n))
        if out == NULL:
            return -1
        p = self._head(out, status, content_type, -1 if (status == 304 or status == 204) else <int64_t>n)
        if not nobody and n:
            p = put(p, <const char*>body, n)
        self.done = True
        return (<Transport>self.t).commit(p - out)

    cdef int error(self, int status) noexcept nogil:
        cdef const char* why = reason(status)
        cdef char buf[64]
        cdef int k
        if why == NULL:
            why = "500 Internal Server Error"
        k = snprintf(buf, sizeof(buf), "%s\n", why)
        return self.send(status, "text/plain; charset=utf-8", buf, k)

    cdef int sendfile(self, int status, const char* content_type, int fd, uint64_t offset,
                      uint64_t count, bint close_after) noexcept nogil:
        cdef struct_stat st
        cdef char* out
        cdef char* p
        cdef size_t ctn = strlen(content_type) if content_type != NULL else 0
        if self.done:
            if close_after:
                c_close(fd)
            return -1
        if count == <uint64_t>-1:
            if fstat(fd, &st) < 0:
                if close_after:
                    c_close(fd)
                return self.error(500)
            count = <uint64_t>st.st_size - offset if <uint64_t>st.st_size > offset else 0
        out = (<Transport>self.t).reserve(HEAD_MAX + ctn + self.extra_n)
        if out == NULL:
            if close_after:
                c_close(fd)
            return -1
        p = self._head(out, status, content_type, <int64_t>count)
        self.done = True
        if (<Transport>self.t).commit(p - out) < 0:
            if close_after:
                c_close(fd)
            return -1
        if (<Request>self.rq).is_head() or count == 0:
            if close_after:
                c_close(fd)
            return 0
        return (<Transport>self.t).sendfile(fd, offset, count, close_after)

    cdef int file_range(self, int fd, uint64_t base, uint64_t length, const char* content_type,
                        bint close_after) noexcept nogil:
        return self._ranged(fd, base, length, content_type, close_after, NULL, 0, -1)

    cdef int _ranged(self, int fd, uint64_t base, uint64_t length, const char* ctype,
                     bint close_after, const char* etag, size_t etag_n, int64_t mtime) noexcept nogil:
        """200, 206 (one range, or multipart/byteranges for several) or 416."""
        cdef px_request* r = (<Request>self.rq).r
        cdef px_range ranges[PX_RANGE_MAX]
        cdef size_t count = 0, i
        cdef int rc = PX_RANGE_IGNORE
        cdef char buf[96]
        cdef int k
        self.header("Accept-Ranges", "bytes")
        if r.range.p != NULL and r.method_id == PX_METHOD_GET:
            if r.if_range.p == NULL or px_if_range_match(r.if_range.p, r.if_range.n, etag, etag_n, mtime):
                rc = px_range_parse(r.range.p, r.range.n, length, ranges, PX_RANGE_MAX, &count)
        if rc == PX_RANGE_UNSATISFIABLE:
            k = snprintf(buf, sizeof(buf), "bytes */%llu", <unsigned long long>length)
            self.header_n("Content-Range", buf, k)
            if close_after:
                c_close(fd)
            return self.error(416)
        if rc == PX_RANGE_PARTIAL and count == 1:
            k = snprintf(buf, sizeof(buf), "bytes %llu-%llu/%llu", <unsigned long long>ranges[0].first,
                         <unsigned long long>ranges[0].last, <unsigned long long>length)
            self.header_n("Content-Range", buf, k)
            return self.sendfile(206, ctype, fd, base + ranges[0].first,
                                 ranges[0].last - ranges[0].first + 1, close_after)
        if rc == PX_RANGE_PARTIAL:
            return self._multipart(fd, base, length, ctype, close_after, ranges, count)
        return self.sendfile(200, ctype, fd, base, length, close_after)

    cdef int _multipart(self, int fd, uint64_t base, uint64_t length, const char* ctype,
                        bint close_after, px_range* ranges, size_t count) noexcept nogil:
        """multipart/byteranges: part headers from memory, part bodies by sendfile."""
        cdef Scratch* s = get_scratch(<Transport>self.t)
        cdef char boundary[40]
        cdef char ct[96]
        cdef char part[256]
        cdef size_t bn, i
        cdef uint64_t total = 0
        cdef int k
        cdef char* out
        cdef char* p
        cdef uint64_t now = (<Transport>self.t).now_ms()
        s.boundary_seq += 1
        bn = snprintf(boundary, sizeof(boundary), "pxcy-%08x%08x", s.boundary_seq,
                      <unsigned int>now)
        if ctype == NULL:
            ctype = "application/octet-stream"
        for i in range(count):
            total += snprintf(part, sizeof(part), "\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes %llu-%llu/%llu\r\n\r\n",
                              boundary, ctype, <unsigned long long>ranges[i].first,
                              <unsigned long long>ranges[i].last, <unsigned long long>length)
            total += ranges[i].last - ranges[i].first + 1
        total += bn + 8                                    # "\r\n--" B "--\r\n"
        snprintf(ct, sizeof(ct), "multipart/byteranges; boundary=%s", boundary)
        out = (<Transport>self.t).reserve(HEAD_MAX + strlen(ct) + self.extra_n)
        if out == NULL:
            if close_after:
                c_close(fd)
            return -1
        p = self._head(out, 206, ct, <int64_t>total)
        self.done = True
        (<Transport>self.t).commit(p - out)
        if (<Request>self.rq).is_head():
            if close_after:
                c_close(fd)
            return 0
        for i in range(count):
            k = snprintf(part, sizeof(part), "\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes %llu-%llu/%llu\r\n\r\n",
                         boundary, ctype, <unsigned long long>ranges[i].first,
                         <unsigned long long>ranges[i].last, <unsigned long long>length)
            if (<Transport>self.t).send(part, k) < 0 or (<Transport>self.t).sendfile(fd, base + ranges[i].first, ranges[i].last - ranges[i].first + 1,
                                                 close_after and i == count - 1) < 0:
                if close_after:
                    c_close(fd)
                return -1
        k = snprintf(part, sizeof(part), "\r\n--%s--\r\n", boundary)
        return (<Transport>self.t).send(part, k)

    cdef int file(self, const char* rel_path, size_t n) noexcept nogil:
        cdef HttpConfig* cfg = self.cfg
        cdef px_request* r = (<Request>self.rq).r
        cdef char* rel
        cdef size_t rn = 0
        cdef int fd
        cdef struct_stat st
        cdef char etag[80]
        cdef char lm[32]
        cdef int en
        cdef int64_t ims
        cdef const char* ctype
        cdef size_t ctn
        cdef char* p
        cdef const char* q
        cdef size_t qn
        if cfg == NULL or cfg.root == NULL:
            return self.error(404)
        if r.method_id != PX_METHOD_GET and r.method_id != PX_METHOD_HEAD:
            self.header("Allow", "GET, HEAD")
            return self.error(405)
        # rel_path is decoded and normalized ("/a/b"); open "a/b" below root
        while n and rel_path[0] == b'/':
            rel_path += 1
            n -= 1
        rel = <char*>(<Transport>self.t).alloc(n + 12)
        if rel == NULL:
            return -1
        if n:
            memcpy(rel, rel_path, n)
        if n == 0 or rel[n - 1] == b'/':
            memcpy(rel + n, b"index.html", 10)
            n += 10
        rel[n] = 0
        fd = pxcy_open_beneath(cfg.root_fd, cfg.root, cfg.root_n, rel, not cfg.follow_symlinks)
        if fd < 0:
            if errno == ENOENT or errno == ENOTDIR or errno == ENAMETOOLONG:
                return self.error(404)
            return self.error(403)              # EXDEV: leaves the root; EACCES; ELOOP
        if fstat(fd, &st) < 0:
            c_close(fd)
            return self.error(500)
        if S_ISDIR(st.st_mode):
            c_close(fd)
            # "/dir" -> "/dir/" so that relative links in its index work. With a single
            # leading '/': "//host/../dir" (or "/\\host/..") would make the Location a
            # network-path reference, an open redirect to another host.
            q = (<Request>self.rq).raw_path.p
            qn = (<Request>self.rq).raw_path.n
            while qn and (q[0] == b'/' or q[0] == b'\\'):
                q += 1
                qn -= 1
            p = <char*>(<Transport>self.t).alloc(qn + 2)
            if p == NULL:
                return -1
            p[0] = b'/'
            if qn:
                memcpy(p + 1, q, qn)
            p[qn + 1] = b'/'
            self.header_n("Location", p, qn + 2)
            return self.error(301)
        if not S_ISREG(st.st_mode):
            c_close(fd)
            return self.error(403)
        en = snprintf(etag, sizeof(etag), "\"%lx-%lx-%lx\"", <unsigned long>st.st_mtim.tv_sec,
                      <unsigned long>st.st_mtim.tv_nsec ^ <unsigned long>st.st_ino, <unsigned long>st.st_size)
        px_http_date_format(lm, st.st_mtim.tv_sec)
        self.header_n("ETag", etag, en)
        self.header_n("Last-Modified", lm, PX_HTTP_DATE_LEN)
        if r.if_none_match.p != NULL:
            if etag_matches(r.if_none_match.p, r.if_none_match.n, etag, en):
                c_close(fd)
                return self.send(304, NULL, NULL, 0)
        elif r.if_modified_since.p != NULL:
            if px_http_date_parse(r.if_modified_since.p, r.if_modified_since.n, &ims) == 0 \
                    and st.st_mtim.tv_sec <= ims:
                c_close(fd)
                return self.send(304, NULL, NULL, 0)
        ctype = px_mime_type(rel, n, &ctn)
        return self._ranged(fd, 0, <uint64_t>st.st_size, ctype, True, etag, en, st.st_mtim.tv_sec)

    # ---- JSON

    cdef int _jreserve(self, size_t need) noexcept nogil:
        cdef char* nb
        cdef size_t cap
        if self.jfailed:
            return -1
        if self.jn + need <= self.jcap:
            return 0
        cap = (self.jn + need) * 2
        nb = <char*>(<Transport>self.t).alloc(cap)
        if nb == NULL:
            self.jfailed = True
            return -1
        if self.jn:
            memcpy(nb, self.jbuf, self.jn)
        self.jbuf = nb
        self.jcap = cap
        return 0

    cdef int _jsep(self, size_t need) noexcept nogil:
        if self._jreserve(need + 1) < 0:
            return -1
        if self.jcomma:
            self.jbuf[self.jn] = b','
            self.jn += 1
        return 0

    cdef int json_start(self, size_t size_hint) noexcept nogil:
        self.jn = 0
        self.jcap = 0
        self.jbuf = NULL
        self.jfailed = False
        self.jcomma = False
        return self._jreserve(size_hint if size_hint else 256)

    cdef int j_begin_object(self) noexcept nogil:
        if self._jsep(1) < 0:
            return -1
        self.jbuf[self.jn] = b'{'
        self.jn += 1
        self.jcomma = False
        return 0

    cdef int j_end_object(self) noexcept nogil:
        if self._jreserve(1) < 0:
            return -1
        self.jbuf[self.jn] = b'}'
        self.jn += 1
        self.jcomma = True
        return 0

    cdef int j_begin_array(self) noexcept nogil:
        if self._jsep(1) < 0:
            return -1
        self.jbuf[self.jn] = b'['
        self.jn += 1
        self.jcomma = False
        return 0

    cdef int j_end_array(self) noexcept nogil:
        if self._jreserve(1) < 0:
            return -1
        self.jbuf[self.jn] = b']'
        self.jn += 1
        self.jcomma = True
        return 0

    cdef int j_key(self, const char* k, size_t n) noexcept nogil:
        if self.j_str(k, n) < 0 or self._jreserve(1) < 0:
            return -1
        self.jbuf[self.jn] = b':'
        self.jn += 1
        self.jcomma = False
        return 0

    cdef int j_str(self, const char* s, size_t n) noexcept nogil:
        if self._jsep(6 * n + 2) < 0:
            return -1
        self.jbuf[self.jn] = b'"'
        self.jn += 1 + px_json_escape(self.jbuf + self.jn + 1, self.jcap - self.jn - 1, s, n)
        self.jbuf[self.jn] = b'"'
        self.jn += 1
        self.jcomma = True
        return 0

    cdef int j_int(self, int64_t v) noexcept nogil:
        if self._jsep(PX_INT_MAXLEN + 1) < 0:
            return -1
        self.jn += px_write_i64(self.jbuf + self.jn, v)
        self.jcomma = True
        return 0

    cdef int j_float(self, double v) noexcept nogil:
        if v != v or v - v != 0:        # NaN / inf are not JSON
            return self.j_null()
        if self._jsep(32) < 0:
            return -1
        self.jn += snprintf(self.jbuf + self.jn, 32, "%.17g", v)
        self.jcomma = True
        return 0

    cdef int j_bool(self, bint v) noexcept nogil:
        return self.j_raw("true", 4) if v else self.j_raw("false", 5)

    cdef int j_null(self) noexcept nogil:
        return self.j_raw("null", 4)

    cdef int j_raw(self, const char* s, size_t n) noexcept nogil:
        if self._jsep(n) < 0:
            return -1
        memcpy(self.jbuf + self.jn, s, n)
        self.jn += n
        self.jcomma = True
        return 0

    cdef int send_json(self, int status) noexcept nogil:
        if self.jfailed:
            return self.error(500)
        return self.send(status, "application/json", self.jbuf, self.jn)


cdef bint etag_matches(const char* v, size_t n, const char* etag, size_t en) noexcept nogil:
    """If-None-Match: '*' or a list of entity-tags, compared weakly (RFC 9110 13.1.2)."""
    cdef const char* p = v
    cdef const char* end = v + n
    cdef const char* q
    while p < end:
        while p < end and (p[0] == b' ' or p[0] == b'\t' or p[0] == b','):
            p += 1
        if p >= end:
            break
        if p[0] == b'*':
            return True
        if end - p > 2 and p[0] == b'W' and p[1] == b'/':
            p += 2
        if p[0] != b'"':
            return False
        q = <const char*>memchr(p + 1, b'"', end - p - 1)
        if q == NULL:
            return False
        if <size_t>(q - p + 1) == en and memcmp(p, etag, en) == 0:
            return True
        p = q + 1
    return False


# ------------------------------------------------------------- HttpProtocol

cdef class HttpProtocol(Protocol):
    """Base class of HTTP/1.1 apps.

    Register routes in prepare() (called once, with the GIL, before serving):
    `self.route(b"/exact", <Handler>App.method)` or with prefix=True, where the
    rest of the path arrives percent-decoded in req.arg. Exact routes win over
    prefixes; the longest prefix wins. Unmatched requests go to not_found(): static
    files below `root` when given, else 404.

    Options: root (directory for static files), follow_symlinks (let symlinks lead
    outside root; default False), keepalive (s, idle keep-alive timeout),
    request_timeout (s for a whole request to arrive: slowloris), max_body (bytes;
    keep below the server's max_pending_input).
    """

    # cfg, made here, is shared read-only by every connection's copy (pxcy.runtime)
    pxcy_cinit_shared = True

    def __cinit__(self, *args, **kwargs):
        self.cfg = <HttpConfig*>calloc(1, sizeof(HttpConfig))
        if self.cfg == NULL:
            raise MemoryError()
        self.cfg.root_fd = -1
        self.cfg.keepalive_ms = 75_000
        self.cfg.request_timeout_ms = 15_000
        self.cfg.max_body = 960 * 1024

    def __init__(self, root=None, *, follow_symlinks=False, keepalive=75.0, request_timeout=15.0,
                 max_body=960 * 1024):
        import os
        if root is not None:
            real = os.path.realpath(os.fspath(root))
            if not os.path.isdir(real):
                raise ValueError(f"static root is not a directory: {root}")
            b = real.encode()
            self.cfg.root = <char*>malloc(len(b) + 1)
            memcpy(self.cfg.root, <char*>b, len(b) + 1)
            self.cfg.root_n = len(b)
            self.cfg.root_fd = pxcy_open_dir(self.cfg.root)
            if self.cfg.root_fd < 0:
                raise OSError(errno, f"cannot open static root {root}")
        self.cfg.follow_symlinks = bool(follow_symlinks)
        self.cfg.keepalive_ms = <uint32_t>(float(keepalive) * 1000)
        self.cfg.request_timeout_ms = <uint32_t>(float(request_timeout) * 1000)
        self.cfg.max_body = int(max_body)

    def __dealloc__(self):
        # Only the prototype is a real object; per-connection copies never get here.
        cdef int i
        if self.cfg != NULL:
            for i in range(self.cfg.nroutes):
                free(self.cfg.routes[i].path)
            free(self.cfg.routes)
            free(self.cfg.root)
            if self.cfg.root_fd >= 0:
                c_close(self.cfg.root_fd)
            free(self.cfg)
            self.cfg = NULL

    cdef int route(self, bytes path, Handler handler, bint prefix=False) except -1:
        cdef Route* rs
        if not path.startswith(b"/"):
            raise ValueError(f"route path must start with '/': {path!r}")
        for i in range(self.cfg.nroutes):
            if self.cfg.routes[i].n == <size_t>len(path) and self.cfg.routes[i].prefix == prefix \
                    and memcmp(self.cfg.routes[i].path, <char*>path, len(path)) == 0:
                raise ValueError(f"duplicate route {path!r}")
        rs = <Route*>realloc(self.cfg.routes, (self.cfg.nroutes + 1) * sizeof(Route))
        if rs == NULL:
            raise MemoryError()
        self.cfg.routes = rs
        rs[self.cfg.nroutes].path = <char*>malloc(len(path) + 1)
        memcpy(rs[self.cfg.nroutes].path, <char*>path, len(path) + 1)
        rs[self.cfg.nroutes].n = len(path)
        rs[self.cfg.nroutes].prefix = prefix
        rs[self.cfg.nroutes].handler = handler
        self.cfg.nroutes += 1
        return 0

    def routes(self):
        """[(path, prefix)] as registered (for introspection and tests)."""
        return [(self.cfg.routes[i].path[:self.cfg.routes[i].n], bool(self.cfg.routes[i].prefix))
                for i in range(self.cfg.nroutes)]

    cdef int not_found(self, Request req, Response res) noexcept nogil:
        if self.cfg.root != NULL:
            if req.r.method_id != PX_METHOD_GET and req.r.method_id != PX_METHOD_HEAD:
                res.header("Allow", "GET, HEAD")      # also OPTIONS *, before any path checks
                return res.error(405)
            if req.normalized() < 0:
                return res.error(400)
            return res.file(req.path.p, req.path.n)
        return res.error(404)

    cdef int connection_made(self, Transport t) noexcept nogil:
        t.set_idle_timeout(self.cfg.keepalive_ms)
        return 0

    cdef int _fail(self, Transport t, Scratch* s, int status) noexcept nogil:
        """Answer a request that could not be parsed or accepted, then close."""
        cdef PyObject* req = bind_request(s, t)
        cdef PyObject* res = bind_response(s, t, self.cfg, req)
        s.r.method_id = PX_METHOD_OTHER
        (<Request>req).minor = 1
        (<Response>res).close = True
        (<Response>res).error(status)
        t.close()
        return 0

    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        cdef Scratch* s = get_scratch(t)
        cdef const char* p = data
        cdef const char* end = data + n
        cdef const char* q
        cdef px_request* r
        cdef int k
        cdef ptrdiff_t used
        cdef px_chunked ch
        cdef px_slice piece
        cdef Slice body
        cdef char* buf
        cdef size_t at
        if s == NULL:
            return -1
        r = &s.r
        while p < end:
            px_request_reset(r)
            k = px_parse_request(p, end - p, r, &LIMITS)
            if k == 0:
                return self._incomplete(t, p, end, False)
            if k < 0:
                return self._fail(t, s, -k)
            q = p + k
            body.p = NULL
            body.n = 0
            if r.chunked:
                # first pass: is the whole body here, and within max_body?
                px_chunked_init(&ch)
                while not px_chunked_done(&ch) and q < end:
                    used = px_chunked_decode(&ch, q, end - q, &piece)
                    if used < 0:
                        return self._fail(t, s, 400)
                    q += used
                    if ch.total > self.cfg.max_body:
                        return self._fail(t, s, 413)
                if not px_chunked_done(&ch):
                    return self._incomplete(t, p, end, r.expect_continue)
                # second pass: copy the data into one transient buffer
                buf = <char*>t.alloc(ch.total + 1)
                if buf == NULL:
                    return -1
                at = 0
                q = p + k
                px_chunked_init(&ch)
                while not px_chunked_done(&ch):
                    used = px_chunked_decode(&ch, q, end - q, &piece)
                    q += used
                    if piece.n:
                        memcpy(buf + at, piece.p, piece.n)
                        at += piece.n
                body.p = buf
                body.n = at
            elif r.content_length > 0:
                if <uint64_t>r.content_length > self.cfg.max_body:
                    return self._fail(t, s, 413)
                if <uint64_t>(end - q) < <uint64_t>r.content_length:
                    return self._incomplete(t, p, end, r.expect_continue)
                body.p = q
                body.n = r.content_length
                q += r.content_length
            k = self._answer(t, s, body)
            if k < 0:
                return -1
            if k > 0:
                return 0                 # closing: requests after this one are not processed
            p = q
            if t.pending() > (8 << 20):
                break                    # a huge pipelined batch: let it drain first
        if self.partial:
            self.partial = False
            self.continued = False
            t.set_deadline(0)
        if p < end:
            return t.pushback(end - p)
        return 0

    cdef int _incomplete(self, Transport t, const char* p, const char* end, bint expect) noexcept nogil:
        if not self.partial:
            self.partial = True
            t.set_deadline(self.cfg.request_timeout_ms)
        if expect and not self.continued:
            self.continued = True
            t.send(b"HTTP/1.1 100 Continue\r\n\r\n", 25)
        return t.pushback(end - p)

    cdef int _answer(self, Transport t, Scratch* s, Slice body) noexcept nogil:
        cdef px_request* r = &s.r
        cdef PyObject* req = bind_request(s, t)
        cdef PyObject* res = bind_response(s, t, self.cfg, req)
        cdef Route* rt
        cdef Route* best = NULL
        cdef int i
        cdef size_t rest
        cdef char* buf
        cdef ptrdiff_t k
        (<Request>req).body = body
        (<Response>res).close = not r.keep_alive
        if self.partial:                 # the request is complete: its deadline is over
            self.partial = False
            t.set_deadline(0)
        self.continued = False
        for i in range(self.cfg.nroutes):
            rt = &self.cfg.routes[i]
            if rt.prefix:
                if r.path.n >= rt.n and memcmp(r.path.p, rt.path, rt.n) == 0 and (best == NULL or rt.n > best.n):
                    best = rt
            elif r.path.n == rt.n and memcmp(r.path.p, rt.path, rt.n) == 0:
                best = rt
                break
        if best == NULL:
            self.not_found(<Request>req, <Response>res)
        elif not best.prefix:
            best.handler(self, <Request>req, <Response>res)
        else:
            rest = r.path.n - best.n
            buf = <char*>t.alloc(rest + 1)
            if buf == NULL:
                return -1
            k = px_percent_decode(buf, rest + 1, r.path.p + best.n, rest, 0) if rest else 0
            if k < 0:
                (<Response>res).error(400)
            else:
                buf[k] = 0
                (<Request>req).arg.p = buf
                (<Request>req).arg.n = k
                best.handler(self, <Request>req, <Response>res)
        if not (<Response>res).done:
            (<Response>res).error(500)    # the handler failed or sent nothing
        self.requests += 1
        t.count_request()
        if (<Response>res).close:
            t.close()
            return 1
        return 0


# ------------------------------------------------------------ ready to serve

cdef class HelloWorld(HttpProtocol):
    """TechEmpower-style /plaintext and /json."""

    def prepare(self):
        if not self.routes():
            self.route(b"/plaintext", <Handler>HelloWorld.plaintext)
            self.route(b"/json", <Handler>HelloWorld.json)

    cdef int plaintext(self, Request req, Response res) noexcept nogil:
        return res.send(200, "text/plain", b"Hello, World!", 13)

    cdef int json(self, Request req, Response res) noexcept nogil:
        res.json_start(64)
        res.j_begin_object()
        res.j_key("message", 7)
        res.j_str("Hello, World!", 13)
        res.j_end_object()
        return res.send_json(200)


cdef class Static(HttpProtocol):
    """Static files below `root` (GET/HEAD, conditional requests, Range, sendfile):
    pxcy.Server(Static("/srv/www"), port=8080)."""

    def __init__(self, root=".", **options):
        HttpProtocol.__init__(self, root, **options)
