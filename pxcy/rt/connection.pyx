# The connection state machine (included into pxcy/runtime.pyx). docs/runtime.md
# has the table. Every transition is in this file; there is one close path:
#
#   conn_abort          -> conn_lost -> conn_free           (errors, abort, timeouts)
#   CS_CLOSING, drained -> conn_lost -> linger | conn_free  (close, EOF, stop)
#
# conn_lost runs connection_lost exactly once and then drops the output queue,
# timers, heaps and pending input: from then on nothing of the protocol is read or
# written, and output it queues from connection_lost is refused (-1, error EPIPE).

cdef inline PyObject* conn_proto(Conn* c) noexcept nogil:
    """This connection's copy of the prototype: right after the record."""
    return <PyObject*>(<char*>c + round16(sizeof(Conn)))


cdef inline PyObject* bind(Worker* w, Conn* c) noexcept nogil:
    """The worker's Transport, pointed at c (borrowed: no reference counting)."""
    (<Transport>w.transport)._conn = c
    return w.transport


cdef Conn* conn_new(Worker* w, int fd) noexcept nogil:
    cdef Core* core = w.core
    cdef Conn* c = w.free_conns
    if c != NULL:
        w.free_conns = c.next
        w.nfree_conns -= 1
    else:
        c = <Conn*>malloc(core.conn_size)
        if c == NULL:
            return NULL
    if timer_node_add(w) < 0:        # room in the timer heap for c.tn
        free(c)
        return NULL
    memset(c, 0, sizeof(Conn))
    timer_node_init(&c.tn, T_CONN)
    c.fd = fd
    c.state = CS_OPEN
    c.t_user = -1
    memcpy(conn_proto(c), core.prototype, core.proto_size)
    pxcy_heap_init(&c.th, &w.tpool, w.cfg.transient_limit)
    c.last_active = w.now
    c.next = w.conns
    if w.conns != NULL:
        w.conns.prev = c
    w.conns = c
    pxcy_size_add(&w.nconns, 1)     # (read by /metrics from other workers)
    return c


cdef void ready_push(Worker* w, Conn* c) noexcept nogil:
    """Run c from the ready list on the next ready pass (FIFO; at most once)."""
    if c.in_ready:
        return
    c.in_ready = 1
    c.ready_next = NULL
    c.ready_prev = w.ready_tail
    if w.ready_tail != NULL:
        w.ready_tail.ready_next = c
    else:
        w.ready = c
    w.ready_tail = c


cdef inline void ready_remove(Worker* w, Conn* c) noexcept nogil:
    if not c.in_ready:
        return
    c.in_ready = 0
    if w.ready_stop == c:
        w.ready_stop = c.ready_prev     # the running pass now ends before c
    if c.ready_prev != NULL:
        c.ready_prev.ready_next = c.ready_next
    else:
        w.ready = c.ready_next
    if c.ready_next != NULL:
        c.ready_next.ready_prev = c.ready_prev
    else:
        w.ready_tail = c.ready_prev
    c.ready_prev = c.ready_next = NULL


cdef int conn_after(Worker* w, Conn* c, int ret) noexcept nogil:
    """After a callback returned `ret`: carry out an abort, else mark the end of the
    callback's heap segment and write what it queued. 0: alive, -1: protocol gone."""
    if ret < 0 or c.abort_req:
        if ret < 0:
            pxcy_stat_add(&w.stats.errors, 1)
        conn_abort(w, c)
        return -1
    w.resv = NULL
    w.resv_item = NULL
    queue_mark(c)
    return conn_write(w, c)


