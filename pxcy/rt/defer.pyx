# defer (included into pxcy/runtime.pyx): hand bytes from a worker to a Python
# callable run on a pool of Python threads, and bring its result back to the
# connection's own worker.
#
#   worker  --DJob (malloc, copy)-->  DQueue (mutex + condvar)  -->  Python thread
#   Python thread  --DJob (result)-->  Worker.done (lock-free stack) + eventfd
#   worker (WAKER event)  -->  result_received on the connection, if still there
#
# Only connections that call defer touch the queue; a worker looks at Worker.done
# only when its eventfd fired. A result whose connection left (its handle is stale)
# is freed without a callback.

import sys as _sys
import traceback as _traceback
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE


cdef DQueue* dqueue_new() except NULL:
    cdef DQueue* q = <DQueue*>calloc(1, sizeof(DQueue))
    if q == NULL:
        raise MemoryError()
    pthread_mutex_init(&q.lock, NULL)
    pthread_cond_init(&q.cond, NULL)
    q.ready = 1
    return q


cdef void dqueue_stop(DQueue* q, uint64_t deadline) noexcept nogil:
    """Refuse new jobs; the queued ones still run until `deadline` (clock_ms)."""
    pthread_mutex_lock(&q.lock)
    q.stopping = 1
    q.deadline = deadline
    pthread_cond_broadcast(&q.cond)
    pthread_mutex_unlock(&q.lock)


cdef void dqueue_free(DQueue* q) noexcept nogil:
    """Free the queue and the jobs never run (pool threads joined)."""
    cdef DJob* j
    while q.head != NULL:
        j = q.head
        q.head = j.next
        free(j)
    pthread_cond_destroy(&q.cond)
    pthread_mutex_destroy(&q.lock)
    free(q)


cdef DJob* djob_new(size_t n) noexcept nogil:
    cdef DJob* j = <DJob*>malloc(sizeof(DJob) + n)
    if j != NULL:
        j.next = NULL
        j.n = n
        j.status = 0
    return j


cdef int conn_defer(Worker* w, Conn* c, uint64_t token, const void* data, size_t n) noexcept nogil:
    cdef DQueue* q = w.core.dq
    cdef DJob* j
    cdef uint64_t h
    if q == NULL:
        c.err = ENOPROTOOPT         # Server(..., on_defer=fn) was not given
        return -1
    if n > PXCY_MAX_ALLOC:
        c.err = ENOMEM
        return -1
    h = conn_handle(w, c)
    if h == 0:
        return -1
    j = djob_new(n)
    if j == NULL:
        c.err = ENOMEM
        return -1
    j.w = w
    j.handle = h
    j.token = token
    if n:
        memcpy(j.data, data, n)
    pthread_mutex_lock(&q.lock)
    if q.stopping:
        pthread_mutex_unlock(&q.lock)
        free(j)
        c.err = ESHUTDOWN
        return -1
    if q.tail != NULL:
        q.tail.next = j
    else:
        q.head = j
    q.tail = j
    pthread_cond_signal(&q.cond)
    pthread_mutex_unlock(&q.lock)
    pxcy_stat_add(&w.stats.defers, 1)
    return 0


cdef DJob* dqueue_take(DQueue* q) noexcept nogil:
    """The next job (blocks); NULL once the pool stops."""
    cdef DJob* j
    pthread_mutex_lock(&q.lock)
    while q.head == NULL and not q.stopping:
        pthread_cond_wait(&q.cond, &q.lock)
    # stopping: the jobs already queued (requests the workers accepted) still run,
    # up to the stop deadline; the rest are answered as failed by stop_pool
    if q.head == NULL or (q.stopping and clock_ms() >= q.deadline):
        pthread_mutex_unlock(&q.lock)
        return NULL
    j = q.head
    q.head = j.next
    if q.head == NULL:
        q.tail = NULL
    pthread_mutex_unlock(&q.lock)
    return j


cdef DJob* dqueue_try_take(DQueue* q) noexcept nogil:
    """The next job, or NULL at once when there is none (the Harness's inline pool)."""
    cdef DJob* j
    pthread_mutex_lock(&q.lock)
    j = q.head
    if j != NULL:
        q.head = j.next
        if q.head == NULL:
            q.tail = NULL
    pthread_mutex_unlock(&q.lock)
    return j


