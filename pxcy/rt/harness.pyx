# Harness: drive a protocol's callbacks on the calling thread, without sockets
# (included into pxcy/runtime.pyx; the Python face is pxcy.testing).

import time as _htime


cdef enum:
    SETTLE_ROUNDS = 10000    # _settle: rounds of ready list, timers, events and jobs


cdef class Harness:
    """Drive a protocol's callbacks on the calling thread, without sockets.

    The connection, its state machine, heaps, output queue, pushback redelivery
    and timers are the real ones; output is collected instead of written. See
    pxcy.testing.

    `on_defer=fn` (HTTP Python routes bring their own): `t.defer` calls `fn` on
    the calling thread and `result_received` follows in the same feed()/advance();
    with `defer_inline=False` jobs wait for run_deferred(). `client=ClientProtocol`
    (and `resolve=`): `t.connect` opens a real outbound TCP connection, whose
    events advance(timeout) waits for.
    """
    cdef Core* core
    cdef Worker* w
    cdef Conn* c
    cdef readonly object prototype
    cdef object _transport
    cdef object _on_defer
    cdef bint _defer_inline

    def __init__(self, protocol, *, client=None, on_defer=None, resolve=(),
                 defer_inline=True, **options):
        self.prototype = check_protocol(protocol)
        self.prototype.prepare()
        if client is not None:
            client = check_protocol(client)
        resolve = resolve_names(resolve, client)
        if on_defer is None and hasattr(self.prototype, "pxcy_defer_handler"):
            on_defer = self.prototype.pxcy_defer_handler()      # HTTP Python routes
        if on_defer is not None and not callable(on_defer):
            raise TypeError(f"on_defer={on_defer!r}: must be callable")
        self._on_defer = on_defer
        self._defer_inline = defer_inline
        opts = dict(DEFAULTS, **options)
        self.core = core_new(opts)
        self.core.prototype = snapshot_prototype(self.prototype)
        self.core.proto_size = Py_TYPE(self.prototype).tp_basicsize
        self.core.conn_size = round16(sizeof(Conn)) + round16(self.core.proto_size)
        if client is not None:
            core_add_client(self.core, client, resolve)
        if on_defer is not None:
            self.core.dq = dqueue_new()
        self.core.workers = <Worker**>calloc(1, sizeof(Worker*))
        if self.core.workers == NULL:
            raise MemoryError()
        self.w = worker_alloc()
        if self.w == NULL:
            raise MemoryError()
        self.core.workers[0] = self.w
        self._transport = Transport.__new__(Transport)
        worker_init(self.w, self.core, 0, self._transport)
        self.core.nworkers = 1
        if client is not None:          # outbound connections are real sockets
            self.w.epfd = epoll_create1(EPOLL_CLOEXEC)
            if self.w.epfd < 0:
                raise OSError(errno, _os.strerror(errno))
        self.w.now = clock_ms()
        self.c = conn_new(self.w, -1)
        if self.c == NULL:
            raise MemoryError()
        self.c.pinned = 1
        self.c.made = 1
        conn_after(self.w, self.c, (<Protocol>conn_proto(self.c)).connection_made(<Transport>bind(self.w, self.c)))
        self._settle()

    def __dealloc__(self):
        if self.core != NULL:
            core_free(self.core)        # conn_free leaves the pinned self.c alone
            self.core = NULL
        free(self.c)
        self.c = NULL

    cdef bint _alive(self):
        return self.c != NULL and self.c.state < CS_LOST

    cdef int _settle(self) except -1:
        """Run the ready list (redeliveries, streaming senders), due timers, socket
        events of outbound connections and deferred calls until nothing is left to
        do. A protocol that is still busy after SETTLE_ROUNDS rounds (a stream that never
        ends, a 0 ms timer that re-arms itself) raises instead of returning as if it
        were done."""
        cdef int i, n
        for i in range(SETTLE_ROUNDS):
            self.w.now = clock_ms()
            n = self._poll(0) if self.w.epfd >= 0 else 0
            if self.w.tlen:
                timers_run(self.w)
            if self._defer_inline:
                n += self._run_jobs()
            if pxcy_load_ptr(<void**>&self.w.done) != NULL:
                worker_run_results(self.w)
            if self.w.ready == NULL and n == 0:
                break
            if self.w.ready != NULL:
                worker_run_ready(self.w)
        else:
            raise RuntimeError(f"Harness: the protocol is still busy after {SETTLE_ROUNDS} rounds "
                               "(a stream that never ends, or a 0 ms timer that re-arms itself)")
        if self.c != NULL and self.c.state >= CS_LOST:
            # lingering makes no sense without a socket: the record is done
            conn_free(self.w, self.c)
        return 0

    cdef int _poll(self, int timeout_ms) except -1:
        """One epoll_wait on the outbound connections (up to timeout_ms); their
        events dispatched as the worker loop does. Returns the number of events."""
        cdef epoll_event events[MAX_EVENTS]
        cdef int n, i
        with nogil:
            n = epoll_wait(self.w.epfd, events, MAX_EVENTS, timeout_ms)
        self.w.now = clock_ms()
        for i in range(n if n > 0 else 0):
            conn_event(self.w, <Conn*>events[i].data.ptr, events[i].events)
        return n if n > 0 else 0

    cdef int _run_jobs(self) except -1:
        """Run the queued defer jobs on this thread; their results wait on the
        worker's stack for worker_run_results. Returns the number run."""
        cdef DQueue* q = self.core.dq
        cdef DJob* j
        cdef DJob* r
        cdef int k = 0
        if q == NULL:
            return 0
        while True:
            j = dqueue_try_take(q)
            if j == NULL:
                return k
            try:
                r = defer_call(self._on_defer, j, True)
            finally:
                free(j)
            if r != NULL:
                r.next = <DJob*>self.w.done     # no other thread posts here
                self.w.done = r
            k += 1

    def feed(self, data):
        """Deliver `data` as reads of at most read_size bytes; return the bytes the
        handler sent in response."""
        cdef const unsigned char[:] mv = memoryview(bytes(data))
        cdef size_t n = mv.shape[0]
        cdef size_t off = 0, k
        cdef Conn* c = self.c
        if not self._alive():
            raise RuntimeError("connection is closed")
        if n == 0:
            return b""
        self.w.now = clock_ms()
        while off < n and self._alive() and (c.state == CS_OPEN or c.state == CS_WR_SHUT):
            k = min(n - off, self.w.cfg.read_size)
            if c.in_len > c.in_off:
                if input_reserve(self.w, c, k) < 0:
                    raise MemoryError()
                memcpy(PXCY_PAYLOAD(c.inb) + c.in_len, &mv[off], k)
                c.in_len += <uint32_t>k
                conn_deliver(self.w, c, PXCY_PAYLOAD(c.inb) + c.in_off, c.in_len - c.in_off, True)
            else:
                memcpy(self.w.rbuf, &mv[off], k)
                conn_deliver(self.w, c, self.w.rbuf, k, False)
            off += k
            self._settle()
        return self.take()

    def feed_eof(self):
        """The peer half-closes: eof_received runs; return what was sent."""
        if self._alive() and (self.c.state == CS_OPEN or self.c.state == CS_WR_SHUT):
            conn_eof(self.w, self.c)
            self._settle()
        return self.take()

    def advance(self, timeout=0):
        """Fire timers that are due (the harness follows the real clock), run
        deferred calls and the outbound connections' events; return what was sent.
        With `timeout` (seconds), first wait up to that long for a socket event or
        the next timer."""
        cdef uint64_t due
        cdef double secs = float(timeout)
        if not secs >= 0:                   # negative or NaN
            raise ValueError(f"advance(timeout={timeout!r}): must be >= 0 seconds")
        cdef int ms = <int>(min(secs, 86400.0) * 1000)
        if ms > 0:
            self.w.now = clock_ms()
            due = timer_next(self.w)
            if due != <uint64_t>-1:
                ms = 0 if due <= self.w.now else <int>min(<uint64_t>ms, due - self.w.now)
            if self.w.epfd >= 0:
                self._poll(ms)
            elif ms > 0:
                _htime.sleep(ms / 1000.0)
        self._settle()
        return self.take()

    def run_deferred(self):
        """Run the defer jobs queued so far (defer_inline=False), deliver their
        results (dropped if the connection is gone) and return what was sent."""
        self._run_jobs()
        if pxcy_load_ptr(<void**>&self.w.done) != NULL:
            worker_run_results(self.w)
        self._settle()
        return self.take()

    def take(self):
        """Output collected so far (and not yet taken)."""
        out = self.w.capture[:self.w.capture_len] if self.w.capture_len else b""
        self.w.capture_len = 0
        return out

    def close(self):
        """The peer goes away: connection_lost runs (once)."""
        if self.c != NULL and self.c.state < CS_FREE:
            conn_abort(self.w, self.c)

    @property
    def closed(self):
        """True once the handler closed or aborted the connection (or close() ran)."""
        return self.c == NULL or self.c.state >= CS_CLOSING

    @property
    def pending_input(self):
        """Bytes pushed back and waiting for the next read."""
        return self.c.in_len - self.c.in_off if self._alive() else 0

    @property
    def transient_bytes(self):
        return self.c.th.bytes if self._alive() else 0

    @property
    def persistent_bytes(self):
        return self.c.ph.bytes if self._alive() and self.c.ph != NULL else 0

    def stats(self):
        return {"callbacks": self.w.stats.callbacks, "requests": self.w.stats.requests,
                "redeliveries": self.w.stats.redeliveries, "defers": self.w.stats.defers,
                "defer_dropped": self.w.stats.defer_dropped, "connects": self.w.stats.connects,
                "connect_errors": self.w.stats.connect_errors,
                "transient_peak": self.w.tpool.peak}


def debug_enabled():
    """True when debug mode (PXCY_DEBUG=1 or a debug build) is on."""
    return bool(pxcy_debug_enabled)
