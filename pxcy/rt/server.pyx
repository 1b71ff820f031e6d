# Server: the Python-facing object that starts and stops the workers (included
# into pxcy/runtime.pyx).

import os as _os
import select as _select
import signal as _signal
import socket as _socket
import threading as _threading
import time as _time

cdef dict DEFAULTS = dict(
    backlog=4096, max_connections=100_000, read_size=64 * 1024,
    max_pending_input=1 << 20, max_unsent=4 << 20, transient_limit=64 << 20,
    persistent_limit=4 << 20, block_size=64 * 1024 - 64, pool_blocks=256,
    stop_timeout=5.0, linger=2.0, write_timeout=60.0, read_budget=16, drain=None,
    connect_timeout=10.0,
)

STAT_KEYS = ("accepted", "closed", "rejected", "bytes_in", "bytes_out", "callbacks",
             "reads", "writes", "requests", "errors", "accept_pauses", "turns",
             "budget_yields", "redeliveries", "eofs", "idle_timeouts", "deadline_timeouts",
             "write_timeouts", "timers_fired", "refused_sends", "connects", "connect_errors",
             "defers", "defer_dropped", "health_checks",
             "responses_other", "responses_1xx", "responses_2xx", "responses_3xx",
             "responses_4xx", "responses_5xx")
# drain=None ("auto", the default): a SIGTERM drains AUTO_DRAIN seconds when a health
# check came within AUTO_DRAIN_WINDOW seconds (HAProxy's default inter 2s, fall 3 takes
# a server out of rotation within 6 s), else it stops at once
AUTO_DRAIN = 10.0
AUTO_DRAIN_WINDOW = 60.0
MAX_KEYS = ("max_reads_per_turn", "transient_peak", "input_peak")


cdef size_t _size_opt(dict cfg, str key, size_t lo, size_t hi) except? 0:
    v = cfg[key]
    if not isinstance(v, int) or isinstance(v, bool) or v < <Py_ssize_t>lo or v > hi:
        raise ValueError(f"option {key}={v!r}: must be an integer in [{lo}, {hi}]")
    return v


cdef uint32_t _ms_opt(dict cfg, str key) except? 0:
    v = cfg[key]
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"option {key}={v!r}: must be a number of seconds") from None
    if not (0 <= f <= 86400 * 30):
        raise ValueError(f"option {key}={v!r}: must be between 0 and 2592000 seconds")
    if 0 < f < 0.001:
        return 1                    # a positive time is at least 1 ms (0 means "none")
    return <uint32_t>(f * 1000)


cdef Core* core_new(dict cfg) except NULL:
    """Core with the checked configuration (no descriptors, no workers yet)."""
    cdef Config c
    cdef void* line = NULL
    c.backlog = <int>_size_opt(cfg, "backlog", 1, 1 << 20)
    c.max_connections = <int>_size_opt(cfg, "max_connections", 1, 1 << 30)
    c.read_size = _size_opt(cfg, "read_size", 1024, 1 << 28)
    c.max_pending_input = _size_opt(cfg, "max_pending_input", 0, 1 << 30)
    c.max_unsent = _size_opt(cfg, "max_unsent", 1, 1 << 40)
    c.transient_limit = _size_opt(cfg, "transient_limit", 0, 1 << 50)
    c.persistent_limit = _size_opt(cfg, "persistent_limit", 0, 1 << 50)
    c.block_size = _size_opt(cfg, "block_size", 256, 1 << 30)
    c.pool_blocks = _size_opt(cfg, "pool_blocks", 0, 1 << 20)
    c.read_budget = <uint32_t>_size_opt(cfg, "read_budget", 1, 65535)
    c.stop_timeout_ms = _ms_opt(cfg, "stop_timeout")
    c.linger_ms = _ms_opt(cfg, "linger")
    c.write_timeout_ms = _ms_opt(cfg, "write_timeout")
    c.connect_timeout_ms = _ms_opt(cfg, "connect_timeout")
    if cfg["drain"] is not None:                # None: auto (Server.drain_seconds)
        _ms_opt(cfg, "drain")                   # used by serve_forever (checked here)
    cdef Core* core = <Core*>calloc(1, sizeof(Core))
    if core == NULL:
        raise MemoryError()
    # the shared connection count on a cache line of its own
    if posix_memalign(&line, 64, 64) != 0:
        free(core)
        raise MemoryError()
    memset(line, 0, 64)
    core.active = <int*>line
    core.cfg = c
    return core


