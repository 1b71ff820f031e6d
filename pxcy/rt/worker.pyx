# Worker threads (included into pxcy/runtime.pyx): one epoll loop each, accepting
# from the shared listener and serving the connections they accepted.

cdef enum:
    MAX_EVENTS = 256
    MAX_IOV = 64
    ACCEPT_BATCH = 64
    ACCEPT_PAUSE_MS = 100
    DRAIN_GRACE_MS = 1000
    SENDFILE_MAX = 0x7ffff000

cdef void* WAKER = <void*>2
# listener i of a worker is tagged LISTENER + i in its epoll set (connections are
# heap pointers, far above these small values)
cdef enum:
    LISTENER = 16


cdef inline uint64_t clock_ms() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <uint64_t>ts.tv_sec * 1000 + <uint64_t>(ts.tv_nsec // 1000000)


cdef inline size_t round16(size_t n) noexcept nogil:
    return (n + 15) & ~(<size_t>15)


cdef void worker_unlisten(Worker* w) noexcept nogil:
    cdef int i
    for i in range(w.nlisten):
        epoll_ctl(w.epfd, EPOLL_CTL_DEL, w.lfd[i], NULL)
    w.listening = 0


cdef void worker_accept(Worker* w, int li) noexcept nogil:
    cdef Core* core = w.core
    cdef int fd, one = 1, i
    cdef int lfd = w.lfd[li]
    cdef bint tcp = w.ltcp[li]
    cdef Conn* c
    cdef epoll_event ev
    for i in range(ACCEPT_BATCH):
        fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)
        if fd < 0:
            if errno == EINTR or errno == ECONNABORTED or errno == EPROTO or errno == EPERM:
                continue
            if errno == EMFILE or errno == ENFILE or errno == ENOBUFS or errno == ENOMEM:
                # out of descriptors/memory: stop accepting for a while instead of spinning
                worker_unlisten(w)
                timer_arm(w, &w.tn_accept, w.now + ACCEPT_PAUSE_MS)
                pxcy_stat_add(&w.stats.accept_pauses, 1)
            return
        if pxcy_add_int(core.active, 1) > w.cfg.max_connections:
            pxcy_add_int(core.active, -1)
            pxcy_stat_add(&w.stats.rejected, 1)
            c_close(fd)
            continue
        if tcp:
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one))
        c = conn_new(w, fd)
        if c == NULL:
            pxcy_add_int(core.active, -1)
            c_close(fd)
            continue
        pxcy_stat_add(&w.stats.accepted, 1)
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET
        ev.data.ptr = c
        if epoll_ctl(w.epfd, EPOLL_CTL_ADD, fd, &ev) < 0:
            conn_free(w, c)
            continue
        c.made = 1
        conn_after(w, c, (<Protocol>conn_proto(c)).connection_made(<Transport>bind(w, c)))


cdef void worker_listen(Worker* w) noexcept nogil:
    """Poll every listener of this worker (all or none: a failure undoes the rest)."""
    cdef epoll_event ev
    cdef int i, j
    for i in range(w.nlisten):
        # a listener shared by workers wakes one of them (EPOLLEXCLUSIVE); a
        # reuse_port listener of its own needs no such care
        ev.events = EPOLLIN | (EPOLLEXCLUSIVE if w.lexcl[i] else 0)
        ev.data.ptr = <void*>(<size_t>(LISTENER + i))
        if epoll_ctl(w.epfd, EPOLL_CTL_ADD, w.lfd[i], &ev) < 0:
            for j in range(i):
                epoll_ctl(w.epfd, EPOLL_CTL_DEL, w.lfd[j], NULL)
            return
    w.listening = 1


cdef void worker_resume_accept(Worker* w) noexcept nogil:
    if not w.listening and not pxcy_load_int(&w.core.stopping):
        worker_listen(w)


cdef void worker_run_ready(Worker* w) noexcept nogil:
    """One pass over the ready list: the connections put there before the pass
    (those put there during it wait for the next turn, after epoll)."""
    cdef Conn* c
    cdef bint last
    w.turn += 1
    w.ready_stop = w.ready_tail
    while w.ready != NULL and w.ready_stop != NULL:
        c = w.ready
        last = c == w.ready_stop
        ready_remove(w, c)
        conn_run(w, c)
        if last:
            break
    w.ready_stop = NULL


cdef void worker_close_own(Worker* w) noexcept nogil:
    """Close this worker's own (reuse_port) listeners; shared ones belong to the Core."""
    cdef int i
    for i in range(w.nlisten):
        if not w.lexcl[i] and w.lfd[i] >= 0:
            c_close(w.lfd[i])
            w.lfd[i] = -1
    w.nlisten = 0


