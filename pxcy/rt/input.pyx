# Input of a connection (included into pxcy/runtime.pyx): reads, the per-connection
# input buffer for pushed-back bytes, and delivery to data_received.
#
# Without pending input a read goes into the worker's buffer and is delivered from
# there (no copy). When data_received pushes back k bytes, they are copied once into
# the connection's input buffer (a pooled block); later reads append to it and the
# parser consumes from it in place (a pushback only moves an offset), so pending
# bytes are not copied on every read. The buffer goes back to the pool as soon as
# nothing is pending: an idle connection holds none.

cdef enum:
    MIN_ROOM = 4096          # read into the input buffer only with at least this much room


cdef inline void input_release(Worker* w, Conn* c) noexcept nogil:
    if c.inb != NULL:
        pxcy_pool_put(&w.tpool, c.inb)
        c.inb = NULL
    c.in_off = c.in_len = 0


cdef int input_reserve(Worker* w, Conn* c, size_t room) noexcept nogil:
    """At least `room` free bytes after the pending input (compacting or growing)."""
    cdef size_t pend = <size_t>(c.in_len - c.in_off)
    cdef size_t need
    cdef pxcy_block* nb
    if c.inb != NULL and c.inb.cap - c.in_len >= room:
        return 0
    if c.inb != NULL and c.inb.cap - pend >= room and c.in_off >= pend:
        # compact: the pending bytes move at most once per buffer's worth consumed
        memcpy(PXCY_PAYLOAD(c.inb), PXCY_PAYLOAD(c.inb) + c.in_off, pend)
        c.in_off = 0
        c.in_len = <uint32_t>pend
        return 0
    need = pend + room
    if c.inb != NULL and need < 2 * c.inb.cap:
        need = 2 * c.inb.cap                # geometric growth: linear total copying
    nb = pxcy_pool_get(&w.tpool, need)
    if nb == NULL:
        return -1
    if pend:
        memcpy(PXCY_PAYLOAD(nb), PXCY_PAYLOAD(c.inb) + c.in_off, pend)
    if c.inb != NULL:
        pxcy_pool_put(&w.tpool, c.inb)
    c.inb = nb
    c.in_off = 0
    c.in_len = <uint32_t>pend
    pxcy_stat_max(&w.stats.input_peak, <uint64_t>nb.cap)
    return 0


cdef int conn_deliver(Worker* w, Conn* c, const char* data, size_t n, bint in_buffer) noexcept nogil:
    """data_received(data, n), then keep what it pushed back. `in_buffer`: data is
    the connection's pending input (+ new bytes appended to it), else the worker's
    read buffer. 0: alive, -1: the protocol is gone."""
    cdef int ret
    cdef size_t k
    w.cb_pushback = 0
    w.cb_len = n
    c.want &= ~W_REDELIVER
    ret = (<Protocol>conn_proto(c)).data_received(<Transport>bind(w, c), data, n)
    pxcy_stat_add(&w.stats.callbacks, 1)
    k = w.cb_pushback
    w.cb_len = 0                        # pushback() outside data_received: refused
    if k == 0:
        if c.inb != NULL:
            input_release(w, c)
        c.stalled = 0
    elif ret >= 0 and not c.abort_req:
        if c.state != CS_OPEN and c.state != CS_WR_SHUT:
            input_release(w, c)         # closing: nobody will read it
        elif k > w.cfg.max_pending_input:
            c.err = ENOBUFS
            ret = -1
        elif in_buffer:
            c.in_off = c.in_len - <uint32_t>k   # consumed in place: no copy
        else:
            if input_reserve(w, c, k + MIN_ROOM) < 0:
                c.err = ENOMEM
                ret = -1
            else:
                memcpy(PXCY_PAYLOAD(c.inb), data + n - k, k)
                c.in_off = 0
                c.in_len = <uint32_t>k
        c.stalled = k == n
        if k < n and ret >= 0:
            c.want |= W_REDELIVER       # progress made: it may make more without new bytes
            ready_push(w, c)
    ret = conn_after(w, c, ret)
    if ret == 0 and c.eof_pending:
        return conn_eof_check(w, c)
    return ret


cdef int conn_eof_check(Worker* w, Conn* c) noexcept nogil:
    """The FIN was read behind pushed-back input (pipelined requests, then the
    client half-closed): eof_received once that input is consumed or can make no
    more progress (none left to redeliver, no output whose drain would re-deliver it)."""
    if c.state != CS_OPEN:
        c.eof_pending = 0
        return 0
    if c.in_len > c.in_off and ((c.want & W_REDELIVER) or (c.stalled and c.out_head != NULL)):
        return 0
    c.eof_pending = 0
    return conn_eof(w, c)


