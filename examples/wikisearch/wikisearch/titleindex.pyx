# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""nogil queries over the sorted title arrays of an index (the C helpers that build
them are in titlesort.pyx).

Prefix search is two binary searches and two forward scans over memory-mapped,
sorted arrays: no trie nodes, no allocation, cache-friendly once the top levels of
the binary search are warm. See search() for the ranking.
"""
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcmp, memcpy, memset

import numpy as np

cdef extern from *:
    void prefetch "__builtin_prefetch" (const void* p) nogil


# ------------------------------------------------------------------ helpers

cdef inline bint starts_with(const char* a, size_t an, const char* p, size_t pn) noexcept nogil:
    return an >= pn and memcmp(a, p, pn) == 0


cdef inline const char* name_of(const TitleIndex* ix, int32_t p, size_t* n) noexcept nogil:
    cdef uint32_t a = ix.toff[p] + ix.skip[p]
    n[0] = ix.toff[p + 1] - a
    return ix.titles + a


cdef int ns_slot(const TitleIndex* ix, int64_t ns) noexcept nogil:
    """Slot of namespace ns in ix.ns_*, or -1 when the index has no page in it."""
    cdef int i
    for i in range(ix.nns):
        if ix.ns_id[i] == ns:
            return i
    return -1


cdef inline int utf8_char(const unsigned char* p, size_t n, uint32_t* cp) noexcept nogil:
    """Length of the valid UTF-8 character at p (and its code point), 0 if invalid."""
    cdef unsigned char b = p[0]
    cdef uint32_t c
    cdef int k, i
    if b < 0x80:
        cp[0] = b
        return 1
    if b >= 0xC2 and b <= 0xDF:
        k, c = 2, b & 0x1F
    elif b >= 0xE0 and b <= 0xEF:
        k, c = 3, b & 0x0F
    elif b >= 0xF0 and b <= 0xF4:
        k, c = 4, b & 0x07
    else:
        return 0
    if <size_t>k > n:
        return 0
    for i in range(1, k):
        if (p[i] & 0xC0) != 0x80:
            return 0
        c = (c << 6) | (p[i] & 0x3F)
    if (k == 3 and (c < 0x800 or (c >= 0xD800 and c <= 0xDFFF))) or (k == 4 and (c < 0x10000 or c > 0x10FFFF)):
        return 0
    cp[0] = c
    return k


cdef inline int find_cp(const uint32_t* table, int n, uint32_t cp) noexcept nogil:
    cdef int lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if table[mid] < cp:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < n and table[lo] == cp else -1


cdef int fold_query(const TitleIndex* ix, const char* q, size_t n, char* out, size_t cap) noexcept nogil:
    """out = fold(q) with the index's table (bytes that are not UTF-8 stay as they are).
    Returns the length, or -1 if it does not fit in cap bytes."""
    cdef const unsigned char* p = <const unsigned char*>q
    cdef size_t i = 0, o = 0, fl
    cdef uint32_t cp
    cdef int k, j
    while i < n:
        if p[i] < 0x80:
            if o >= cap:
                return -1
            out[o] = <char>(p[i] + 32 if p[i] >= c'A' and p[i] <= c'Z' else p[i])
            o += 1
            i += 1
            continue
        k = utf8_char(p + i, n - i, &cp)
        if k == 0:
            if o >= cap:
                return -1
            out[o] = <char>p[i]
            o += 1
            i += 1
            continue
        j = find_cp(ix.fold_cp, ix.nfold, cp)
        if j >= 0:
            fl = ix.fold_off[j + 1] - ix.fold_off[j]
            if o + fl > cap:
                return -1
            memcpy(out + o, ix.fold_utf8 + ix.fold_off[j], fl)
            o += fl
        else:
            if o + <size_t>k > cap:
                return -1
            memcpy(out + o, q + i, k)
            o += k
        i += k
    return <int>o


cdef inline bint seen(const Hit* hits, int count, int32_t page) noexcept nogil:
    cdef int i
    for i in range(count):
        if hits[i].page == page:
            return True
    return False


cdef inline int fence_vs(const Fence* f, const char* q, size_t qn) noexcept nogil:
    """-1 if the fence's key < q, 1 if >= q, 0 if its stored bytes cannot tell."""
    cdef size_t m = f.len if f.len < FENCE_BYTES else FENCE_BYTES
    cdef int c = memcmp(f.key, q, m if m < qn else qn)
    if c:
        return -1 if c < 0 else 1
    if qn <= m:
        return 1                    # q is a prefix of the key: key >= q
    if f.len <= FENCE_BYTES:
        return -1                   # the whole key is a proper prefix of q
    return 0