cdef void worker_begin_stop(Worker* w) noexcept nogil:
    cdef Conn* c = w.conns
    cdef Conn* nxt
    cdef bint drained = pxcy_load_int(&w.core.draining) != 0
    # defer results posted before the stop (stop_pool joined the Python threads
    # first) are answered now, while their connections are still here
    if pxcy_load_ptr(<void**>&w.done) != NULL:
        worker_run_results(w)
    if w.listening:
        worker_unlisten(w)
    # a reuse_port listener of this worker's own is closed now, not after the stop
    # timeout: the kernel sends new connections to the other sockets of the port
    # (and, with net.ipv4.tcp_migrate_req=1, moves the ones queued here to them)
    worker_close_own(w)
    w.stop_deadline = w.now + w.cfg.stop_timeout_ms
    while c != NULL:
        nxt = c.next
        if c.connecting:
            conn_abort(w, c)        # nothing to flush, never made: its origin is stopping too
        elif drained and c.state == CS_OPEN and c.out_head == NULL and w.now - c.last_active < DRAIN_GRACE_MS:
            # after a drain: a connection active just now may have a request on the
            # way (accepted in the last turn). Read what is there and give it a short
            # idle time; its response closes it (the server is draining)
            if c.idle_ms == 0 or c.idle_ms > DRAIN_GRACE_MS:
                c.idle_ms = DRAIN_GRACE_MS
            conn_timer_need(w, c, c.last_active + c.idle_ms)
            c.want |= W_READ
            ready_push(w, c)
        elif c.state >= CS_LOST or c.out_head == NULL:
            conn_abort(w, c)
        elif c.state < CS_CLOSING:
            # finish the response being written, then close: reading stops, but
            # send_complete still runs, so a response streamed from it is not cut
            # at the current chunk (it ends when a round queues nothing; the stop
            # timeout bounds it)
            c.paused |= P_STOP
        c = nxt


cdef void* worker_main(void* arg) noexcept nogil:
    cdef Worker* w = <Worker*>arg
    cdef epoll_event events[MAX_EVENTS]
    cdef int n, i, timeout
    cdef uint32_t ev
    cdef uint64_t due
    cdef void* p
    cdef uint64_t junk
    w.now = clock_ms()
    while True:
        w.turn += 1
        pxcy_stat_add(&w.stats.turns, 1)
        if w.ready != NULL:
            timeout = 0
        else:
            due = timer_next(w)
            if w.stop_deadline and w.stop_deadline < due:
                due = w.stop_deadline
            if due == <uint64_t>-1:
                timeout = -1
            elif due <= w.now:
                timeout = 0
            else:
                timeout = <int>(due - w.now) if due - w.now < 0x7fffffff else 0x7fffffff
        n = pxcy_sys_epoll_wait(w.epfd, events, MAX_EVENTS, timeout)
        w.now = clock_ms()
        for i in range(n if n > 0 else 0):
            p = events[i].data.ptr
            ev = events[i].events
            if <size_t>p >= LISTENER and <size_t>p < LISTENER + MAX_LISTENERS:
                worker_accept(w, <int>(<size_t>p - LISTENER))
            elif p == WAKER:
                c_read(w.evfd, &junk, sizeof(junk))
                if pxcy_load_ptr(<void**>&w.done) != NULL:
                    worker_run_results(w)      # defer results from the Python threads
            else:
                conn_event(w, <Conn*>p, ev)
        if w.tlen and w.theap[0].when <= w.now:
            timers_run(w)
        if w.ready != NULL:
            worker_run_ready(w)
        if pxcy_load_int(&w.core.stopping):
            if w.stop_deadline == 0:
                worker_begin_stop(w)
            if w.conns == NULL or w.now >= w.stop_deadline:
                while w.conns != NULL:
                    conn_abort(w, w.conns)
                break
    return NULL


cdef int worker_init(Worker* w, Core* core, int wid, object transport) except -1:
    """Set up everything but the descriptors (opened by the caller; -1 until then)."""
    w.id = wid
    w.core = core
    w.epfd = -1
    w.evfd = -1
    w.tfree = -1
    timer_node_init(&w.tn_accept, T_ACCEPT)
    w.hfree = -1
    w.cfg = core.cfg
    pxcy_pool_init(&w.tpool, core.cfg.block_size, core.cfg.pool_blocks)
    pxcy_pool_init(&w.ppool, 4096 - 64, core.cfg.pool_blocks * 4)
    w.rbuf_cap = core.cfg.read_size
    w.rbuf = <char*>malloc(w.rbuf_cap)
    if w.rbuf == NULL:
        raise MemoryError()
    if timer_node_add(w) < 0:       # w.tn_accept
        free(w.rbuf)
        w.rbuf = NULL
        raise MemoryError()
    (<Transport>transport)._worker = w
    w.transport = <PyObject*>transport
    return 0


cdef void worker_free(Worker* w) noexcept nogil:
    """Release a worker initialised by worker_init (threads joined): closes only
    the descriptors it opened."""
    cdef Conn* c
    while w.conns != NULL:
        conn_abort(w, w.conns)
    while w.free_conns != NULL:
        c = w.free_conns
        w.free_conns = c.next
        free(c)
    w.nfree_conns = 0
    pxcy_pool_clear(&w.tpool)
    pxcy_pool_clear(&w.ppool)
    worker_drop_results(w)
    free(w.hslots)
    w.hslots = NULL
    w.hcap = 0
    free(w.rbuf)
    free(w.capture)
    free(w.scratch)
    free(w.tslots)
    free(w.theap)
    w.tslots = NULL
    w.theap = NULL
    w.tcap = w.tlen = w.tnodes = w.theap_cap = 0
    w.scratch = NULL
    w.rbuf = w.capture = NULL
    if w.epfd >= 0:
        c_close(w.epfd)
    if w.evfd >= 0:
        c_close(w.evfd)
    w.epfd = w.evfd = -1
    worker_close_own(w)
