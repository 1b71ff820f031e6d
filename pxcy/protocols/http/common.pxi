# Per-worker scratch (Request/Response copies, parser, Date) and status lines.

cdef extern from "<sys/stat.h>" nogil:
    struct timespec_:
        long tv_sec
        long tv_nsec
    struct struct_stat "stat":
        long st_size
        unsigned long st_ino
        unsigned int st_mode
        timespec_ st_mtim
    int fstat(int fd, struct_stat* st)
    bint S_ISDIR(unsigned int m)
    bint S_ISREG(unsigned int m)


cdef enum:
    SCRATCH_MAGIC = 0x7078687474703131   # "pxhttp11"
    HEAD_MAX = 320                       # status line + fixed headers, without extras
    HEAD200_LEN = 68                     # Scratch.head200: 37 + PX_HTTP_DATE_LEN + 2

cdef px_limits LIMITS
LIMITS.max_request_line = 8192
LIMITS.max_header_bytes = 16384
LIMITS.max_headers = 64
LIMITS.require_host = 1          # RFC 9112 3.2: an HTTP/1.1 request without Host is a 400


if 37 + PX_HTTP_DATE_LEN + 2 != HEAD200_LEN:     # (not an assert: python -O drops those)
    raise ImportError("pxcy.protocols.http11: HEAD200_LEN does not match PX_HTTP_DATE_LEN")


cdef inline size_t round16(size_t n) noexcept nogil:
    return (n + 15) & ~(<size_t>15)


cdef Request REQ_PROTO = Request.__new__(Request)
cdef Response RES_PROTO = Response.__new__(Response)
cdef size_t REQ_SIZE = Py_TYPE(REQ_PROTO).tp_basicsize
cdef size_t RES_SIZE = Py_TYPE(RES_PROTO).tp_basicsize
cdef size_t REQ_OFF = round16(sizeof(Scratch))
cdef size_t RES_OFF = REQ_OFF + round16(REQ_SIZE)
cdef size_t SCRATCH_SIZE = RES_OFF + round16(RES_SIZE)
cdef void* REQ_PROTO_P = <void*>REQ_PROTO
cdef void* RES_PROTO_P = <void*>RES_PROTO


cdef inline Scratch* get_scratch(Transport t) noexcept nogil:
    """Per-worker request/response objects and parser state (made on first use)."""
    cdef Scratch* s = <Scratch*>t.scratch(SCRATCH_SIZE)
    cdef uint64_t now
    cdef int64_t wall
    if s == NULL:
        return NULL
    if s.magic != SCRATCH_MAGIC:
        memcpy(<char*>s + REQ_OFF, REQ_PROTO_P, REQ_SIZE)
        memcpy(<char*>s + RES_OFF, RES_PROTO_P, RES_SIZE)
        s.magic = SCRATCH_MAGIC
        s.date_at = 0
    now = t.now_ms()
    if s.date_at == 0 or now - s.date_at >= 1000:
        wall = <int64_t>time(NULL)
        px_http_date_format(s.date, wall)
        px_log_clf_time(s.logdate, wall)
        # a 200's first lines in one piece (Response._head copies them at once)
        memcpy(s.head200, b"HTTP/1.1 200 OK\r\nServer: pxcy\r\nDate: ", 37)
        memcpy(s.head200 + 37, s.date, PX_HTTP_DATE_LEN)
        memcpy(s.head200 + 37 + PX_HTTP_DATE_LEN, b"\r\n", 2)
        s.date_at = now if now else 1
    return s


cdef inline PyObject* bind_request(Scratch* s, Transport t, px_request* r) noexcept nogil:
    """The worker's Request, reset for the head r (borrowed)."""
    cdef PyObject* req = <PyObject*>(<char*>s + REQ_OFF)
    (<Request>req).r = r
    (<Request>req).t = <PyObject*>t
    (<Request>req).method = r.method
    (<Request>req).target = r.target
    (<Request>req).raw_path = r.path
    (<Request>req).query = r.query
    (<Request>req).host = r.host
    (<Request>req).minor = r.minor_version
    (<Request>req).arg.p = NULL
    (<Request>req).arg.n = 0
    if r.path_clean:                     # nothing to decode or clean: normalized() has no work
        (<Request>req).path = r.path
    else:
        (<Request>req).path.p = NULL
        (<Request>req).path.n = 0
    (<Request>req).body.p = NULL
    (<Request>req).body.n = 0
    (<Request>req).body_more = False
    (<Request>req).resumed = False
    return req


cdef inline PyObject* bind_response(Scratch* s, Transport t, HttpConfig* cfg, PyObject* req) noexcept nogil:
    """The worker's Response for req, empty (borrowed)."""
    cdef PyObject* res = <PyObject*>(<char*>s + RES_OFF)
    (<Response>res).t = <PyObject*>t
    (<Response>res).rq = req
    (<Response>res).cfg = cfg
    (<Response>res).extra_n = 0
    (<Response>res).extra_cap = 0
    (<Response>res).date = s.date
    (<Response>res).head200 = s.head200
    (<Response>res).done = False
    (<Response>res).close = False
    (<Response>res).status = 0
    (<Response>res).body_bytes = 0
    (<Response>res).streaming = False
    (<Response>res).stream_chunked = False
    (<Response>res).stream_discard = False
    (<Response>res).stream_ended = False
    return res


