# cython: language_level=3
"""The wikisearch HTTP app: prefix search and article bytes from nogil handlers.

The main thread loads the index once (`load(index)`): the title arrays and the
offset arrays as read-only memory maps, the dump as an open descriptor. Every
worker then answers from those globals without the GIL: `/offsets/<prefix>` folds
the prefix with the index's table and binary-searches the sorted names, writing
JSON; `/wiki/<title>` and `/xml` (Range only) send dump bytes with sendfile.
Every response carries a Content-Security-Policy: the page's allows its own
inline script and style (by hash) and nothing else; the data responses' allow
nothing.
"""
from libc.stdint cimport int32_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport calloc, malloc, free
from libc.string cimport memcmp, memcpy
from posix.unistd cimport close as c_close

from pxcy.runtime cimport Transport
from pxcy.protocols.http11 cimport HttpProtocol, Request, Response, Handler, Slice
from pxcy.protocols.httpparse cimport (px_request, px_range, px_range_parse, PX_RANGE_MAX,
                                       PX_RANGE_IGNORE, PX_METHOD_GET)
from wikisearch.titleindex cimport (TitleIndex, Index, Hit, FOLD_MAX, ns_slot, fold_query, search,
                                    find_url_title)

import base64
import hashlib
import re

cdef extern from "pxcy/includes/atomics.h" nogil:
    uint64_t pxcy_load_u64(uint64_t* p)          # relaxed: counters read by other threads
    void pxcy_stat_add(uint64_t* p, uint64_t v)

cdef extern from *:
    void prefetch "__builtin_prefetch" (const void* p) nogil

cdef extern from "<fcntl.h>" nogil:
    int open(const char* path, int flags)
    enum: O_RDONLY, O_CLOEXEC

cdef enum:
    MAX_LIMIT = 1000
    DEFAULT_LIMIT = 20
    MAX_PREFIX = 1024            # bytes (titles are at most 255)
    MAX_WORKERS = 4096


cdef struct WorkerState:        # per worker thread, made by load()
    Hit hits[MAX_LIMIT]
    char folded[FOLD_MAX]
    char url[2 * MAX_PREFIX + 8]
    uint64_t requests
    char pad[64]


# ---- global read-only data, set by load() before serving
cdef const TitleIndex* TI = NULL
cdef object INDEX = None        # the titleindex.Index TI points into
cdef char* PAGE_CSP = NULL
cdef const uint64_t[::1] OFFSETS
cdef const uint64_t[::1] ENDS
cdef int DUMP_FD = -1
cdef uint64_t DUMP_SIZE = 0
cdef int64_t PAGES = 0
cdef int WORKERS = 0
cdef char* PAGE_HTML = NULL
cdef size_t PAGE_HTML_N = 0
cdef WorkerState** STATES = NULL
MAX_SERVER_WORKERS = MAX_WORKERS   # the most workers load() accepts


# Responses that are data, never documents to render: nothing in them may run.
DEF API_CSP = b"default-src 'none'; frame-ancestors 'none'; sandbox"


def page_csp(bytes html):
    """The page's Content-Security-Policy: its own inline <script>/<style> blocks (by
    hash) and fetches to this origin; nothing else (no eval, no other inline code)."""
    def hashes(tag):
        out = []
        for m in re.finditer(rb"<%s>(.*?)</%s>" % (tag, tag), html, re.S):
            out.append("'sha256-%s'" % base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode())
        return " ".join(out) or "'none'"
    return ("default-src 'none'; script-src %s; style-src %s; connect-src 'self'; img-src 'self'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
            % (hashes(b"script"), hashes(b"style"))).encode()


