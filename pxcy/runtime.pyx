# cython: language_level=3
"""pxcy runtime: worker threads, one epoll loop each, connections, transport.

Every worker is a plain pthread with no Python thread state. It waits on its own
epoll set, which holds the shared listening socket (EPOLLEXCLUSIVE: an idle worker
takes the next connection) and the connections it accepted; a connection never
leaves its worker. Callbacks are `noexcept nogil` methods of a per-connection clone
of the protocol prototype, so the GIL is never taken while serving.

Per read: one `read` into the worker's buffer, one `data_received`, then the output
queued by the callback goes out in one `writev` (or `sendfile`), and the transient
heap is rolled back once the queue is empty.
"""
cimport cython
from cpython.object cimport PyObject, PyTypeObject, Py_TYPE
from libc.errno cimport errno, EAGAIN, EINTR, EMFILE, ENFILE, ENOBUFS, ENOMEM, ECONNABORTED, EPROTO, EPERM
from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport malloc, free, calloc, realloc
from libc.string cimport memcpy, memset
from posix.unistd cimport close as c_close, read as c_read, write as c_write, pread
from posix.fcntl cimport open as c_open, O_RDONLY, O_CLOEXEC

from pxcy.heap cimport *

cdef extern from "pxcy/includes/atomics.h" nogil:
    int pxcy_load_int(int* p)
    void pxcy_store_int(int* p, int v)
    int pxcy_add_int(int* p, int v)
    uint64_t pxcy_load_u64(uint64_t* p)
    void pxcy_stat_add(uint64_t* p, uint64_t v)

cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_attr_t:
        pass
    int pthread_create(pthread_t*, const pthread_attr_t*, void* (*)(void*) noexcept nogil, void*)
    int pthread_join(pthread_t, void**)

cdef extern from "<sys/epoll.h>" nogil:
    ctypedef union epoll_data_t:
        void* ptr
        int fd
        uint64_t u64
    struct epoll_event:
        uint32_t events
        epoll_data_t data
    enum:
        EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLRDHUP, EPOLLET, EPOLLEXCLUSIVE
        EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CLOEXEC
    int epoll_create1(int flags)
    int epoll_ctl(int epfd, int op, int fd, epoll_event* ev)
    int epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout)

cdef extern from "<sys/eventfd.h>" nogil:
    enum: EFD_NONBLOCK, EFD_CLOEXEC
    int eventfd(unsigned int initval, int flags)

cdef extern from "<sys/uio.h>" nogil:
    struct iovec:
        void* iov_base
        size_t iov_len
    ssize_t writev(int fd, const iovec* iov, int iovcnt)

cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    struct sockaddr:
        pass
    struct sockaddr_storage:
        unsigned short ss_family
    struct msghdr:
        void* msg_name
        socklen_t msg_namelen
        iovec* msg_iov
        size_t msg_iovlen
        void* msg_control
        size_t msg_controllen
        int msg_flags
    enum:
        SOCK_NONBLOCK, SOCK_CLOEXEC, SHUT_WR, MSG_MORE, MSG_NOSIGNAL
        AF_INET, AF_INET6
    int accept4(int fd, sockaddr* addr, socklen_t* len, int flags)
    int shutdown(int fd, int how)
    ssize_t sendmsg(int fd, const msghdr* msg, int flags)
    int setsockopt(int fd, int level, int optname, const void* optval, socklen_t optlen)
    int getpeername(int fd, sockaddr* addr, socklen_t* len)

cdef extern from "<netinet/in.h>" nogil:
    enum: IPPROTO_TCP
    struct in_addr:
        pass
    struct in6_addr:
        pass
    struct sockaddr_in:
        unsigned short sin_port
        in_addr sin_addr
    struct sockaddr_in6:
        unsigned short sin6_port
        in6_addr sin6_addr
    unsigned short ntohs(unsigned short)

cdef extern from "<netinet/tcp.h>" nogil:
    enum: TCP_NODELAY

cdef extern from "<arpa/inet.h>" nogil:
    const char* inet_ntop(int af, const void* src, char* dst, socklen_t size)

cdef extern from "<sys/sendfile.h>" nogil:
    ssize_t c_sendfile "sendfile"(int out_fd, int in_fd, long* offset, size_t count)

cdef extern from "<sys/stat.h>" nogil:
    struct struct_stat "stat":
        long st_size
    int fstat(int fd, struct_stat* st)

cdef extern from "<time.h>" nogil:
    struct timespec:
        long tv_sec
        long tv_nsec
    enum: CLOCK_MONOTONIC
    int clock_gettime(int clk, timespec* ts)

cdef extern from "<stdio.h>" nogil:
    int snprintf(char* buf, size_t n, const char* fmt, ...)

cdef extern from "Python.h":
    enum: Py_TPFLAGS_HAVE_GC
    unsigned long PyType_GetFlags(PyTypeObject* t)


# connection flags
cdef enum:
    F_CLOSING = 1        # close once the output queue is empty
    F_ABORT = 2          # close now, dropping unsent output
    F_PAUSED = 4         # reading paused: too much unsent output
    F_EOF = 8            # peer closed its side
    F_LINGER = 16        # our side shut down; draining input until EOF or timeout
    F_READY = 32         # on the worker's ready list
    F_SENT = 64          # output queued since the last send_complete
    F_MADE = 128         # connection_made was called (connection_lost is due)
    F_DEAD = 256         # finalized

