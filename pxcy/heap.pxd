# cython: language_level=3
"""The per-connection block allocator (C in includes/heap.h). Private to the runtime.

Transient heap: bump allocation with snapshot/rollback; the runtime rolls it back
once what a callback sent has been written. Persistent heap: size-class free lists
for values a connection keeps on ``self``. Pools: one per worker thread, no locks.
Handlers normally reach these through ``Transport.alloc`` / ``Transport.persist``.
"""
from libc.stdint cimport uint64_t

cdef extern from "pxcy/includes/heap.h" nogil:
    enum: PXCY_ALIGN

    enum: PXCY_MAX_ALLOC

    ctypedef struct pxcy_block:
        pxcy_block* prev
        pxcy_block* next
        size_t cap
        size_t used

    ctypedef struct pxcy_pool:
        size_t nfree
        size_t max_free
        size_t block_size
        size_t live_blocks
        size_t live_bytes
        size_t peak

    ctypedef struct pxcy_heap:
        pxcy_block* top
        pxcy_block* bottom
        pxcy_pool* pool
        size_t bytes
        size_t limit

    ctypedef struct pxcy_snapshot:
        pxcy_block* top
        size_t used

    ctypedef struct pxcy_pheap:
        pxcy_heap blocks
        size_t bytes
        size_t limit

    void pxcy_pool_init(pxcy_pool* p, size_t block_size, size_t max_free)
    void pxcy_pool_clear(pxcy_pool* p)
    pxcy_block* pxcy_pool_get(pxcy_pool* p, size_t need)
    void pxcy_pool_put(pxcy_pool* p, pxcy_block* b)
    char* PXCY_PAYLOAD(pxcy_block* b)

    void pxcy_heap_init(pxcy_heap* h, pxcy_pool* pool, size_t limit)
    void* pxcy_heap_alloc(pxcy_heap* h, size_t n)
    char* pxcy_heap_reserve(pxcy_heap* h, size_t n)
    void pxcy_heap_commit(pxcy_heap* h, size_t n)
    char* pxcy_heap_end(const pxcy_heap* h)
    pxcy_snapshot pxcy_heap_snapshot(const pxcy_heap* h)
    void pxcy_heap_rollback(pxcy_heap* h, pxcy_snapshot s)
    void pxcy_heap_reset(pxcy_heap* h)
    size_t pxcy_heap_room(const pxcy_heap* h)
    void pxcy_heap_release_below(pxcy_heap* h, const pxcy_block* mark)
    pxcy_block* pxcy_heap_top(const pxcy_heap* h)
    int pxcy_heap_owns(const pxcy_heap* h, const void* p)

    void pxcy_pheap_init(pxcy_pheap* h, pxcy_pool* pool, size_t limit)
    void* pxcy_pheap_alloc(pxcy_pheap* h, size_t n)
    int pxcy_pheap_free(pxcy_pheap* h, void* p)
    void pxcy_pheap_reset(pxcy_pheap* h)
    pxcy_pheap* pxcy_pheap_new(pxcy_pool* pool, size_t limit)
    void pxcy_pheap_delete(pxcy_pheap* h)

cdef extern from "pxcy/includes/debug.h" nogil:
    int pxcy_debug_enabled
    int pxcy_debug_init()
    void pxcy_debug_fail(const char* file, int line, const char* fmt, ...)
    void PXCY_FAIL(const char* fmt, ...)
    int pxcy_debug_is_stale(const void* p)
    int pxcy_debug_is_heap(const void* p)