def load(index, page_html, int workers):
    """Install `index` (wikisearch.index.WikiIndex) as the data every worker reads."""
    global TI, INDEX, OFFSETS, ENDS, DUMP_FD, DUMP_SIZE, PAGES, WORKERS, PAGE_HTML, PAGE_HTML_N, STATES
    global PAGE_CSP
    cdef int i
    if workers < 1 or workers > MAX_WORKERS:
        # a worker without a search state would answer 503 to every request
        raise ValueError("workers must be from 1 to %d, not %d" % (MAX_WORKERS, workers))
    unload()
    INDEX = index.open_titles()
    TI = &(<Index>INDEX).ix
    csp = page_csp(bytes(page_html))
    PAGE_CSP = <char*>malloc(len(csp) + 1)
    memcpy(PAGE_CSP, <char*>csp, len(csp) + 1)
    OFFSETS = index.offsets
    ENDS = index.ends
    dump = index.dump_path.encode()
    DUMP_FD = open(dump, O_RDONLY | O_CLOEXEC)
    if DUMP_FD < 0:
        unload()
        raise OSError(f"cannot open dump {index.dump_path}")
    DUMP_SIZE = index.dump_size
    PAGES = index.page_count
    WORKERS = workers
    html = bytes(page_html)
    PAGE_HTML = <char*>malloc(len(html) + 1)
    memcpy(PAGE_HTML, <char*>html, len(html))
    PAGE_HTML_N = len(html)
    # per-worker search state, made here (not lazily by the workers) so that no
    # pointer is published across threads while serving
    STATES = <WorkerState**>calloc(MAX_WORKERS, sizeof(WorkerState*))
    if STATES == NULL:
        unload()
        raise MemoryError()
    for i in range(min(workers, MAX_WORKERS)):
        STATES[i] = <WorkerState*>calloc(1, sizeof(WorkerState))
        if STATES[i] == NULL:
            unload()
            raise MemoryError()


def unload():
    """Release what load() installed (call after the server stopped)."""
    global TI, INDEX, DUMP_FD, PAGE_HTML, STATES, PAGE_CSP
    cdef int i
    if STATES != NULL:
        for i in range(MAX_WORKERS):
            if STATES[i] != NULL:
                free(STATES[i])
        free(STATES)
        STATES = NULL
    TI = NULL
    INDEX = None
    free(PAGE_CSP)
    PAGE_CSP = NULL
    if DUMP_FD >= 0:
        c_close(DUMP_FD)
        DUMP_FD = -1
    free(PAGE_HTML)
    PAGE_HTML = NULL


def requests_served():
    cdef uint64_t n = 0
    cdef int i
    if STATES != NULL:
        for i in range(MAX_WORKERS):
            if STATES[i] != NULL:
                n += pxcy_load_u64(&STATES[i].requests)
    return n


cdef WorkerState* worker_state(Transport t) noexcept nogil:
    """This worker's search state (made by load()); counts the request."""
    cdef int w = t.worker_id()
    cdef WorkerState* st
    if STATES == NULL or w < 0 or w >= MAX_WORKERS:
        return NULL
    st = STATES[w]
    if st != NULL:
        pxcy_stat_add(&st.requests, 1)
    return st




cdef int json_error(Response res, int status, const char* msg, size_t n) noexcept nogil:
    res.header("Content-Security-Policy", API_CSP)
    res.json_start(64 + n)
    res.j_begin_object()
    res.j_key("error", 5)
    res.j_str(msg, n)
    res.j_end_object()
    return res.send_json(status)


cdef inline void j_title(Response res, int32_t p) noexcept nogil:
    res.j_str(TI.titles + TI.toff[p], TI.toff[p + 1] - TI.toff[p])


cdef long parse_int(Slice s, long lo, long hi, bint* ok) noexcept nogil:
    """Decimal integer in [lo, hi] (an optional '-', digits only)."""
    cdef long v = 0
    cdef size_t i = 0
    cdef bint neg = False
    ok[0] = False
    if s.n and s.p[0] == c'-':
        neg = True
        i = 1
    if i >= s.n or s.n - i > 9:
        return 0
    while i < s.n:
        if s.p[i] < c'0' or s.p[i] > c'9':
            return 0
        v = v * 10 + (s.p[i] - c'0')
        i += 1
    if neg:
        v = -v
    if v < lo or v > hi:
        return 0
    ok[0] = True
    return v


