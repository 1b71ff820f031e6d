# The output queue of a connection (included into pxcy/runtime.pyx): items in the
# transient heap, written with sendmsg (memory runs, MSG_NOSIGNAL) and sendfile
# (files; SIGPIPE is blocked in worker threads), and the per-callback heap
# segments released as the items that end them are written.

cdef inline void item_init(Worker* w, Conn* c, OutItem* it, const char* data, int fd, bint close_fd,
                           uint64_t off, uint64_t n) noexcept nogil:
    """Fill `it` and append it to the output queue."""
    it.next = NULL
    it.data = data
    it.fd = fd
    it.close_fd = close_fd
    it.off = off
    it.len = n
    it.mark = NULL
    if c.out_tail != NULL:
        c.out_tail.next = it
    else:
        c.out_head = it
        c.last_write = w.now          # the write-progress clock starts now
    c.out_tail = it
    c.out_bytes += n
    c.sent = 1


cdef inline int queue_item(Worker* w, Conn* c, const char* data, int fd, bint close_fd, uint64_t off,
                           uint64_t n) noexcept nogil:
    """Append an output item (memory: fd -1; file: fd, offset) for n bytes."""
    cdef OutItem* it = <OutItem*>pxcy_heap_alloc(&c.th, sizeof(OutItem))
    if it == NULL:
        return -1
    item_init(w, c, it, data, fd, close_fd, off, n)
    return 0


cdef inline int queue_mem(Worker* w, Conn* c, const char* p, size_t n, OutItem* pre) noexcept nogil:
    """Queue n bytes at p; extends the last memory item when p continues it, else
    uses `pre` (an item reserve_out made before p) or a new item."""
    cdef OutItem* it = c.out_tail
    if it != NULL and it.fd < 0 and it.data + it.len == p:
        it.len += n
        c.out_bytes += n
        c.sent = 1
        return 0
    if pre != NULL:
        item_init(w, c, pre, p, -1, False, 0, n)
        return 0
    return queue_item(w, c, p, -1, False, 0, n)


cdef inline char* reserve_out(Worker* w, Conn* c, size_t n) noexcept nogil:
    """Room for a small send of up to n bytes. Where the queue's last memory item
    ends at the heap's end and n fits after it, the send continues that item;
    otherwise its queue item is allocated first, *before* the data, so that the
    next send continues this one. Pipelined responses then form one run: one
    iovec and one queue item per batch, not per response. w.resv_item: the item
    made (NULL: the send continues the tail)."""
    cdef OutItem* t = c.out_tail
    cdef char* end = pxcy_heap_end(&c.th)
    w.resv_item = NULL
    if n > PXCY_MAX_ALLOC:
        return NULL                 # (before making an item it could not use)
    if t != NULL and t.fd < 0 and end != NULL and t.data + t.len == end \
            and pxcy_heap_room(&c.th) >= n:
        return end
    w.resv_item = <OutItem*>pxcy_heap_alloc(&c.th, sizeof(OutItem))
    if w.resv_item == NULL:
        return NULL
    return pxcy_heap_reserve(&c.th, n)


cdef enum:
    BIG_SEND = 8192          # from here on a send's queue item sits right after its data


cdef inline size_t item_room() noexcept nogil:
    return sizeof(OutItem) + 16


cdef inline int queue_mem_big(Worker* w, Conn* c, char* p, size_t n) noexcept nogil:
    """Queue n bytes at p, the start of a reservation of n + item_room() bytes: the
    queue item goes right after the data, in the same block (a large send fills
    one dedicated block; its item would otherwise take a fresh standard block)."""
    cdef OutItem* tail = c.out_tail
    cdef OutItem* it
    if tail != NULL and tail.fd < 0 and tail.data + tail.len == p:
        pxcy_heap_commit(&c.th, n)      # (the item room stays unused)
        tail.len += n
        c.out_bytes += n
        c.sent = 1
        return 0
    it = <OutItem*>round16(<size_t>(p + n))
    pxcy_heap_commit(&c.th, <size_t>(<char*>it - p) + sizeof(OutItem))
    it.next = NULL
    it.data = p
    it.fd = -1
    it.close_fd = 0
    it.off = 0
    it.len = n
    it.mark = NULL
    if tail != NULL:
        tail.next = it
    else:
        c.out_head = it
        c.last_write = w.now
    c.out_tail = it
    c.out_bytes += n
    c.sent = 1
    return 0


cdef inline void queue_mark(Conn* c) noexcept nogil:
    """End of a callback: the blocks below the heap's current top hold only memory
    of callbacks whose output ends at (or before) the queue's tail."""
    if c.out_tail != NULL:
        c.out_tail.mark = pxcy_heap_top(&c.th)


