# cython: language_level=3
"""Declarations a handler module cimports: Protocol, Transport, pxcy_bytes.

    from pxcy.runtime cimport Protocol, Transport, pxcy_bytes

Only the public API is here: the connection, worker and server records live in
pxcy/rt/*.pxd (private, included into pxcy/runtime.pyx) and a Transport reaches
them through opaque pointers, so handler modules do not compile against them.
"""
cimport cython
from libc.stdint cimport uint32_t, uint64_t, int64_t


# A byte string kept on `self` (persistent heap). Always NUL-terminated.
ctypedef struct pxcy_bytes:
    char* data
    size_t size


@cython.final
cdef class Transport:
    """The connection a callback runs for. Valid only during that callback."""
    cdef void* _conn            # private: the connection record (pxcy/rt/types.pxd)
    cdef void* _worker          # private: its worker

    # -- output (queued; written in one write/writev/sendfile batch after the callback)
    cdef int send(self, const void* data, size_t n) noexcept nogil
    cdef int send_nocopy(self, const void* data, size_t n) noexcept nogil
    cdef char* reserve(self, size_t n) noexcept nogil
    cdef int commit(self, size_t n) noexcept nogil
    cdef int sendfile(self, int fd, uint64_t offset, uint64_t count, bint close_after) noexcept nogil
    cdef int sendfile_path(self, const char* path, uint64_t offset, uint64_t count) noexcept nogil
    cdef uint64_t pending(self) noexcept nogil
    # -- memory
    cdef void* alloc(self, size_t n) noexcept nogil
    cdef pxcy_bytes persist(self, pxcy_bytes old, const void* data, size_t n) noexcept nogil
    cdef void forget(self, pxcy_bytes* value) noexcept nogil
    # -- input
    cdef int pushback(self, size_t n) noexcept nogil
    cdef void pause_reading(self) noexcept nogil
    cdef void resume_reading(self) noexcept nogil
    # -- connection
    cdef void close(self) noexcept nogil
    cdef void abort(self) noexcept nogil
    cdef int write_eof(self) noexcept nogil
    cdef int error(self) noexcept nogil
    cdef int peer(self, char* buf, size_t cap) noexcept nogil
    cdef int fileno(self) noexcept nogil
    cdef int worker_id(self) noexcept nogil
    cdef void set_idle_timeout(self, uint32_t ms) noexcept nogil
    cdef void set_deadline(self, uint32_t ms) noexcept nogil
    cdef uint64_t now_ms(self) noexcept nogil
    cdef void count_request(self) noexcept nogil
    # -- operations: draining (Server.drain / SIGTERM with a drain time), response
    # counts by status class (count_request included), Prometheus text of the counters
    cdef bint draining(self) noexcept nogil
    # a health check is being answered (a balancer is watching: the automatic drain
    # applies, see Server.drain_seconds); returns draining()
    cdef bint health_check(self) noexcept nogil
    cdef void count_response(self, int status) noexcept nogil
    cdef size_t metrics(self, char* buf, size_t cap) noexcept nogil
    # -- timers (belong to the connection: never fire after connection_lost)
    cdef int64_t call_later(self, uint32_t ms, uint64_t token) noexcept nogil
    cdef int cancel(self, int64_t timer_id) noexcept nogil
    # -- other connections of this worker, outbound connections, Python (docs/runtime.md)
    cdef uint64_t handle(self) noexcept nogil
    cdef int send_to(self, uint64_t handle, const void* data, size_t n) noexcept nogil
    cdef int close_handle(self, uint64_t handle) noexcept nogil
    cdef int write_eof_to(self, uint64_t handle) noexcept nogil
    cdef int connect(self, const char* host, int port, uint64_t token) noexcept nogil
    cdef uint64_t origin(self) noexcept nogil
    cdef uint64_t token(self) noexcept nogil
    cdef int defer(self, uint64_t token, const void* data, size_t n) noexcept nogil
    # per-worker memory that outlives callbacks (zeroed when first made or grown;
    # keeps its contents otherwise): a protocol's per-thread parser state, caches
    cdef void* scratch(self, size_t n) noexcept nogil


cdef class Protocol:
    """Base class of handlers. Override the callbacks; keep only C-typed fields."""
    cdef int connection_made(self, Transport t) noexcept nogil
    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil
    cdef int send_complete(self, Transport t) noexcept nogil
    cdef void connection_lost(self, Transport t) noexcept nogil
    cdef int eof_received(self, Transport t) noexcept nogil
    cdef int timer_fired(self, Transport t, uint64_t token) noexcept nogil
    cdef int connect_done(self, Transport t, uint64_t token, uint64_t handle) noexcept nogil
    cdef int result_received(self, Transport t, uint64_t token, const char* data, size_t n,
                             int status) noexcept nogil
