# The title index of a wikisearch index directory, as C arrays (memory maps of
# the index files, see index.py), and its nogil queries. No function here
# allocates; all are safe to call from any number of threads at once.
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcmp

cdef enum:
    NS_MAX = 64                 # namespaces an index may hold
    FOLD_MAX = 4096             # bytes of a folded query (a character folds to <= 33 bytes)
    SCAN_CAP = 65536            # candidates examined per search class (see search())
    FENCE_STEP = 32             # one fence per FENCE_STEP entries of each sorted order
    FENCE_BYTES = 16

cdef struct Fence:              # the first bytes of every FENCE_STEP-th sorted key, in one
    uint32_t len                # dense array: the binary search touches it, not the 4
    char key[FENCE_BYTES]       # scattered arrays a key is made of (see build_fences)

cdef struct TitleIndex:
    int64_t pages
    const char* titles          # real titles, page order, UTF-8, back to back
    const uint32_t* toff        # [pages + 1]: title of page p = titles[toff[p]:toff[p+1]]
    const uint8_t* skip         # [pages]: bytes of the "Namespace:" prefix of the title
    const int32_t* target       # [pages]: page shown for p (a redirect's resolved target,
                                #          else p); -1: duplicate title, not indexed
    const int32_t* ns           # [pages]: namespace of each page
    const char* keys            # folded names (title minus namespace prefix), sorted
    const uint32_t* koff        # [pages + 1]: key of entry e = keys[koff[e]:koff[e+1]]
    const int32_t* kpage        # [pages]: page of entry e (order: ns, key, name, page)
    const int32_t* rorder       # [pages]: pages in (ns, name bytes, page) order
    const int32_t* slots        # hash table of whole titles -> page (-1 empty)
    uint64_t mask               # slots has mask + 1 entries
    int nns
    int32_t ns_id[NS_MAX]       # namespaces present, ascending; entries ns_lo..ns_hi
    int64_t ns_lo[NS_MAX]
    int64_t ns_hi[NS_MAX]
    const char* ns_name[NS_MAX] # canonical names ("Category"), "" for 0
    uint32_t ns_name_n[NS_MAX]
    int nfold                   # fold table: sorted code points -> folded UTF-8
    const uint32_t* fold_cp
    const uint32_t* fold_off    # [nfold + 1] into fold_utf8
    const char* fold_utf8
    int nupper                  # upper-case table for MediaWiki's first-letter rule
    const uint32_t* upper_cp
    const uint32_t* upper_to
    Fence* name_fences          # of rorder (names), made at load time
    Fence* key_fences           # of keys (folded names)

cdef struct Hit:
    int32_t page                # the page to show (a redirect's target)
    int32_t src                 # the page whose title matched (== page unless a redirect)

cdef inline int bytes_cmp(const char* a, size_t an, const char* b, size_t bn) noexcept nogil:
    cdef int c = memcmp(a, b, an if an < bn else bn)
    if c:
        return c
    return (an > bn) - (an < bn)


cdef inline uint64_t fnv1a(const char* p, size_t n) noexcept nogil:
    cdef uint64_t h = 1469598103934665603ULL
    cdef size_t i
    for i in range(n):
        h ^= <unsigned char>p[i]
        h *= 1099511628211ULL
    return h


cdef int ns_slot(const TitleIndex* ix, int64_t ns) noexcept nogil
cdef int fold_query(const TitleIndex* ix, const char* q, size_t n, char* out, size_t cap) noexcept nogil
cdef int search(const TitleIndex* ix, int slot, const char* q, size_t qn, const char* fq, size_t fqn,
                int limit, Hit* hits) noexcept nogil
cdef int32_t find_title(const TitleIndex* ix, const char* t, size_t n) noexcept nogil
cdef int32_t find_url_title(const TitleIndex* ix, const char* t, size_t n, char* buf,
                            size_t cap) noexcept nogil

cdef class Index:
    cdef TitleIndex ix
    cdef object keep            # the arrays the pointers point into
