# Operations endpoints answered before the route table (ops.pxi): GET /healthz
# (200 while serving, 503 while the server drains) and, when enabled, GET /metrics
# (the runtime's counters in Prometheus text format). Both nogil; the check costs
# a length comparison per request.

cdef enum:
    OPS_HEALTH = 1       # HttpConfig.ops bits
    OPS_METRICS = 2
    OPS_APP_HEALTH = 4   # the app routes /healthz itself: it answers while serving
    METRICS_FIRST_BUF = 16 << 10


cdef inline bint is_path(Slice path, const char* want, size_t n) noexcept nogil:
    return path.n == n and memcmp(path.p, want, n) == 0


cdef inline bint ops_endpoint(HttpConfig* cfg, Slice path) noexcept nogil:
    """path is an enabled built-in endpoint (GET and HEAD only) no app route replaces."""
    return ((cfg.ops & OPS_HEALTH) and not (cfg.ops & OPS_APP_HEALTH) and is_path(path, "/healthz", 8)) \
        or ((cfg.ops & OPS_METRICS) and is_path(path, "/metrics", 8))


cdef int ops_answer(HttpConfig* cfg, Transport t, Request req, Response res) noexcept nogil:
    """Answer /healthz or /metrics; 1 when answered, 0 when the request is not one."""
    cdef size_t cap, n
    cdef int tries
    cdef char* buf
    if req.r.method_id != PX_METHOD_GET and req.r.method_id != PX_METHOD_HEAD:
        return 0
    if (cfg.ops & OPS_HEALTH) and is_path(req.path, "/healthz", 8):
        res.header("Cache-Control", "no-store")
        if t.health_check():
            res.close = True             # draining: as every answer from now on says
            res.send(503, "text/plain; charset=utf-8", b"draining\n", 9)
        elif cfg.ops & OPS_APP_HEALTH:
            return 0                     # the app's own check (its database, say) decides
        else:
            res.send(200, "text/plain; charset=utf-8", b"ok\n", 3)
        return 1
    if (cfg.ops & OPS_METRICS) and is_path(req.path, "/metrics", 8):
        # the counters move while they are written (another connection opens: a
        # gauge gains a digit), so a text measured once may not fit the second time:
        # retry with room to spare, and never send a text that did not fit
        cap = METRICS_FIRST_BUF
        buf = <char*>t.alloc(cap)
        n = t.metrics(buf, cap) if buf != NULL else 0
        tries = 0
        while buf != NULL and n >= cap and tries < 4:
            cap = n + (n >> 4) + 256
            buf = <char*>t.alloc(cap)
            n = t.metrics(buf, cap) if buf != NULL else 0
            tries += 1
        if buf == NULL or n >= cap:
            res.close = True
            res.error(503)
            return 1
        res.header("Cache-Control", "no-store")
        res.send(200, "text/plain; version=0.0.4; charset=utf-8", buf, n)
        return 1
    return 0
