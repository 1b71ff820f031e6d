# Route table: exact routes win over prefixes, the longest prefix wins; methods
# per route (405 with Allow for others, OPTIONS answered with Allow).

cdef object METHOD_IDS = {"GET": PX_METHOD_GET, "HEAD": PX_METHOD_HEAD, "POST": PX_METHOD_POST,
                          "PUT": PX_METHOD_PUT, "DELETE": PX_METHOD_DELETE,
                          "OPTIONS": PX_METHOD_OPTIONS, "PATCH": PX_METHOD_PATCH}
cdef const char* METHOD_NAMES[8]
METHOD_NAMES[PX_METHOD_GET] = "GET"
METHOD_NAMES[PX_METHOD_HEAD] = "HEAD"
METHOD_NAMES[PX_METHOD_POST] = "POST"
METHOD_NAMES[PX_METHOD_PUT] = "PUT"
METHOD_NAMES[PX_METHOD_DELETE] = "DELETE"
METHOD_NAMES[PX_METHOD_OPTIONS] = "OPTIONS"
METHOD_NAMES[PX_METHOD_PATCH] = "PATCH"


cdef uint32_t methods_mask(methods) except? 0:
    cdef uint32_t m = 0
    if isinstance(methods, (str, bytes)):
        methods = (methods,)
    for name in methods:
        if isinstance(name, bytes):
            name = name.decode("ascii", "replace")
        mid = METHOD_IDS.get(str(name).upper())
        if mid is None:
            raise ValueError(f"unsupported method {name!r} (one of {', '.join(METHOD_IDS)})")
        m |= 1u << <int>mid
    if not m:
        raise ValueError("a route needs at least one method")
    if m & (1u << PX_METHOD_GET):
        m |= 1u << PX_METHOD_HEAD
    return m


cdef inline bint route_path_match(Route* rt, const char* p, size_t n) noexcept nogil:
    if rt.prefix:
        return n >= rt.n and px_mem_eq(p, rt.path, rt.n)
    return n == rt.n and px_mem_eq(p, rt.path, rt.n)


cdef inline Route* route_find(HttpConfig* cfg, const char* p, size_t n, int method_id,
                       uint32_t* allow) noexcept nogil:
    """The route for (path, method), or NULL with *allow = the methods of the best
    matching path (0: no route has this path)."""
    cdef Route* best = NULL
    cdef Route* rt
    cdef int i
    cdef uint32_t bit = (1u << method_id) if method_id != PX_METHOD_OTHER else 0
    allow[0] = 0
    # the best path: an exact route, else the longest prefix
    for i in range(cfg.nroutes):
        rt = &cfg.routes[i]
        if not route_path_match(rt, p, n):
            continue
        if not rt.prefix and (rt.methods & bit):
            return rt                    # the common case: an exact route taking this method
        if best == NULL or (best.prefix and (not rt.prefix or rt.n > best.n)):
            best = rt
    if best == NULL:
        return NULL
    # among routes with that same path, the one taking this method
    for i in range(cfg.nroutes):
        rt = &cfg.routes[i]
        if rt.prefix == best.prefix and rt.n == best.n and memcmp(rt.path, best.path, rt.n) == 0:
            if rt.methods & bit:
                return rt
            allow[0] |= rt.methods
    return NULL


cdef int allow_header(Response res, uint32_t allow) noexcept nogil:
    cdef char buf[96]
    cdef char* p = buf
    cdef int i
    allow |= 1u << PX_METHOD_OPTIONS
    for i in range(1, 8):
        if allow & (1u << i):
            if p != buf:
                p = put(p, ", ", 2)
            p = puts(p, METHOD_NAMES[i])
    return res.header_n("Allow", buf, p - buf)