cdef enum:
    MAX_EVENTS = 256
    MAX_IOV = 64
    SWEEP_MS = 250
    ACCEPT_BATCH = 64
    ACCEPT_PAUSE_MS = 100
    SENDFILE_MAX = 0x7ffff000

cdef void* LISTENER = <void*>1
cdef void* WAKER = <void*>2

pxcy_debug_init()


cdef inline uint64_t clock_ms() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <uint64_t>ts.tv_sec * 1000 + <uint64_t>(ts.tv_nsec // 1000000)


cdef inline size_t round16(size_t n) noexcept nogil:
    return (n + 15) & ~(<size_t>15)


# ------------------------------------------------------------------ Protocol

cdef class Protocol:
    """Base class of handlers.

    Subclass it in Cython and override any of the four callbacks; each is called
    from a worker thread without the GIL and returns 0, or -1 to drop the
    connection. Each connection gets its own copy of the instance given to
    `Server` (or of `cls()`), so C-typed fields (`cdef long n`, `cdef pxcy_bytes
    name`, C arrays, pointers to global read-only data) persist per connection.
    Python-object fields are refused: no Python object may be touched here.

    `prepare()` is called once with the GIL on the prototype before serving; put
    one-time setup there (route tables, global data).
    """

    cdef int connection_made(self, Transport t) noexcept nogil:
        return 0

    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        return 0

    cdef int send_complete(self, Transport t) noexcept nogil:
        return 0

    cdef void connection_lost(self, Transport t) noexcept nogil:
        pass

    def prepare(self):
        """Called once, with the GIL, on the prototype before a server starts."""
        pass


# ----------------------------------------------------------------- Transport

cdef inline int queue_item(Conn* c, const char* data, int fd, bint close_fd, uint64_t off,
                           uint64_t n) noexcept nogil:
    """Append an output item (memory: fd -1; file: fd, offset) for n bytes."""
    cdef OutItem* it = <OutItem*>pxcy_heap_alloc(&c.th, sizeof(OutItem))
    if it == NULL:
        return -1
    it.next = NULL
    it.data = data
    it.fd = fd
    it.close_fd = close_fd
    it.off = off
    it.len = n
    if c.out_tail != NULL:
        c.out_tail.next = it
    else:
        c.out_head = it
    c.out_tail = it
    c.out_bytes += n
    c.flags |= F_SENT
    return 0


cdef inline int queue_mem(Conn* c, const char* p, size_t n) noexcept nogil:
    """Queue n bytes at p; extends the last memory item when p continues it."""
    cdef OutItem* it = c.out_tail
    if it != NULL and it.fd < 0 and it.data + it.len == p:
        it.len += n
        c.out_bytes += n
        c.flags |= F_SENT
        return 0
    return queue_item(c, p, -1, False, 0, n)


@cython.final
cdef class Transport:
    """What a callback uses to reach its connection (valid during the callback only).

    Output: `send` (copy into the transient heap), `send_nocopy` (memory that lives
    until the send completes: transient heap or global data), `reserve`/`commit`
    (format straight into the output), `sendfile` / `sendfile_path` (a file or a
    byte range of it, via sendfile(2)). Everything queued by one callback is written
    in one batch after it returns; the transient heap is rolled back when the queue
    is empty. Memory: `alloc` (transient), `persist`/`forget` (persistent: lives on
    `self` until replaced or the connection ends). Input: `pushback(n)` keeps the
    last n bytes of the current data for the next `data_received`. Returns: 0 / -1.
    """

    cdef int send(self, const void* data, size_t n) noexcept nogil:
        if n == 0:
            return 0
        cdef char* p = pxcy_heap_reserve(&self.c.th, n)
        if p == NULL:
            return -1
        memcpy(p, data, n)
        pxcy_heap_commit(&self.c.th, n)
        return queue_mem(self.c, p, n)

    cdef int send_nocopy(self, const void* data, size_t n) noexcept nogil:
        if n == 0:
            return 0
        if pxcy_debug_enabled:
            check_pointer(self.c, data, "Transport.send_nocopy")
        return queue_mem(self.c, <const char*>data, n)

    cdef char* reserve(self, size_t n) noexcept nogil:
        return pxcy_heap_reserve(&self.c.th, n)

    cdef int commit(self, size_t n) noexcept nogil:
        if n == 0:
            return 0
        cdef char* p = pxcy_heap_end(&self.c.th)
        pxcy_heap_commit(&self.c.th, n)
        return queue_mem(self.c, p, n)

    cdef int sendfile(self, int fd, uint64_t offset, uint64_t count, bint close_after) noexcept nogil:
        cdef Conn* c = self.c
        cdef struct_stat st
        if count == <uint64_t>-1:
            if fstat(fd, &st) < 0:
                return -1
            count = <uint64_t>st.st_size - offset if <uint64_t>st.st_size > offset else 0
        if count == 0:
            if close_after:
                c_close(fd)
            return 0
        return queue_item(c, NULL, fd, close_after, offset, count)

    cdef int sendfile_path(self, const char* path, uint64_t offset, uint64_t count) noexcept nogil:
        cdef int fd = c_open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0:
            return -1
        if self.sendfile(fd, offset, count, True) < 0:
            c_close(fd)
            return -1
        return 0

    cdef uint64_t pending(self) noexcept nogil:
        return self.c.out_bytes

    cdef void* alloc(self, size_t n) noexcept nogil:
        return pxcy_heap_alloc(&self.c.th, n)

    cdef pxcy_bytes persist(self, pxcy_bytes old, const void* data, size_t n) noexcept nogil:
        cdef pxcy_bytes r
        r.data = <char*>pxcy_pheap_alloc(&self.c.ph, n + 1)
        if r.data == NULL:
            r.size = 0
            return r
        if n:
            memcpy(r.data, data, n)
        r.data[n] = 0
        r.size = n
        if old.data != NULL and pxcy_pheap_free(&self.c.ph, old.data) < 0 and pxcy_debug_enabled:
            PXCY_FAIL("Transport.persist: previous value %p is not a live persistent value of this connection",
                            old.data)
        return r

    cdef void forget(self, pxcy_bytes* value) noexcept nogil:
        if value.data != NULL and pxcy_pheap_free(&self.c.ph, value.data) < 0 and pxcy_debug_enabled:
            PXCY_FAIL("Transport.forget: %p is not a live persistent value of this connection",
                            value.data)
        value.data = NULL
        value.size = 0

    cdef int pushback(self, size_t n) noexcept nogil:
        if n > self.c.cur_len:
            return -1
        self.c.pushback = n
        return 0

    cdef void close(self) noexcept nogil:
        self.c.flags |= F_CLOSING

    cdef void abort(self) noexcept nogil:
        self.c.flags |= F_ABORT

    cdef int peer(self, char* buf, size_t cap) noexcept nogil:
        cdef sockaddr_storage ss
        cdef socklen_t sl = sizeof(ss)
        cdef char host[64]
        if self.c.fd < 0:
            return snprintf(buf, cap, "test:0")
        if getpeername(self.c.fd, <sockaddr*>&ss, &sl) < 0:
            return -1
        if ss.ss_family == AF_INET:
            inet_ntop(AF_INET, &(<sockaddr_in*>&ss).sin_addr, host, sizeof(host))
            return snprintf(buf, cap, "%s:%u", host, ntohs((<sockaddr_in*>&ss).sin_port))
        inet_ntop(AF_INET6, &(<sockaddr_in6*>&ss).sin6_addr, host, sizeof(host))
        return snprintf(buf, cap, "[%s]:%u", host, ntohs((<sockaddr_in6*>&ss).sin6_port))

    cdef int fileno(self) noexcept nogil:
        return self.c.fd

    cdef int worker_id(self) noexcept nogil:
        return self.w.id

    cdef void set_idle_timeout(self, uint32_t ms) noexcept nogil:
        self.c.idle_ms = ms

    cdef void set_deadline(self, uint32_t ms) noexcept nogil:
        self.c.deadline = self.w.now + ms if ms else 0

    cdef uint64_t now_ms(self) noexcept nogil:
        return self.w.now

    cdef void count_request(self) noexcept nogil:
        pxcy_stat_add(&self.w.stats.requests, 1)

    cdef void* scratch(self, size_t n) noexcept nogil:
        cdef Worker* w = self.w
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


cdef void check_pointer(Conn* c, const void* p, const char* what) noexcept nogil:
    """Debug mode: memory queued without a copy must be live transient memory of
    this connection, or not heap memory at all (static / global data)."""
    if pxcy_debug_is_stale(p):
        PXCY_FAIL("%s: %p points into transient memory that was "
                        "already rolled back (kept past its callback?)", what, p)
    if pxcy_debug_is_heap(p) and not pxcy_heap_owns(&c.th, p):
        PXCY_FAIL("%s: %p is heap memory this connection does not own "
                        "(persistent memory, another connection's, or rolled back)", what, p)


# ------------------------------------------------------------- connections

cdef inline PyObject* bind(Worker* w, Conn* c) noexcept nogil:
    """The worker's Transport, pointed at c (borrowed: no reference counting)."""
    (<Transport>w.transport).c = c
    return w.transport


cdef Conn* conn_new(Worker* w, int fd) noexcept nogil:
    cdef Core* core = w.core
    cdef Conn* c = w.free_conns
    if c != NULL:
        w.free_conns = c.next
    else:
        c = <Conn*>malloc(core.conn_size)
        if c == NULL:
            return NULL
    memset(c, 0, sizeof(Conn))
    c.fd = fd
    c.w = w
    c.proto = <PyObject*>(<char*>c + round16(sizeof(Conn)))
    memcpy(c.proto, core.prototype, core.proto_size)
    pxcy_heap_init(&c.th, &w.tpool, core.cfg.transient_limit)
    pxcy_pheap_init(&c.ph, &w.ppool, core.cfg.persistent_limit)
    c.last_active = w.now
    c.next = w.conns
    if w.conns != NULL:
        w.conns.prev = c
    w.conns = c
    w.nconns += 1
    return c


cdef void ready_push(Worker* w, Conn* c) noexcept nogil:
    if not (c.flags & F_READY):
        c.flags |= F_READY
        c.ready_next = w.ready
        w.ready = c


cdef void conn_finalize(Worker* w, Conn* c) noexcept nogil:
    """Close and recycle: connection_lost, release files and heaps, close the socket."""
    cdef OutItem* it
    cdef Conn** pp
    if c.flags & F_DEAD:
        return
    if c.flags & F_MADE:
        c.flags &= ~F_MADE
        (<Protocol>c.proto).connection_lost(<Transport>bind(w, c))
        pxcy_stat_add(&w.stats.callbacks, 1)
    c.flags |= F_DEAD
    it = c.out_head
    while it != NULL:
        if it.fd >= 0 and it.close_fd:
            c_close(it.fd)
        it = it.next
    c.out_head = c.out_tail = NULL
    if c.flags & F_READY:
        pp = &w.ready
        while pp[0] != NULL and pp[0] != c:
            pp = &pp[0].ready_next
        if pp[0] == c:
            pp[0] = c.ready_next
    pxcy_heap_reset(&c.th)
    pxcy_pheap_reset(&c.ph)
    if c.fd >= 0:
        c_close(c.fd)
        pxcy_add_int(&w.core.active, -1)
    if c.prev != NULL:
        c.prev.next = c.next
    else:
        w.conns = c.next
    if c.next != NULL:
        c.next.prev = c.prev
    w.nconns -= 1
    pxcy_stat_add(&w.stats.closed, 1)
    c.next = w.free_conns
    w.free_conns = c


cdef int conn_flush(Worker* w, Conn* c) noexcept nogil:
    """Write the output queue: memory items with one writev, files with sendfile.
    0: queue empty; 1: would block (EPOLLOUT resumes); -1: connection failed."""
    cdef iovec iov[MAX_IOV]
    cdef msghdr mh
    cdef OutItem* it
    cdef int n
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
            if it != NULL and it.fd >= 0:
                # header before a file body: ask the kernel to hold the segment
                memset(&mh, 0, sizeof(mh))
                mh.msg_iov = iov
                mh.msg_iovlen = n
                r = sendmsg(c.fd, &mh, MSG_MORE | MSG_NOSIGNAL)
            else:
                r = writev(c.fd, iov, n)
            if r < 0:
                if errno == EAGAIN:
                    return 1
                if errno == EINTR:
                    continue
                return -1
            pxcy_stat_add(&w.stats.writes, 1)
            pxcy_stat_add(&w.stats.bytes_out, <uint64_t>r)
            c.out_bytes -= <uint64_t>r
            while r > 0:
                it = c.out_head
                if <size_t>r >= it.len:
                    r -= it.len
                    c.out_head = it.next
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
                return -1
            if r == 0:
                return -1           # file shorter than promised (truncated meanwhile)
            pxcy_stat_add(&w.stats.writes, 1)
            pxcy_stat_add(&w.stats.bytes_out, <uint64_t>r)
            it.off += <uint64_t>r
            it.len -= <uint64_t>r
            c.out_bytes -= <uint64_t>r
            if it.len == 0:
                if it.close_fd:
                    c_close(it.fd)
                c.out_head = it.next
    c.out_tail = NULL
    return 0


cdef int capture_flush(Worker* w, Conn* c) noexcept nogil:
    """pxcy.testing: append the queue to the worker's capture buffer."""
    cdef OutItem* it
    cdef size_t need
    cdef ssize_t r
    cdef char* nb
    while c.out_head != NULL:
        it = c.out_head
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
        c.out_head = it.next
    c.out_bytes = 0
    c.out_tail = NULL
    return 0


cdef int conn_after(Worker* w, Conn* c, int ret) noexcept nogil:
    """After a callback returned `ret`: write what it queued, roll back the heap,
    run send_complete, and carry out close requests. 0: alive, -1: finalized."""
    cdef int rounds = 0
    cdef int r
    if ret < 0 or (c.flags & F_ABORT):
        if ret < 0:
            pxcy_stat_add(&w.stats.errors, 1)
        conn_finalize(w, c)
        return -1
    while True:
        r = conn_flush(w, c)
        if r < 0:
            conn_finalize(w, c)
            return -1
        if r > 0:
            if c.out_bytes > w.core.cfg.max_unsent:
                c.flags |= F_PAUSED
            return 0
        # queue empty: everything the callbacks sent is written
        pxcy_heap_reset(&c.th)
        c.last_active = w.now
        if not (c.flags & F_SENT):
            break
        c.flags &= ~F_SENT
        r = (<Protocol>c.proto).send_complete(<Transport>bind(w, c))
        pxcy_stat_add(&w.stats.callbacks, 1)
        if r < 0 or (c.flags & F_ABORT):
            conn_finalize(w, c)
            return -1
        rounds += 1
        if rounds >= 16 and c.out_head != NULL:
            ready_push(w, c)    # streaming sender: let the others run, resume soon
            return 0
    if c.flags & F_PAUSED:
        c.flags &= ~F_PAUSED
        ready_push(w, c)
    if c.flags & F_EOF:
        conn_finalize(w, c)
        return -1
    if (c.flags & F_CLOSING) and not (c.flags & F_LINGER):
        return conn_linger(w, c)
    return 0


cdef int conn_linger(Worker* w, Conn* c) noexcept nogil:
    """Graceful close: shut down our side, then read and drop input until the peer
    closes or linger_ms passes, so unread input cannot turn the close into a reset
    that destroys the response in flight."""
    if c.fd < 0:
        conn_finalize(w, c)
        return -1
    if c.flags & F_MADE:
        c.flags &= ~F_MADE
        (<Protocol>c.proto).connection_lost(<Transport>bind(w, c))
        pxcy_stat_add(&w.stats.callbacks, 1)
    pxcy_heap_reset(&c.th)
    pxcy_pheap_reset(&c.ph)
    c.inlen = 0
    c.flags |= F_LINGER
    shutdown(c.fd, SHUT_WR)
    c.idle_ms = 0
    c.deadline = w.now + w.core.cfg.linger_ms
    ready_push(w, c)
    return 0


cdef int conn_input(Worker* w, Conn* c, size_t r) noexcept nogil:
    """r new bytes sit in w.rbuf after c.inlen bytes of room: prepend what was
    pushed back last time and hand it all to data_received."""
    cdef size_t n = c.inlen + r
    cdef const char* data = w.rbuf
    cdef int ret
    cdef size_t k
    cdef char* keep
    if c.inlen:
        memcpy(w.rbuf, c.inbuf, c.inlen)
        pxcy_pheap_free(&c.ph, c.inbuf)
        c.inbuf = NULL
        c.inlen = 0
    c.pushback = 0
    c.cur_len = n
    ret = (<Protocol>c.proto).data_received(<Transport>bind(w, c), data, n)
    pxcy_stat_add(&w.stats.callbacks, 1)
    if ret >= 0 and c.pushback and not (c.flags & (F_ABORT | F_CLOSING)):
        k = c.pushback
        if k > w.core.cfg.max_pending_input:
            ret = -1
        else:
            keep = <char*>pxcy_pheap_alloc(&c.ph, k)
            if keep == NULL:
                ret = -1
            else:
                memcpy(keep, data + n - k, k)
                c.inbuf = keep
                c.inlen = k
    return conn_after(w, c, ret)


cdef int conn_readable(Worker* w, Conn* c) noexcept nogil:
    """Read until the socket is drained (edge-triggered). 0: alive, -1: finalized."""
    cdef ssize_t r
    cdef size_t want = w.core.cfg.read_size
    cdef char junk[4096]
    if c.flags & F_LINGER:
        while True:
            r = c_read(c.fd, junk, sizeof(junk))
            if r > 0:
                continue
            if r < 0 and errno == EINTR:
                continue
            if r < 0 and (errno == EAGAIN):
                return 0
            conn_finalize(w, c)
            return -1
    while not (c.flags & (F_PAUSED | F_CLOSING | F_EOF)):
        r = c_read(c.fd, w.rbuf + c.inlen, want)
        if r > 0:
            pxcy_stat_add(&w.stats.reads, 1)
            pxcy_stat_add(&w.stats.bytes_in, <uint64_t>r)
            c.last_active = w.now
            if conn_input(w, c, <size_t>r) < 0:
                return -1
            if <size_t>r < want:
                return 0        # drained: the next arrival raises a new edge
        elif r == 0:
            c.flags |= F_EOF
            if c.out_head == NULL:
                conn_finalize(w, c)
                return -1
            return 0
        elif errno == EINTR:
            continue
        elif errno == EAGAIN:
            return 0
        else:
            conn_finalize(w, c)
            return -1
    return 0


# ------------------------------------------------------------------- worker

cdef void worker_accept(Worker* w) noexcept nogil:
    cdef Core* core = w.core
    cdef int fd, one = 1, i
    cdef Conn* c
    cdef epoll_event ev
    for i in range(ACCEPT_BATCH):
        fd = accept4(core.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)
        if fd < 0:
            if errno == EINTR or errno == ECONNABORTED or errno == EPROTO or errno == EPERM:
                continue
            if errno == EMFILE or errno == ENFILE or errno == ENOBUFS or errno == ENOMEM:
                # out of descriptors/memory: stop accepting for a while instead of spinning
                epoll_ctl(w.epfd, EPOLL_CTL_DEL, core.lfd, NULL)
                w.listening = 0
                w.accept_resume = w.now + ACCEPT_PAUSE_MS
                pxcy_stat_add(&w.stats.accept_pauses, 1)
            return
        if pxcy_add_int(&core.active, 1) > core.cfg.max_connections:
            pxcy_add_int(&core.active, -1)
            pxcy_stat_add(&w.stats.rejected, 1)
            c_close(fd)
            continue
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one))
        c = conn_new(w, fd)
        if c == NULL:
            pxcy_add_int(&core.active, -1)
            c_close(fd)
            continue
        pxcy_stat_add(&w.stats.accepted, 1)
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET
        ev.data.ptr = c
        if epoll_ctl(w.epfd, EPOLL_CTL_ADD, fd, &ev) < 0:
            conn_finalize(w, c)
            continue
        c.flags |= F_MADE
        conn_after(w, c, (<Protocol>c.proto).connection_made(<Transport>bind(w, c)))


