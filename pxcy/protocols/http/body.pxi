# Request bodies (included into http11.pyx after protocol.pxi): a head with a body is
# set up by body_begin, its bytes fed by body_feed as they arrive (buffered in the
# persistent heap by body_append, or handed to a streaming route in pieces), and the
# request answered once the body is complete. Functions of HttpProtocol's own module
# (they use its private state), kept apart from the framing and dispatch code.

cdef ptrdiff_t body_begin(HttpProtocol self, Transport t, Scratch* s, const char* p,
                          const char* q, const char* end) noexcept nogil:
    """The head [p, q) is parsed into s.r and has a body (data_received answers a
    head without one): set up the body, answer what is complete. Returns the body
    bytes consumed after q, -1 (drop) or -2 (closing)."""
    cdef px_request* r = &s.r
    cdef PyObject* req
    cdef Route* rt
    cdef uint32_t allow
    cdef bint streamed = False
    cdef Slice body
    cdef ptrdiff_t used
    cdef pxcy_bytes none
    cdef SlowState* w
    cdef int k
    req = bind_request(s, t, r)
    if (<Request>req).normalized() == 0:
        rt = route_find(self.cfg, (<Request>req).path.p, (<Request>req).path.n, r.method_id, &allow)
        streamed = rt != NULL and rt.stream_body
    if not streamed and r.content_length > 0:
        if <uint64_t>r.content_length > self.cfg.max_body:
            self._fail(t, s, 413, r, NULL, 0)
            return -2
        if <uint64_t>(end - q) >= <uint64_t>r.content_length:
            body.p = q               # all here: zero-copy, no state
            body.n = r.content_length
            k = self._answer(t, s, r, body, False)
            return -1 if k < 0 else (-2 if k > 0 else r.content_length)
    w = self._slow(t)
    if w == NULL:
        return -1
    if px_body_start(&w.body, r.content_length, r.chunked,
                     0 if streamed else self.cfg.max_body,
                     0 if streamed else self.cfg.max_body_wire) < 0:
        self._fail(t, s, 413, r, NULL, 0)
        return -2
    w.streamed = streamed
    w.body_n = 0
    w.rq = r
    self.phase = PH_BODY
    used = body_feed(self, t, s, w, q, end)
    if used < 0 or self.phase != PH_BODY:
        return used
    # the body goes on in later reads: keep the head (persistent heap), parsed
    # once more there so that every slice of the request points into the copy
    none.data = NULL
    none.size = 0
    w.head_copy = t.persist(none, p, q - p)
    if w.head_copy.data == NULL:
        self._fail(t, s, 413, r, NULL, 0)
        return -2
    px_request_reset(r)
    if px_parse_request(w.head_copy.data, q - p, r, &LIMITS) != q - p:
        self._fail(t, s, 500, NULL, p, q - p)
        return -2
    w.req_copy = t.persist(none, r, sizeof(px_request))
    if w.req_copy.data == NULL:
        self._fail(t, s, 413, r, NULL, 0)
        return -2
    w.rq = <px_request*>w.req_copy.data
    if r.expect_continue and not self.continued and w.body.wire == 0:
        self.continued = True
        t.send(b"HTTP/1.1 100 Continue\r\n\r\n", 25)
    self._arm(t)
    return used

cdef ptrdiff_t body_feed(HttpProtocol self, Transport t, Scratch* s, SlowState* w, const char* p,
                         const char* end) noexcept nogil:
    """Feed body bytes [p, end): buffer them or hand them to a streaming route;
    answer once the body is complete. Returns bytes consumed, -1 or -2 (closing)."""
    cdef const char* start = p
    cdef ptrdiff_t used
    cdef px_slice piece
    cdef Slice body
    cdef int k
    cdef bint more
    while p < end and not px_body_done(&w.body):
        used = px_body_feed(&w.body, p, end - p, &piece)
        if used < 0:
            self._fail(t, s, -used, w.rq, NULL, 0)
            return -2
        if used == 0:
            break
        p += used
        if piece.n == 0:
            continue
        if w.streamed:
            more = not px_body_done(&w.body)
            k = self._answer(t, s, w.rq, piece, more)
            if k != 0:
                return -1 if k < 0 else -2
            if not more:
                return p - start
        elif body_append(self, t, w, piece.p, piece.n) < 0:
            self._fail(t, s, 413, w.rq, NULL, 0)
            return -2
    if px_body_done(&w.body):
        if w.streamed:
            k = self._answer(t, s, w.rq, EMPTY_SLICE, False)
        else:
            body.p = w.body_buf.data
            body.n = w.body_n
            k = self._answer(t, s, w.rq, body, False)
        if k != 0:
            return -1 if k < 0 else -2
    elif w.streamed and p > start:
        # a streamed body may take long: it must keep moving, not finish in time
        self._deadline(t, self.cfg.request_timeout_ms)
    return p - start

cdef int body_append(HttpProtocol self, Transport t, SlowState* w, const char* d, size_t k) noexcept nogil:
    """Append to the buffered body (persistent heap, capacity doubling: linear)."""
    cdef size_t need = w.body_n + k
    cdef size_t cap
    cdef char* tmp
    cdef pxcy_bytes nb
    if need > w.body_buf.size or w.body_buf.data == NULL:
        cap = w.body_buf.size * 2
        if cap < need:
            cap = need
        if cap < 4096:
            cap = 4096
        if cap > self.cfg.max_body and need <= self.cfg.max_body:
            cap = self.cfg.max_body
        tmp = <char*>t.alloc(cap)
        if tmp == NULL:
            return -1
        if w.body_n:
            memcpy(tmp, w.body_buf.data, w.body_n)
        nb = t.persist(w.body_buf, tmp, cap)
        if nb.data == NULL:
            return -1
        w.body_buf = nb
    memcpy(w.body_buf.data + w.body_n, d, k)
    w.body_n = need
    return 0
