# C-level title lookup over a wikisearch titles.trie (keys, see index.py: one
# trie symbol per UTF-8 byte of the title, AlphaChar == byte value 1..255).
# All functions are `noexcept nogil` and safe to call concurrently on one Trie
# as long as each thread uses its own PrefixScratch.
from libc.stdint cimport int32_t, uint32_t
from wikisearch.datrie_c cimport AlphaChar, Trie, TrieState

cdef enum:
    PREFIX_TRUNCATED = -2       # hits[k].page sentinel: keybuf was too small

cdef struct PrefixHit:
    int32_t page                # page number (0-based dump order)
    uint32_t key_off            # the title's UTF-8 bytes are keybuf[key_off : key_off + key_len]
    uint32_t key_len

cdef struct PrefixScratch:      # per-thread reusable search state (owns TrieState clones)
    const Trie* trie
    TrieState** states          # DFS stack, states[0] = state after the prefix
    int* next_char              # per depth: index of the next child in kids
    unsigned char* path         # per depth: byte taken below the prefix
    int* nkids                  # per depth: number of children (-1: not listed yet)
    AlphaChar* kids             # per depth: 256 slots, the children in byte order
    int cap

cdef PrefixScratch* prefix_scratch_new(const Trie* trie) noexcept nogil
cdef void prefix_scratch_free(PrefixScratch* sc) noexcept nogil

cdef int prefix_search(const Trie* trie, const char* prefix, size_t n, int limit,
                       PrefixHit* hits, char* keybuf, size_t keybuf_cap,
                       PrefixScratch* scratch) noexcept nogil

cdef int lookup_title(const Trie* trie, const char* key, size_t n, int32_t* out) noexcept nogil