cdef inline int key_vs(const TitleIndex* ix, bint names, int64_t e, const char* q, size_t qn) noexcept nogil:
    cdef const char* s
    cdef size_t sn
    if names:
        s = name_of(ix, ix.rorder[e], &sn)
    else:
        s = ix.keys + ix.koff[e]
        sn = ix.koff[e + 1] - ix.koff[e]
    return bytes_cmp(s, sn, q, qn)


cdef int64_t lower_bound(const TitleIndex* ix, bint names, int64_t lo, int64_t hi,
                         const char* q, size_t qn) noexcept nogil:
    """First entry e in [lo, hi) of an order whose key >= q (hi if none): a binary
    search over the fences first, then within the FENCE_STEP entries they leave."""
    cdef const Fence* fs = ix.name_fences if names else ix.key_fences
    cdef int64_t jlo = (lo + FENCE_STEP - 1) // FENCE_STEP, jhi = (hi + FENCE_STEP - 1) // FENCE_STEP
    cdef int64_t a, b, mid, j
    cdef int c
    if fs != NULL and jlo < jhi:
        a, b = jlo, jhi             # first fence j with key(j * STEP) >= q
        while a < b:
            mid = (a + b) >> 1
            c = fence_vs(&fs[mid], q, qn)
            if c == 0:
                c = -1 if key_vs(ix, names, mid * FENCE_STEP, q, qn) < 0 else 1
            if c < 0:
                a = mid + 1
            else:
                b = mid
        j = a
        b = j * FENCE_STEP if j < jhi else hi
        a = (j - 1) * FENCE_STEP + 1 if j > jlo else lo
        lo, hi = a, b
        # the window's keys are scattered: request them all now, so that the few
        # dependent steps below find them arriving in parallel
        for j in range(lo, hi):
            if names:
                prefetch(&ix.toff[ix.rorder[j]])
                prefetch(&ix.skip[ix.rorder[j]])
            else:
                prefetch(ix.keys + ix.koff[j])
    while lo < hi:
        mid = (lo + hi) >> 1
        if key_vs(ix, names, mid, q, qn) < 0:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef Fence* build_fences(const TitleIndex* ix, bint names) noexcept nogil:
    cdef int64_t n = (ix.pages + FENCE_STEP - 1) // FENCE_STEP, j
    cdef Fence* fs
    cdef const char* s
    cdef size_t sn
    if n == 0:
        return NULL
    fs = <Fence*>malloc(n * sizeof(Fence))
    if fs == NULL:
        return NULL
    for j in range(n):
        if names:
            s = name_of(ix, ix.rorder[j * FENCE_STEP], &sn)
        else:
            s = ix.keys + ix.koff[j * FENCE_STEP]
            sn = ix.koff[j * FENCE_STEP + 1] - ix.koff[j * FENCE_STEP]
        fs[j].len = <uint32_t>sn
        memset(fs[j].key, 0, FENCE_BYTES)
        memcpy(fs[j].key, s, sn if sn < FENCE_BYTES else FENCE_BYTES)
    return fs


