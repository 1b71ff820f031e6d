# Private records of the runtime (included into pxcy/runtime.pyx; never cimported
# by handler modules). docs/runtime.md draws the connection state machine.

# The lifecycle of a connection: one value, changed only by the functions in
# rt/connection.pyx. Input pauses, pushed-back input and "socket may hold more"
# are separate input conditions (Conn.paused, Conn.want), not lifecycle states.
cdef enum ConnState:
    CS_OPEN = 0          # reading and writing
    CS_RD_EOF = 1        # peer half-closed, eof_received kept it open: writing only
    CS_WR_SHUT = 2       # write_eof done (our FIN sent): reading only
    CS_CLOSING = 3       # close requested: write the queue, then connection_lost
    CS_LOST = 4          # connection_lost ran (or runs): protocol gone; the record may
                         # linger (our FIN sent, input discarded until FIN or timeout)
    CS_FREE = 5          # record on the worker's free list

# Conn.paused: why reading is paused (any bit set: no read, no data_received)
cdef enum:
    P_BACKPRESSURE = 1   # more than max_unsent waits to be written
    P_USER = 2           # Transport.pause_reading()
    P_STOP = 4           # the server stops: no more input; closed once send_complete queues nothing

# Conn.want: what the ready list should do for it
cdef enum:
    W_READ = 1           # the socket may hold unread bytes (budget spent, or paused)
    W_REDELIVER = 2      # pushed-back input should be delivered again without new bytes
    W_FLUSH = 4          # a streaming sender yielded: write and call send_complete
    W_HUP = 8            # epoll reported a hang-up: read to 0/EAGAIN whenever reading resumes
                         # (the one record of it: cleared only by that read, or conn_lost)

# Conn.after_drain: what to do once the output queue is empty
cdef enum:
    D_NONE = 0
    D_SHUT_WR = 1        # write_eof(): shutdown(SHUT_WR)

cdef enum TimerKind:
    T_USER = 1           # Transport.call_later -> Protocol.timer_fired
    T_CONN = 2           # the connection's idle / deadline / write-progress / linger timer
    T_ACCEPT = 3         # worker: resume accepting after a descriptor shortage


# What the timer heap orders. It is the first member of what it times (a Conn, a
# user Timer slot, the Worker), so the heap holds no slots of its own: an idle
# connection's timer costs its 24 B here and one heap pointer.
cdef struct TNode:
    uint64_t when               # ms, worker clock
    uint64_t seq                # arming order: equal `when` fire in order
    int32_t heap_i              # index in Worker.theap (-1: not armed)
    uint8_t kind                # TimerKind: what the node is the first member of


cdef struct OutItem:
    OutItem* next
    const char* data        # memory item: next unsent byte
    uint64_t off            # file item: next offset
    uint64_t len            # bytes left
    pxcy_block* mark        # heap segment end: blocks below it are free once this is written
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
    uint64_t turns              # loop iterations
    uint64_t budget_yields      # a connection used its read budget and went on the ready list
    uint64_t max_reads_per_turn # most reads one connection made in one turn
    uint64_t redeliveries       # pushed-back input delivered again without new bytes
    uint64_t eofs               # peer half-closes seen
    uint64_t idle_timeouts
    uint64_t deadline_timeouts
    uint64_t write_timeouts
    uint64_t timers_fired
    uint64_t input_peak         # largest input buffer of any connection (bytes)
    uint64_t refused_sends      # output refused (queued after close / from connection_lost)
    uint64_t connects           # outbound connections started (Transport.connect)
    uint64_t connect_errors     # ... that failed
    uint64_t defers             # Transport.defer requests
    uint64_t defer_dropped      # defer results whose connection had left
    uint64_t health_checks      # Transport.health_check (GET /healthz answered)
    uint64_t responses[6]       # Transport.count_response: by status class (0: other, 1xx..5xx)


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
    uint32_t write_timeout_ms
    uint32_t connect_timeout_ms # an outbound connect not up by then fails with ETIMEDOUT
    uint32_t read_budget        # reads per connection per loop turn


cdef struct Conn:
    TNode tn                    # first member: the connection's idle / deadline / write-progress / linger timer
    int fd
    uint8_t state               # ConnState
    uint8_t paused              # P_* bits
    uint8_t want                # W_* bits
    uint8_t after_drain         # D_*
    uint8_t made                # connection_made ran: connection_lost is due
    uint8_t peer_eof            # FIN received
    uint8_t sent                # output queued since the last send_complete
    uint8_t in_ready            # on the worker's ready list
    uint8_t stalled             # last pushback made no progress (k == n)
    uint8_t abort_req           # Transport.abort() during a callback
    uint8_t eof_pending         # FIN read behind pushed-back input: eof_received waits for it
    uint16_t err                # errno of the last failed operation (Transport.error)
    uint16_t reads_turn         # reads this loop turn (fairness)
    uint32_t turn               # loop turn (low bits of Worker.turn) reads_turn counts for
    Conn* prev                  # worker's list of open connections
    Conn* next
    Conn* ready_prev            # worker's ready list (O(1) removal)
    Conn* ready_next
    pxcy_heap th                # transient heap
    pxcy_pheap* ph              # persistent heap (made by the first Transport.persist; NULL until then)
    OutItem* out_head
    OutItem* out_tail
    uint64_t out_bytes          # unsent bytes (memory + file)
    pxcy_block* inb             # input buffer (only while input is pending)
    uint32_t in_off             # pending input: inb payload [in_off, in_len)
    uint32_t in_len
    uint64_t last_active        # ms, worker clock: last read or write progress
    uint64_t last_write         # ms: last write progress, or when the queue became non-empty
    uint64_t deadline           # ms, absolute; 0: none (set_deadline, a connect's connect_timeout, linger's end)
    uint32_t idle_ms            # 0: none
    int32_t t_user              # first user timer slot (list through Timer.cnext; -1: none)
    # handles, outbound connections (rt/handles.pyx, rt/connect.pyx): 0 unless used
    uint32_t hslot              # handle slot + 1 (0: no handle given out yet)
    uint8_t connecting          # outbound: 1 connect in progress, 2 failed at once (c.err)
    uint8_t pinned              # pxcy.testing.Harness's own record: conn_free leaves it to the Harness
    uint64_t origin             # outbound: handle of the connection that asked
    uint64_t token              # outbound: the token it gave


