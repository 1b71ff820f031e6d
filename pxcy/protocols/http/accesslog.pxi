# Access log, combined format (includes/http_log.h: per-worker buffers, a logger
# thread writes them; workers never wait for the file).

cdef enum:
    LOG_FIELD_MAX = 1024                 # request line / referer / agent, before escaping


cdef void log_request(Transport t, Scratch* s, HttpConfig* cfg, Request req, Response res) noexcept nogil:
    """host - - [time] "request line" status bytes "referer" "user-agent" """
    cdef px_log* log = cfg.log
    cdef char peer[80]
    cdef char* line
    cdef char* p
    cdef int k
    cdef size_t i, mn, tn, rn, an
    cdef Slice ref
    cdef Slice agent
    if log == NULL:
        return
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
    mn = req.method.n if req.method.n < LOG_FIELD_MAX else LOG_FIELD_MAX
    tn = req.target.n if req.target.n < LOG_FIELD_MAX else LOG_FIELD_MAX
    if req.resumed or req.r == NULL:
        ref.p = NULL
        agent.p = NULL
    else:
        ref = req.header("Referer")
        agent = req.header("User-Agent")
    rn = (ref.n if ref.n < LOG_FIELD_MAX else LOG_FIELD_MAX) if ref.p != NULL else 0
    an = (agent.n if agent.n < LOG_FIELD_MAX else LOG_FIELD_MAX) if agent.p != NULL else 0
    line = <char*>t.alloc(k + 4 * (mn + tn + rn + an) + 160)
    if line == NULL:
        return
    p = put(line, peer, k)
    p = put(p, " - - ", 5)
    p = put(p, s.logdate, 28)
    p = put(p, " \"", 2)
    p += px_log_escape(p, req.method.p, mn)
    p[0] = b' '
    p += 1
    p += px_log_escape(p, req.target.p, tn)
    p = put(p, " HTTP/1.", 8)
    p[0] = <char>(48 + req.minor)
    p = put(p + 1, "\" ", 2)
    p += px_write_u64(p, <uint64_t>res.status)
    p[0] = b' '
    p += 1
    if res.body_bytes:
        p += px_write_u64(p, res.body_bytes)
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
