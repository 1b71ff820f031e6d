# Per-worker timers (included into pxcy/runtime.pyx): a binary min-heap of TNode
# pointers ordered by (when, seq). One structure serves the user's call_later
# timers, each connection's idle / deadline / write-progress / linger timer and the
# worker's accept-resume timer; nothing sweeps over all connections. A connection's
# node is inside its record (Conn.tn), so keeping an idle connection timed costs no
# slot; user timers live in a slot array for their ids. The heap and the slots
# grow by doubling (amortised; no allocation once they are large enough), and the
# heap is grown when a node is created, so arming never fails.
#
# A user timer id is (generation << 32) | slot: a freed slot bumps its generation,
# so cancelling a stale id is refused instead of cancelling someone else's timer.

cdef inline bint timer_less(TNode* x, TNode* y) noexcept nogil:
    return x.when < y.when or (x.when == y.when and x.seq < y.seq)


cdef inline void theap_set(Worker* w, uint32_t i, TNode* n) noexcept nogil:
    w.theap[i] = n
    n.heap_i = <int32_t>i


cdef void theap_up(Worker* w, uint32_t i) noexcept nogil:
    cdef TNode* n = w.theap[i]
    cdef uint32_t p
    while i > 0:
        p = (i - 1) // 2
        if not timer_less(n, w.theap[p]):
            break
        theap_set(w, i, w.theap[p])
        i = p
    theap_set(w, i, n)


cdef void theap_down(Worker* w, uint32_t i) noexcept nogil:
    cdef TNode* n = w.theap[i]
    cdef uint32_t k
    while True:
        k = 2 * i + 1
        if k >= w.tlen:
            break
        if k + 1 < w.tlen and timer_less(w.theap[k + 1], w.theap[k]):
            k += 1
        if not timer_less(w.theap[k], n):
            break
        theap_set(w, i, w.theap[k])
        i = k
    theap_set(w, i, n)


cdef int timer_node_add(Worker* w) noexcept nogil:
    """Account for one more node that may be armed (a connection record, a user
    timer, the accept timer), growing the heap now so that arming cannot fail."""
    cdef uint32_t cap
    cdef TNode** nh
    if w.tnodes >= w.theap_cap:
        cap = w.theap_cap * 2 if w.theap_cap else 64
        if cap > 0x40000000:
            return -1
        nh = <TNode**>realloc(w.theap, cap * sizeof(TNode*))
        if nh == NULL:
            return -1
        w.theap = nh
        w.theap_cap = cap
    w.tnodes += 1
    return 0


cdef inline void timer_node_drop(Worker* w) noexcept nogil:
    w.tnodes -= 1


cdef void timer_node_init(TNode* n, uint8_t kind) noexcept nogil:
    n.when = 0
    n.seq = 0
    n.heap_i = -1
    n.kind = kind


cdef void timer_arm(Worker* w, TNode* n, uint64_t when) noexcept nogil:
    """Insert n into the heap at `when`, or move it there (never allocates:
    timer_node_add made room for every node that may be armed)."""
    n.when = when
    w.tseq += 1
    n.seq = w.tseq
    if n.heap_i < 0:
        w.theap[w.tlen] = n
        n.heap_i = <int32_t>w.tlen
        w.tlen += 1
        theap_up(w, w.tlen - 1)
    else:
        theap_up(w, <uint32_t>n.heap_i)
        theap_down(w, <uint32_t>n.heap_i)


cdef void timer_disarm(Worker* w, TNode* n) noexcept nogil:
    cdef uint32_t i
    cdef TNode* last
    if n.heap_i < 0:
        return
    i = <uint32_t>n.heap_i
    n.heap_i = -1
    w.tlen -= 1
    if i == w.tlen:
        return
    last = w.theap[w.tlen]
    theap_set(w, i, last)
    theap_up(w, i)
    theap_down(w, <uint32_t>last.heap_i)


cdef inline uint64_t timer_next(Worker* w) noexcept nogil:
    return w.theap[0].when if w.tlen else <uint64_t>-1


cdef int timer_slots_grow(Worker* w) noexcept nogil:
    """Double the user timer slots. realloc may move them: the armed ones in the
    heap are re-pointed (rare; amortised)."""
    cdef uint32_t cap = w.tcap * 2 if w.tcap else 64
    cdef uint32_t i
    cdef Timer* ns
    cdef size_t old = <size_t>w.tslots
    cdef size_t p
    if cap > 0x40000000:
        return -1
    ns = <Timer*>realloc(w.tslots, cap * sizeof(Timer))
    if ns == NULL:
        return -1
    if <size_t>ns != old:
        # by address only: the old slots are freed, so their nodes cannot be read
        for i in range(w.tlen):
            p = <size_t>w.theap[i]
            if p >= old and p < old + w.tcap * sizeof(Timer):
                w.theap[i] = <TNode*>(p - old + <size_t>ns)
    w.tslots = ns
    for i in range(w.tcap, cap):
        memset(&w.tslots[i], 0, sizeof(Timer))
        timer_node_init(&w.tslots[i].n, 0)
        w.tslots[i].cnext = w.tfree if i == cap - 1 else <int32_t>(i + 1)
    w.tfree = <int32_t>w.tcap
    w.tcap = cap
    return 0


