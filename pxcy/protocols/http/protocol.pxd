# The connection's protocol: request framing, bodies, dispatch (protocol.pxi).

cdef class HttpProtocol(Protocol):
    cdef HttpConfig* cfg        # shared by every connection (made by __init__/prepare)
    cdef uint32_t requests      # requests answered on this connection
    cdef bint partial           # a request has begun arriving (its deadline is set)
    cdef bint continued         # 100 Continue sent for the pending request
    # per-connection request state (each connection has its own copy of self)
    cdef bint head_pending      # `scan` holds the state of a pushed-back partial head
    cdef uint8_t phase          # reading heads / a body spanning reads / a streaming response
    cdef px_scan scan
    cdef px_body body
    cdef px_request* rq         # head of the request whose body is arriving
    cdef pxcy_bytes head_copy   # persisted head bytes and px_request (body spans reads)
    cdef pxcy_bytes req_copy
    cdef pxcy_bytes body_buf    # buffered body (size: capacity)
    cdef size_t body_n
    cdef bint streamed          # the route takes the body in pieces
    # streaming response state
    cdef Handler stream_handler
    cdef Route* stream_route
    cdef uint8_t stream_minor
    cdef uint8_t stream_method
    cdef bint stream_chunked
    cdef bint stream_close
    cdef int stream_status
    cdef uint64_t stream_bytes

    cdef int route(self, bytes path, Handler handler, bint prefix=*, methods=*,
                   bint stream_body=*) except -1
    # no route matched: static file under root when configured, else 404
    cdef int not_found(self, Request req, Response res) noexcept nogil
    # internals
    cdef void _arm(self, Transport t) noexcept nogil
    cdef int _fail(self, Transport t, Scratch* s, int status) noexcept nogil
    cdef int _head_done(self, Transport t, Scratch* s, const char* p, const char* q,
                        const char* end) noexcept nogil
    cdef ptrdiff_t _body_more(self, Transport t, Scratch* s, const char* p,
                              const char* end) noexcept nogil
    cdef int _body_append(self, Transport t, const char* d, size_t k) noexcept nogil
    cdef void _body_release(self, Transport t) noexcept nogil
    cdef int _answer(self, Transport t, Scratch* s, px_request* r, Slice body, bint more) noexcept nogil
    cdef int _finish(self, Transport t, Scratch* s, Request req, Response res) noexcept nogil