cdef void worker_listen(Worker* w) noexcept nogil:
    cdef epoll_event ev
    ev.events = EPOLLIN | EPOLLEXCLUSIVE
    ev.data.ptr = LISTENER
    if epoll_ctl(w.epfd, EPOLL_CTL_ADD, w.core.lfd, &ev) == 0:
        w.listening = 1


cdef void worker_sweep(Worker* w) noexcept nogil:
    """Timeouts (idle, deadline, linger) and resuming accept after EMFILE."""
    cdef Conn* c = w.conns
    cdef Conn* nxt
    while c != NULL:
        nxt = c.next
        # idle: nothing received and nothing left to send for idle_ms
        if (c.deadline and w.now >= c.deadline) or \
           (c.idle_ms and c.out_head == NULL and w.now - c.last_active >= c.idle_ms):
            conn_finalize(w, c)
        c = nxt
    if not w.listening and w.accept_resume and w.now >= w.accept_resume \
            and not pxcy_load_int(&w.core.stopping):
        w.accept_resume = 0
        worker_listen(w)
    w.next_sweep = w.now + SWEEP_MS


cdef void worker_run_ready(Worker* w) noexcept nogil:
    cdef Conn* c
    while w.ready != NULL:
        c = w.ready
        w.ready = c.ready_next
        c.flags &= ~F_READY
        if c.out_head != NULL:
            if conn_after(w, c, 0) < 0:
                continue
        if c.out_head == NULL or not (c.flags & F_PAUSED):
            conn_readable(w, c)


