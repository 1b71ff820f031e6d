# Range requests: 200 / 206 (one range, or multipart/byteranges) / 416 (RFC 9110 14).

cdef int serve_ranged(Response res, int fd, uint64_t base, uint64_t length, const char* ctype,
                      bint close_after, const char* etag, size_t etag_n, int64_t mtime) noexcept nogil:
    """200, 206 or 416 for the request's Range (honoured only for GET, and under
    If-Range only when the validator matches strongly)."""
    cdef px_request* r = (<Request>res.rq).r
    cdef px_range ranges[PX_RANGE_MAX]
    cdef size_t count = 0
    cdef int rc = PX_RANGE_IGNORE
    cdef char buf[96]
    cdef int k
    res.header("Accept-Ranges", "bytes")
    if r.range.p != NULL and r.method_id == PX_METHOD_GET:
        if r.if_range.p == NULL or px_if_range_match(r.if_range.p, r.if_range.n, etag, etag_n, mtime):
            rc = px_range_parse(r.range.p, r.range.n, length, ranges, PX_RANGE_MAX, &count)
    if rc == PX_RANGE_UNSATISFIABLE:
        k = snprintf(buf, sizeof(buf), "bytes */%llu", <unsigned long long>length)
        res.header_n("Content-Range", buf, k)
        if close_after:
            c_close(fd)
        return res.error(416)
    if rc == PX_RANGE_PARTIAL and count == 1:
        k = snprintf(buf, sizeof(buf), "bytes %llu-%llu/%llu", <unsigned long long>ranges[0].first,
                     <unsigned long long>ranges[0].last, <unsigned long long>length)
        res.header_n("Content-Range", buf, k)
        return res.sendfile(206, ctype, fd, base + ranges[0].first,
                            ranges[0].last - ranges[0].first + 1, close_after)
    if rc == PX_RANGE_PARTIAL:
        return serve_multipart(res, fd, base, length, ctype, close_after, ranges, count)
    return res.sendfile(200, ctype, fd, base, length, close_after)


cdef size_t part_header(char* out, const char* boundary, size_t bn, const char* ctype, size_t ctn,
                        px_range* rg, uint64_t length) noexcept nogil:
    """One part's header into out (room: part_header_max(bn, ctn)); its length."""
    cdef char* p = put(out, "\r\n--", 4)
    p = put(p, boundary, bn)
    p = put(p, "\r\nContent-Type: ", 16)
    p = put(p, ctype, ctn)
    p = put(p, "\r\nContent-Range: bytes ", 23)
    p += px_write_u64(p, rg.first)
    p[0] = b'-'
    p += 1
    p += px_write_u64(p, rg.last)
    p[0] = b'/'
    p += 1
    p += px_write_u64(p, length)
    p = put(p, "\r\n\r\n", 4)
    return p - out


cdef inline size_t part_header_max(size_t bn, size_t ctn) noexcept nogil:
    return 4 + bn + 16 + ctn + 23 + 3 * PX_INT_MAXLEN + 2 + 4


cdef int serve_multipart(Response res, int fd, uint64_t base, uint64_t length, const char* ctype,
                         bint close_after, px_range* ranges, size_t count) noexcept nogil:
    """multipart/byteranges, parts in request order: part headers from memory (sized
    exactly, any content type length), part bodies by sendfile."""
    cdef Scratch* s = get_scratch(<Transport>res.t)
    cdef char boundary[40]
    cdef char ct[80]
    cdef size_t bn, i, ctn, k, room
    cdef uint64_t total = 0
    cdef char* out
    cdef char* p
    cdef char* part
    s.boundary_seq += 1
    bn = snprintf(boundary, sizeof(boundary), "pxcy-%08x%08x", s.boundary_seq,
                  <unsigned int>(<Transport>res.t).now_ms())
    if ctype == NULL:
        ctype = "application/octet-stream"
    ctn = strlen(ctype)
    room = part_header_max(bn, ctn)
    part = <char*>(<Transport>res.t).alloc(room)
    if part == NULL:
        if close_after:
            c_close(fd)
        return -1
    for i in range(count):
        total += part_header(part, boundary, bn, ctype, ctn, &ranges[i], length)
        total += ranges[i].last - ranges[i].first + 1
    total += bn + 8                                    # "\r\n--" B "--\r\n"
    snprintf(ct, sizeof(ct), "multipart/byteranges; boundary=%s", boundary)
    out = (<Transport>res.t).reserve(HEAD_MAX + strlen(ct) + res.extra_n)
    if out == NULL:
        if close_after:
            c_close(fd)
        return -1
    p = res._head(out, 206, ct, strlen(ct), <int64_t>total)
    res.done = True
    (<Transport>res.t).commit(p - out)
    if (<Request>res.rq).is_head():
        res.body_bytes = 0
        if close_after:
            c_close(fd)
        return 0
    for i in range(count):
        out = (<Transport>res.t).reserve(room)
        if out == NULL:
            (<Transport>res.t).abort()
            if close_after:
                c_close(fd)
            return -1
        k = part_header(out, boundary, bn, ctype, ctn, &ranges[i], length)
        if (<Transport>res.t).commit(k) < 0 or (<Transport>res.t).sendfile(fd, base + ranges[i].first,
                                         ranges[i].last - ranges[i].first + 1,
                                         close_after and i == count - 1) < 0:
            (<Transport>res.t).abort()                # parts already queued refer to fd: drop them all
            if close_after:
                c_close(fd)
            return -1
    out = (<Transport>res.t).reserve(bn + 8)
    if out == NULL:
        return -1
    p = put(out, "\r\n--", 4)
    p = put(p, boundary, bn)
    p = put(p, "--\r\n", 4)
    return (<Transport>res.t).commit(p - out)