cdef struct Timer:              # a user timer (Transport.call_later)
    TNode n                     # first member (the heap points here)
    uint64_t token
    Conn* c
    uint32_t gen                # bumped when the slot is freed: stale ids are refused
    int32_t cnext               # connection's user timer list / free slot list
    int32_t cprev



cdef struct HSlot:
    Conn* c                     # NULL: free
    uint32_t gen                # bumped when freed: stale handles are refused
    int32_t next_free


# a defer() request (to the Python thread pool) and its result (to the worker)
cdef struct DJob:
    DJob* next
    Worker* w
    uint64_t handle
    uint64_t token
    int status
    size_t n
    char data[1]


cdef struct DQueue:             # the Python thread pool's job queue
    pthread_mutex_t lock
    pthread_cond_t cond
    DJob* head
    DJob* tail
    int stopping
    int ready                   # lock/cond initialised
    uint64_t deadline           # once stopping: jobs still queued then are not run (clock_ms)


cdef struct HostEnt:            # a name resolved before serving, for connect()
    char name[256]
    sockaddr_storage addr
    socklen_t len

cdef enum:
    MAX_LISTENERS = 32          # listening sockets one worker polls

cdef struct Core:
    int* lfds                   # every listening socket (owned; closed by core_free)
    int nlfds
    int draining                # Server.drain(): /healthz 503, Connection: close (read per request)
    int nworkers                # workers initialised (worker_free is safe on each)
    Worker** workers            # each its own cache-line-aligned allocation
    char* prototype             # the prototype snapshot taken at start() with the GIL
    size_t proto_size
    size_t conn_size
    Config cfg
    int stopping                # written once by stop(), read by workers every turn
    int* active                 # open connections, all workers (atomic; own cache line)
    char* client_proto          # Server(client=...): the outbound connections' prototype
    size_t client_size
    HostEnt* hosts              # Server(resolve=...): names connect() may use
    int nhosts
    DQueue* dq                  # Server(on_defer=...): the Python thread pool's queue


cdef struct Worker:
    TNode tn_accept             # first member: resume accepting after a descriptor shortage
    int id
    int epfd
    int evfd
    int listening
    int running
    int nlisten                 # the listeners this worker polls (shared ones, its own reuse_port ones)
    int lfd[MAX_LISTENERS]
    uint8_t ltcp[MAX_LISTENERS] # TCP: set TCP_NODELAY on accepted sockets
    uint8_t lexcl[MAX_LISTENERS] # shared with other workers: EPOLLEXCLUSIVE
    Core* core
    Config cfg                  # this worker's copy: no shared line read per turn
    pthread_t thread
    pxcy_pool tpool             # transient blocks (and input buffers)
    pxcy_pool ppool             # persistent blocks
    char* rbuf
    size_t rbuf_cap
    Conn* conns
    Conn* free_conns
    size_t nfree_conns
    Conn* ready                 # head of the ready list (doubly linked)
    Conn* ready_tail
    Conn* ready_stop            # the last entry of the running ready pass
    PyObject* transport
    uint64_t now
    uint64_t turn
    uint64_t health_last        # `now` of the last health check (0: none; Server.drain_seconds)
    # the callback running now (one at a time per worker): kept here, not per connection
    size_t cb_pushback          # set by Transport.pushback during data_received
    size_t cb_len               # length of the data of the current data_received
    char* resv                  # Transport.reserve: start of the reservation (NULL: none)
    size_t resv_len
    OutItem* resv_item          # the queue item made before the reservation (NULL: it continues the tail)
    uint64_t stop_deadline
    size_t nconns
    # timers (rt/timers.pyx): a binary min-heap of TNode pointers ordered by (when, seq)
    TNode** theap
    uint32_t theap_cap          # >= tnodes: arming never allocates
    uint32_t tlen               # nodes armed
    uint32_t tnodes             # nodes that may be armed: open records + user timers + accept
    Timer* tslots               # user timer slots, grown by doubling
    uint32_t tcap
    int32_t tfree
    uint64_t tseq
    HSlot* hslots               # handles (rt/handles.pyx), grown by doubling
    uint32_t hcap
    int32_t hfree
    DJob* done                  # defer results pushed by Python threads (lock-free stack)
    void* scratch               # Transport.scratch: per-worker memory for protocols
    size_t scratch_cap
    char* capture               # pxcy.testing: output collected instead of written
    size_t capture_len
    size_t capture_cap
    Stats stats