cdef void worker_begin_stop(Worker* w) noexcept nogil:
    cdef Conn* c = w.conns
    cdef Conn* nxt
    if w.listening:
        epoll_ctl(w.epfd, EPOLL_CTL_DEL, w.core.lfd, NULL)
        w.listening = 0
    w.stop_deadline = w.now + w.core.cfg.stop_timeout_ms
    while c != NULL:
        nxt = c.next
        if c.out_head == NULL:
            conn_finalize(w, c)
        else:
            c.flags |= F_CLOSING    # finish writing what was already sent, then close
        c = nxt


cdef void* worker_main(void* arg) noexcept nogil:
    cdef Worker* w = <Worker*>arg
    cdef epoll_event events[MAX_EVENTS]
    cdef int n, i, timeout
    cdef uint32_t ev
    cdef void* p
    cdef Conn* c
    cdef uint64_t junk
    w.now = clock_ms()
    w.next_sweep = w.now + SWEEP_MS
    while True:
        timeout = 0 if w.ready != NULL else <int>(w.next_sweep - w.now if w.next_sweep > w.now else 0)
        n = epoll_wait(w.epfd, events, MAX_EVENTS, timeout)
        w.now = clock_ms()
        for i in range(n if n > 0 else 0):
            p = events[i].data.ptr
            ev = events[i].events
            if p == LISTENER:
                worker_accept(w)
            elif p == WAKER:
                c_read(w.evfd, &junk, sizeof(junk))
            else:
                c = <Conn*>p
                if (ev & EPOLLOUT) and c.out_head != NULL:
                    if conn_after(w, c, 0) < 0:
                        continue
                if ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR):
                    conn_readable(w, c)
        if w.ready != NULL:
            worker_run_ready(w)
        if w.now >= w.next_sweep:
            worker_sweep(w)
        if pxcy_load_int(&w.core.stopping):
            if w.stop_deadline == 0:
                worker_begin_stop(w)
            if w.conns == NULL or w.now >= w.stop_deadline:
                while w.conns != NULL:
                    conn_finalize(w, w.conns)
                break
    return NULL