cdef int conn_write(Worker* w, Conn* c) noexcept nogil:
    """Write the queue; when it is empty: reset the heap, carry out write_eof or a
    pending close, call send_complete (a streaming sender yields after 16 rounds),
    and schedule redelivery of stalled input. 0: alive, -1: protocol gone."""
    cdef int rounds = 0
    cdef int r
    cdef bint completed = False
    while True:
        r = conn_flush(w, c)
        if r < 0:
            conn_abort(w, c)
            return -1
        if r > 0:
            if c.out_bytes > w.cfg.max_unsent:
                c.paused |= P_BACKPRESSURE
            elif (c.paused & P_BACKPRESSURE) and c.out_bytes <= w.cfg.max_unsent // 2:
                conn_unpause(w, c)
            if w.cfg.write_timeout_ms:
                conn_timer_need(w, c, c.last_write + w.cfg.write_timeout_ms)
            return 0
        # queue empty: everything the callbacks sent is written
        pxcy_heap_reset(&c.th)
        if c.paused & P_BACKPRESSURE:
            conn_unpause(w, c)
        if c.after_drain == D_SHUT_WR:
            c.after_drain = D_NONE
            if c.state == CS_OPEN:
                if c.fd >= 0:
                    shutdown(c.fd, SHUT_WR)
                c.state = CS_WR_SHUT
                if c.peer_eof:
                    c.state = CS_CLOSING
        if c.state == CS_CLOSING:
            return conn_drained_close(w, c)
        if not c.sent:
            if c.paused & P_STOP:
                c.state = CS_CLOSING
                return conn_drained_close(w, c)
            break
        c.sent = 0
        completed = True
        r = (<Protocol>conn_proto(c)).send_complete(<Transport>bind(w, c))
        pxcy_stat_add(&w.stats.callbacks, 1)
        if r < 0 or c.abort_req:
            if r < 0:
                pxcy_stat_add(&w.stats.errors, 1)
            conn_abort(w, c)
            return -1
        w.resv = NULL
        w.resv_item = NULL
        if c.out_head == NULL and c.state < CS_CLOSING and c.after_drain == D_NONE:
            pxcy_heap_reset(&c.th)      # send_complete queued nothing: done
            if c.paused & P_STOP:       # a response streamed from send_complete has ended
                c.state = CS_CLOSING
                return conn_drained_close(w, c)
            break
        queue_mark(c)
        rounds += 1
        if rounds >= 16 and c.out_head != NULL:
            c.want |= W_FLUSH       # streaming sender: let the others run, resume soon
            ready_push(w, c)
            return 0
    # drained after output (send_complete ran): input pushed back without progress
    # may now parse. Not when nothing was queued: such input waits for new bytes
    # (redelivering it every turn would spin the worker on a partial message).
    if completed and c.stalled and c.in_len > c.in_off:
        c.want |= W_REDELIVER
        ready_push(w, c)
    return 0


cdef inline void conn_unpause(Worker* w, Conn* c) noexcept nogil:
    c.paused &= ~P_BACKPRESSURE
    if not c.paused and (c.want & (W_READ | W_REDELIVER)):
        ready_push(w, c)


cdef int conn_eof(Worker* w, Conn* c) noexcept nogil:
    """The peer half-closed (read returned 0)."""
    cdef int ret
    c.peer_eof = 1
    pxcy_stat_add(&w.stats.eofs, 1)
    if c.state == CS_OPEN:
        ret = (<Protocol>conn_proto(c)).eof_received(<Transport>bind(w, c))
        pxcy_stat_add(&w.stats.callbacks, 1)
        if ret < 0 or c.abort_req:
            return conn_after(w, c, ret)
        if c.state == CS_OPEN:
            c.state = CS_RD_EOF if ret == 1 else CS_CLOSING
        return conn_after(w, c, 0)
    if c.state == CS_WR_SHUT:
        c.state = CS_CLOSING        # both directions done
        return conn_after(w, c, 0)
    if c.state == CS_LOST:
        conn_free(w, c)             # lingering close complete
        return -1
    return 0


cdef int conn_drained_close(Worker* w, Conn* c) noexcept nogil:
    """CS_CLOSING with the queue written: connection_lost, then a lingering close
    (shutdown(SHUT_WR), discard input until the peer's FIN or `linger`) so that
    unread input cannot turn the close into a reset that destroys the response."""
    conn_lost(w, c)
    if c.fd < 0 or c.peer_eof or w.cfg.linger_ms == 0 or pxcy_load_int(&w.core.stopping):
        conn_free(w, c)
        return -1
    shutdown(c.fd, SHUT_WR)
    c.deadline = w.now + w.cfg.linger_ms
    c.idle_ms = 0
    conn_timer_need(w, c, c.deadline)
    c.want = W_READ                 # input may be waiting already
    ready_push(w, c)
    return -1


cdef void conn_lost(Worker* w, Conn* c) noexcept nogil:
    """connection_lost exactly once; then drop everything of the protocol's."""
    c.state = CS_LOST               # from here, output is refused
    c.paused = 0
    c.want = 0
    c.after_drain = D_NONE
    if c.made:
        c.made = 0
        (<Protocol>conn_proto(c)).connection_lost(<Transport>bind(w, c))
        pxcy_stat_add(&w.stats.callbacks, 1)
    if c.hslot:
        conn_handle_release(w, c)   # its handle is refused from now on
    timer_user_clear(w, c)
    queue_release(c)
    pxcy_heap_reset(&c.th)
    pxcy_pheap_delete(c.ph)
    c.ph = NULL
    input_release(w, c)
    w.resv = NULL
    w.resv_item = NULL


cdef void conn_abort(Worker* w, Conn* c) noexcept nogil:
    """Close now, dropping unsent output."""
    if c.state >= CS_FREE:
        return
    if c.state < CS_LOST:
        conn_lost(w, c)
    conn_free(w, c)