cdef void worker_post_result(Worker* w, DJob* r) noexcept nogil:
    """From a Python thread: push r on w's lock-free stack, wake w."""
    cdef uint64_t one = 1
    cdef void* head = pxcy_load_ptr(<void**>&w.done)
    while True:
        r.next = <DJob*>head
        if pxcy_cas_ptr(<void**>&w.done, &head, <void*>r):
            break
    c_write(w.evfd, &one, sizeof(one))


cdef void worker_run_results(Worker* w) noexcept nogil:
    """On the worker: result_received for each result, oldest first."""
    cdef DJob* r = <DJob*>pxcy_xchg_ptr(<void**>&w.done, NULL)
    cdef DJob* rev = NULL
    cdef DJob* nxt
    cdef Conn* c
    cdef int ret
    while r != NULL:                # the stack is newest first
        nxt = r.next
        r.next = rev
        rev = r
        r = nxt
    while rev != NULL:
        r = rev
        rev = r.next
        c = handle_lookup(w, r.handle)
        if c != NULL and conn_callbacks_allowed(c):
            ret = (<Protocol>conn_proto(c)).result_received(<Transport>bind(w, c), r.token,
                                                           r.data, r.n, r.status)
            pxcy_stat_add(&w.stats.callbacks, 1)
            conn_after(w, c, ret)
        else:
            pxcy_stat_add(&w.stats.defer_dropped, 1)
        free(r)


cdef void worker_drop_results(Worker* w) noexcept nogil:
    cdef DJob* r = <DJob*>pxcy_xchg_ptr(<void**>&w.done, NULL)
    cdef DJob* nxt
    while r != NULL:
        nxt = r.next
        free(r)
        r = nxt


cdef DJob* defer_call(fn, DJob* j, bint reraise=False):
    """Run `fn(bytes)` for job j (the GIL held): its result as a job for j's worker
    (status -1 and no data if fn raised), or NULL when out of memory."""
    cdef DJob* r
    cdef Py_ssize_t n
    status = 0
    try:
        out = fn(PyBytes_FromStringAndSize(j.data, <Py_ssize_t>j.n))
        if isinstance(out, str):
            out = (<str>out).encode()
        elif out is None:
            out = b""
        elif isinstance(out, int):          # bytes(3) would be three NUL bytes
            raise TypeError(f"on_defer returned {out!r}: return bytes, str, a buffer or None")
        elif not isinstance(out, bytes):
            out = bytes(out)
    except BaseException as e:
        if reraise and not isinstance(e, Exception):
            raise                   # the Harness: KeyboardInterrupt, pytest.fail() reach the test
        _traceback.print_exc(file=_sys.stderr)
        out = b""
        status = -1
    n = PyBytes_GET_SIZE(out)
    r = djob_new(<size_t>n)
    if r == NULL:                   # out of memory: the connection still hears back
        n = 0
        status = -1
        r = djob_new(0)
        if r == NULL:
            return NULL
    r.w = j.w
    r.handle = j.handle
    r.token = j.token
    r.status = status
    if n:
        memcpy(r.data, PyBytes_AS_STRING(out), <size_t>n)
    return r


def _pool_thread(Server server, fn):
    """A Python thread of the defer pool: run `fn(bytes)` for each job, the GIL held
    only around the call (on a free-threaded build the threads run in parallel)."""
    cdef DQueue* q = server.core.dq
    cdef DJob* j
    cdef DJob* r
    while True:
        with nogil:
            j = dqueue_take(q)
        if j == NULL:
            return
        r = defer_call(fn, j)
        with nogil:
            if r != NULL:
                worker_post_result(j.w, r)
            free(j)


# ----------------------------------------------- Server(client=, on_defer=, ...)

cdef init_extras(Server self, client, on_defer, python_threads, resolve):
    self.client = check_protocol(client) if client is not None else None
    if on_defer is not None and not callable(on_defer):
        raise TypeError(f"on_defer={on_defer!r}: must be callable")
    self.on_defer = on_defer
    if not isinstance(python_threads, int) or isinstance(python_threads, bool) \
            or not 1 <= python_threads <= 1024:
        raise ValueError(f"python_threads={python_threads!r}: must be an integer in [1, 1024]")
    self.python_threads = python_threads
    self.resolve = resolve_names(resolve, client)
    self._pool = []