cdef int32_t timer_alloc(Worker* w, Conn* c, uint64_t token) noexcept nogil:
    cdef int32_t s
    cdef Timer* t
    if w.tfree < 0 and timer_slots_grow(w) < 0:
        return -1
    if timer_node_add(w) < 0:
        return -1
    s = w.tfree
    t = &w.tslots[s]
    w.tfree = t.cnext
    t.c = c
    timer_node_init(&t.n, T_USER)
    t.token = token
    t.cnext = t.cprev = -1
    return s


cdef void timer_release(Worker* w, int32_t s) noexcept nogil:
    cdef Timer* t = &w.tslots[s]
    timer_disarm(w, &t.n)
    timer_node_drop(w)
    t.gen += 1
    t.c = NULL
    t.n.kind = 0
    t.cnext = w.tfree
    w.tfree = s


# ------------------------------------------------------------- user timers

cdef int64_t timer_user_add(Worker* w, Conn* c, uint32_t ms, uint64_t token) noexcept nogil:
    cdef int32_t s = timer_alloc(w, c, token)
    if s < 0:
        c.err = ENOMEM
        return -1
    cdef Timer* t = &w.tslots[s]
    # the connection's list of its user timers (cleared by connection_lost)
    t.cnext = c.t_user
    if c.t_user >= 0:
        w.tslots[c.t_user].cprev = s
    c.t_user = s
    timer_arm(w, &t.n, w.now + ms)
    return (<int64_t>(t.gen & 0x7fffffff) << 32) | s


cdef void timer_user_unlink(Worker* w, Conn* c, int32_t s) noexcept nogil:
    cdef Timer* t = &w.tslots[s]
    if t.cprev >= 0:
        w.tslots[t.cprev].cnext = t.cnext
    else:
        c.t_user = t.cnext
    if t.cnext >= 0:
        w.tslots[t.cnext].cprev = t.cprev
    # the free list reuses cnext: release after unlinking
    timer_release(w, s)


cdef int timer_user_cancel(Worker* w, Conn* c, int64_t tid) noexcept nogil:
    cdef int64_t s = tid & <int64_t>0xffffffff
    cdef Timer* t
    if tid < 0 or s >= w.tcap:
        c.err = EINVAL
        return -1
    t = &w.tslots[s]
    if t.n.kind != T_USER or t.c != c or (t.gen & 0x7fffffff) != <uint32_t>(tid >> 32):
        c.err = ENOENT              # fired, cancelled, or not this connection's
        return -1
    timer_user_unlink(w, c, <int32_t>s)
    return 0


cdef void timer_user_clear(Worker* w, Conn* c) noexcept nogil:
    while c.t_user >= 0:
        timer_user_unlink(w, c, c.t_user)


# ------------------------------------------------------------------ firing

cdef void timers_run(Worker* w) noexcept nogil:
    """Fire the timers due now. Timers armed while firing wait for the next turn
    (a timer that re-arms itself at 0 ms cannot spin the loop)."""
    cdef uint64_t seq_limit = w.tseq
    cdef TNode* n
    cdef Timer* t
    cdef Conn* c
    cdef uint64_t token
    cdef int ret
    while w.tlen:
        n = w.theap[0]
        if n.when > w.now or n.seq > seq_limit:
            break
        timer_disarm(w, n)
        if n.kind == T_USER:
            t = <Timer*>n
            c = t.c
            token = t.token
            timer_user_unlink(w, c, <int32_t>(t - w.tslots))   # fired: its id is stale from now on
            if c.state == CS_OPEN or c.state == CS_RD_EOF or c.state == CS_WR_SHUT:
                pxcy_stat_add(&w.stats.timers_fired, 1)
                ret = (<Protocol>conn_proto(c)).timer_fired(<Transport>bind(w, c), token)
                pxcy_stat_add(&w.stats.callbacks, 1)
                conn_after(w, c, ret)
        elif n.kind == T_CONN:
            conn_on_timer(w, <Conn*>n)
        elif n.kind == T_ACCEPT:
            worker_resume_accept(w)