cdef void conn_free(Worker* w, Conn* c) noexcept nogil:
    """Close the socket and recycle the record (protocol already gone)."""
    if c.state >= CS_FREE:
        return
    if c.state < CS_LOST:
        conn_lost(w, c)
    c.state = CS_FREE
    ready_remove(w, c)
    timer_disarm(w, &c.tn)
    timer_node_drop(w)
    if c.fd >= 0:
        c_close(c.fd)
        pxcy_add_int(w.core.active, -1)
        c.fd = -1
    if c.prev != NULL:
        c.prev.next = c.next
    else:
        w.conns = c.next
    if c.next != NULL:
        c.next.prev = c.prev
    pxcy_size_add(&w.nconns, <size_t>-1)
    pxcy_stat_add(&w.stats.closed, 1)
    if c.pinned:
        return                      # the Harness holds this pointer: never recycled, it frees it
    # keep a bounded free list: records go back to the system as the count falls
    if w.nfree_conns < 64 + w.nconns // 4:
        c.next = w.free_conns
        w.free_conns = c
        w.nfree_conns += 1
    else:
        free(c)


cdef void conn_timer_need(Worker* w, Conn* c, uint64_t due) noexcept nogil:
    """The connection's timer must fire no later than `due`. Activity only moves a
    timeout later, so this is one comparison unless the timer must move earlier:
    the timer re-checks what is due when it fires (lazy re-arming)."""
    if c.tn.heap_i < 0 or c.tn.when > due:
        timer_arm(w, &c.tn, due)


cdef void conn_on_timer(Worker* w, Conn* c) noexcept nogil:
    """The connection's timer fired: carry out whichever timeout is due (write
    progress, deadline, idle, linger), else re-arm for the next one."""
    cdef uint64_t due = <uint64_t>-1
    cdef uint64_t t
    if c.state == CS_LOST:
        if w.now >= c.deadline:
            conn_free(w, c)         # linger over
        else:
            timer_arm(w, &c.tn, c.deadline)
        return
    if c.connecting:
        if c.connecting == 1 and c.deadline and w.now >= c.deadline:
            conn_connected(w, c, ETIMEDOUT)     # connect_timeout (a connect_error): c is freed
        elif c.deadline:
            timer_arm(w, &c.tn, c.deadline)
        return
    if c.out_head != NULL and w.cfg.write_timeout_ms:
        t = c.last_write + w.cfg.write_timeout_ms
        if w.now >= t:
            pxcy_stat_add(&w.stats.write_timeouts, 1)
            c.err = ETIMEDOUT
            conn_abort(w, c)        # the client stopped reading
            return
        due = t
    if c.deadline:
        if w.now >= c.deadline:
            pxcy_stat_add(&w.stats.deadline_timeouts, 1)
            c.err = ETIMEDOUT
            conn_abort(w, c)
            return
        if c.deadline < due:
            due = c.deadline
    if c.idle_ms and c.out_head == NULL:
        t = c.last_active + c.idle_ms
        if w.now >= t:
            pxcy_stat_add(&w.stats.idle_timeouts, 1)
            if c.state < CS_CLOSING:
                c.state = CS_CLOSING
            conn_write(w, c)        # queue empty: closes (gracefully)
            return
        if t < due:
            due = t
    if due != <uint64_t>-1:
        timer_arm(w, &c.tn, due)


cdef void conn_run(Worker* w, Conn* c) noexcept nogil:
    """A connection taken from the ready list."""
    cdef uint8_t want = c.want
    if c.connecting:
        if c.connecting == 2:
            conn_connected(w, c, c.err)     # connect() failed at once
        return
    if c.state == CS_LOST:
        if want & W_READ:
            conn_discard(w, c)
        return
    if want & W_FLUSH:
        c.want &= ~W_FLUSH
        if conn_write(w, c) < 0:
            return
    if c.paused or (c.state != CS_OPEN and c.state != CS_WR_SHUT):
        return
    if c.want & W_READ:
        if conn_read(w, c, False) < 0:
            return
    if (c.want & W_REDELIVER) and not c.paused and not c.in_ready and c.in_len > c.in_off \
            and (c.state == CS_OPEN or c.state == CS_WR_SHUT):
        conn_redeliver(w, c)


cdef void conn_abort_reset(Worker* w, Conn* c) noexcept nogil:
    """The socket reported an error (a reset): abort with its SO_ERROR."""
    cdef int err = 0
    cdef socklen_t sl = sizeof(err)
    if getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0 or err == 0:
        err = ECONNRESET
    c.err = err
    conn_abort(w, c)


cdef void conn_event(Worker* w, Conn* c, uint32_t ev) noexcept nogil:
    """An epoll event for c."""
    if c.connecting:
        conn_connect_event(w, c, ev)
        return
    if c.state == CS_LOST:
        conn_discard(w, c)
        return
    if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) and c.out_head != NULL:
        if conn_write(w, c) < 0:
            return
    if ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR):
        if (ev & EPOLLERR) and c.paused and (c.state == CS_OPEN or c.state == CS_WR_SHUT):
            conn_abort_reset(w, c)  # a paused read would only note it: the peer is gone now
        elif c.state == CS_OPEN or c.state == CS_WR_SHUT:
            conn_read(w, c, (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0)
        elif (ev & (EPOLLHUP | EPOLLERR)) and c.out_head == NULL:
            conn_abort(w, c)        # reset while half-closed or closing: nothing to wait for
