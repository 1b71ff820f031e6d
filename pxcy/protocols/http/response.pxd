# Writing responses (response.pxi), static files (static.pxi), byte ranges
# (ranges.pxi) and JSON (json.pxi over includes/http_json.h).

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
    cdef bint done              # a response (or a stream's head) was queued
    cdef char* date             # per-worker Date value (29 bytes)
    cdef const char* head200    # per-worker status line, Server and Date of a 200
    cdef int status             # what was sent (access log)
    cdef uint64_t body_bytes    # body bytes sent or queued (access log)
    # streaming response state
    cdef bint streaming
    cdef bint stream_chunked    # HTTP/1.1: chunked; HTTP/1.0: close-delimited
    cdef bint stream_discard    # HEAD / 204 / 304: writes are dropped
    cdef bint stream_ended
    # JSON writer state (includes/http_json.h)
    cdef px_json j

    # add a header line to the response, e.g. header(b"Cache-Control", b"no-store")
    cdef int header(self, const char* name, const char* value) noexcept nogil
    cdef int header_n(self, const char* name, const char* value, size_t n) noexcept nogil
    # a complete response with a body from memory (copied); any status 100-599
    cdef int send(self, int status, const char* content_type, const void* body, size_t n) noexcept nogil
    # a short text/plain error response ("404 Not Found\n")
    cdef int error(self, int status) noexcept nogil
    # headers + a file or a byte range of it via sendfile(2) (count -1: to EOF)
    cdef int sendfile(self, int status, const char* content_type, int fd, uint64_t offset,
                      uint64_t count, bint close_after) noexcept nogil
    # a static file below the configured root (rel_path is normalized first and can
    # never leave the root): conditional requests, Range, sendfile
    cdef int file(self, const char* rel_path, size_t n) noexcept nogil
    # serve bytes [first, last] of an open file as 200/206/416 per the request's Range
    cdef int file_range(self, int fd, uint64_t base, uint64_t length, const char* content_type,
                        bint close_after) noexcept nogil
    # A response of unknown length, produced across callbacks: stream_start sends the
    # head (chunked on HTTP/1.1, close-delimited on 1.0), stream_write a piece (copied),
    # stream_end finishes. A handler that returns with the stream open is called again
    # (req.resumed) once what it wrote has been sent; keep its progress on self.
    cdef int stream_start(self, int status, const char* content_type) noexcept nogil
    cdef int stream_write(self, const void* data, size_t n) noexcept nogil
    cdef int stream_end(self) noexcept nogil
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
    cdef char* _head(self, char* p, int status, const char* ctype, size_t ctn, int64_t length) noexcept nogil