cdef int search(const TitleIndex* ix, int slot, const char* q, size_t qn, const char* fq, size_t fqn,
                int limit, Hit* hits) noexcept nogil:
    """Up to `limit` pages of namespace slot `slot` whose name (title without its
    namespace prefix) starts with the bytes q, or whose folded name starts with fq
    (= fold_query(q)). Order: first the exact-case matches in name byte order, then
    the folded-only matches in (folded name, name) order. A redirect counts as its
    target, and each page is listed once (at its first position). Each class looks
    at SCAN_CAP candidates at most (many redirects to one page could otherwise make
    one request scan the whole index). Returns the number of hits written."""
    cdef int64_t lo, hi, e
    cdef int count = 0, scanned
    cdef int32_t p, t
    cdef const char* s
    cdef size_t sn
    if slot < 0 or slot >= ix.nns or limit <= 0:
        return 0
    lo = ix.ns_lo[slot]
    hi = ix.ns_hi[slot]
    # 1. exact-case: binary search in rorder, then scan forward
    scanned = 0
    e = lower_bound(ix, True, lo, hi, q, qn)
    while e < hi and count < limit and scanned < SCAN_CAP:
        # The candidates' arrays are scattered: ask for the next ones' early, so
        # their cache misses overlap (at 27 M titles they are most of a search).
        if e + 8 < hi:
            p = ix.rorder[e + 8]
            prefetch(&ix.toff[p])
            prefetch(&ix.skip[p])
            prefetch(&ix.target[p])
        if e + 4 < hi:
            p = ix.rorder[e + 4]
            prefetch(ix.titles + ix.toff[p])
        p = ix.rorder[e]
        s = name_of(ix, p, &sn)
        if not starts_with(s, sn, q, qn):
            break
        t = ix.target[p]
        if t >= 0 and not seen(hits, count, t):
            hits[count].page = t
            hits[count].src = p
            count += 1
        e += 1
        scanned += 1
    if count >= limit:
        return count
    # 2. folded: binary search in keys, scan forward, skip what class 1 had
    scanned = 0
    e = lower_bound(ix, False, lo, hi, fq, fqn)
    while e < hi and count < limit and scanned < SCAN_CAP:
        if not starts_with(ix.keys + ix.koff[e], ix.koff[e + 1] - ix.koff[e], fq, fqn):
            break
        p = ix.kpage[e]
        t = ix.target[p]
        e += 1
        scanned += 1
        if t < 0:
            continue
        s = name_of(ix, p, &sn)
        if starts_with(s, sn, q, qn) or seen(hits, count, t):
            continue
        hits[count].page = t
        hits[count].src = p
        count += 1
    return count


cdef int32_t find_title(const TitleIndex* ix, const char* t, size_t n) noexcept nogil:
    """Page with exactly this title (the first one for a duplicate title), or -1."""
    cdef uint64_t i = fnv1a(t, n) & ix.mask
    cdef int32_t p
    if ix.slots == NULL:
        return -1
    while True:
        p = ix.slots[i]
        if p < 0:
            return -1
        if bytes_cmp(ix.titles + ix.toff[p], ix.toff[p + 1] - ix.toff[p], t, n) == 0:
            return p
        i = (i + 1) & ix.mask


cdef size_t put_utf8(char* s, uint32_t u) noexcept nogil:
    if u < 0x80:
        s[0] = <char>u
        return 1
    if u < 0x800:
        s[0] = <char>(0xC0 | (u >> 6))
        s[1] = <char>(0x80 | (u & 0x3F))
        return 2
    if u < 0x10000:
        s[0] = <char>(0xE0 | (u >> 12))
        s[1] = <char>(0x80 | ((u >> 6) & 0x3F))
        s[2] = <char>(0x80 | (u & 0x3F))
        return 3
    s[0] = <char>(0xF0 | (u >> 18))
    s[1] = <char>(0x80 | ((u >> 12) & 0x3F))
    s[2] = <char>(0x80 | ((u >> 6) & 0x3F))
    s[3] = <char>(0x80 | (u & 0x3F))
    return 4


cdef size_t ucfirst_into(const TitleIndex* ix, const char* s, size_t n, char* out) noexcept nogil:
    """out = s[:n] with its first character upper-cased; out has room for n + 3."""
    cdef uint32_t cp
    cdef int k, j
    cdef size_t m
    if n == 0:
        return 0
    k = utf8_char(<const unsigned char*>s, n, &cp)
    if k == 0:
        memcpy(out, s, n)
        return n
    if cp < 0x80:
        out[0] = <char>(cp - 32 if cp >= c'a' and cp <= c'z' else cp)
        m = 1
    else:
        j = find_cp(ix.upper_cp, ix.nupper, cp)
        m = put_utf8(out, ix.upper_to[j] if j >= 0 else cp)
    memcpy(out + m, s + k, n - k)
    return m + n - k


