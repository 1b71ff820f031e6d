# Declarations for Debian's libdatrie (libdatrie-dev, 0.2.x): <datrie/trie.h>.
# Only the read-side API is used by wikisearch; all of it is thread-safe for
# concurrent readers of one Trie as long as each thread uses its own TrieState.
from libc.stdint cimport int32_t, uint32_t, uint8_t
from libc.stdio cimport FILE

cdef extern from "datrie/trie.h" nogil:
    ctypedef enum Bool:
        DA_FALSE
        DA_TRUE

    ctypedef uint32_t AlphaChar      # alphabet character (we use U+0001..U+00FF = bytes)
    ctypedef unsigned char TrieChar
    ctypedef int32_t TrieIndex
    ctypedef int32_t TrieData        # the value stored per key (our page number)

    enum:
        TRIE_CHAR_TERM               # 0
        TRIE_CHAR_MAX                # 255
        TRIE_DATA_ERROR              # -1
    AlphaChar ALPHA_CHAR_ERROR

    ctypedef struct AlphaMap:
        pass
    ctypedef struct Trie:
        pass
    ctypedef struct TrieState:
        pass
    ctypedef struct TrieIterator:
        pass

    ctypedef Bool (*TrieEnumFunc)(const AlphaChar* key, TrieData key_data, void* user_data)

    # alpha map
    AlphaMap* alpha_map_new()
    void alpha_map_free(AlphaMap* alpha_map)
    int alpha_map_add_range(AlphaMap* alpha_map, AlphaChar begin, AlphaChar end)
    int alpha_char_strlen(const AlphaChar* str)
    int alpha_char_strcmp(const AlphaChar* str1, const AlphaChar* str2)

    # trie life cycle / IO (allocate)
    Trie* trie_new(const AlphaMap* alpha_map)
    Trie* trie_new_from_file(const char* path)
    Trie* trie_fread(FILE* file)
    void trie_free(Trie* trie)
    int trie_save(Trie* trie, const char* path)
    int trie_fwrite(Trie* trie, FILE* file)
    Bool trie_is_dirty(const Trie* trie)

    # dictionary ops (trie_retrieve does not allocate)
    Bool trie_retrieve(const Trie* trie, const AlphaChar* key, TrieData* o_data)
    Bool trie_store(Trie* trie, const AlphaChar* key, TrieData data)
    Bool trie_store_if_absent(Trie* trie, const AlphaChar* key, TrieData data)
    Bool trie_delete(Trie* trie, const AlphaChar* key)
    Bool trie_enumerate(const Trie* trie, TrieEnumFunc enum_func, void* user_data)

    # stepwise walking: trie_root and trie_state_clone malloc; the rest do not
    TrieState* trie_root(const Trie* trie)
    TrieState* trie_state_clone(const TrieState* s)
    void trie_state_copy(TrieState* dst, const TrieState* src)
    void trie_state_free(TrieState* s)
    void trie_state_rewind(TrieState* s)
    Bool trie_state_walk(TrieState* s, AlphaChar c)
    Bool trie_state_is_walkable(const TrieState* s, AlphaChar c)
    # mallocs (a Symbols set) for non-suffix states; not for suffix states
    int trie_state_walkable_chars(const TrieState* s, AlphaChar* chars, int chars_nelm)
    Bool trie_state_is_single(const TrieState* s)
    Bool trie_state_is_terminal(const TrieState* s)     # macro
    Bool trie_state_is_leaf(const TrieState* s)         # macro
    TrieData trie_state_get_data(const TrieState* s)

    # iteration: trie_iterator_new/next malloc; trie_iterator_get_key returns a
    # malloc'd, 0-terminated AlphaChar* (caller frees) holding the key *relative
    # to the iterator's start state*.
    TrieIterator* trie_iterator_new(TrieState* s)
    void trie_iterator_free(TrieIterator* iter)
    Bool trie_iterator_next(TrieIterator* iter)
    AlphaChar* trie_iterator_get_key(const TrieIterator* iter)
    TrieData trie_iterator_get_data(const TrieIterator* iter)
