# cython: language_level=3
"""HTTP/1.1 on the pxcy runtime: handlers are nogil methods of an HttpProtocol.

    from pxcy.protocols.http11 cimport HttpProtocol, Request, Response, Handler

    cdef class App(HttpProtocol):
        def prepare(self):                       # once, with the GIL, before serving
            self.route(b"/plaintext", <Handler>App.plaintext)
            self.route(b"/items/", <Handler>App.item, True)   # prefix: req.arg = rest of path

        cdef int plaintext(self, Request req, Response res) noexcept nogil:
            return res.send(200, b"text/plain", b"Hello, World!", 13)
"""
cimport cython
from cpython.object cimport PyObject
from libc.stdint cimport uint32_t, uint64_t, int64_t
from pxcy.runtime cimport Protocol, Transport
from pxcy.protocols.httpparse cimport px_request, px_slice, px_range


ctypedef px_slice Slice          # {const char* p; size_t n}: bytes, not NUL-terminated

cdef class HttpProtocol
cdef class Request
cdef class Response

# A route handler: an unbound cdef method of the HttpProtocol subclass.
ctypedef int (*Handler)(HttpProtocol self, Request req, Response res) noexcept nogil


cdef struct Route:
    char* path
    size_t n
    bint prefix
    Handler handler


cdef struct HttpConfig:
    Route* routes
    int nroutes
    char* root                  # static files: realpath of the root, NUL-terminated; NULL: none
    size_t root_n
    int root_fd                 # O_PATH descriptor of root (openat2 RESOLVE_BENEATH)
    bint follow_symlinks        # allow symlinks that lead outside root
    uint32_t request_timeout_ms # a request (head and body) must arrive within this
    uint32_t keepalive_ms       # idle keep-alive connections close after this
    size_t max_body


cdef struct Scratch:            # per-worker state (Transport.scratch)
    uint64_t magic
    px_request r
    char date[32]
    uint64_t date_at            # worker clock (ms) of the last Date refresh
    uint32_t boundary_seq


@cython.final
cdef class Request:
    """The request being answered. Valid during the handler only: slices point into
    the read buffer or the transient heap."""
    cdef px_request* r          # parsed head: method_id, headers[], content_length, ...
    cdef Slice method
    cdef Slice target           # raw request-target
    cdef Slice raw_path         # before '?', still percent-encoded
    cdef Slice query            # after '?', raw (p == NULL: no '?')
    cdef Slice arg              # prefix routes: percent-decoded rest of the path
    cdef Slice body             # whole body (Content-Length, or de-chunked)
    cdef Slice path             # percent-decoded and normalized: see normalized()
    cdef int minor              # HTTP/1.<minor>
    cdef PyObject* t            # the Transport (borrowed)

    # a header value by case-insensitive name; .p == NULL when absent
    cdef Slice header(self, const char* name) noexcept nogil
    # a query parameter, percent-decoded ('+' as space) into the transient heap
    # (.p == NULL: absent; a value that is not valid percent-encoding comes back raw)
    cdef Slice query_param(self, const char* name) noexcept nogil
    # decoded, normalized path ('..' cannot climb above '/'); -1 when invalid
    cdef int normalized(self) noexcept nogil
    cdef bint is_head(self) noexcept nogil


@cython.final
cdef class Response:
    """Writes the response into the transient heap; it goes out after the handler."""
    cdef PyObject* t            # the Transport (borrowed)
    cdef PyObject* rq           # the Request (borrowed)
    cdef HttpConfig* cfg
    cdef char* extra            # extra header lines
    cdef size_t extra_n
    cdef size_t extra_cap
    cdef bint close             # send Connection: close and close after it
    cdef bint done              # a response was queued
    cdef char* date             # per-worker Date value (29 bytes)
    # JSON writer state
    cdef char* jbuf
    cdef size_t jn
    cdef size_t jcap
    cdef bint jfailed
    cdef bint jcomma

    # add a header line to the response, e.g. header(b"Cache-Control", b"no-store")
    cdef int header(self, const char* name, const char* value) noexcept nogil
    cdef int header_n(self, const char* name, const char* value, size_t n) noexcept nogil
    # a complete response with a body from memory (copied)
    cdef int send(self, int status, const char* content_type, const void* body, size_t n) noexcept nogil
    # a short text/plain error response ("404 Not Found\n")
    cdef int error(self, int status) noexcept nogil
    # headers + a file or a byte range of it via sendfile(2) (count -1: to EOF)
    cdef int sendfile(self, int status, const char* content_type, int fd, uint64_t offset,
                      uint64_t count, bint close_after) noexcept nogil
    # a static file below the configured root: conditional requests, Range, sendfile
    cdef int file(self, const char* rel_path, size_t n) noexcept nogil
    # serve bytes [first, last] of an open file as 200/206/416 per the request's Range
    cdef int file_range(self, int fd, uint64_t base, uint64_t length, const char* content_type,
                        bint close_after) noexcept nogil
    # JSON body: json_start, j_* calls (0, or -1 once out of memory: sticky), send_json.
    # Strings: UTF-8 in, valid JSON out (invalid UTF-8 becomes U+FFFD).
    cdef int json_start(self, size_t size_hint) noexcept nogil
    cdef int j_begin_object(self) noexcept nogil
    cdef int j_end_object(self) noexcept nogil
    cdef int j_begin_array(self) noexcept nogil
    cdef int j_end_array(self) noexcept nogil
    cdef int j_key(self, const char* k, size_t n) noexcept nogil
    cdef int j_str(self, const char* s, size_t n) noexcept nogil
    cdef int j_int(self, int64_t v) noexcept nogil
    cdef int j_float(self, double v) noexcept nogil
    cdef int j_bool(self, bint v) noexcept nogil
    cdef int j_null(self) noexcept nogil
    cdef int j_raw(self, const char* s, size_t n) noexcept nogil
    cdef int send_json(self, int status) noexcept nogil
    # internals
    cdef char* _head(self, char* p, int status, const char* ctype, int64_t length) noexcept nogil
    cdef int _ranged(self, int fd, uint64_t base, uint64_t length, const char* ctype,
                     bint close_after, const char* etag, size_t etag_n, int64_t mtime) noexcept nogil
    cdef int _multipart(self, int fd, uint64_t base, uint64_t length, const char* ctype,
                        bint close_after, px_range* ranges, size_t count) noexcept nogil
    cdef int _jreserve(self, size_t need) noexcept nogil
    cdef int _jsep(self, size_t need) noexcept nogil


cdef class HttpProtocol(Protocol):
    cdef HttpConfig* cfg        # shared by every connection (made by __init__/prepare)
    cdef uint32_t requests      # requests answered on this connection
    cdef bint partial           # a request has begun arriving (its deadline is set)
    cdef bint continued         # 100 Continue sent for the pending request
    cdef int route(self, bytes path, Handler handler, bint prefix=*) except -1
    # no route matched: static file under root when configured, else 404
    cdef int not_found(self, Request req, Response res) noexcept nogil
    # internals
    cdef int _fail(self, Transport t, Scratch* s, int status) noexcept nogil
    cdef int _incomplete(self, Transport t, const char* p, const char* end, bint expect) noexcept nogil
    cdef int _answer(self, Transport t, Scratch* s, Slice body) noexcept nogil  # 1: closing
