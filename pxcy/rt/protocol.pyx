# Protocol: the base class of handlers (included into pxcy/runtime.pyx).

cdef class Protocol:
    """Base class of handlers.

    Subclass it in Cython and override any of the callbacks; each is called from a
    worker thread without the GIL and returns 0, or -1 to drop the connection.
    Each connection gets its own copy of the instance given to `Server` (or of
    `cls()`), snapshotted when the server starts, so C-typed fields (`cdef long n`,
    `cdef pxcy_bytes name`, C arrays, pointers to global read-only data) persist
    per connection. Classes whose layout holds Python objects, memoryviews, a
    `__weakref__` or `__dict__` slot, a `__dealloc__`, or fields set by `__cinit__`
    are refused: a copy made without the GIL cannot own any of those.

    Callbacks:
      connection_made(t)          the connection is up
      data_received(t, data, n)   n bytes (plus what was pushed back before)
      send_complete(t)            everything queued so far has been written
      eof_received(t)             the peer half-closed: return 0 to close once the
                                  queued output is written (default), 1 to keep the
                                  connection open for writing (close with t.close())
      timer_fired(t, token)       a timer set with t.call_later(ms, token) is due
      connect_done(t, token, h)   t.connect(host, port, token) finished: h is the new
                                  connection's handle, or 0 on failure (t.error())
      result_received(t, token, data, n, status)
                                  a t.defer(token, ...) came back: status 0 with the
                                  callable's bytes, -1 (no data) if it raised
      connection_lost(t)          exactly once, last; output queued here is refused

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

    cdef int eof_received(self, Transport t) noexcept nogil:
        return 0

    cdef int timer_fired(self, Transport t, uint64_t token) noexcept nogil:
        return 0

    cdef int connect_done(self, Transport t, uint64_t token, uint64_t handle) noexcept nogil:
        return 0

    cdef int result_received(self, Transport t, uint64_t token, const char* data, size_t n,
                             int status) noexcept nogil:
        return 0

    def prepare(self):
        """Called once, with the GIL, on the prototype before a server starts."""
        pass
