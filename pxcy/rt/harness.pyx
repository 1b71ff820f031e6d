# Harness: drive a protocol's callbacks on the calling thread, without sockets
# (included into pxcy/runtime.pyx; the Python face is pxcy.testing).

cdef class Harness:
    """Drive a protocol's callbacks on the calling thread, without sockets.

    The connection, its state machine, heaps, output queue, pushback redelivery
    and timers are the real ones; output is collected instead of written. See
    pxcy.testing.
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
        self.core = core_new(opts)
        self.core.prototype = snapshot_prototype(self.prototype)
        self.core.proto_size = Py_TYPE(self.prototype).tp_basicsize
        self.core.conn_size = round16(sizeof(Conn)) + round16(self.core.proto_size)
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
        self.w.now = clock_ms()
        self.c = conn_new(self.w, -1)
        if self.c == NULL:
            raise MemoryError()
        self.c.made = 1
        conn_after(self.w, self.c, (<Protocol>conn_proto(self.c)).connection_made(<Transport>bind(self.w, self.c)))
        self._settle()

    def __dealloc__(self):
        if self.core != NULL:
            core_free(self.core)
            self.core = NULL

    cdef bint _alive(self):
        return self.c != NULL and self.c.state < CS_LOST

    cdef void _settle(self):
        """Run the ready list (redeliveries, streaming senders) and due timers
        until nothing is left to do (bounded)."""
        cdef int i
        for i in range(10000):
            self.w.now = clock_ms()
            if self.w.tlen:
                timers_run(self.w)
            if self.w.ready == NULL:
                break
            worker_run_ready(self.w)
        if self.c != NULL and self.c.state >= CS_LOST:
            # lingering makes no sense without a socket: the record is done
            conn_free(self.w, self.c)

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

    def advance(self):
        """Fire timers that are due (the harness follows the real clock)."""
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
        return self.c.ph.bytes if self._alive() else 0

    def stats(self):
        return {"callbacks": self.w.stats.callbacks, "requests": self.w.stats.requests,
                "redeliveries": self.w.stats.redeliveries,
                "transient_peak": self.w.tpool.peak}


def debug_enabled():
    """True when debug mode (PXCY_DEBUG=1 or a debug build) is on."""
    return bool(pxcy_debug_enabled)
