# Response: headers, the head, complete responses, streaming responses.

@cython.final
cdef class Response:

    cdef int header(self, const char* name, const char* value) noexcept nogil:
        return self.header_n(name, value, strlen(value))

    cdef int header_n(self, const char* name, const char* value, size_t n) noexcept nogil:
        cdef size_t nn = strlen(name)
        cdef size_t need = self.extra_n + nn + n + 4
        cdef char* nb
        cdef size_t i
        # no CR/LF may reach the head from a value (response splitting)
        for i in range(n):
            if value[i] == b'\r' or value[i] == b'\n':
                return -1
        if need > self.extra_cap:
            nb = <char*>(<Transport>self.t).alloc(need * 2)
            if nb == NULL:
                return -1
            if self.extra_n:
                memcpy(nb, self.extra, self.extra_n)
            self.extra = nb
            self.extra_cap = need * 2
        nb = put(self.extra + self.extra_n, name, nn)
        nb = put(nb, ": ", 2)
        nb = put(nb, value, n)
        nb = put(nb, "\r\n", 2)
        self.extra_n = nb - self.extra
        return 0

    cdef char* _head(self, char* p, int status, const char* ctype, size_t ctn, int64_t length) noexcept nogil:
        """Status line and headers, through the blank line (ctn: strlen(ctype)). length < 0: no
        Content-Length; 1xx, 204 and 304 never carry one (RFC 9110 8.6)."""
        status = valid_status(status)
        self.status = status
        if status == 200:                   # the common case: one fixed-size copy
            p = put(p, self.head200, HEAD200_LEN)
        else:
            p = put(p, "HTTP/1.1 ", 9)
            p += status_line(p, status)
            p = put(p, "\r\nServer: pxcy\r\nDate: ", 22)
            p = put(p, self.date, PX_HTTP_DATE_LEN)
            p = put(p, "\r\n", 2)
        if ctype != NULL:
            p = put(p, "Content-Type: ", 14)
            p = put(p, ctype, ctn)
            p = put(p, "\r\n", 2)
        if length >= 0 and status_has_body(status):
            p = put(p, "Content-Length: ", 16)
            p += px_write_u64(p, <uint64_t>length)
            p = put(p, "\r\n", 2)
            self.body_bytes = <uint64_t>length
        if status >= 200:                   # an interim response says nothing of the connection
            if self.close:
                p = put(p, "Connection: close\r\n", 19)
            elif (<Request>self.rq).minor == 0:
                p = put(p, "Connection: keep-alive\r\n", 24)
        if self.extra_n:
            p = put(p, self.extra, self.extra_n)
        return put(p, "\r\n", 2)

    cdef int send(self, int status, const char* content_type, const void* body, size_t n) noexcept nogil:
        cdef size_t ctn
        cdef bint nobody
        cdef char* out
        cdef char* p
        status = valid_status(status)
        if status < 200:                    # 1xx: no Content-Type, no body
            if status == 101:               # no protocol to switch to: refused
                return -1
            if (<Request>self.rq).minor == 0 and not self.done:
                self.extra_n = 0            # never to HTTP/1.0 (RFC 9110 15.2): dropped
                return 0
            content_type = NULL
        elif status == 205:                 # Reset Content: never content (RFC 9110 15.3.6)
            n = 0
        ctn = strlen(content_type) if content_type != NULL else 0
        nobody = (<Request>self.rq).is_head() or not status_has_body(status)
        if self.done:
            return -1
        out = (<Transport>self.t).reserve(HEAD_MAX + ctn + self.extra_n + (0 if nobody else n))
        if out == NULL:
            return -1
        p = self._head(out, status, content_type, ctn, <int64_t>n)
        if not nobody and n:
            p = put(p, <const char*>body, n)
        if status >= 200:                   # an interim response leaves room for the final one
            self.done = True
        else:
            self.extra_n = 0
        if (<Request>self.rq).is_head():
            self.body_bytes = 0
        return (<Transport>self.t).commit(p - out)

    cdef int error(self, int status) noexcept nogil:
        cdef char buf[80]
        cdef int k = status_line(buf, status)
        buf[k] = b'\n'
        return self.send(status, "text/plain; charset=utf-8", buf, k + 1)

    cdef int sendfile(self, int status, const char* content_type, int fd, uint64_t offset,
                      uint64_t count, bint close_after) noexcept nogil:
        cdef struct_stat st
        cdef char* out
        cdef char* p
        cdef size_t ctn = strlen(content_type) if content_type != NULL else 0
        if self.done:
            if close_after:
                c_close(fd)
            return -1
        if count == <uint64_t>-1:
            if fstat(fd, &st) < 0:
                if close_after:
                    c_close(fd)
                return self.error(500)
            count = <uint64_t>st.st_size - offset if <uint64_t>st.st_size > offset else 0
        out = (<Transport>self.t).reserve(HEAD_MAX + ctn + self.extra_n)
        if out == NULL:
            if close_after:
                c_close(fd)
            return -1
        p = self._head(out, status, content_type, ctn, <int64_t>count)
        self.done = True
        if (<Transport>self.t).commit(p - out) < 0:
            if close_after:
                c_close(fd)
            return -1
        if (<Request>self.rq).is_head() or count == 0 or not status_has_body(status):
            self.body_bytes = 0
            if close_after:
                c_close(fd)
            return 0
        return (<Transport>self.t).sendfile(fd, offset, count, close_after)

    # ---- streaming responses of unknown length

    cdef int stream_start(self, int status, const char* content_type) noexcept nogil:
        cdef size_t ctn = strlen(content_type) if content_type != NULL else 0
        cdef char* out
        cdef char* p
        status = valid_status(status)
        if self.done or status < 200:
            return -1
        self.stream_discard = (<Request>self.rq).is_head() or not status_has_body(status)
        self.stream_chunked = (<Request>self.rq).minor >= 1
        if not self.stream_chunked and not self.stream_discard:
            self.close = True                  # HTTP/1.0: the end of the body is the close
        if self.stream_chunked and not self.stream_discard:
            if self.header("Transfer-Encoding", "chunked") < 0:
                return -1
        out = (<Transport>self.t).reserve(HEAD_MAX + ctn + self.extra_n)
        if out == NULL:
            return -1
        p = self._head(out, status, content_type, ctn, -1)
        self.done = True
        self.streaming = True
        self.stream_ended = self.stream_discard
        return (<Transport>self.t).commit(p - out)

    cdef int stream_write(self, const void* data, size_t n) noexcept nogil:
        cdef char* out
        cdef char* p
        cdef int k
        if not self.streaming or (self.stream_ended and not self.stream_discard):
            return -1
        if n == 0 or self.stream_discard:
            return 0
        if not self.stream_chunked:
            self.body_bytes += n
            return (<Transport>self.t).send(data, n)
        if n > (<size_t>-1) - 32:
            return -1
        out = (<Transport>self.t).reserve(n + 32)
        if out == NULL:
            return -1
        k = snprintf(out, 20, "%zx\r\n", n)
        p = put(out + k, <const char*>data, n)
        p = put(p, "\r\n", 2)
        self.body_bytes += n
        return (<Transport>self.t).commit(p - out)

    cdef int stream_end(self) noexcept nogil:
        if not self.streaming:
            return -1
        if self.stream_ended:
            return 0
        self.stream_ended = True
        if self.stream_chunked:
            return (<Transport>self.t).send(b"0\r\n\r\n", 5)
        return 0

    # ---- files, ranges, JSON: static.pxi, ranges.pxi, json.pxi

    cdef int file(self, const char* rel_path, size_t n) noexcept nogil:
        return static_file(self, rel_path, n)

    cdef int file_range(self, int fd, uint64_t base, uint64_t length, const char* content_type,
                        bint close_after) noexcept nogil:
        return serve_ranged(self, fd, base, length, content_type, close_after, NULL, 0, -1)

    cdef int json_start(self, size_t size_hint) noexcept nogil:
        return px_json_init(&self.j, json_alloc, self.t, size_hint)

    cdef int j_begin_object(self) noexcept nogil:
        return px_json_begin_object(&self.j)

    cdef int j_end_object(self) noexcept nogil:
        return px_json_end_object(&self.j)

    cdef int j_begin_array(self) noexcept nogil:
        return px_json_begin_array(&self.j)

    cdef int j_end_array(self) noexcept nogil:
        return px_json_end_array(&self.j)

    cdef int j_key(self, const char* k, size_t n) noexcept nogil:
        return px_json_key(&self.j, k, n)

    cdef int j_str(self, const char* s, size_t n) noexcept nogil:
        return px_json_str(&self.j, s, n)

    cdef int j_int(self, int64_t v) noexcept nogil:
        return px_json_int(&self.j, v)

    cdef int j_float(self, double v) noexcept nogil:
        return px_json_float(&self.j, v)

    cdef int j_bool(self, bint v) noexcept nogil:
        return px_json_bool(&self.j, v)

    cdef int j_null(self) noexcept nogil:
        return px_json_null(&self.j)

    cdef int j_raw(self, const char* s, size_t n) noexcept nogil:
        return px_json_raw(&self.j, s, n)

    cdef int send_json(self, int status) noexcept nogil:
        if self.j.failed:
            return self.error(500)
        return self.send(status, "application/json", self.j.buf, self.j.n)
