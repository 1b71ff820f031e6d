# Request: header lookup, query parameters, the normalized path.

@cython.final
cdef class Request:

    cdef Slice header(self, const char* name) noexcept nogil:
        cdef const px_slice* v = px_header_get(self.r, name, strlen(name))
        cdef Slice out
        if v == NULL:
            out.p = NULL
            out.n = 0
            return out
        return v[0]

    cdef Slice query_param(self, const char* name) noexcept nogil:
        cdef Slice out
        cdef const char* p = self.query.p
        cdef const char* end = p + self.query.n
        cdef const char* amp
        cdef const char* eq
        cdef size_t nl = strlen(name)
        cdef char* buf
        cdef ptrdiff_t k, raw
        out.p = NULL
        out.n = 0
        if p == NULL:
            return out
        while p < end:
            amp = <const char*>memchr(p, b'&', end - p)
            if amp == NULL:
                amp = end
            eq = <const char*>memchr(p, b'=', amp - p)
            if eq == NULL:
                eq = amp
            if <size_t>(eq - p) == nl and memcmp(p, name, nl) == 0:
                k = amp - eq - 1 if eq < amp else 0
                buf = <char*>(<Transport>self.t).alloc(k + 1)
                if buf == NULL:
                    return out
                raw = k
                k = px_percent_decode(buf, k + 1, eq + 1, k, 1) if k > 0 else 0
                if k < 0:                   # not valid percent-encoding: the raw bytes
                    memcpy(buf, eq + 1, raw)
                    k = raw
                buf[k] = 0
                out.p = buf
                out.n = k
                return out
            p = amp + 1
        return out

    cdef int normalized(self) noexcept nogil:
        cdef char* buf
        cdef ptrdiff_t k
        if self.path.p != NULL:
            return 0
        if px_path_is_clean(self.raw_path.p, self.raw_path.n):
            self.path = self.raw_path       # nothing to decode or clean: no copy
            return 0
        buf = <char*>(<Transport>self.t).alloc(self.raw_path.n + 1)
        if buf == NULL:
            return -1
        k = px_path_normalize(buf, self.raw_path.n + 1, self.raw_path.p, self.raw_path.n)
        if k < 0:
            return -1
        buf[k] = 0
        self.path.p = buf
        self.path.n = k
        return 0

    cdef bint is_head(self) noexcept nogil:
        return self.r.method_id == PX_METHOD_HEAD
