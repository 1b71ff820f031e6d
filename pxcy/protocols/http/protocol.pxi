# HttpProtocol: request framing (heads, bodies spanning reads, pipelining),
# dispatch, streaming responses; the ready-made HelloWorld and Static apps.

cdef enum:
    PH_HEAD = 0          # reading request heads
    PH_BODY = 1          # a request body spans reads (buffered or streamed to the route)
    PH_STREAM = 2        # a streaming response is being produced; input waits
    PH_PY = 3            # a Python route runs on the pool; input waits (paused)
    PIPELINE_OUTPUT_MAX = 8 << 20    # stop answering a batch once this much is queued

cdef px_slice EMPTY_SLICE
EMPTY_SLICE.p = NULL
EMPTY_SLICE.n = 0

cdef uint64_t DEADLINE_TOKEN = (<uint64_t>1) << 40   # | requests answered when armed
cdef SlowState ZERO_SLOW             # the zeroed template a SlowState is made from


cdef class HttpProtocol(Protocol):
    """Base class of HTTP/1.1 apps.

    Register routes in prepare() (called once, with the GIL, before serving):
    `self.route(b"/exact", <Handler>App.method)`, or with prefix=True, where the
    rest of the decoded, normalized path arrives in req.arg. Routes match the
    decoded, normalized path (the one static files use), so percent-encoding cannot
    slip past a route. Exact routes win over prefixes; the longest prefix wins.
    `methods=("GET",)` by default (HEAD implied by GET); another method on a matching
    path gets 405 with Allow, OPTIONS gets 204 with Allow. `stream_body=True`: the
    handler is called for each piece of the request body as it arrives
    (req.body_more is True for all but the last call, which answers), so an upload
    of any size takes bounded memory. Unmatched requests go to not_found(): static
    files below `root` when given, else 404.

    Options: root (directory for static files), follow_symlinks (let symlinks lead
    outside root; default False), dotfiles (serve names starting with '.'; default
    False), precompressed (serve x.br / x.gz next to x to clients that accept them,
    like nginx's gzip_static; default False), keepalive (s, idle keep-alive timeout),
    request_timeout (s for a whole request to arrive: slowloris), max_body (decoded
    bytes of a buffered body; it is held in the connection's persistent heap, so
    keep it below the server's persistent_limit), max_body_wire (the same body on the
    wire, chunk framing included; default 4 * max_body), access_log (a file: combined
    log format, written by a logger thread).
    """

    # cfg, made here, is shared read-only by every connection's copy (pxcy.runtime)
    pxcy_cinit_shared = True

    def __cinit__(self, *args, **kwargs):
        self.cfg = <HttpConfig*>calloc(1, sizeof(HttpConfig))
        if self.cfg == NULL:
            raise MemoryError()
        self.cfg.root_fd = -1
        self.cfg.keepalive_ms = 75_000
        self.cfg.request_timeout_ms = 15_000
        self.cfg.max_body = 960 * 1024
        self.cfg.max_body_wire = 4 * self.cfg.max_body
        self.cfg.ops = OPS_HEALTH

    def __init__(self, root=None, *, follow_symlinks=False, keepalive=75.0, request_timeout=15.0,
                 max_body=960 * 1024, max_body_wire=None, dotfiles=False, precompressed=False,
                 access_log=None, health=True, metrics=False):
        import os
        if root is not None:
            real = os.path.realpath(os.fspath(root))
            if not os.path.isdir(real):
                raise ValueError(f"static root is not a directory: {root}")
            b = real.encode()
            self.cfg.root = <char*>malloc(len(b) + 1)
            memcpy(self.cfg.root, <char*>b, len(b) + 1)
            self.cfg.root_n = len(b)
            self.cfg.root_fd = pxcy_open_dir(self.cfg.root)
            if self.cfg.root_fd < 0:
                raise OSError(errno, f"cannot open static root {root}")
        if int(max_body) < 0 or (max_body_wire is not None and int(max_body_wire) < int(max_body)):
            raise ValueError("max_body must be >= 0 and max_body_wire >= max_body")
        self.cfg.follow_symlinks = bool(follow_symlinks)
        self.cfg.dotfiles = bool(dotfiles)
        self.cfg.precompressed = bool(precompressed)
        self.cfg.keepalive_ms = <uint32_t>(float(keepalive) * 1000)
        self.cfg.request_timeout_ms = <uint32_t>(float(request_timeout) * 1000)
        self.cfg.max_body = int(max_body)
        self.cfg.max_body_wire = int(max_body_wire) if max_body_wire is not None else 4 * int(max_body)
        self.operations(health=health, metrics=metrics)
        if access_log is not None:
            self.open_access_log(access_log)

    def operations(self, health=None, metrics=None):
        """Turn the operations endpoints on or off (before serving): GET /healthz
        (on by default: 200 while serving, 503 while draining) and GET /metrics
        (off by default: the runtime counters in Prometheus text format). They are
        answered before the route table. Returns {"health": bool, "metrics": bool}."""
        if health is not None:
            self.cfg.ops = (self.cfg.ops | OPS_HEALTH) if health else (self.cfg.ops & ~OPS_HEALTH)
        if metrics is not None:
            self.cfg.ops = (self.cfg.ops | OPS_METRICS) if metrics else (self.cfg.ops & ~OPS_METRICS)
        return {"health": bool(self.cfg.ops & OPS_HEALTH), "metrics": bool(self.cfg.ops & OPS_METRICS)}

    def __dealloc__(self):
        # Only the prototype is a real object; per-connection copies never get here.
        cdef int i
        if self.cfg != NULL:
            for i in range(self.cfg.nroutes):
                free(self.cfg.routes[i].path)
            free(self.cfg.routes)
            free(self.cfg.root)
            if self.cfg.root_fd >= 0:
                c_close(self.cfg.root_fd)
            if self.cfg.log != NULL:
                px_log_close(self.cfg.log)
            free(self.cfg)
            self.cfg = NULL

    # ---- access log (with the GIL; open before serving, close after stop)

    def open_access_log(self, path):
        """Log every answered request to `path` (appended, combined log format)."""
        import atexit, os
        cdef bytes b = os.fsencode(path)
        cdef px_log* log
        if self.cfg.log != NULL:
            raise RuntimeError("the access log is already open")
        log = px_log_open(b)
        if log == NULL:
            raise OSError(errno, os.strerror(errno), os.fsdecode(b))   # the CLI prefixes its own words
        self.cfg.log = log
        atexit.register(self.flush_access_log)

    def flush_access_log(self):
        """Write every buffered line now (the logger thread does it every 100 ms)."""
        if self.cfg != NULL and self.cfg.log != NULL:
            with nogil:
                px_log_flush(self.cfg.log)

    def close_access_log(self):
        """Flush and close the access log. Only once the server has stopped."""
        cdef px_log* log = self.cfg.log
        if log != NULL:
            self.cfg.log = NULL
            with nogil:
                px_log_close(log)

    def access_log_dropped(self):
        """Lines dropped because a worker's buffer was full (the disk did not keep up)."""
        return self.cfg.log.dropped if self.cfg.log != NULL else 0

    # ---- routes

    cdef int route(self, bytes path, Handler handler, bint prefix=False, methods=("GET",),
                   bint stream_body=False) except -1:
        cdef Route* rs
        cdef uint32_t mask = methods_mask(methods)
        cdef int i
        if not path.startswith(b"/"):
            raise ValueError(f"route path must start with '/': {path!r}")
        for i in range(self.cfg.nroutes):
            if self.cfg.routes[i].n == <size_t>len(path) and self.cfg.routes[i].prefix == prefix \
                    and memcmp(self.cfg.routes[i].path, <char*>path, len(path)) == 0 \
                    and (self.cfg.routes[i].methods & mask):
                raise ValueError(f"duplicate route {path!r}")
        rs = <Route*>realloc(self.cfg.routes, (self.cfg.nroutes + 1) * sizeof(Route))
        if rs == NULL:
            raise MemoryError()
        self.cfg.routes = rs
        rs[self.cfg.nroutes].path = <char*>malloc(len(path) + 1)
        if rs[self.cfg.nroutes].path == NULL:
            raise MemoryError()
        memcpy(rs[self.cfg.nroutes].path, <char*>path, len(path) + 1)
        rs[self.cfg.nroutes].n = len(path)
        rs[self.cfg.nroutes].prefix = prefix
        rs[self.cfg.nroutes].methods = mask
        rs[self.cfg.nroutes].stream_body = stream_body
        rs[self.cfg.nroutes].handler = handler
        rs[self.cfg.nroutes].py_index = -1
        self.cfg.nroutes += 1
        if path == b"/healthz" and not prefix:
            self.cfg.ops |= OPS_APP_HEALTH  # the built-in still answers 503 while draining
        return 0

    def route_py(self, path, fn, prefix=False, methods=("GET",)):
        """Serve `path` with a plain Python function fn(req) run on the server's
        Python threads (Server(python_threads=N)); see docs/http.md."""
        if not callable(fn):
            raise TypeError(f"route_py({path!r}): {fn!r} is not callable")
        if isinstance(path, str):
            path = path.encode()
        self.route(path, <Handler>NULL, prefix, methods)
        _PY_ROUTES.append(fn)
        self.cfg.routes[self.cfg.nroutes - 1].py_index = len(_PY_ROUTES) - 1
        return fn

    def pxcy_defer_handler(self):
        """The Server's defer callable when Python routes are registered, else None."""
        for i in range(self.cfg.nroutes):
            if self.cfg.routes[i].py_index >= 0:
                return py_dispatch
        return None

    cdef int result_received(self, Transport t, uint64_t token, const char* data, size_t n,
                             int status) noexcept nogil:
        if self.phase != PH_PY:
            return 0
        return py_route_answer(self, t, data, n, status)

    def routes(self):
        """[(path, prefix)] as registered (for introspection and tests)."""
        return [(self.cfg.routes[i].path[:self.cfg.routes[i].n], bool(self.cfg.routes[i].prefix))
                for i in range(self.cfg.nroutes)]

    def route_methods(self):
        """[(path, prefix, methods)] as registered."""
        out = []
        for i in range(self.cfg.nroutes):
            ms = tuple(n for n, mid in METHOD_IDS.items() if self.cfg.routes[i].methods & (1u << <int>mid))
            out.append((self.cfg.routes[i].path[:self.cfg.routes[i].n], bool(self.cfg.routes[i].prefix), ms))
        return out

    cdef int not_found(self, Request req, Response res) noexcept nogil:
        if self.cfg.root != NULL:
            if req.r.method_id != PX_METHOD_GET and req.r.method_id != PX_METHOD_HEAD:
                res.header("Allow", "GET, HEAD")      # also OPTIONS *, before any path checks
                return res.error(405)
            if req.normalized() < 0:
                return res.error(400)
            return res.file(req.path.p, req.path.n)
        return res.error(404)

    # ---- the connection

    cdef int connection_made(self, Transport t) noexcept nogil:
        t.set_idle_timeout(self.cfg.keepalive_ms)
        return 0

    @cython.final
    cdef void _arm(self, Transport t) noexcept nogil:
        """A request has begun arriving: it must be complete within request_timeout
        (else timer_fired answers 408)."""
        if not self.partial:
            self.partial = True
            self._deadline(t, self.cfg.request_timeout_ms)

    @cython.final
    cdef void _deadline(self, Transport t, uint32_t ms) noexcept nogil:
        """(Re)arm the request timer ms from now; ms == 0 cancels it. The token names
        the request (requests answered so far), so a timer that outlived its request
        is ignored even where it could not be cancelled."""
        cdef SlowState* w = <SlowState*>self.slow_mem.data
        cdef int64_t tid
        if w != NULL and w.deadline_id != 0:
            t.cancel(w.deadline_id - 1)
            w.deadline_id = 0
        if ms == 0:
            return
        if w == NULL:
            w = self._slow(t)
        tid = t.call_later(ms, DEADLINE_TOKEN | self.requests)
        if tid < 0:
            t.set_deadline(ms)           # no timer: the runtime closes it silently
        elif w != NULL:
            w.deadline_id = tid + 1
        else:
            t.cancel(tid)
            t.set_deadline(ms)

    cdef int timer_fired(self, Transport t, uint64_t token) noexcept nogil:
        """The request timer: a request that did not arrive in time gets 408 (before
        any byte of its response was sent), then the connection closes."""
        cdef SlowState* w = <SlowState*>self.slow_mem.data
        cdef Scratch* s
        if token != (DEADLINE_TOKEN | self.requests) or not self.partial:
            return 0                     # a timer of an earlier request
        if w != NULL:
            w.deadline_id = 0
        if self.phase == PH_BODY and w != NULL and w.streamed:
            return -1                    # its route may have begun answering: just close
        s = get_scratch(t)
        if s == NULL:
            return -1
        px_request_reset(&s.r)
        return self._fail(t, s, 408, w.rq if self.phase == PH_BODY and w != NULL else NULL, NULL, 0)

    @cython.final
    cdef SlowState* _slow(self, Transport t) noexcept nogil:
        """The connection's SlowState, made (zeroed) on first need."""
        cdef pxcy_bytes none
        if self.slow_mem.data == NULL:
            none.data = NULL
            none.size = 0
            self.slow_mem = t.persist(none, &ZERO_SLOW, sizeof(SlowState))
        return <SlowState*>self.slow_mem.data

    @cython.final
    cdef void _slow_release(self, Transport t) noexcept nogil:
        """Back to idle: give back the head/body copies and the SlowState."""
        cdef SlowState* w = <SlowState*>self.slow_mem.data
        if w == NULL:
            return
        if w.deadline_id != 0:
            t.cancel(w.deadline_id - 1)
        if w.body_buf.data != NULL:
            t.forget(&w.body_buf)
        if w.head_copy.data != NULL:
            t.forget(&w.head_copy)
        if w.req_copy.data != NULL:
            t.forget(&w.req_copy)
        t.forget(&self.slow_mem)

    @cython.final
    cdef int _fail(self, Transport t, Scratch* s, int status, px_request* rq, const char* raw,
                   size_t rawn) noexcept nogil:
        """Answer a request that could not be parsed or accepted, then close. The access
        log names it by its head rq when it was parsed, else by the raw bytes [raw, +rawn)."""
        cdef px_request* blank = &s.resumed
        cdef PyObject* req
        cdef PyObject* res
        # the error answers no particular head: bound to an empty one, not to s.r (the
        # worker's last parsed head, maybe another connection's, its slices long stale)
        memset(blank, 0, sizeof(px_request))
        blank.method_id = PX_METHOD_OTHER
        blank.minor_version = 1
        req = bind_request(s, t, blank)
        res = bind_response(s, t, self.cfg, req)
        (<Response>res).close = True
        (<Response>res).error(status)
        log_failed(t, s, self.cfg, rq, raw, rawn, (<Response>res).status, (<Response>res).body_bytes)
        t.count_response((<Response>res).status)
        self._slow_release(t)            # (after the log: rq may be the body's head copy)
        self.phase = PH_HEAD
        self.head_pending = False
        t.close()
        return 0

    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        cdef Scratch* s = get_scratch(t)
        cdef const char* p = data
        cdef const char* end = data + n
        cdef px_request* r
        cdef SlowState* w
        cdef int k
        cdef ptrdiff_t used
        if s == NULL:
            return -1
        if self.phase == PH_STREAM or self.phase == PH_PY:
            return t.pushback(n)         # answered in order, once the stream has ended
        # while the server drains, every response says Connection: close. The flag is
        # read once per read: answers already in this batch when the drain begins may
        # still keep the connection, and the next read's answer closes it
        s.draining = t.draining()
        if self.phase == PH_BODY:
            used = body_feed(self, t, s, <SlowState*>self.slow_mem.data, p, end)
            if used < 0:
                return 0 if used == -2 else -1
            p += used
        r = &s.r
        while p < end and self.phase == PH_HEAD:
            px_request_reset(r)
            if self.head_pending:        # the bytes scanned last time are at the front
                px_scan_restore(r, &(<SlowState*>self.slow_mem.data).scan)
            k = px_parse_request(p, end - p, r, &LIMITS)
            if k == 0:
                w = self._slow(t)
                if w == NULL:
                    return -1
                px_scan_save(r, &w.scan)
                self.head_pending = True
                self._arm(t)
                return t.pushback(end - p)
            self.head_pending = False
            if k < 0:
                return self._fail(t, s, -k, NULL, p, end - p)
            if r.chunked or r.content_length > 0:
                used = body_begin(self, t, s, p, p + k, end)
                if used < 0:
                    return 0 if used == -2 else -1
                p += k + used
            else:                        # no body (the common case): answer it now
                used = self._answer(t, s, r, EMPTY_SLICE, False)
                if used != 0:
                    return -1 if used < 0 else 0
                p += k
            if t.pending() > PIPELINE_OUTPUT_MAX:
                break                    # a huge pipelined batch: let it drain first
                # (the runtime re-delivers the pushed-back rest once output drained: issue 11)
        if self.phase == PH_HEAD and not self.head_pending:
            if self.partial:
                self.partial = False
                self.continued = False
                self._deadline(t, 0)
            self._slow_release(t)
        if p < end:
            return t.pushback(end - p)
        return 0

    @cython.final
    cdef int _answer(self, Transport t, Scratch* s, px_request* r, Slice body, bint more) noexcept nogil:
        """Route and run one request (or, for a streaming-body route, one piece of its
        body). 0: go on; 1: closing (stop reading requests); -1: drop."""
        cdef PyObject* req = bind_request(s, t, r)
        cdef PyObject* res = bind_response(s, t, self.cfg, req)
        cdef Route* rt = NULL
        cdef uint32_t allow = 0
        cdef SlowState* w
        cdef int k
        (<Request>req).body = body
        (<Request>req).body_more = more
        # an answer given before the body ended closes the connection, and so does
        # every answer while the server drains (s.draining: read by data_received)
        (<Response>res).close = more or not r.keep_alive or s.draining
        if not more:
            self.phase = PH_HEAD
            if self.partial:             # the request is complete: its deadline is over
                self.partial = False
                self._deadline(t, 0)
            self.continued = False
        if r.path.n == 1 and r.path.p[0] == b'*':      # OPTIONS *: about the server
            if self.cfg.root != NULL:
                self.not_found(<Request>req, <Response>res)
            else:
                for k in range(self.cfg.nroutes):
                    allow |= self.cfg.routes[k].methods
                allow_header(<Response>res, allow)
                (<Response>res).send(204, NULL, NULL, 0)
        elif (<Request>req).path.p == NULL and (<Request>req).normalized() < 0:
            (<Response>res).close = True
            (<Response>res).error(400)
        elif (<Request>req).path.n == 8 and self.cfg.ops and not more \
                and ops_answer(self.cfg, t, <Request>req, <Response>res):
            pass                         # /healthz, /metrics
        else:
            rt = route_find(self.cfg, (<Request>req).path.p, (<Request>req).path.n, r.method_id, &allow)
            if rt == NULL and self.cfg.ops and ops_endpoint(self.cfg, (<Request>req).path):
                allow |= (1u << PX_METHOD_GET) | (1u << PX_METHOD_HEAD)   # as for a route
            if rt != NULL:
                if rt.prefix:
                    (<Request>req).arg.p = (<Request>req).path.p + rt.n
                    (<Request>req).arg.n = (<Request>req).path.n - rt.n
                if rt.handler != NULL:
                    rt.handler(self, <Request>req, <Response>res)
                elif py_route_start(self, t, <Request>req, rt) == 0:
                    self._slow_release(t)
                    return 0             # answered from result_received
                else:
                    (<Response>res).error(503)
            elif allow:
                allow_header(<Response>res, allow)
                if r.method_id == PX_METHOD_OPTIONS:
                    (<Response>res).send(204, NULL, NULL, 0)
                else:
                    (<Response>res).error(405)
            else:
                self.not_found(<Request>req, <Response>res)
        if more:
            if not (<Response>res).done:
                return 0                 # the piece was taken; more follow
            self.phase = PH_HEAD
            k = self._finish(t, s, <Request>req, <Response>res)
            self._slow_release(t)
            return k
        if (<Response>res).streaming and not (<Response>res).stream_ended:
            w = self._slow(t) if rt != NULL else NULL
            if w == NULL:
                (<Response>res).stream_end()
                (<Response>res).close = True
            else:
                self.phase = PH_STREAM   # called again from send_complete
                w.stream_route = rt
                w.stream_minor = r.minor_version
                w.stream_method = r.method_id
                w.stream_chunked = (<Response>res).stream_chunked
                w.stream_close = (<Response>res).close
                w.stream_status = (<Response>res).status
                w.stream_bytes = (<Response>res).body_bytes
                return 0
        k = self._finish(t, s, <Request>req, <Response>res)
        if self.slow_mem.data != NULL:
            self._slow_release(t)        # the request's head and body copies (req is done)
        return k

    @cython.final
    cdef inline int _finish(self, Transport t, Scratch* s, Request req, Response res) noexcept nogil:
        if not res.done:
            res.close = True
            res.error(500)               # the handler failed or sent nothing
        if self.cfg.log != NULL:
            log_request(t, s, self.cfg, req, res)
        self.requests += 1
        t.count_response(res.status)
        if res.close:
            t.close()
            return 1
        return 0

    cdef int send_complete(self, Transport t) noexcept nogil:
        """A streaming response's output was written: produce the next piece."""
        cdef Scratch* s
        cdef px_request* r
        cdef PyObject* req
        cdef PyObject* res
        cdef SlowState* w = <SlowState*>self.slow_mem.data
        if self.phase != PH_STREAM or w == NULL:
            return 0
        s = get_scratch(t)
        if s == NULL:
            return -1
        r = &s.resumed
        r.method_id = w.stream_method
        if w.stream_method:
            r.method.p = METHOD_NAMES[w.stream_method]
        else:
            r.method.p = b"-"
        r.method.n = strlen(r.method.p)
        r.minor_version = w.stream_minor
        r.target.p = w.stream_route.path
        r.target.n = w.stream_route.n
        r.path = r.target
        r.path_clean = 0
        r.query.p = NULL
        r.query.n = 0
        r.host.p = NULL
        r.host.n = 0
        r.num_headers = 0
        req = bind_request(s, t, r)
        (<Request>req).resumed = True
        (<Request>req).path = r.path
        res = bind_response(s, t, self.cfg, req)
        (<Response>res).done = True
        (<Response>res).streaming = True
        (<Response>res).stream_chunked = w.stream_chunked
        (<Response>res).close = w.stream_close
        (<Response>res).status = w.stream_status
        (<Response>res).body_bytes = w.stream_bytes
        w.stream_route.handler(self, <Request>req, <Response>res)
        w.stream_bytes = (<Response>res).body_bytes
        if not (<Response>res).stream_ended and t.pending() == 0:
            # it produced nothing and would never be called again: end, and close
            # (the response may be cut short; a client must not take it as whole)
            (<Response>res).close = True
            if not w.stream_chunked:
                (<Response>res).stream_ended = True
            else:
                t.abort()
                self.phase = PH_HEAD
                self._slow_release(t)
                return 0
        if (<Response>res).stream_ended:
            self.phase = PH_HEAD
            self._finish(t, s, <Request>req, <Response>res)
            self._slow_release(t)
            # pipelined input pushed back meanwhile is re-delivered by the runtime
        return 0


# ------------------------------------------------------------ ready to serve

cdef class HelloWorld(HttpProtocol):
    """TechEmpower-style /plaintext and /json."""

    def prepare(self):
        if not self.routes():
            self.route(b"/plaintext", <Handler>HelloWorld.plaintext)
            self.route(b"/json", <Handler>HelloWorld.json)

    cdef int plaintext(self, Request req, Response res) noexcept nogil:
        return res.send(200, "text/plain", b"Hello, World!", 13)

    cdef int json(self, Request req, Response res) noexcept nogil:
        res.json_start(64)
        res.j_begin_object()
        res.j_key("message", 7)
        res.j_str("Hello, World!", 13)
        res.j_end_object()
        return res.send_json(200)


cdef class Static(HttpProtocol):
    """Static files below `root` (GET/HEAD, conditional requests, Range, sendfile):
    pxcy.Server(Static("/srv/www"), port=8080)."""

    def __init__(self, root=".", **options):
        HttpProtocol.__init__(self, root, **options)
