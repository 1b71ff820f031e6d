# cython: language_level=3
"""Declarations a handler module cimports: Protocol, Transport, pxcy_bytes.

    from pxcy.runtime cimport Protocol, Transport, pxcy_bytes
"""
from cpython.object cimport PyObject
from libc.stdint cimport uint32_t, uint64_t, int64_t
from posix.types cimport pid_t
from pxcy.heap cimport pxcy_heap, pxcy_pheap, pxcy_pool

cdef extern from "<pthread.h>" nogil:
    ctypedef unsigned long pthread_t


# A byte string kept on `self` (persistent heap). Always NUL-terminated.
ctypedef struct pxcy_bytes:
    char* data
    size_t size


cdef struct OutItem:
    OutItem* next
    const char* data        # memory item: next unsent byte
    uint64_t off            # file item: next offset
    uint64_t len            # bytes left
    int fd                  # -1: memory item
    int close_fd            # file item: close fd when done


cdef struct Stats:
    uint64_t accepted
    uint64_t closed
    uint64_t rejected
    uint64_t bytes_in
    uint64_t bytes_out
    uint64_t callbacks
    uint64_t reads
    uint64_t writes
    uint64_t requests
    uint64_t errors
    uint64_t accept_pauses


cdef struct Conn:
    int fd
    uint32_t flags
    Worker* w
    Conn* prev              # worker's list of open connections
    Conn* next
    Conn* ready_next        # worker's list of connections with work to resume
    PyObject* proto         # this connection's clone of the prototype (right after Conn)
    pxcy_heap th            # transient heap
    pxcy_pheap ph           # persistent heap
    OutItem* out_head
    OutItem* out_tail
    uint64_t out_bytes      # unsent bytes (memory + file)
    char* inbuf             # input kept back by pushback (persistent heap)
    size_t inlen
    size_t pushback         # set by Transport.pushback during data_received
    size_t cur_len          # length of the data of the current data_received
    uint64_t last_active    # ms, worker clock
    uint64_t deadline       # ms, absolute; 0: none
    uint32_t idle_ms        # 0: none


cdef struct Config:
    int backlog
    int max_connections
    size_t read_size
    size_t max_pending_input
    size_t max_unsent
    size_t transient_limit
    size_t persistent_limit
    size_t block_size
    size_t pool_blocks
    uint32_t stop_timeout_ms
    uint32_t linger_ms


cdef struct Core:
    int lfd
    int nworkers
    Worker* workers
    PyObject* prototype
    size_t proto_size
    size_t conn_size
    Config cfg
    int stopping
    int active                  # open connections, all workers (atomic)


cdef struct Worker:
    int id
    int epfd
    int evfd
    int listening
    int running
    Core* core
    pthread_t thread
    pxcy_pool tpool             # transient blocks
    pxcy_pool ppool             # persistent blocks
    char* rbuf
    size_t rbuf_cap
    Conn* conns
    Conn* free_conns
    Conn* ready
    PyObject* transport
    uint64_t now
    uint64_t next_sweep
    uint64_t accept_resume
    uint64_t stop_deadline
    size_t nconns
    void* scratch               # Transport.scratch: per-worker memory for protocols
    size_t scratch_cap
    char* capture               # pxcy.testing: output collected instead of written
    size_t capture_len
    size_t capture_cap
    Stats stats


cdef class Transport:
    """The connection a callback runs for. Valid only during that callback."""
    cdef Conn* c
    cdef Worker* w

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
    # -- connection
    cdef void close(self) noexcept nogil
    cdef void abort(self) noexcept nogil
    cdef int peer(self, char* buf, size_t cap) noexcept nogil
    cdef int fileno(self) noexcept nogil
    cdef int worker_id(self) noexcept nogil
    cdef void set_idle_timeout(self, uint32_t ms) noexcept nogil
    cdef void set_deadline(self, uint32_t ms) noexcept nogil
    cdef uint64_t now_ms(self) noexcept nogil
    cdef void count_request(self) noexcept nogil
    # per-worker memory that outlives callbacks (zeroed when first made or grown;
    # keeps its contents otherwise): a protocol's per-thread parser state, caches
    cdef void* scratch(self, size_t n) noexcept nogil


cdef class Protocol:
    """Base class of handlers. Override the callbacks; keep only C-typed fields."""
    cdef int connection_made(self, Transport t) noexcept nogil
    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil
    cdef int send_complete(self, Transport t) noexcept nogil
    cdef void connection_lost(self, Transport t) noexcept nogil