# ------------------------------------------------------------------ setup

cdef object check_protocol(object protocol):
    """The prototype instance for `protocol` (a Protocol subclass or instance)."""
    if isinstance(protocol, type):
        if not issubclass(protocol, Protocol):
            raise TypeError(f"{protocol.__module__}.{protocol.__qualname__} is not a pxcy.runtime.Protocol subclass")
        protocol = protocol()
    elif not isinstance(protocol, Protocol):
        raise TypeError(f"{protocol!r} is not a pxcy.runtime.Protocol subclass or instance")
    cls = type(protocol)
    if PyType_GetFlags(<PyTypeObject*>cls) & Py_TPFLAGS_HAVE_GC:
        raise TypeError(
            f"{cls.__module__}.{cls.__qualname__} has Python-object fields; a connection's "
            "self is copied without the GIL, so it may hold only C-typed fields (numbers, "
            "pxcy_bytes, C arrays, pointers). Keep Python objects and memoryviews in module "
            "globals set up before the server starts.")
    return protocol


cdef dict DEFAULTS = dict(
    backlog=4096, max_connections=100_000, read_size=64 * 1024,
    max_pending_input=1 << 20, max_unsent=4 << 20, transient_limit=64 << 20,
    persistent_limit=4 << 20, block_size=64 * 1024 - 64, pool_blocks=256,
    stop_timeout=5.0, linger=2.0,
)