cdef inline void item_done(Conn* c, OutItem* it) noexcept nogil:
    """`it` (the head) is fully written: pop it and release the heap segment it ends."""
    cdef pxcy_block* mark = it.mark
    c.out_head = it.next
    if c.out_head == NULL:
        c.out_tail = NULL
    if mark != NULL:
        pxcy_heap_release_below(&c.th, mark)     # `it` itself may be freed here


cdef void queue_release(Conn* c) noexcept nogil:
    """Drop unsent output (the connection is going away): close owned files."""
    cdef OutItem* it = c.out_head
    while it != NULL:
        if it.fd >= 0 and it.close_fd:
            c_close(it.fd)
        it = it.next
    c.out_head = c.out_tail = NULL
    c.out_bytes = 0


cdef int conn_flush(Worker* w, Conn* c) noexcept nogil:
    """Write the output queue: memory items with one send/sendmsg, files with sendfile.
    0: queue empty; 1: would block (EPOLLOUT resumes); -1: connection failed."""
    cdef iovec iov[MAX_IOV]
    cdef msghdr mh
    cdef OutItem* it
    cdef OutItem* nxt
    cdef int n, flags
    cdef ssize_t r
    cdef size_t left
    cdef long off
    if c.fd < 0:
        return capture_flush(w, c)
    while c.out_head != NULL:
        it = c.out_head
        if it.fd < 0:
            n = 0
            while it != NULL and it.fd < 0 and n < MAX_IOV:
                iov[n].iov_base = <void*>it.data
                iov[n].iov_len = it.len
                n += 1
                it = it.next
            # a header before a file body: ask the kernel to hold the segment
            flags = MSG_NOSIGNAL | (MSG_MORE if it != NULL and it.fd >= 0 else 0)
            if n == 1:              # one run (a batch of responses): no msghdr to copy in
                r = pxcy_sys_send(c.fd, iov[0].iov_base, iov[0].iov_len, flags)
            else:
                mh.msg_name = NULL
                mh.msg_namelen = 0
                mh.msg_control = NULL
                mh.msg_controllen = 0
                mh.msg_flags = 0
                mh.msg_iov = iov
                mh.msg_iovlen = n
                r = pxcy_sys_sendmsg(c.fd, &mh, flags)
            if r < 0:
                if errno == EAGAIN:
                    return 1
                if errno == EINTR:
                    continue
                c.err = errno
                return -1
            pxcy_stat_add(&w.stats.writes, 1)
            pxcy_stat_add(&w.stats.bytes_out, <uint64_t>r)
            c.out_bytes -= <uint64_t>r
            c.last_write = c.last_active = w.now
            while r > 0:
                it = c.out_head
                if <size_t>r >= it.len:
                    r -= it.len
                    item_done(c, it)
                else:
                    it.data += r
                    it.len -= r
                    r = 0
        else:
            off = <long>it.off
            left = it.len if it.len < SENDFILE_MAX else SENDFILE_MAX
            r = c_sendfile(c.fd, it.fd, &off, left)
            if r < 0:
                if errno == EAGAIN:
                    return 1
                if errno == EINTR:
                    continue
                c.err = errno
                return -1
            if r == 0:
                c.err = EIO
                return -1           # file shorter than promised (truncated meanwhile)
            pxcy_stat_add(&w.stats.writes, 1)
            pxcy_stat_add(&w.stats.bytes_out, <uint64_t>r)
            c.last_write = c.last_active = w.now
            it.off += <uint64_t>r
            it.len -= <uint64_t>r
            c.out_bytes -= <uint64_t>r
            if it.len == 0:
                if it.close_fd:
                    c_close(it.fd)
                item_done(c, it)
    return 0


cdef int capture_flush(Worker* w, Conn* c) noexcept nogil:
    """pxcy.testing: append the queue to the worker's capture buffer."""
    cdef OutItem* it
    cdef size_t need
    cdef ssize_t r
    cdef char* nb
    while c.out_head != NULL:
        it = c.out_head
        if it.len > (<size_t>-1) // 4 - w.capture_len:
            return -1
        need = w.capture_len + it.len
        if need > w.capture_cap:
            nb = <char*>realloc(w.capture, need * 2)
            if nb == NULL:
                return -1
            w.capture = nb
            w.capture_cap = need * 2
        if it.fd < 0:
            memcpy(w.capture + w.capture_len, it.data, it.len)
            w.capture_len += it.len
        else:
            while it.len:
                r = pread(it.fd, w.capture + w.capture_len, it.len, it.off)
                if r <= 0:
                    return -1
                w.capture_len += r
                it.off += r
                it.len -= r
            if it.close_fd:
                c_close(it.fd)
        item_done(c, it)
    c.out_bytes = 0
    return 0
