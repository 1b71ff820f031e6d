# Access log, combined format (includes/http_log.h: per-worker buffers, a logger
# thread writes them; workers never wait for the file).

cdef enum:
    LOG_FIELD_MAX = 1024                 # request line / referer / agent, before escaping


cdef void log_request(Transport t, Scratch* s, HttpConfig* cfg, Request req, Response res) noexcept nogil:
    """host - - [time] "request line" status bytes "referer" "user-agent" """
    cdef Slice ref
    cdef Slice agent
    if cfg.log == NULL:
        return
    if req.resumed or req.r == NULL:
        ref.p = NULL
        agent.p = NULL
    else:
        ref = req.header("Referer")
        agent = req.header("User-Agent")
    log_write(t, s, cfg.log, req.method, req.target, req.minor, ref, agent, res.status, res.body_bytes)


cdef void log_failed(Transport t, Scratch* s, HttpConfig* cfg, px_request* r, const char* raw,
                     size_t rawn, int status, uint64_t body_bytes) noexcept nogil:
    """The entry of a request refused before a handler saw it: from its parsed head r
    when there is one, else its raw first line (up to CR or LF; "-" when empty), as
    nginx logs a 400."""
    cdef Slice method
    cdef Slice target
    cdef Slice ref
    cdef Slice agent
    cdef const px_slice* v
    cdef size_t i = 0
    if cfg.log == NULL:
        return
    ref.p = NULL
    agent.p = NULL
    if r != NULL:
        v = px_header_get(r, "Referer", 7)
        if v != NULL:
            ref = v[0]
        v = px_header_get(r, "User-Agent", 10)
        if v != NULL:
            agent = v[0]
        log_write(t, s, cfg.log, r.method, r.target, r.minor_version, ref, agent, status, body_bytes)
        return
    while rawn and (raw[0] == b'\r' or raw[0] == b'\n'):   # the empty lines the parser skips
        raw += 1
        rawn -= 1
    while i < rawn and i < LOG_FIELD_MAX and raw[i] != b'\r' and raw[i] != b'\n':
        i += 1
    method.p = NULL                      # the request field is target: the raw line
    method.n = 0
    target.p = raw
    target.n = i
    log_write(t, s, cfg.log, method, target, 0, ref, agent, status, body_bytes)


cdef void log_write(Transport t, Scratch* s, px_log* log, Slice method, Slice target, int minor,
                    Slice ref, Slice agent, int status, uint64_t body_bytes) noexcept nogil:
    """One combined-format line; method.p == NULL: the request field is target as it is
    (a raw line that did not parse), "-" when empty."""
    cdef char peer[80]
    cdef char* line
    cdef char* p
    cdef int k
    cdef size_t i, mn, tn, rn, an
    k = t.peer(peer, sizeof(peer))
    if k <= 0 or k >= <int>sizeof(peer):
        memcpy(peer, b"-", 2)
        k = 1
    else:                                # "1.2.3.4:5678" / "[::1]:5678" -> address only
        i = k
        while i > 0 and peer[i - 1] != b':':
            i -= 1
        if i > 0:
            k = i - 1
        if k >= 2 and peer[0] == b'[' and peer[k - 1] == b']':
            memmove(peer, peer + 1, k - 2)
            k -= 2
    mn = method.n if method.n < LOG_FIELD_MAX else LOG_FIELD_MAX
    tn = target.n if target.n < LOG_FIELD_MAX else LOG_FIELD_MAX
    rn = (ref.n if ref.n < LOG_FIELD_MAX else LOG_FIELD_MAX) if ref.p != NULL else 0
    an = (agent.n if agent.n < LOG_FIELD_MAX else LOG_FIELD_MAX) if agent.p != NULL else 0
    line = <char*>t.alloc(k + 4 * (mn + tn + rn + an) + 160)
    if line == NULL:
        return
    p = put(line, peer, k)
    p = put(p, " - - ", 5)
    p = put(p, s.logdate, 28)
    p = put(p, " \"", 2)
    if method.p == NULL:
        if tn:
            p += px_log_escape(p, target.p, tn)
        else:
            p[0] = b'-'
            p += 1
        p = put(p, "\" ", 2)
    else:
        p += px_log_escape(p, method.p, mn)
        p[0] = b' '
        p += 1
        p += px_log_escape(p, target.p, tn)
        p = put(p, " HTTP/1.", 8)
        p[0] = <char>(48 + minor)
        p = put(p + 1, "\" ", 2)
    p += px_write_u64(p, <uint64_t>status)
    p[0] = b' '
    p += 1
    if body_bytes:
        p += px_write_u64(p, body_bytes)
    else:
        p[0] = b'-'
        p += 1
    p = put(p, " \"", 2)
    if ref.p != NULL:
        p += px_log_escape(p, ref.p, rn)
    else:
        p[0] = b'-'
        p += 1
    p = put(p, "\" \"", 3)
    if agent.p != NULL:
        p += px_log_escape(p, agent.p, an)
    else:
        p[0] = b'-'
        p += 1
    p = put(p, "\"\n", 2)
    px_log_write(log, t.worker_id(), line, p - line)
