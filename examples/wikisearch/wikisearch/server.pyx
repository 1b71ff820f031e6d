# cython: language_level=3
"""The wikisearch HTTP app: prefix search and article bytes from nogil handlers.

The main thread loads the index once (`load(index)`): the trie through libdatrie,
the offset arrays as read-only memory maps, the dump as an open descriptor. Every
worker then answers from those globals without the GIL: `/offsets/<prefix>` walks
the trie and writes JSON; `/wiki/<title>` and `/xml` (Range) send dump bytes with
sendfile.
"""
from libc.stdint cimport int32_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport calloc, malloc, free
from libc.string cimport memcpy
from posix.unistd cimport close as c_close

from pxcy.runtime cimport Transport
from pxcy.protocols.http11 cimport HttpProtocol, Request, Response, Handler, Slice
from wikisearch.datrie_c cimport Trie, trie_new_from_file, trie_free
from wikisearch.lookup cimport (PrefixHit, PrefixScratch, prefix_search, lookup_title,
                                prefix_scratch_new, prefix_scratch_free, PREFIX_TRUNCATED)

cdef extern from "pxcy/includes/atomics.h" nogil:
    uint64_t pxcy_load_u64(uint64_t* p)          # relaxed: counters read by other threads
    void pxcy_stat_add(uint64_t* p, uint64_t v)

cdef extern from "<fcntl.h>" nogil:
    int open(const char* path, int flags)
    enum: O_RDONLY, O_CLOEXEC

cdef enum:
    MAX_LIMIT = 1000
    DEFAULT_LIMIT = 20
    MAX_PREFIX = 1024            # bytes (titles are at most 255)
    KEYBUF = MAX_LIMIT * 512
    MAX_WORKERS = 4096


cdef struct WorkerState:        # per worker thread, made on its first search
    PrefixScratch* scratch
    PrefixHit hits[MAX_LIMIT + 1]
    char keybuf[KEYBUF]
    uint64_t requests
    char pad[64]


# ---- global read-only data, set by load() before serving
cdef Trie* TRIE = NULL
cdef const uint64_t[::1] OFFSETS
cdef const uint64_t[::1] ENDS
cdef int DUMP_FD = -1
cdef uint64_t DUMP_SIZE = 0
cdef int64_t PAGES = 0
cdef int WORKERS = 0
cdef char* PAGE_HTML = NULL
cdef size_t PAGE_HTML_N = 0
cdef WorkerState** STATES = NULL


def load(index, page_html, int workers):
    """Install `index` (wikisearch.index.WikiIndex) as the data every worker reads."""
    global TRIE, OFFSETS, ENDS, DUMP_FD, DUMP_SIZE, PAGES, WORKERS, PAGE_HTML, PAGE_HTML_N, STATES
    cdef int i
    unload()
    path = index.trie_path.encode()
    TRIE = trie_new_from_file(path)
    if TRIE == NULL:
        raise OSError(f"libdatrie cannot load {index.trie_path}")
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
        STATES[i].scratch = prefix_scratch_new(TRIE)
        if STATES[i].scratch == NULL:
            unload()
            raise MemoryError()


def unload():
    """Release what load() installed (call after the server stopped)."""
    global TRIE, DUMP_FD, PAGE_HTML, STATES
    cdef int i
    if STATES != NULL:
        for i in range(MAX_WORKERS):
            if STATES[i] != NULL:
                if STATES[i].scratch != NULL:
                    prefix_scratch_free(STATES[i].scratch)
                free(STATES[i])
        free(STATES)
        STATES = NULL
    if TRIE != NULL:
        trie_free(TRIE)
        TRIE = NULL
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
    res.json_start(64 + n)
    res.j_begin_object()
    res.j_key("error", 5)
    res.j_str(msg, n)
    res.j_end_object()
    return res.send_json(status)


cdef class WikiSearch(HttpProtocol):
    """GET / (search page), /offsets/<prefix>[?limit=N], /wiki/<title>, /xml (Range), /stats."""

    def prepare(self):
        if TRIE == NULL:
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
        return res.send(200, "text/html; charset=utf-8", PAGE_HTML, PAGE_HTML_N)

    cdef int offsets(self, Request req, Response res) noexcept nogil:
        cdef WorkerState* st = worker_state(<Transport>req.t)
        cdef Slice lim
        cdef long limit = DEFAULT_LIMIT
        cdef int n, i
        cdef int32_t page
        if st == NULL:
            return res.error(503)
        if req.arg.n == 0:
            return json_error(res, 400, "empty prefix", 12)
        if req.arg.n > MAX_PREFIX:
            return json_error(res, 400, "prefix too long", 15)
        lim = req.query_param("limit")
        if lim.p != NULL:
            # digits only (strtol alone would also take "+5", " 5", "-0")
            limit = 0
            for i in range(<int>lim.n):
                if lim.p[i] < c'0' or lim.p[i] > c'9' or limit > MAX_LIMIT:
                    limit = 0
                    break
                limit = limit * 10 + (lim.p[i] - c'0')
            if limit < 1 or limit > MAX_LIMIT:
                return json_error(res, 400, "limit must be an integer from 1 to 1000", 39)
        n = prefix_search(TRIE, req.arg.p, req.arg.n, <int>limit, st.hits, st.keybuf, KEYBUF,
                          st.scratch)
        if n < 0:
            return res.error(500)
        res.json_start(64 + n * 64)
        res.j_begin_array()
        for i in range(n):
            page = st.hits[i].page
            res.j_begin_array()
            res.j_str(st.keybuf + st.hits[i].key_off, st.hits[i].key_len)
            res.j_int(<int64_t>OFFSETS[page])
            res.j_int(<int64_t>ENDS[page])
            res.j_end_array()
        res.j_end_array()
        res.header("Cache-Control", "no-cache")
        return res.send_json(200)

    cdef int article(self, Request req, Response res) noexcept nogil:
        cdef int32_t page
        cdef WorkerState* st = worker_state(<Transport>req.t)
        if req.arg.n == 0 or req.arg.n > MAX_PREFIX or lookup_title(TRIE, req.arg.p, req.arg.n, &page) != 1 \
                or page < 0 or page >= PAGES:
            return json_error(res, 404, "no such title", 13)
        return res.sendfile(200, "application/xml; charset=utf-8", DUMP_FD, OFFSETS[page],
                            ENDS[page] - OFFSETS[page], False)

    cdef int xml(self, Request req, Response res) noexcept nogil:
        worker_state(<Transport>req.t)
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
        return res.send_json(200)