cdef Core* core_new(object proto, dict cfg) except NULL:
    cdef Core* core = <Core*>calloc(1, sizeof(Core))
    if core == NULL:
        raise MemoryError()
    core.lfd = -1
    core.prototype = <PyObject*>proto
    core.proto_size = Py_TYPE(proto).tp_basicsize
    core.conn_size = round16(sizeof(Conn)) + round16(core.proto_size)
    core.cfg.backlog = cfg["backlog"]
    core.cfg.max_connections = cfg["max_connections"]
    core.cfg.read_size = cfg["read_size"]
    core.cfg.max_pending_input = cfg["max_pending_input"]
    core.cfg.max_unsent = cfg["max_unsent"]
    core.cfg.transient_limit = cfg["transient_limit"]
    core.cfg.persistent_limit = cfg["persistent_limit"]
    core.cfg.block_size = cfg["block_size"]
    core.cfg.pool_blocks = cfg["pool_blocks"]
    core.cfg.stop_timeout_ms = <uint32_t>(float(cfg["stop_timeout"]) * 1000)
    core.cfg.linger_ms = <uint32_t>(float(cfg["linger"]) * 1000)
    return core


cdef int worker_init(Worker* w, Core* core, int wid, object transport) except -1:
    w.id = wid
    w.core = core
    w.epfd = -1
    w.evfd = -1
    pxcy_pool_init(&w.tpool, core.cfg.block_size, core.cfg.pool_blocks)
    pxcy_pool_init(&w.ppool, 4096 - 64, core.cfg.pool_blocks * 4)
    w.rbuf_cap = core.cfg.read_size + core.cfg.max_pending_input
    w.rbuf = <char*>malloc(w.rbuf_cap)
    if w.rbuf == NULL:
        raise MemoryError()
    (<Transport>transport).w = w
    w.transport = <PyObject*>transport
    return 0