cdef void core_free(Core* core) noexcept nogil:
    """Free a core whose threads are joined: workers, snapshot, listener."""
    cdef int i
    if core.workers != NULL:
        for i in range(core.nworkers):
            worker_free(core.workers[i])
            free(core.workers[i])
        free(core.workers)
    for i in range(core.nlfds):
        if core.lfds[i] >= 0:
            c_close(core.lfds[i])
    free(core.lfds)
    free(core.prototype)
    free(core.client_proto)
    free(core.hosts)
    if core.dq != NULL:
        dqueue_free(core.dq)
    free(core.active)
    free(core)


cdef Worker* worker_alloc() noexcept nogil:
    """A zeroed Worker on cache lines of its own (no false sharing between workers)."""
    cdef void* p = NULL
    cdef size_t n = (sizeof(Worker) + 63) & ~(<size_t>63)
    if posix_memalign(&p, 64, n) != 0:
        return NULL
    memset(p, 0, n)
    return <Worker*>p


cdef class Server:
    """Serve a Protocol on host:port from `workers` C threads.

        server = pxcy.Server(Echo, "127.0.0.1", 8080, workers=4)
        server.serve_forever()          # or: server.start(); ...; server.stop()

    `protocol` is a Protocol subclass (instantiated once) or a configured instance;
    every connection gets a copy of it (of a snapshot taken by start()). Options
    (keyword): backlog, max_connections, read_size, max_pending_input (bytes a
    handler may push back), max_unsent (unsent output above which reading pauses),
    transient_limit / persistent_limit (per connection heap bounds), stop_timeout (s
    to finish writing on stop), linger (s), write_timeout (s without write progress
    before a connection whose client stopped reading is closed; 0: never),
    connect_timeout (s an outbound Transport.connect may take before connect_done
    reports ETIMEDOUT; 0: the kernel's SYN retries, about 2 minutes), read_budget (reads per connection per loop turn). start() and stop() may be
    called from any thread; both are idempotent, and stop() returns once the worker
    threads are joined.
    """
    cdef Core* core
    cdef readonly object prototype
    cdef list _transports
    cdef readonly str host
    cdef readonly int port
    cdef readonly int workers
    cdef readonly dict options
    cdef readonly list listen           # the address specs asked for
    cdef readonly list addresses        # the addresses bound (after start)
    cdef readonly bint reuse_port
    cdef list _unix_paths
    cdef int _state          # 0 new, 1 serving, 2 stopped
    cdef object _lock
    cdef readonly object client         # prototype of outbound connections (or None)
    cdef readonly object on_defer
    cdef readonly int python_threads
    cdef readonly tuple resolve
    cdef list _pool

    def __init__(self, protocol, host="127.0.0.1", port=0, workers=None, *, listen=None,
                 reuse_port=False, client=None, on_defer=None, python_threads=1, resolve=(),
                 **options):
        unknown = set(options) - set(DEFAULTS)
        if unknown:
            raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
        self.prototype = check_protocol(protocol)
        self.host = host
        self.port = int(port)
        self.workers = int(workers or _os.cpu_count() or 1)
        if self.workers < 1:
            raise ValueError("workers must be >= 1")
        if listen is None:
            listen = [(host, self.port)]
        elif isinstance(listen, (str, tuple)):
            listen = [listen]
        self.listen = list(listen)
        for spec in self.listen:
            parse_address(spec)                    # a bad address fails here, not in start()
        self.reuse_port = bool(reuse_port)
        self.addresses = []
        self._unix_paths = []
        self.options = dict(DEFAULTS, **options)
        core_free(core_new(self.options))          # check the options now
        self._transports = []
        self._lock = _threading.Lock()
        init_extras(self, client, on_defer, python_threads, resolve)

    def __dealloc__(self):
        if self.core != NULL:
            self._stop_locked()

    @property
    def address(self):
        """(host, port) actually bound (port 0 picks a free one): the first TCP listener."""
        return (self.host, self.port)

    def start(self):
        """Bind, listen and start the worker threads; returns at once. A failed
        start closes what it opened and leaves no thread running."""
        with self._lock:
            if self._state != 0:
                raise RuntimeError("a Server can be started once" if self._state == 1 else
                                   "this Server was stopped; make a new one")
            self._start_locked()
        return self

    cdef _start_locked(self):
        cdef int i, rc = 0, started = 0
        cdef Worker* w
        cdef Core* core
        cdef epoll_event ev
        cdef sigset_t block, old
        self.prototype.prepare()
        shared, own, addresses, unix_paths, inherited = open_listeners(
            self.listen, self.workers, self.options["backlog"], self.reuse_port)
        core = core_new(self.options)
        self.core = core
        try:
            core.prototype = snapshot_prototype(self.prototype)
            core.proto_size = Py_TYPE(self.prototype).tp_basicsize
            core.conn_size = round16(sizeof(Conn)) + round16(core.proto_size)
            start_extras(self, core)        # client prototype, resolved names, defer queue
            core.workers = <Worker**>calloc(self.workers, sizeof(Worker*))
            if core.workers == NULL:
                raise MemoryError()
            for i in range(self.workers):
                w = worker_alloc()
                if w == NULL:
                    raise MemoryError()
                core.workers[i] = w
                t = Transport.__new__(Transport)
                self._transports.append(t)
                worker_init(w, core, i, t)
                core.nworkers = i + 1           # worker_free is safe on it from now on
                w.epfd = epoll_create1(EPOLL_CLOEXEC)
                if w.epfd < 0:
                    raise OSError(errno, _os.strerror(errno))
                w.evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)
                if w.evfd < 0:
                    raise OSError(errno, _os.strerror(errno))
                ev.events = EPOLLIN
                ev.data.ptr = WAKER
                if epoll_ctl(w.epfd, EPOLL_CTL_ADD, w.evfd, &ev) < 0:
                    raise OSError(errno, _os.strerror(errno))
            # from here the core owns the shared listening descriptors and each
            # worker its own reuse_port ones (closed by core_free / worker_free)
            socks = shared + [x for l in own for x in l]
            core.lfds = <int*>calloc(len(shared) + 1, sizeof(int))
            if core.lfds == NULL:
                raise MemoryError()
            first_tcp = None
            for s in socks:
                if first_tcp is None and s.family != _socket.AF_UNIX:
                    first_tcp = s.getsockname()
            tcp = [s.family != _socket.AF_UNIX for s in shared]
            for s in shared:
                fd = s.detach()
                core.lfds[core.nlfds] = fd
                core.nlfds += 1
            for i in range(self.workers):
                w = core.workers[i]
                for j in range(core.nlfds):
                    w.lfd[w.nlisten] = core.lfds[j]
                    w.ltcp[w.nlisten] = tcp[j]
                    w.lexcl[w.nlisten] = 1
                    w.nlisten += 1
                for s in own[i]:
                    w.lfd[w.nlisten] = s.detach()
                    w.ltcp[w.nlisten] = 1
                    w.lexcl[w.nlisten] = 0
                    w.nlisten += 1
            if first_tcp is not None:
                self.host, self.port = first_tcp[0], first_tcp[1]
            self.addresses = addresses
            self._unix_paths = unix_paths
            for i in range(self.workers):
                worker_listen(core.workers[i])
                if not core.workers[i].listening:
                    raise OSError(errno, _os.strerror(errno))
        except BaseException:
            self.core = NULL
            for i in range(core.nlfds):         # a failed start leaves inherited sockets open
                if core.lfds[i] in inherited:
                    core.lfds[i] = -1
            core_free(core)
            for s in shared + [x for l in own for x in l]:
                if s.fileno() in inherited:
                    s.detach()
                elif s.fileno() >= 0:
                    s.close()                   # (detached ones: core_free/worker_free)
            for p, ident in unix_paths:
                _unlink_quiet(p, ident)
            raise
        # workers get every asynchronous signal blocked (SIGINT/SIGTERM go to the
        # main thread; SIGPIPE from sendfile can never kill the process)
        sigfillset(&block)
        for sig in (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS):
            sigdelset(&block, sig)
        with nogil:
            pthread_sigmask(SIG_BLOCK, &block, &old)
            for i in range(core.nworkers):
                w = core.workers[i]
                rc = pthread_create(&w.thread, NULL, worker_main, w)
                if rc != 0:
                    break
                w.running = 1
                started += 1
            pthread_sigmask(SIG_SETMASK, &old, NULL)
        self._state = 1
        if started == core.nworkers:
            start_pool(self)
        if started < core.nworkers:
            self._stop_locked()
            raise OSError(rc, f"could not start worker threads: {_os.strerror(rc)}")

    def stop(self):
        """Stop accepting, finish writing what was already queued (up to
        stop_timeout), close every connection, join the threads. Idempotent and
        safe from any thread: a concurrent call returns once the threads are joined."""
        with self._lock:
            if self._state == 0:
                self._state = 2
                return
            self._stop_locked()

    cdef _stop_locked(self):
        cdef int i
        cdef uint64_t one = 1
        cdef Worker* w
        cdef Core* core = self.core
        self._state = 2
        if core == NULL:
            return
        stop_pool(self)                 # its threads post to the workers: stop it first
        pxcy_store_int(&core.stopping, 1)
        with nogil:
            for i in range(core.nworkers):
                w = core.workers[i]
                if w.running:
                    c_write(w.evfd, &one, sizeof(one))
            for i in range(core.nworkers):
                w = core.workers[i]
                if w.running:
                    pthread_join(w.thread, NULL)
                    w.running = 0
            core_free(core)
        self.core = NULL
        for p, ident in self._unix_paths:
            _unlink_quiet(p, ident)             # ours: made by start(), unless replaced since
        self._unix_paths = []

    def drain(self):
        """Begin draining: keep accepting and serving, but tell clients to go
        elsewhere (HttpProtocol: /healthz answers 503, every response carries
        Connection: close). stop() ends it. Safe from any thread."""
        with self._lock:
            if self.core != NULL:
                pxcy_store_int(&self.core.draining, 1)

    @property
    def drain_seconds(self):
        """How long a SIGTERM would drain now: the `drain` option when set; when it is
        None (the default, "auto"), AUTO_DRAIN seconds if a health check was answered
        (Transport.health_check: GET /healthz) within the last AUTO_DRAIN_WINDOW
        seconds - a balancer is watching and needs time to take this server out of
        rotation - else 0: nobody to tell, stop at once."""
        cdef int i
        cdef uint64_t last = 0
        if self.options["drain"] is not None:
            return float(self.options["drain"])
        with self._lock:
            if self.core == NULL:
                return 0.0
            for i in range(self.core.nworkers):
                last = max(last, pxcy_load_u64(&self.core.workers[i].health_last))
        if last and clock_ms() - last <= <uint64_t>(AUTO_DRAIN_WINDOW * 1000):
            return AUTO_DRAIN
        return 0.0

    @property
    def draining(self):
        return self.core != NULL and pxcy_load_int(&self.core.draining) != 0

    def serve_forever(self, on_ready=None, drain=None):
        """start() if needed, then wait (GIL released) until SIGINT/SIGTERM or stop().
        On SIGTERM, with a drain time (`drain` here, else the `drain` option, seconds),
        the server first drains for that long (see drain() and drain_seconds), then stops; SIGINT or a
        second SIGTERM stops at once. `on_ready()` runs once the signal handlers are in
        place; they stay in place until the workers are stopped."""
        if self._state == 0:
            self.start()
        got = []
        installed = {}
        # The handler takes no lock: Python runs handlers between any two bytecodes,
        # nested in one another too (make forwards SIGTERM to a process group that
        # already got one), so a handler that set a threading.Event could wait for a
        # lock held by the code it interrupted - a hang no later signal undoes. It
        # appends (atomic) and writes one byte to a non-blocking pipe that wakes the wait.
        rfd, wfd = _os.pipe2(_os.O_NONBLOCK | _os.O_CLOEXEC)

        def on_signal(sig, frame):
            got.append(sig)
            try:
                _os.write(wfd, b"s")
            except OSError:                     # pipe full: a wake-up is already pending
                pass

        def wait_signal(seen, seconds):
            """Until a signal past the first `seen`, stop(), or `seconds` (None: no limit)."""
            end = None if seconds is None else _time.monotonic() + seconds
            while self._state == 1 and len(got) <= seen:
                left = 0.2 if end is None else min(0.2, end - _time.monotonic())
                if left <= 0:
                    return
                _select.select([rfd], [], [], left)    # stop() from a thread: seen within 0.2 s
                try:
                    _os.read(rfd, 64)
                except BlockingIOError:
                    pass
        try:
            if _threading.current_thread() is _threading.main_thread():
                for sig in (_signal.SIGINT, _signal.SIGTERM):
                    installed[sig] = _signal.signal(sig, on_signal)
            if on_ready is not None:
                on_ready()
            wait_signal(0, None)
            drain_s = self.drain_seconds if drain is None else float(drain)
            if got and got[0] == _signal.SIGTERM and drain_s > 0 and self._state == 1:
                self.drain()
                wait_signal(1, drain_s)
        finally:
            self.stop()
            for sig, old in installed.items():
                _signal.signal(sig, old)
            _os.close(rfd)
            _os.close(wfd)

    @property
    def serving(self):
        return self._state == 1

    def stats(self):
        """Live counters summed over workers (reads are racy but never torn);
        max_reads_per_turn, transient_peak and input_peak are maxima over workers
        (transient_peak: the largest transient heap any connection held, bytes)."""
        cdef int i
        cdef Worker* w
        cdef uint64_t* s
        out = dict.fromkeys(STAT_KEYS + MAX_KEYS, 0)
        out["workers"] = self.workers
        out["connections"] = 0
        if self.core == NULL:
            return out
        with self._lock:
            if self.core == NULL:
                return out
            out["connections"] = pxcy_load_int(self.core.active)
            for i in range(self.core.nworkers):
                w = self.core.workers[i]
                s = <uint64_t*>&w.stats
                for j, k in enumerate(STAT_KEYS):
                    out[k] += pxcy_load_u64(&s[_STAT_INDEX[k]])
                for k in MAX_KEYS:
                    if k == "transient_peak":   # kept by the worker's block pool
                        out[k] = max(out[k], pxcy_load_size(&w.tpool.peak))
                    else:
                        out[k] = max(out[k], pxcy_load_u64(&s[_STAT_INDEX[k]]))
        if out["reads"] and not out["max_reads_per_turn"]:
            out["max_reads_per_turn"] = 1      # (only turns with 2+ reads are recorded)
        return out

    def __enter__(self):
        if self._state == 0:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


# field order of Stats (rt/types.pxd), for stats()
_STAT_ORDER = ("accepted", "closed", "rejected", "bytes_in", "bytes_out", "callbacks", "reads",
               "writes", "requests", "errors", "accept_pauses", "turns", "budget_yields",
               "max_reads_per_turn", "redeliveries", "eofs", "idle_timeouts", "deadline_timeouts",
               "write_timeouts", "timers_fired", "input_peak", "refused_sends", "connects",
               "connect_errors", "defers", "defer_dropped", "health_checks",
               "responses_other", "responses_1xx", "responses_2xx", "responses_3xx",
               "responses_4xx", "responses_5xx")
_STAT_INDEX = {k: i for i, k in enumerate(_STAT_ORDER)}
assert len(_STAT_ORDER) * 8 == sizeof(Stats)

# bytes of a connection record before the protocol copy (idle-memory accounting)
CONN_RECORD_BYTES = round16(sizeof(Conn))