cdef int conn_redeliver(Worker* w, Conn* c) noexcept nogil:
    """Pending input delivered again without new bytes (counts against the budget)."""
    if c.turn != <uint32_t>w.turn:
        c.turn = <uint32_t>w.turn
        c.reads_turn = 0
    if c.reads_turn >= w.cfg.read_budget:
        ready_push(w, c)
        return 0
    c.reads_turn += 1
    pxcy_stat_add(&w.stats.redeliveries, 1)
    return conn_deliver(w, c, PXCY_PAYLOAD(c.inb) + c.in_off, c.in_len - c.in_off, True)


cdef int conn_read(Worker* w, Conn* c, bint hup) noexcept nogil:
    """Read and deliver until the socket is drained, EOF, a pause, or the read budget
    is spent (then the connection waits on the ready list: no starvation). A short
    read means drained (edge-triggered epoll signals the next arrival), except when
    the event reported a hang-up: then read on until 0 or EAGAIN so EOF is seen.
    0: alive, -1: the protocol is gone."""
    cdef ssize_t r
    cdef size_t want
    cdef char* buf
    cdef bint pending
    if hup:
        c.want |= W_HUP             # kept until EOF (or EAGAIN) is read: a read deferred by
    elif c.want & W_HUP:            # a pause or the budget must still read on to the FIN
        hup = True
    if c.turn != <uint32_t>w.turn:
        c.turn = <uint32_t>w.turn
        c.reads_turn = 0
    while True:
        if (c.state != CS_OPEN and c.state != CS_WR_SHUT) or c.eof_pending:
            return 0
        if c.paused:
            c.want |= W_READ
            return 0
        if c.reads_turn >= w.cfg.read_budget:
            c.want |= W_READ
            pxcy_stat_add(&w.stats.budget_yields, 1)
            ready_push(w, c)
            return 0
        pending = c.in_len > c.in_off
        if pending:
            if input_reserve(w, c, MIN_ROOM) < 0:
                c.err = ENOMEM
                conn_abort(w, c)
                return -1
            buf = PXCY_PAYLOAD(c.inb) + c.in_len
            want = c.inb.cap - c.in_len
            if want > w.cfg.read_size:
                want = w.cfg.read_size
        else:
            buf = w.rbuf
            want = w.cfg.read_size
        r = pxcy_sys_recv(c.fd, buf, want)
        if r > 0:
            c.reads_turn += 1
            pxcy_stat_add(&w.stats.reads, 1)
            pxcy_stat_add(&w.stats.bytes_in, <uint64_t>r)
            if c.reads_turn > 1:
                pxcy_stat_max(&w.stats.max_reads_per_turn, <uint64_t>c.reads_turn)
            c.last_active = w.now
            c.want &= ~W_READ
            if pending:
                c.in_len += <uint32_t>r
                if conn_deliver(w, c, PXCY_PAYLOAD(c.inb) + c.in_off, c.in_len - c.in_off, True) < 0:
                    return -1
            elif conn_deliver(w, c, w.rbuf, <size_t>r, False) < 0:
                return -1
            if <size_t>r < want and not hup:
                return 0            # drained: the next arrival raises a new edge
        elif r == 0:
            c.want &= ~(W_READ | W_HUP)
            if c.state == CS_OPEN and c.in_len > c.in_off:
                c.peer_eof = 1          # no more input; what is pending is still answered
                c.eof_pending = 1
                return conn_eof_check(w, c)
            return conn_eof(w, c)
        elif errno == EINTR:
            continue
        elif errno == EAGAIN:
            c.want &= ~(W_READ | W_HUP)
            return 0
        else:
            c.err = errno
            conn_abort(w, c)
            return -1


cdef int conn_discard(Worker* w, Conn* c) noexcept nogil:
    """Lingering close: read and drop input until FIN (then close) or EAGAIN."""
    cdef ssize_t r
    cdef int i
    for i in range(64):
        r = pxcy_sys_recv(c.fd, w.rbuf, w.cfg.read_size)
        if r > 0:
            continue
        if r < 0 and errno == EINTR:
            continue
        if r < 0 and errno == EAGAIN:
            c.want &= ~W_READ
            return 0
        conn_free(w, c)
        return -1
    c.want |= W_READ                # a flood: go on next turn
    ready_push(w, c)
    return 0