cdef void worker_free(Worker* w) noexcept nogil:
    cdef Conn* c
    while w.conns != NULL:
        conn_finalize(w, w.conns)
    while w.free_conns != NULL:
        c = w.free_conns
        w.free_conns = c.next
        free(c)
    pxcy_pool_clear(&w.tpool)
    pxcy_pool_clear(&w.ppool)
    free(w.rbuf)
    free(w.capture)
    free(w.scratch)
    w.scratch = NULL
    w.rbuf = w.capture = NULL
    if w.epfd >= 0:
        c_close(w.epfd)
    if w.evfd >= 0:
        c_close(w.evfd)
    w.epfd = w.evfd = -1


# ------------------------------------------------------------------ Server

import os as _os
import signal as _signal
import socket as _socket
import threading as _threading
import time as _time


cdef class Server:
    """Serve a Protocol on host:port from `workers` C threads.

        server = pxcy.Server(Echo, "127.0.0.1", 8080, workers=4)
        server.serve_forever()          # or: server.start(); ...; server.stop()

    `protocol` is a Protocol subclass (instantiated once) or a configured instance;
    every connection gets a copy of it. Options (keyword): backlog, max_connections,
    read_size, max_pending_input (bytes a handler may push back), max_unsent (unsent
    output above which reading pauses), transient_limit / persistent_limit (per
    connection heap bounds), stop_timeout (s to finish writing on stop), linger (s).
    """
    cdef Core* core
    cdef readonly object prototype
    cdef list _transports
    cdef readonly str host
    cdef readonly int port
    cdef readonly int workers
    cdef readonly dict options
    cdef int _state          # 0 new, 1 serving, 2 stopped
    cdef object _sock

    def __init__(self, protocol, host="127.0.0.1", port=0, workers=None, **options):
        unknown = set(options) - set(DEFAULTS)
        if unknown:
            raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
        self.prototype = check_protocol(protocol)
        self.host = host
        self.port = int(port)
        self.workers = int(workers or _os.cpu_count() or 1)
        if self.workers < 1:
            raise ValueError("workers must be >= 1")
        self.options = dict(DEFAULTS, **options)
        self._transports = []

    def __dealloc__(self):
        if self.core != NULL and self._state == 1:
            self.stop()
        self._release()

    cdef _release(self):
        cdef int i
        if self.core == NULL:
            return
        if self.core.workers != NULL:
            for i in range(self.core.nworkers):
                worker_free(&self.core.workers[i])
            free(self.core.workers)
        if self.core.lfd >= 0:
            c_close(self.core.lfd)
        free(self.core)
        self.core = NULL

    @property
    def address(self):
        """(host, port) actually bound (port 0 picks a free one)."""
        return (self.host, self.port)

    def start(self):
        """Bind, listen and start the worker threads; returns at once."""
        cdef int i
        cdef Worker* w
        cdef epoll_event ev
        if self._state != 0:
            raise RuntimeError("a Server can be started once")
        self.prototype.prepare()
        family = _socket.AF_INET6 if ":" in self.host else _socket.AF_INET
        sock = _socket.socket(family, _socket.SOCK_STREAM)
        try:
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(self.options["backlog"])
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        self.core = core_new(self.prototype, self.options)
        self.core.lfd = sock.detach()
        self.core.workers = <Worker*>calloc(self.workers, sizeof(Worker))
        if self.core.workers == NULL:
            self._release()
            raise MemoryError()
        self.core.nworkers = self.workers
        try:
            for i in range(self.workers):
                w = &self.core.workers[i]
                t = Transport.__new__(Transport)
                self._transports.append(t)
                worker_init(w, self.core, i, t)
                w.epfd = epoll_create1(EPOLL_CLOEXEC)
                w.evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)
                if w.epfd < 0 or w.evfd < 0:
                    raise OSError(errno, _os.strerror(errno))
                ev.events = EPOLLIN
                ev.data.ptr = WAKER
                epoll_ctl(w.epfd, EPOLL_CTL_ADD, w.evfd, &ev)
                worker_listen(w)
                if not w.listening:
                    raise OSError(errno, _os.strerror(errno))
        except BaseException:
            self._release()
            raise
        with nogil:
            for i in range(self.core.nworkers):
                w = &self.core.workers[i]
                if pthread_create(&w.thread, NULL, worker_main, w) == 0:
                    w.running = 1
        self._state = 1
        for i in range(self.core.nworkers):
            if not self.core.workers[i].running:
                self.stop()
                raise OSError("could not start worker threads")
        return self

    def stop(self):
        """Stop accepting, finish writing what was already queued (up to
        stop_timeout), close every connection, join the threads. Idempotent."""
        cdef int i
        cdef uint64_t one = 1
        cdef Worker* w
        with cython.critical_section(self):     # free-threaded: one stop() joins the workers
            if self._state != 1:
                return
            self._state = 2
        pxcy_store_int(&self.core.stopping, 1)
        with nogil:
            for i in range(self.core.nworkers):
                w = &self.core.workers[i]
                if w.running:
                    c_write(w.evfd, &one, sizeof(one))
            for i in range(self.core.nworkers):
                w = &self.core.workers[i]
                if w.running:
                    pthread_join(w.thread, NULL)
                    w.running = 0
        self._release()

    def serve_forever(self, on_ready=None):
        """start() if needed, then wait (GIL released) until SIGINT/SIGTERM or stop().
        `on_ready()` runs once the signal handlers are in place."""
        if self._state == 0:
            self.start()
        stop = _threading.Event()
        installed = {}
        if _threading.current_thread() is _threading.main_thread():
            for sig in (_signal.SIGINT, _signal.SIGTERM):
                installed[sig] = _signal.signal(sig, lambda *a: stop.set())
        try:
            if on_ready is not None:
                on_ready()
            while self._state == 1 and not stop.is_set():
                stop.wait(0.2)
        finally:
            for sig, old in installed.items():
                _signal.signal(sig, old)
            self.stop()

    @property
    def serving(self):
        return self._state == 1

    def stats(self):
        """Live counters summed over workers (reads are racy but never torn)."""
        cdef int i
        cdef Worker* w
        keys = ("accepted", "closed", "rejected", "bytes_in", "bytes_out", "callbacks",
                "reads", "writes", "requests", "errors", "accept_pauses")
        out = dict.fromkeys(keys, 0)
        out["workers"] = self.workers
        out["connections"] = 0
        if self.core == NULL:
            return out
        out["connections"] = pxcy_load_int(&self.core.active)
        for i in range(self.core.nworkers):
            w = &self.core.workers[i]
            out["accepted"] += pxcy_load_u64(&w.stats.accepted)
            out["closed"] += pxcy_load_u64(&w.stats.closed)
            out["rejected"] += pxcy_load_u64(&w.stats.rejected)
            out["bytes_in"] += pxcy_load_u64(&w.stats.bytes_in)
            out["bytes_out"] += pxcy_load_u64(&w.stats.bytes_out)
            out["callbacks"] += pxcy_load_u64(&w.stats.callbacks)
            out["reads"] += pxcy_load_u64(&w.stats.reads)
            out["writes"] += pxcy_load_u64(&w.stats.writes)
            out["requests"] += pxcy_load_u64(&w.stats.requests)
            out["errors"] += pxcy_load_u64(&w.stats.errors)
            out["accept_pauses"] += pxcy_load_u64(&w.stats.accept_pauses)
        return out

    def __enter__(self):
        if self._state == 0:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


