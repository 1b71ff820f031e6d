# Connection handles (included into pxcy/runtime.pyx): a stable id for a
# connection that another connection of the same worker (or a defer result) can
# name later without holding a pointer that may dangle.
#
#   handle = (worker id + 1) << 48 | (generation & 0xffffff) << 24 | slot
#
# A slot is given out the first time Transport.handle() (or connect/defer) asks for
# one, so connections that never use handles pay nothing; conn_lost frees it and
# bumps its generation, so a handle of a connection that left is refused.

cdef enum:
    HSLOT_MAX = 1 << 24


cdef int handles_grow(Worker* w) noexcept nogil:
    cdef uint32_t cap = w.hcap * 2 if w.hcap else 64
    cdef uint32_t i
    cdef HSlot* ns
    if cap > HSLOT_MAX:
        return -1
    ns = <HSlot*>realloc(w.hslots, cap * sizeof(HSlot))
    if ns == NULL:
        return -1
    w.hslots = ns
    for i in range(w.hcap, cap):
        ns[i].c = NULL
        ns[i].gen = 1
        ns[i].next_free = w.hfree if i == cap - 1 else <int32_t>(i + 1)
    w.hfree = <int32_t>w.hcap
    w.hcap = cap
    return 0


cdef uint64_t conn_handle(Worker* w, Conn* c) noexcept nogil:
    """c's handle (given a slot on first use); 0 when out of memory."""
    cdef int32_t s
    if c.hslot == 0:
        if w.hfree < 0 and handles_grow(w) < 0:
            c.err = ENOMEM
            return 0
        s = w.hfree
        w.hfree = w.hslots[s].next_free
        w.hslots[s].c = c
        c.hslot = <uint32_t>s + 1
    s = <int32_t>(c.hslot - 1)
    return ((<uint64_t>w.id + 1) << 48) | ((<uint64_t>(w.hslots[s].gen & 0xffffff)) << 24) | <uint64_t>s


cdef void conn_handle_release(Worker* w, Conn* c) noexcept nogil:
    cdef int32_t s
    if c.hslot == 0:
        return
    s = <int32_t>(c.hslot - 1)
    c.hslot = 0
    w.hslots[s].c = NULL
    w.hslots[s].gen += 1
    w.hslots[s].next_free = w.hfree
    w.hfree = s


cdef Conn* handle_lookup(Worker* w, uint64_t h) noexcept nogil:
    """The live connection of this worker named by h, else NULL (gone, stale, another
    worker's, or not a handle)."""
    cdef uint64_t s = h & 0xffffff
    cdef HSlot* e
    if (h >> 48) != <uint64_t>w.id + 1 or s >= w.hcap:
        return NULL
    e = &w.hslots[s]
    if e.c == NULL or (e.gen & 0xffffff) != ((h >> 24) & 0xffffff):
        return NULL
    if e.c.state >= CS_LOST:
        return NULL
    return e.c


cdef inline bint conn_callbacks_allowed(Conn* c) noexcept nogil:
    return c.state == CS_OPEN or c.state == CS_RD_EOF or c.state == CS_WR_SHUT


cdef int conn_send_other(Worker* w, Conn* self_c, Conn* c, const void* data, size_t n) noexcept nogil:
    """Queue a copy of n bytes on c, another connection of this worker (not the one
    whose callback runs): written from the ready list (W_FLUSH), never from inside
    the running callback, so no callback of c runs while another one does."""
    cdef char* p
    if not conn_writable(c):
        self_c.err = EPIPE
        return -1
    if n == 0:
        return 0
    if n > PXCY_MAX_ALLOC:
        self_c.err = ENOMEM
        return -1
    p = pxcy_heap_reserve(&c.th, n + item_room())
    if p == NULL:
        self_c.err = ENOMEM
        return -1
    memcpy(p, data, n)
    if queue_mem_big(w, c, p, n) < 0:
        self_c.err = ENOMEM
        return -1
    queue_mark(c)                   # its own segment: released once written
    c.want |= W_FLUSH
    ready_push(w, c)
    return 0