cdef inline bint slice_is(Slice s, const char* lit, size_t n) noexcept nogil:
    return s.p != NULL and s.n == n and memcmp(s.p, lit, n) == 0


# ---- the /offsets body, written directly: titles are valid UTF-8 (checked when the
# index was built), so JSON needs only '"', '\\' and control bytes escaped, and the
# generic writer's per-byte UTF-8 validation (most of a search's CPU) is not needed.

cdef const char* DIGITS2 = (b"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                            b"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                            b"8081828384858687888990919293949596979899")


cdef uint64_t POW10[20]
POW10[0] = 1
for _k in range(1, 20):
    POW10[_k] = POW10[_k - 1] * 10


cdef inline size_t put_u64(char* p, uint64_t v) noexcept nogil:
    """Decimal digits of v, two at a time from the end."""
    cdef size_t n = 1, i
    cdef uint64_t d
    while n < 20 and v >= POW10[n]:
        n += 1
    i = n
    while v >= 100:
        d = (v % 100) * 2
        v = v // 100
        p[i - 1] = DIGITS2[d + 1]
        p[i - 2] = DIGITS2[d]
        i -= 2
    if v >= 10:
        p[1] = DIGITS2[v * 2 + 1]
        p[0] = DIGITS2[v * 2]
    else:
        p[0] = <char>(c'0' + v)
    return n


cdef inline size_t put_raw(char* p, const char* s, size_t n) noexcept nogil:
    memcpy(p, s, n)
    return n


cdef size_t put_title(char* p, int32_t page) noexcept nogil:
    """The title of page as a JSON string; at most 6 * len + 2 bytes."""
    cdef const unsigned char* s = <const unsigned char*>TI.titles + TI.toff[page]
    cdef size_t n = TI.toff[page + 1] - TI.toff[page], i, o = 1
    cdef unsigned char c
    cdef uint64_t w
    p[0] = b'"'
    # the usual case, nothing to escape: checked 8 bytes at a time (a byte < 0x20,
    # '"' or '\\' sets the high bit of its lane), then one memcpy
    i = 0
    while i + 8 <= n:
        memcpy(&w, s + i, 8)
        if ((w - 0x2020202020202020ULL) | ((w ^ 0x2222222222222222ULL) - 0x0101010101010101ULL)
                | ((w ^ 0x5C5C5C5C5C5C5C5CULL) - 0x0101010101010101ULL)) & ~w & 0x8080808080808080ULL:
            break
        i += 8
    while i < n:
        c = s[i]
        if c < 0x20 or c == b'"' or c == b'\\':
            break
        i += 1
    if i == n:
        memcpy(p + 1, s, n)
        p[n + 1] = b'"'
        return n + 2
    for i in range(n):
        c = s[i]
        if c >= 0x20 and c != b'"' and c != b'\\':
            p[o] = <char>c
            o += 1
        elif c == b'"' or c == b'\\':
            p[o] = b'\\'
            p[o + 1] = <char>c
            o += 2
        else:
            memcpy(p + o, b"\\u00", 4)
            p[o + 4] = b"0123456789abcdef"[c >> 4]
            p[o + 5] = b"0123456789abcdef"[c & 15]
            o += 6
    p[o] = b'"'
    return o + 1


cdef inline size_t title_len(int32_t page) noexcept nogil:
    return TI.toff[page + 1] - TI.toff[page]


