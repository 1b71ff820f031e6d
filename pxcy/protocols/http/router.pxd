# Routes and the shared configuration (router.pxi).

cdef struct Route:
    char* path
    size_t n
    bint prefix
    uint32_t methods            # bit (1 << PX_METHOD_x); HEAD implied by GET
    bint stream_body            # the handler receives the body in pieces (req.body_more)
    Handler handler             # NULL: a Python route (pyroutes.pxi)
    int py_index                # Python routes: the function's index


cdef struct HttpConfig:
    Route* routes
    int nroutes
    char* root                  # static files: realpath of the root, NUL-terminated; NULL: none
    size_t root_n
    int root_fd                 # O_PATH descriptor of root (openat2 RESOLVE_BENEATH)
    bint follow_symlinks        # allow symlinks that lead outside root
    bint dotfiles               # serve names starting with '.'
    bint precompressed          # serve x.br / x.gz siblings to clients that accept them
    uint32_t request_timeout_ms # a request (head and body) must arrive within this
    uint32_t keepalive_ms       # idle keep-alive connections close after this
    size_t max_body             # decoded body of a buffered route
    size_t max_body_wire        # the same body on the wire (chunk framing included)
    px_log* log                 # access log; NULL: off
    uint8_t ops                 # OPS_HEALTH | OPS_METRICS (ops.pxi): /healthz, /metrics


cdef struct Scratch:            # per-worker state (Transport.scratch)
    uint64_t magic
    px_request r                # the head being parsed (scan state lives per connection)
    px_request resumed          # the empty head a resumed streaming handler sees
    char date[32]
    char head200[72]            # "HTTP/1.1 200 OK", Server and Date lines (HEAD200_LEN)
    char logdate[32]            # "[01/Dec/2026:21:30:00 +0000]"
    uint64_t date_at            # worker clock (ms) of the last Date refresh
    uint32_t boundary_seq
    bint draining               # the server drains (read once per data_received)