# ----------------------------------------------------------------- testing

cdef class Harness:
    """Drive a protocol's callbacks on the calling thread, without sockets.

    The connection, heaps, output queue and rollback are the real ones; output is
    collected instead of written. See pxcy.testing.
    """
    cdef Core* core
    cdef Worker* w
    cdef Conn* c
    cdef readonly object prototype
    cdef object _transport

    def __init__(self, protocol, **options):
        self.prototype = check_protocol(protocol)
        self.prototype.prepare()
        opts = dict(DEFAULTS, **options)
        self.core = core_new(self.prototype, opts)
        self.core.workers = self.w = <Worker*>calloc(1, sizeof(Worker))
        if self.w == NULL:
            raise MemoryError()
        self.core.nworkers = 1
        self._transport = Transport.__new__(Transport)
        worker_init(self.w, self.core, 0, self._transport)
        self.w.now = clock_ms()
        self.c = conn_new(self.w, -1)
        if self.c == NULL:
            raise MemoryError()
        self.c.flags |= F_MADE
        conn_after(self.w, self.c, (<Protocol>self.c.proto).connection_made(<Transport>bind(self.w, self.c)))

    def __dealloc__(self):
        if self.core != NULL:
            if self.w != NULL:
                worker_free(self.w)
                free(self.w)
            free(self.core)
            self.core = NULL

    def feed(self, data):
        """Deliver `data` as one read; return the bytes the handler sent in response."""
        cdef const unsigned char[:] mv = memoryview(bytes(data))
        cdef size_t n = mv.shape[0]
        cdef size_t off = 0, k
        if self.closed:
            raise RuntimeError("connection is closed")
        if n == 0:
            return b""
        self.w.now = clock_ms()
        while off < n and not self.closed:
            k = min(n - off, self.core.cfg.read_size)
            memcpy(self.w.rbuf + self.c.inlen, &mv[off], k)
            off += k
            conn_input(self.w, self.c, k)
        return self.take()

    def take(self):
        """Output collected so far (and not yet taken)."""
        out = self.w.capture[:self.w.capture_len] if self.w.capture_len else b""
        self.w.capture_len = 0
        return out

    def close(self):
        """The peer goes away: connection_lost runs (once)."""
        if not (self.c.flags & F_DEAD):
            conn_finalize(self.w, self.c)

    @property
    def closed(self):
        """True once the handler closed or aborted the connection (or close() ran)."""
        return bool(self.c.flags & (F_DEAD | F_LINGER | F_CLOSING | F_ABORT))

    @property
    def pending_input(self):
        """Bytes pushed back and waiting for the next read."""
        return self.c.inlen

    @property
    def transient_bytes(self):
        return self.c.th.bytes

    @property
    def persistent_bytes(self):
        return self.c.ph.bytes

    def stats(self):
        return {"callbacks": self.w.stats.callbacks, "requests": self.w.stats.requests}


def debug_enabled():
    """True when debug mode (PXCY_DEBUG=1 or a debug build) is on."""
    return bool(pxcy_debug_enabled)