cdef int send_hits(Transport t, Response res, const Hit* hits, int n, bint full) noexcept nogil:
    """[[title, start, end], ...] or, full, [{"title", "start", "end", "ns", "redirect_from"}]."""
    cdef size_t need = 2, o = 0
    cdef int i
    cdef int32_t page, src
    cdef char* p
    for i in range(n):
        prefetch(&OFFSETS[hits[i].page])
        prefetch(&ENDS[hits[i].page])
    for i in range(n):
        need += 6 * title_len(hits[i].page) + 128
        if full:
            need += 6 * title_len(hits[i].src) + 64
    p = <char*>t.alloc(need)
    if p == NULL:
        return res.error(503)
    p[0] = b'['
    o = 1
    for i in range(n):
        page = hits[i].page
        if i:
            p[o] = b','
            o += 1
        if full:
            src = hits[i].src
            o += put_raw(p + o, b'{"title":', 9)
            o += put_title(p + o, page)
            o += put_raw(p + o, b',"start":', 9)
            o += put_u64(p + o, OFFSETS[page])
            o += put_raw(p + o, b',"end":', 7)
            o += put_u64(p + o, ENDS[page])
            o += put_raw(p + o, b',"ns":', 6)
            if TI.ns[page] < 0:
                p[o] = b'-'
                o += 1
            o += put_u64(p + o, <uint64_t>(-TI.ns[page] if TI.ns[page] < 0 else TI.ns[page]))
            o += put_raw(p + o, b',"redirect_from":', 17)
            if src != page:
                o += put_title(p + o, src)
            else:
                o += put_raw(p + o, b"null", 4)
            p[o] = b'}'
            o += 1
        else:
            p[o] = b'['
            o += 1
            o += put_title(p + o, page)
            p[o] = b','
            o += 1
            o += put_u64(p + o, OFFSETS[page])
            p[o] = b','
            o += 1
            o += put_u64(p + o, ENDS[page])
            p[o] = b']'
            o += 1
    p[o] = b']'
    o += 1
    return res.send(200, "application/json", p, o)