cdef int32_t find_url_title(const TitleIndex* ix, const char* t, size_t n, char* buf,
                            size_t cap) noexcept nogil:
    """Page for a title as Wikipedia's URLs write it: underscores for spaces
    (leading/trailing ones ignored), the first letter of the name in either case, the
    namespace name in any ASCII case or with its first letter in either case. buf: scratch of cap >= 2 * n + 8 bytes."""
    cdef size_t i, m = 0, colon, k, nn
    cdef int32_t p
    cdef int j
    cdef bint same
    cdef char* a = buf
    cdef char* b
    cdef char c
    if cap < 2 * n + 8:
        return -1
    b = buf + n + 4
    for i in range(n):
        c = t[i]
        a[m] = b' ' if c == b'_' else c
        m += 1
    i = 0
    while i < m and a[i] == b' ':
        i += 1
    while m > i and a[m - 1] == b' ':
        m -= 1
    a += i
    m -= i
    if m == 0:
        return -1
    p = find_title(ix, a, m)
    if p >= 0:
        return p
    # "ns:name" with the namespace name in another case
    colon = 0
    while colon < m and a[colon] != b':':
        colon += 1
    if colon < m and colon > 0:
        for j in range(ix.nns):
            nn = ix.ns_name_n[j]
            if nn == 0:
                continue
            same = nn == colon
            if same:
                for k in range(colon):
                    c = a[k]
                    if (c | 32 if b'A' <= c <= b'Z' else c) != \
                            (ix.ns_name[j][k] | 32 if b'A' <= ix.ns_name[j][k] <= b'Z' else ix.ns_name[j][k]):
                        same = False
                        break
            if not same:        # a non-ASCII name with its first letter in lower case
                k = ucfirst_into(ix, a, colon, b)           # ("категория:")
                same = k == nn and memcmp(b, ix.ns_name[j], nn) == 0
            if same:
                memcpy(b, ix.ns_name[j], nn)
                b[nn] = b':'
                k = colon + 1
                while k < m and a[k] == b' ':
                    k += 1
                i = ucfirst_into(ix, a + k, m - k, b + nn + 1)
                return find_title(ix, b, nn + 1 + i)
    i = ucfirst_into(ix, a, m, b)
    return find_title(ix, b, i)


# ------------------------------------------------------------ Python side

