# The connection's protocol: request framing, dispatch (protocol.pxi), bodies (body.pxi).

cdef struct SlowState:
    # What a request that spans reads needs; in the persistent heap only while one
    # does (a head or body split across reads, a streaming response), so an idle
    # keep-alive connection carries none of it.
    px_scan scan                # head scan state of a pushed-back partial head
    px_body body                # body framing state
    px_request* rq              # head of the request whose body is arriving
    pxcy_bytes head_copy        # persisted head bytes and px_request (body spans reads)
    pxcy_bytes req_copy
    pxcy_bytes body_buf         # buffered body (size: capacity)
    size_t body_n
    bint streamed               # the route takes the body in pieces
    Route* stream_route         # streaming response in progress
    uint64_t stream_bytes
    int stream_status
    uint8_t stream_minor
    uint8_t stream_method
    bint stream_chunked
    bint stream_close
    int64_t deadline_id         # request timer (t.call_later id + 1), 0: none


cdef class HttpProtocol(Protocol):
    cdef HttpConfig* cfg        # shared by every connection (made by __init__/prepare)
    cdef uint32_t requests      # requests answered on this connection
    # per-connection state (each connection has its own copy of self)
    cdef uint8_t phase          # reading heads / a body spanning reads / a streaming response
    cdef uint8_t partial        # a request has begun arriving (its deadline is set)
    cdef uint8_t continued      # 100 Continue sent for the pending request
    cdef uint8_t head_pending   # slow.scan holds the state of a pushed-back partial head
    cdef pxcy_bytes slow_mem    # SlowState, or NULL
    cdef uint8_t py_method      # a Python route runs (PH_PY): what its answer needs
    cdef uint8_t py_minor
    cdef uint8_t py_keep

    cdef int route(self, bytes path, Handler handler, bint prefix=*, methods=*,
                   bint stream_body=*) except -1
    # no route matched: static file under root when configured, else 404
    cdef int not_found(self, Request req, Response res) noexcept nogil
    # internals: final, so calls between them are direct C calls (no vtable), which
    # the C compiler may inline into the per-request path
    @cython.final
    cdef SlowState* _slow(self, Transport t) noexcept nogil
    @cython.final
    cdef void _slow_release(self, Transport t) noexcept nogil
    @cython.final
    cdef void _arm(self, Transport t) noexcept nogil
    @cython.final
    cdef void _deadline(self, Transport t, uint32_t ms) noexcept nogil
    @cython.final
    cdef int _fail(self, Transport t, Scratch* s, int status, px_request* rq, const char* raw,
                   size_t rawn) noexcept nogil
    @cython.final
    cdef int _answer(self, Transport t, Scratch* s, px_request* r, Slice body, bint more) noexcept nogil
    @cython.final
    cdef inline int _finish(self, Transport t, Scratch* s, Request req, Response res) noexcept nogil
