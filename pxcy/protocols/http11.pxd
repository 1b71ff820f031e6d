# cython: language_level=3
"""HTTP/1.1 on the pxcy runtime: handlers are nogil methods of an HttpProtocol.

    from pxcy.protocols.http11 cimport HttpProtocol, Request, Response, Handler

    cdef class App(HttpProtocol):
        def prepare(self):                       # once, with the GIL
            HttpProtocol.prepare(self)
            self.route(b"/plaintext", <Handler>App.plaintext)
            self.route(b"/items/", <Handler>App.item, prefix=True)   # req.arg = rest of path

        cdef int plaintext(self, Request req, Response res) noexcept nogil:
            return res.send(200, b"text/plain", b"Hello, World!", 13)
"""
cimport cython
from libc.stdint cimport uint32_t, uint64_t, int64_t
from pxcy.runtime cimport Protocol, Transport


ctypedef struct Slice:
    const char* p
    size_t n


cdef class HttpProtocol
cdef class Request
cdef class Response


# A route handler: an unbound cdef method of the HttpProtocol subclass.
ctypedef int (*Handler)(HttpProtocol self, Request req, Response res) noexcept nogil


cdef struct Route:
    const char* path
    size_t n
    bint prefix
    Handler handler


cdef struct RouteTable:
    Route* routes
    int count
    int cap


cdef struct HttpConfig:
    RouteTable table
    const char* root            # static file root (realpath), NULL: none
    size_t root_n
    bint follow_symlinks        # allow symlinks that lead outside root
    bint static_fallback        # serve files under root when no route matches
    uint32_t header_timeout_ms  # whole request head must arrive within this
    uint32_t keepalive_ms       # idle keep-alive connections close after this
    size_t max_body
    const char* server_name


@cython.final
cdef class Request:
    """The request being answered (valid during the handler only; slices point
    into the read buffer or the transient heap)."""
    cdef void* head             # px_request* (see includes/http_parse.h)
    cdef Slice method
    cdef Slice target           # raw request-target
    cdef Slice raw_path         # before '?', not decoded
    cdef Slice path             # percent-decoded, normalized
    cdef Slice query            # after '?', raw
    cdef Slice arg              # prefix routes: decoded path after the prefix
    cdef Slice body             # whole body (Content-Length or de-chunked)
    cdef int minor              # HTTP/1.<minor>
    cdef bint head_only         # HEAD request: no body is sent

    cdef Slice header(self, const char* name) noexcept nogil
    cdef Slice query_param(self, const char* name) noexcept nogil
    cdef int is_method(self, const char* m) noexcept nogil


@cython.final
cdef class Response:
    """Builds the response in the transient heap; sent after the handler returns."""
    cdef Transport t
    cdef Request req
    cdef HttpConfig* cfg
    cdef char* extra            # extra header lines (transient heap)
    cdef size_t extra_n
    cdef size_t extra_cap
    cdef bint keep_alive
    cdef bint done

    # extra response header line, e.g. header(b"Cache-Control", b"no-store")
    cdef int header(self, const char* name, const char* value) noexcept nogil
    cdef int header_n(self, const char* name, const char* value, size_t n) noexcept nogil
    # a whole response with a body from memory (copied into the transient heap)
    cdef int send(self, int status, const char* content_type, const char* body, size_t n) noexcept nogil
    # an error response with a short text body (status reason as text)
    cdef int error(self, int status) noexcept nogil
    # a file or a byte range of it via sendfile(2); count -1: to end of file
    cdef int sendfile(self, int status, const char* content_type, int fd, uint64_t offset,
                      uint64_t count, bint close_after) noexcept nogil
    # a static file under the configured root, with conditional requests and Range
    cdef int file(self, const char* rel_path, size_t n) noexcept nogil
    # JSON body: json_start, then j_* calls (they return 0, or -1 once out of
    # memory; failure is sticky), then send_json. Strings are escaped: UTF-8 in,
    # valid JSON out (invalid UTF-8 becomes U+FFFD).
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
    # JSON writer state
    cdef char* jbuf
    cdef size_t jn
    cdef size_t jcap
    cdef bint jfailed
    cdef bint jcomma


cdef class HttpProtocol(Protocol):
    cdef HttpConfig* cfg        # shared by all connections (set up in prepare)
    cdef int requests           # requests on this connection
    cdef int route(self, bytes path, Handler handler, bint prefix=*) except -1
    # called when no route matches; default: static file under root, or 404
    cdef int not_found(self, Request req, Response res) noexcept nogil