cdef class Index:
    """An index's title arrays opened for the nogil queries (and for tests).

    `arrays` (from index.load_index) maps names to numpy arrays (memory maps)."""

    def __init__(self, arrays, namespaces, fold_table):
        cdef int i
        cdef const char[::1] titles = arrays["titles"]
        cdef const uint32_t[::1] toff = arrays["title_offsets"]
        cdef const uint8_t[::1] skip = arrays["name_skip"]
        cdef const int32_t[::1] target = arrays["targets"]
        cdef const int32_t[::1] ns = arrays["namespaces"]
        cdef const char[::1] keys = arrays["keys"]
        cdef const uint32_t[::1] koff = arrays["key_offsets"]
        cdef const int32_t[::1] kpage = arrays["key_pages"]
        cdef const int32_t[::1] rorder = arrays["name_order"]
        cdef const int32_t[::1] slots = arrays["title_hash"]
        fold_cp = np.array(sorted(int(k) for k in fold_table["fold"]), dtype=np.uint32)
        folded = [fold_table["fold"][str(int(c))].encode("utf-8") for c in fold_cp]
        fold_off = np.zeros(len(folded) + 1, dtype=np.uint32)
        fold_off[1:] = np.cumsum([len(f) for f in folded]) if folded else []
        fold_utf8 = np.frombuffer(b"".join(folded) + b"\0", dtype=np.int8)
        upper_cp = np.array(sorted(int(k) for k in fold_table["upper"]), dtype=np.uint32)
        upper_to = np.array([ord(fold_table["upper"][str(int(c))]) for c in upper_cp], dtype=np.uint32)
        names = [(int(k), str(name).encode("utf-8"), int(lo), int(hi)) for k, name, lo, hi in namespaces]
        if len(names) > NS_MAX:
            raise ValueError("index has %d namespaces, at most %d are supported" % (len(names), NS_MAX))
        names_blob = [nm for _, nm, _, _ in names]
        self.keep = (arrays, fold_cp, fold_off, fold_utf8, upper_cp, upper_to, names_blob)
        cdef const uint32_t[::1] fc = fold_cp
        cdef const uint32_t[::1] fo = fold_off
        cdef const char[::1] fu = fold_utf8
        cdef const uint32_t[::1] uc = upper_cp
        cdef const uint32_t[::1] ut = upper_to
        n = len(target)
        if len(toff) != n + 1 or len(skip) != n or len(ns) != n or len(koff) != n + 1 \
                or len(kpage) != n or len(rorder) != n or len(slots) & (len(slots) - 1) or not len(slots):
            raise ValueError("inconsistent title arrays")
        self.ix.pages = n
        self.ix.titles = &titles[0] if len(titles) else NULL
        self.ix.toff = &toff[0]
        self.ix.skip = &skip[0] if n else NULL
        self.ix.target = &target[0] if n else NULL
        self.ix.ns = &ns[0] if n else NULL
        self.ix.keys = &keys[0] if len(keys) else NULL
        self.ix.koff = &koff[0]
        self.ix.kpage = &kpage[0] if n else NULL
        self.ix.rorder = &rorder[0] if n else NULL
        self.ix.slots = &slots[0]
        self.ix.mask = len(slots) - 1
        self.ix.nns = len(names)
        for i in range(len(names)):
            self.ix.ns_id[i] = names[i][0]
            self.ix.ns_name[i] = <const char*>names_blob[i]
            self.ix.ns_name_n[i] = len(names_blob[i])
            self.ix.ns_lo[i] = names[i][2]
            self.ix.ns_hi[i] = names[i][3]
        self.ix.nfold = len(fold_cp)
        self.ix.fold_cp = &fc[0] if len(fold_cp) else NULL
        self.ix.fold_off = &fo[0]
        self.ix.fold_utf8 = &fu[0]
        self.ix.nupper = len(upper_cp)
        self.ix.upper_cp = &uc[0] if len(upper_cp) else NULL
        self.ix.upper_to = &ut[0] if len(upper_cp) else NULL
        self.ix.name_fences = NULL
        self.ix.key_fences = NULL
        with nogil:
            self.ix.name_fences = build_fences(&self.ix, True)
            self.ix.key_fences = build_fences(&self.ix, False)
        if n and (self.ix.name_fences == NULL or self.ix.key_fences == NULL):
            raise MemoryError()

    def __dealloc__(self):
        free(self.ix.name_fences)
        free(self.ix.key_fences)
        self.ix.name_fences = NULL
        self.ix.key_fences = NULL

    def lower_bound(self, bint names, int64_t lo, int64_t hi, bytes q, bint fences=True):
        """For tests: lower_bound() with or without the fences."""
        cdef Fence* nf = self.ix.name_fences
        cdef Fence* kf = self.ix.key_fences
        cdef int64_t r
        if not fences:
            self.ix.name_fences = NULL
            self.ix.key_fences = NULL
        try:
            r = lower_bound(&self.ix, names, lo, hi, q, len(q))
        finally:
            self.ix.name_fences = nf
            self.ix.key_fences = kf
        return r

    def fold(self, bytes q):
        cdef char out[FOLD_MAX]
        cdef int k = fold_query(&self.ix, q, len(q), out, FOLD_MAX)
        if k < 0:
            raise ValueError("folded query too long")
        return out[:k]

    def search(self, bytes q, int ns=0, int limit=20):
        """[(page shown, page matched), ...] as /offsets answers it."""
        cdef char fq[FOLD_MAX]
        cdef Hit hits[1000]
        cdef int k, i, slot
        if limit > 1000:
            raise ValueError("limit > 1000")
        k = fold_query(&self.ix, q, len(q), fq, FOLD_MAX)
        if k < 0:
            raise ValueError("folded query too long")
        slot = ns_slot(&self.ix, ns)
        cdef const char* qp = q
        cdef size_t qn = len(q)
        with nogil:
            k = search(&self.ix, slot, qp, qn, fq, k, limit, hits)
        return [(hits[i].page, hits[i].src) for i in range(k)]

    def find(self, bytes t):
        p = find_title(&self.ix, t, len(t))
        return None if p < 0 else p

    def find_url(self, bytes t):
        cdef bytearray buf = bytearray(2 * len(t) + 8)
        p = find_url_title(&self.ix, t, len(t), buf, len(buf))
        return None if p < 0 else p

    def title(self, int p):
        return self.ix.titles[self.ix.toff[p]:self.ix.toff[p + 1]].decode("utf-8")
