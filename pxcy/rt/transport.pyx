# Transport: what a callback uses to reach its connection (included into
# pxcy/runtime.pyx). Every method is a direct C call (the class is final); the
# connection record behind the opaque pointer is in rt/types.pxd.

cdef inline bint conn_writable(Conn* c) noexcept nogil:
    """May output be queued? Not after write_eof, nor once the protocol is gone."""
    return (c.state == CS_OPEN or c.state == CS_RD_EOF or c.state == CS_CLOSING) \
        and c.after_drain == D_NONE


cdef int refuse(Worker* w, Conn* c, int err) noexcept nogil:
    c.err = err
    pxcy_stat_add(&w.stats.refused_sends, 1)
    return -1


@cython.final
cdef class Transport:
    """What a callback uses to reach its connection (valid during the callback only).

    Output: `send` (copy into the transient heap), `send_nocopy` (memory that lives
    until the send completes: transient heap or global data), `reserve`/`commit`
    (format straight into the output: commit(k) hands out k <= n bytes of the last
    reserve(n), with no other allocation in between), `sendfile` / `sendfile_path`
    (a file or a byte range of it, via sendfile(2)). Everything queued by one
    callback is written in one batch after it returns; each callback's transient
    allocations are released once the output queued up to its end is written.
    Memory: `alloc` (transient), `persist`/`forget` (persistent: lives on `self`
    until replaced or the connection ends). Input: `pushback(n)` keeps the last n
    bytes of the current data; they are delivered again, in front of new bytes,
    as soon as the protocol can make progress (see docs/runtime.md).
    Returns: 0 / -1 (`error()` gives the errno where there is one).
    """

    cdef int send(self, const void* data, size_t n) noexcept nogil:
        cdef Conn* c = <Conn*>self._conn
        cdef char* p
        if n == 0:
            return 0
        if not conn_writable(c):
            return refuse(<Worker*>self._worker, c, EPIPE)
        (<Worker*>self._worker).resv = NULL
        (<Worker*>self._worker).resv_item = NULL
        if n >= BIG_SEND:
            if n > PXCY_MAX_ALLOC:
                return refuse(<Worker*>self._worker, c, ENOMEM)
            p = pxcy_heap_reserve(&c.th, n + item_room())
            if p == NULL:
                return refuse(<Worker*>self._worker, c, ENOMEM)
            memcpy(p, data, n)
            return queue_mem_big(<Worker*>self._worker, c, p, n)
        p = pxcy_heap_end(&c.th)
        if p != NULL and <const char*>data >= p and <const char*>data < p + pxcy_heap_room(&c.th):
            # data in the heap's free room (sent from an uncommitted reservation): it
            # stays where it is (a queue item made first would overwrite it)
            p = pxcy_heap_reserve(&c.th, n)
            if p == NULL:
                return refuse(<Worker*>self._worker, c, ENOMEM)
            memmove(p, data, n)
            pxcy_heap_commit(&c.th, n)
            return queue_mem(<Worker*>self._worker, c, p, n, NULL)
        p = reserve_out(<Worker*>self._worker, c, n)
        if p == NULL:
            return refuse(<Worker*>self._worker, c, ENOMEM)
        memcpy(p, data, n)
        pxcy_heap_commit(&c.th, n)
        return queue_mem(<Worker*>self._worker, c, p, n, (<Worker*>self._worker).resv_item)

    cdef int send_nocopy(self, const void* data, size_t n) noexcept nogil:
        cdef Conn* c = <Conn*>self._conn
        if n == 0:
            return 0
        if not conn_writable(c):
            return refuse(<Worker*>self._worker, c, EPIPE)
        if pxcy_debug_enabled:
            check_pointer(c, data, "Transport.send_nocopy")
        return queue_mem(<Worker*>self._worker, c, <const char*>data, n, NULL)

    cdef char* reserve(self, size_t n) noexcept nogil:
        cdef Conn* c = <Conn*>self._conn
        cdef char* p
        if n >= BIG_SEND and n <= PXCY_MAX_ALLOC:
            (<Worker*>self._worker).resv_item = NULL
            p = pxcy_heap_reserve(&c.th, n + item_room())    # room for its queue item
        else:
            p = reserve_out(<Worker*>self._worker, c, n)
        (<Worker*>self._worker).resv = p
        (<Worker*>self._worker).resv_len = n if p != NULL else 0
        if p == NULL:
            c.err = ENOMEM
        return p

    cdef int commit(self, size_t n) noexcept nogil:
        cdef Conn* c = <Conn*>self._conn
        cdef char* p = (<Worker*>self._worker).resv
        cdef OutItem* pre
        # the pairing check: a live reservation, n within it, nothing allocated since
        if p == NULL or n > (<Worker*>self._worker).resv_len or p != pxcy_heap_end(&c.th):
            if pxcy_debug_enabled:
                PXCY_FAIL("Transport.commit(%zu): %s", n,
                          <const char*>"no reservation (commit without reserve, or after another send/alloc)"
                          if p == NULL or p != pxcy_heap_end(&c.th) else
                          <const char*>"more than the last reserve() asked for")
            (<Worker*>self._worker).resv = NULL
            (<Worker*>self._worker).resv_item = NULL
            c.err = EINVAL
            return -1
        pre = (<Worker*>self._worker).resv_item
        (<Worker*>self._worker).resv = NULL
        (<Worker*>self._worker).resv_item = NULL
        if n == 0:
            return 0
        if not conn_writable(c):
            return refuse(<Worker*>self._worker, c, EPIPE)
        if (<Worker*>self._worker).resv_len >= BIG_SEND:
            return queue_mem_big(<Worker*>self._worker, c, p, n)
        pxcy_heap_commit(&c.th, n)
        return queue_mem(<Worker*>self._worker, c, p, n, pre)

    cdef int sendfile(self, int fd, uint64_t offset, uint64_t count, bint close_after) noexcept nogil:
        # fd ownership: with close_after the fd is ours from here on, on every path
        cdef Conn* c = <Conn*>self._conn
        cdef struct_stat st
        if not conn_writable(c):
            refuse(<Worker*>self._worker, c, EPIPE)
            return drop_fd(fd, close_after)
        if count == <uint64_t>-1:
            if fstat(fd, &st) < 0:
                c.err = errno
                return drop_fd(fd, close_after)
            count = <uint64_t>st.st_size - offset if <uint64_t>st.st_size > offset else 0
        elif offset > <uint64_t>0x7fffffffffffffff or count > <uint64_t>0x7fffffffffffffff - offset:
            c.err = EOVERFLOW
            return drop_fd(fd, close_after)
        if count == 0:
            if close_after:
                c_close(fd)
            return 0
        if queue_item(<Worker*>self._worker, c, NULL, fd, close_after, offset, count) < 0:
            c.err = ENOMEM
            return drop_fd(fd, close_after)
        return 0

    cdef int sendfile_path(self, const char* path, uint64_t offset, uint64_t count) noexcept nogil:
        cdef Conn* c = <Conn*>self._conn
        cdef int fd
        if not conn_writable(c):
            return refuse(<Worker*>self._worker, c, EPIPE)
        fd = c_open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0:
            c.err = errno
            return -1
        return self.sendfile(fd, offset, count, True)     # closes fd on failure

    cdef uint64_t pending(self) noexcept nogil:
        return (<Conn*>self._conn).out_bytes

    cdef void* alloc(self, size_t n) noexcept nogil:
        cdef Conn* c = <Conn*>self._conn
        (<Worker*>self._worker).resv = NULL
        (<Worker*>self._worker).resv_item = NULL
        return pxcy_heap_alloc(&c.th, n)

    cdef pxcy_bytes persist(self, pxcy_bytes old, const void* data, size_t n) noexcept nogil:
        cdef Conn* c = <Conn*>self._conn
        cdef pxcy_bytes r
        r.data = NULL
        r.size = 0
        if n >= PXCY_MAX_ALLOC:
            c.err = ENOMEM
            return r
        if c.ph == NULL:
            c.ph = pxcy_pheap_new(&(<Worker*>self._worker).ppool, (<Worker*>self._worker).cfg.persistent_limit)
            if c.ph == NULL:
                c.err = ENOMEM
                return r
        r.data = <char*>pxcy_pheap_alloc(c.ph, n + 1)
        if r.data == NULL:
            c.err = ENOMEM
            return r
        if n:
            memcpy(r.data, data, n)
        r.data[n] = 0
        r.size = n
        if old.data != NULL and pxcy_pheap_free(c.ph, old.data) < 0 and pxcy_debug_enabled:
            PXCY_FAIL("Transport.persist: previous value %p is not a live persistent value of this connection",
                      old.data)
        return r

    cdef void forget(self, pxcy_bytes* value) noexcept nogil:
        cdef Conn* c = <Conn*>self._conn
        if value.data != NULL and (c.ph == NULL or pxcy_pheap_free(c.ph, value.data) < 0) \
                and pxcy_debug_enabled:
            PXCY_FAIL("Transport.forget: %p is not a live persistent value of this connection",
                      value.data)
        value.data = NULL
        value.size = 0
        if c.ph != NULL and c.ph.bytes == 0:
            # nothing kept any more: the heap (its blocks and header) goes back, so a
            # keep-alive connection that kept a value once does not hold it idle
            pxcy_pheap_delete(c.ph)
            c.ph = NULL

    cdef int pushback(self, size_t n) noexcept nogil:
        cdef Conn* c = <Conn*>self._conn
        cdef Worker* w = <Worker*>self._worker
        if n > w.cb_len:
            c.err = EINVAL
            return -1
        w.cb_pushback = n
        return 0

    cdef void pause_reading(self) noexcept nogil:
        (<Conn*>self._conn).paused |= P_USER

    cdef void resume_reading(self) noexcept nogil:
        cdef Conn* c = <Conn*>self._conn
        if c.paused & P_USER:
            c.paused &= ~P_USER
            if c.in_len > c.in_off:
                c.want |= W_REDELIVER       # input already received: delivered at once
            if c.want:
                ready_push(<Worker*>self._worker, c)

    cdef void close(self) noexcept nogil:
        cdef Conn* c = <Conn*>self._conn
        if c.state < CS_CLOSING:
            c.state = CS_CLOSING

    cdef void abort(self) noexcept nogil:
        cdef Conn* c = <Conn*>self._conn
        if c.state < CS_LOST:
            c.abort_req = 1

    cdef int write_eof(self) noexcept nogil:
        cdef Conn* c = <Conn*>self._conn
        if c.state == CS_OPEN and c.after_drain == D_NONE:
            c.after_drain = D_SHUT_WR       # carried out once the queue is written
            return 0
        if c.state == CS_RD_EOF:
            c.state = CS_CLOSING            # both directions done: close after the queue
            return 0
        c.err = EPIPE
        return -1

    cdef int error(self) noexcept nogil:
        return (<Conn*>self._conn).err

    cdef int peer(self, char* buf, size_t cap) noexcept nogil:
        cdef Conn* c = <Conn*>self._conn
        cdef sockaddr_storage ss
        cdef socklen_t sl = sizeof(ss)
        cdef char host[64]
        cdef int plen
        if c.fd < 0:
            return snprintf(buf, cap, "test:0")
        if getpeername(c.fd, <sockaddr*>&ss, &sl) < 0:
            c.err = errno
            return -1
        if ss.ss_family == AF_UNIX:
            # a client of a Unix socket is usually unnamed: "unix:" + its path, if any
            plen = <int>sl - 2 if sl > 2 else 0
            return snprintf(buf, cap, "unix:%.*s", plen, (<char*>&ss) + 2)
        if ss.ss_family == AF_INET:
            inet_ntop(AF_INET, &(<sockaddr_in*>&ss).sin_addr, host, sizeof(host))
            return snprintf(buf, cap, "%s:%u", host, ntohs((<sockaddr_in*>&ss).sin_port))
        inet_ntop(AF_INET6, &(<sockaddr_in6*>&ss).sin6_addr, host, sizeof(host))
        return snprintf(buf, cap, "[%s]:%u", host, ntohs((<sockaddr_in6*>&ss).sin6_port))

    cdef int fileno(self) noexcept nogil:
        return (<Conn*>self._conn).fd

    cdef int worker_id(self) noexcept nogil:
        return (<Worker*>self._worker).id

    cdef void set_idle_timeout(self, uint32_t ms) noexcept nogil:
        cdef Conn* c = <Conn*>self._conn
        cdef Worker* w = <Worker*>self._worker
        c.idle_ms = ms
        if ms and c.state < CS_LOST:
            conn_timer_need(w, c, c.last_active + ms)

    cdef void set_deadline(self, uint32_t ms) noexcept nogil:
        cdef Conn* c = <Conn*>self._conn
        cdef Worker* w = <Worker*>self._worker
        if ms == 0 or c.state >= CS_LOST:
            c.deadline = 0              # an armed timer finds nothing due and lapses
            return
        c.deadline = w.now + ms
        conn_timer_need(w, c, c.deadline)

    cdef uint64_t now_ms(self) noexcept nogil:
        return (<Worker*>self._worker).now

    cdef void count_request(self) noexcept nogil:
        pxcy_stat_add(&(<Worker*>self._worker).stats.requests, 1)

    # -- operations (issue 14): drain state, response classes, metrics
    cdef bint draining(self) noexcept nogil:
        return pxcy_load_int(&(<Worker*>self._worker).core.draining) != 0

    cdef bint health_check(self) noexcept nogil:
        cdef Worker* w = <Worker*>self._worker
        pxcy_stat_add(&w.stats.health_checks, 1)
        pxcy_store_u64(&w.health_last, w.now)
        return pxcy_load_int(&w.core.draining) != 0

    @cython.cdivision(True)
    cdef void count_response(self, int status) noexcept nogil:
        cdef Worker* w = <Worker*>self._worker
        cdef int k = status / 100 if 100 <= status < 600 else 0
        pxcy_stat_add(&w.stats.requests, 1)
        pxcy_stat_add(&w.stats.responses[k], 1)

    cdef size_t metrics(self, char* buf, size_t cap) noexcept nogil:
        return metrics_format((<Worker*>self._worker).core, buf, cap)

    cdef int64_t call_later(self, uint32_t ms, uint64_t token) noexcept nogil:
        cdef Conn* c = <Conn*>self._conn
        if c.state >= CS_CLOSING:
            c.err = EPIPE
            return -1
        return timer_user_add(<Worker*>self._worker, c, ms, token)

    cdef int cancel(self, int64_t timer_id) noexcept nogil:
        return timer_user_cancel(<Worker*>self._worker, <Conn*>self._conn, timer_id)

    # -- handles, outbound connections, defer (rt/handles.pyx, connect.pyx, defer.pyx)

    cdef uint64_t handle(self) noexcept nogil:
        """This connection's handle: stable while it lives, refused once it left."""
        return conn_handle(<Worker*>self._worker, <Conn*>self._conn)

    cdef int send_to(self, uint64_t handle, const void* data, size_t n) noexcept nogil:
        """Queue a copy of n bytes on the connection `handle` of this worker; -1 if it
        is gone (error ENOENT), lives on another worker (EXDEV) or cannot take output."""
        cdef Worker* w = <Worker*>self._worker
        cdef Conn* me = <Conn*>self._conn
        cdef Conn* c = handle_lookup(w, handle)
        if c == NULL:
            me.err = EXDEV if (handle >> 48) != <uint64_t>w.id + 1 and handle != 0 else ENOENT
            return -1
        if c == me:
            return self.send(data, n)
        return conn_send_other(w, me, c, data, n)

    cdef int close_handle(self, uint64_t handle) noexcept nogil:
        """close() the connection `handle` of this worker (after its queued output)."""
        cdef Worker* w = <Worker*>self._worker
        cdef Conn* c = handle_lookup(w, handle)
        if c == NULL:
            (<Conn*>self._conn).err = ENOENT
            return -1
        if c.connecting:
            (<Conn*>self._conn).err = EINVAL
            return -1
        if c.state < CS_CLOSING:
            c.state = CS_CLOSING
        if c != <Conn*>self._conn:
            c.want |= W_FLUSH           # drained and closed from the ready list
            ready_push(w, c)
        return 0

    cdef int write_eof_to(self, uint64_t handle) noexcept nogil:
        """write_eof() on the connection `handle` of this worker (a proxy relaying a
        half-close); -1 if it is gone or its writing is already shut."""
        cdef Worker* w = <Worker*>self._worker
        cdef Conn* c = handle_lookup(w, handle)
        if c == NULL or c.connecting:
            (<Conn*>self._conn).err = ENOENT if c == NULL else EINVAL
            return -1
        if c == <Conn*>self._conn:
            return self.write_eof()
        if c.state == CS_OPEN and c.after_drain == D_NONE:
            c.after_drain = D_SHUT_WR
        elif c.state == CS_RD_EOF:
            c.state = CS_CLOSING
        else:
            (<Conn*>self._conn).err = EPIPE
            return -1
        c.want |= W_FLUSH
        ready_push(w, c)
        return 0

    cdef int connect(self, const char* host, int port, uint64_t token) noexcept nogil:
        """Open a TCP connection to host:port (numeric, or named in Server(resolve=));
        connect_done(t, token, handle) follows. -1 when it cannot start."""
        cdef Conn* c = <Conn*>self._conn
        if c.state >= CS_CLOSING:
            c.err = EPIPE
            return -1
        return conn_connect(<Worker*>self._worker, c, host, port, token)

    cdef uint64_t origin(self) noexcept nogil:
        """Outbound connection: the handle of the connection that asked (else 0)."""
        return (<Conn*>self._conn).origin

    cdef uint64_t token(self) noexcept nogil:
        """Outbound connection: the token given to connect (else 0)."""
        return (<Conn*>self._conn).token

    cdef int defer(self, uint64_t token, const void* data, size_t n) noexcept nogil:
        """Run Server(on_defer=fn) on a copy of the bytes in a Python thread;
        result_received(t, token, ...) follows on this worker (dropped if we left)."""
        cdef Conn* c = <Conn*>self._conn
        if c.state >= CS_CLOSING:
            c.err = EPIPE
            return -1
        return conn_defer(<Worker*>self._worker, c, token, data, n)

    cdef void* scratch(self, size_t n) noexcept nogil:
        cdef Worker* w = <Worker*>self._worker
        cdef void* p
        if n > w.scratch_cap:
            p = calloc(1, n)
            if p == NULL:
                return NULL
            if w.scratch != NULL:
                memcpy(p, w.scratch, w.scratch_cap)
                free(w.scratch)
            w.scratch = p
            w.scratch_cap = n
        return w.scratch


cdef int drop_fd(int fd, bint close_after) noexcept nogil:
    if close_after:
        c_close(fd)
    return -1


cdef void check_pointer(Conn* c, const void* p, const char* what) noexcept nogil:
    """Debug mode: memory queued without a copy must be live transient memory of
    this connection, or not heap memory at all (static / global data)."""
    if pxcy_debug_is_stale(p):
        PXCY_FAIL("%s: %p points into transient memory that was "
                  "already rolled back (kept past its callback?)", what, p)
    if pxcy_debug_is_heap(p) and not pxcy_heap_owns(&c.th, p):
        PXCY_FAIL("%s: %p is heap memory this connection does not own "
                  "(persistent memory, another connection's, or rolled back)", what, p)