cdef class WikiSearch(HttpProtocol):
    """GET / (search page), /offsets/<prefix>[?limit=N&ns=N&format=full],
    /wiki/<title>[?redirect=no], /xml (Range required), /stats."""

    def prepare(self):
        if TI == NULL:
            raise RuntimeError("wikisearch.server.load(index) must run before serving")
        if not self.routes():
            self.route(b"/", <Handler>WikiSearch.page)
            self.route(b"/offsets/", <Handler>WikiSearch.offsets, True)
            self.route(b"/wiki/", <Handler>WikiSearch.article, True)
            self.route(b"/xml", <Handler>WikiSearch.xml)
            self.route(b"/stats", <Handler>WikiSearch.stats)

    cdef int page(self, Request req, Response res) noexcept nogil:
        worker_state(<Transport>req.t)
        res.header("Cache-Control", "no-cache")
        res.header("Content-Security-Policy", PAGE_CSP)
        res.header("X-Content-Type-Options", "nosniff")
        res.header("Referrer-Policy", "no-referrer")
        return res.send(200, "text/html; charset=utf-8", PAGE_HTML, PAGE_HTML_N)

    cdef int offsets(self, Request req, Response res) noexcept nogil:
        cdef WorkerState* st = worker_state(<Transport>req.t)
        cdef Slice v
        cdef long limit = DEFAULT_LIMIT, ns = 0
        cdef bint ok, full = False
        cdef int n, i, fn, slot
        cdef int32_t page, src
        if st == NULL:
            return res.error(503)
        if req.arg.n == 0:
            return json_error(res, 400, "empty prefix", 12)
        if req.arg.n > MAX_PREFIX:
            return json_error(res, 400, "prefix too long", 15)
        v = req.query_param("limit")
        if v.p != NULL:
            limit = parse_int(v, 1, MAX_LIMIT, &ok)
            if not ok or v.p[0] == c'-':
                return json_error(res, 400, "limit must be an integer from 1 to 1000", 39)
        v = req.query_param("ns")
        if v.p != NULL:
            ns = parse_int(v, -2147483647, 2147483647, &ok)
            if not ok:
                return json_error(res, 400, "ns must be an integer (a namespace number)", 42)
        v = req.query_param("format")
        if v.p != NULL:
            if slice_is(v, "full", 4):
                full = True
            elif not slice_is(v, "compact", 7):
                return json_error(res, 400, "format must be compact or full", 30)
        fn = fold_query(TI, req.arg.p, req.arg.n, st.folded, FOLD_MAX)
        if fn < 0:
            return json_error(res, 400, "prefix too long", 15)
        slot = ns_slot(TI, ns)
        n = search(TI, slot, req.arg.p, req.arg.n, st.folded, fn, <int>limit, st.hits)
        res.header("Cache-Control", "no-cache")
        res.header("Content-Security-Policy", API_CSP)
        return send_hits(<Transport>req.t, res, st.hits, n, full)

    cdef int article(self, Request req, Response res) noexcept nogil:
        cdef int32_t page = -1, t
        cdef WorkerState* st = worker_state(<Transport>req.t)
        if st == NULL:
            return res.error(503)
        if req.arg.n != 0 and req.arg.n <= MAX_PREFIX:
            page = find_url_title(TI, req.arg.p, req.arg.n, st.url, sizeof(st.url))
        if page < 0 or page >= PAGES:
            return json_error(res, 404, "no such title", 13)
        t = TI.target[page]
        if t >= 0 and t != page and not slice_is(req.query_param("redirect"), "no", 2):
            page = t            # a redirect answers its target (resolved at build time)
        res.header("Content-Security-Policy", API_CSP)
        res.header("X-Content-Type-Options", "nosniff")
        return res.sendfile(200, "application/xml; charset=utf-8", DUMP_FD, OFFSETS[page],
                            ENDS[page] - OFFSETS[page], False)

    cdef int xml(self, Request req, Response res) noexcept nogil:
        cdef px_request* r = req.r
        cdef px_range ranges[PX_RANGE_MAX]
        cdef size_t count = 0
        worker_state(<Transport>req.t)
        # as PyParallel's example: the dump is tens of GB, only byte ranges of it are
        # served. Whatever file_range would answer with the whole dump is refused
        # instead: no Range, one it ignores (unparsable, reversed, more than
        # PX_RANGE_MAX parts), or any If-Range (the dump has no validator, so an
        # If-Range never matches and the Range would be dropped). HEAD sends no body.
        if r.range.p == NULL or r.if_range.p != NULL or (r.method_id == PX_METHOD_GET
                and px_range_parse(r.range.p, r.range.n, DUMP_SIZE, ranges, PX_RANGE_MAX,
                                  &count) == PX_RANGE_IGNORE):
            return json_error(res, 400, "Ranged-request required", 23)
        res.header("Content-Security-Policy", API_CSP)
        res.header("X-Content-Type-Options", "nosniff")
        return res.file_range(DUMP_FD, 0, DUMP_SIZE, "application/xml; charset=utf-8", False)

    cdef int stats(self, Request req, Response res) noexcept nogil:
        cdef uint64_t served = 0
        cdef int i
        worker_state(<Transport>req.t)
        for i in range(WORKERS if WORKERS < MAX_WORKERS else MAX_WORKERS):
            if STATES[i] != NULL:
                served += pxcy_load_u64(&STATES[i].requests)
        res.json_start(256)
        res.j_begin_object()
        res.j_key("pages", 5)
        res.j_int(PAGES)
        res.j_key("dump_size", 9)
        res.j_int(<int64_t>DUMP_SIZE)
        res.j_key("workers", 7)
        res.j_int(WORKERS)
        res.j_key("requests", 8)
        res.j_int(<int64_t>served)
        res.j_end_object()
        res.header("Cache-Control", "no-cache")
        res.header("Content-Security-Policy", API_CSP)
        return res.send_json(200)