cdef tuple resolve_names(resolve, client):
    """resolve= checked: a tuple of host names, for the outbound connections of client=."""
    if isinstance(resolve, str):
        resolve = (resolve,)
    resolve = tuple(resolve)
    if resolve and client is None:
        raise ValueError(f"resolve={resolve!r}: names hosts for t.connect, which needs "
                         "client=ClientProtocol")
    for name in resolve:
        if not isinstance(name, str) or not 0 < len(name.encode()) < 256:
            raise ValueError(f"resolve: {name!r} is not a host name")
    return resolve


cdef int start_extras(Server self, Core* core) except -1:
    """In start(), with the GIL: the client prototype and resolved names, and the
    defer queue."""
    if self.client is not None:
        core_add_client(core, self.client, self.resolve)
    if self.on_defer is None and hasattr(self.prototype, "pxcy_defer_handler"):
        self.on_defer = self.prototype.pxcy_defer_handler()     # HTTP Python routes
    if self.on_defer is not None:
        core.dq = dqueue_new()
    return 0


cdef int core_add_client(Core* core, client, tuple resolve) except -1:
    """Snapshot the client prototype (records get room for the larger of the two)
    and resolve the names connect() may use (Server.start and the Harness)."""
    cdef int i
    cdef size_t big
    names = ("localhost",) + tuple(n for n in resolve if n != "localhost")
    client.prepare()
    core.client_proto = snapshot_prototype(client)
    core.client_size = Py_TYPE(client).tp_basicsize
    big = core.proto_size if core.proto_size > core.client_size else core.client_size
    core.conn_size = round16(sizeof(Conn)) + round16(big)
    addrs = []
    for name in names:
        try:
            info = _socket.getaddrinfo(name, 0, type=_socket.SOCK_STREAM)
        except _socket.gaierror as e:
            raise OSError(f"resolve: cannot resolve {name!r}: {e}") from None
        info.sort(key=lambda a: a[0] != _socket.AF_INET)      # IPv4 first
        addrs.append((name.encode(), info[0][0], info[0][4]))
    core.hosts = <HostEnt*>calloc(len(addrs), sizeof(HostEnt))
    if core.hosts == NULL:
        raise MemoryError()
    for i, (bname, fam, sa) in enumerate(addrs):
        memcpy(core.hosts[i].name, <const char*>bname, len(bname))
        host_fill(&core.hosts[i], fam, sa)
        core.nhosts = i + 1
    return 0


cdef void host_fill(HostEnt* e, int fam, sa):
    cdef bytes raw = _socket.inet_pton(fam, sa[0])
    e.addr.ss_family = fam
    if fam == AF_INET:
        memcpy(&(<sockaddr_in*>&e.addr).sin_addr, <const char*>raw, 4)
        e.len = sizeof(sockaddr_in)
    else:
        memcpy(&(<sockaddr_in6*>&e.addr).sin6_addr, <const char*>raw, 16)
        e.len = sizeof(sockaddr_in6)


cdef start_pool(Server self):
    if self.core.dq == NULL:
        return
    for i in range(self.python_threads):
        th = _threading.Thread(target=_pool_thread, args=(self, self.on_defer),
                               name=f"pxcy-defer-{i}", daemon=True)
        th.start()
        self._pool.append(th)


cdef stop_pool(Server self):
    if self.core.dq == NULL:
        return
    cdef DQueue* q = self.core.dq
    cdef DJob* j
    cdef DJob* r
    with nogil:
        dqueue_stop(q, clock_ms() + self.core.cfg.stop_timeout_ms)
    for th in self._pool:
        if th is not _threading.current_thread():
            th.join()
    self._pool = []
    # jobs never run (past the deadline): their connections still hear back, with a
    # failure (status -1), while the workers run; the threads are joined: no lock race
    with nogil:
        while q.head != NULL:
            j = q.head
            q.head = j.next
            r = djob_new(0)
            if r != NULL:
                r.w = j.w
                r.handle = j.handle
                r.token = j.token
                r.status = -1
                worker_post_result(j.w, r)
            free(j)
        q.tail = NULL