# RFC 9110 section 15 (and 9110's registered 1xx/4xx additions: 103 Early Hints,
# 421, 425, 428, 429, 431, 451, 511 from their RFCs): "NNN Reason"
cdef const char* reason_known(int status) noexcept nogil:
    if status == 200: return "200 OK"
    if status < 200:
        if status == 100: return "100 Continue"
        if status == 101: return "101 Switching Protocols"
        if status == 102: return "102 Processing"
        if status == 103: return "103 Early Hints"
        return NULL
    if status < 300:
        if status == 201: return "201 Created"
        if status == 202: return "202 Accepted"
        if status == 203: return "203 Non-Authoritative Information"
        if status == 204: return "204 No Content"
        if status == 205: return "205 Reset Content"
        if status == 206: return "206 Partial Content"
        if status == 207: return "207 Multi-Status"
        if status == 208: return "208 Already Reported"
        if status == 226: return "226 IM Used"
        return NULL
    if status < 400:
        if status == 300: return "300 Multiple Choices"
        if status == 301: return "301 Moved Permanently"
        if status == 302: return "302 Found"
        if status == 303: return "303 See Other"
        if status == 304: return "304 Not Modified"
        if status == 305: return "305 Use Proxy"
        if status == 307: return "307 Temporary Redirect"
        if status == 308: return "308 Permanent Redirect"
        return NULL
    if status < 500:
        if status == 400: return "400 Bad Request"
        if status == 401: return "401 Unauthorized"
        if status == 402: return "402 Payment Required"
        if status == 403: return "403 Forbidden"
        if status == 404: return "404 Not Found"
        if status == 405: return "405 Method Not Allowed"
        if status == 406: return "406 Not Acceptable"
        if status == 407: return "407 Proxy Authentication Required"
        if status == 408: return "408 Request Timeout"
        if status == 409: return "409 Conflict"
        if status == 410: return "410 Gone"
        if status == 411: return "411 Length Required"
        if status == 412: return "412 Precondition Failed"
        if status == 413: return "413 Content Too Large"
        if status == 414: return "414 URI Too Long"
        if status == 415: return "415 Unsupported Media Type"
        if status == 416: return "416 Range Not Satisfiable"
        if status == 417: return "417 Expectation Failed"
        if status == 418: return "418 (Unused)"
        if status == 421: return "421 Misdirected Request"
        if status == 422: return "422 Unprocessable Content"
        if status == 423: return "423 Locked"
        if status == 424: return "424 Failed Dependency"
        if status == 425: return "425 Too Early"
        if status == 426: return "426 Upgrade Required"
        if status == 428: return "428 Precondition Required"
        if status == 429: return "429 Too Many Requests"
        if status == 431: return "431 Request Header Fields Too Large"
        if status == 451: return "451 Unavailable For Legal Reasons"
        return NULL
    if status == 500: return "500 Internal Server Error"
    if status == 501: return "501 Not Implemented"
    if status == 502: return "502 Bad Gateway"
    if status == 503: return "503 Service Unavailable"
    if status == 504: return "504 Gateway Timeout"
    if status == 505: return "505 HTTP Version Not Supported"
    if status == 506: return "506 Variant Also Negotiates"
    if status == 507: return "507 Insufficient Storage"
    if status == 508: return "508 Loop Detected"
    if status == 510: return "510 Not Extended"
    if status == 511: return "511 Network Authentication Required"
    return NULL


cdef const char* CLASS_REASON[6]
CLASS_REASON[1] = "Informational"
CLASS_REASON[2] = "Success"
CLASS_REASON[3] = "Redirection"
CLASS_REASON[4] = "Client Error"
CLASS_REASON[5] = "Server Error"


cdef int status_line(char* out, int status) noexcept nogil:
    """'NNN Reason' into out (64 bytes): its own code always, a generic reason for
    the class when the code is not registered; outside 100-599: 500."""
    cdef const char* why
    cdef size_t k
    if status < 100 or status > 599:
        status = 500
    why = reason_known(status)
    if why != NULL:                     # (no snprintf: this is on every response)
        k = strlen(why)
        memcpy(out, why, k)
        return <int>k
    out[0] = <char>(48 + status // 100)
    out[1] = <char>(48 + status // 10 % 10)
    out[2] = <char>(48 + status % 10)
    out[3] = b' '
    k = strlen(CLASS_REASON[status // 100])
    memcpy(out + 4, CLASS_REASON[status // 100], k)
    return <int>(4 + k)


cdef inline int valid_status(int status) noexcept nogil:
    return status if 100 <= status <= 599 else 500


cdef inline bint status_has_body(int status) noexcept nogil:
    return status >= 200 and status != 204 and status != 304


cdef inline char* put(char* p, const char* s, size_t n) noexcept nogil:
    memcpy(p, s, n)
    return p + n


cdef inline char* puts(char* p, const char* s) noexcept nogil:
    return put(p, s, strlen(s))
