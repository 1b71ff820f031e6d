/* pxcy block allocator: per-connection heaps carved from per-thread block pools.
 *
 * transient heap: bump allocation, snapshot/rollback. Every allocation a callback
 *   makes comes from here; the runtime rolls it back once what the callback sent
 *   has been written, so a response buffer lives exactly until its send completes.
 * persistent heap: size-class free lists (16 B .. 2 KiB) on small blocks plus
 *   dedicated chunks for larger values; holds what a connection keeps on `self`
 *   and is released whole when the connection ends.
 * pool: one per worker thread, never shared, so no locks. Standard-size blocks are
 *   recycled through a bounded free list; larger ones go back to the system.
 *
 * FIFO release: a transient heap is also a queue of blocks (oldest at `bottom`).
 *   The runtime marks where each callback's allocations end and, once the output
 *   that refers to them is written, releases the blocks below the mark
 *   (pxcy_heap_release_below) while newer callbacks' blocks stay: memory is
 *   reclaimed as output drains, not only when the whole queue is empty.
 *
 * Sizes: every request is checked against PXCY_MAX_ALLOC before rounding, and
 *   limits are compared without `a + b` overflow, so a huge n fails cleanly.
 *
 * Debug mode (pxcy_debug_enabled, from PXCY_DEBUG=1 or a PXCY_DEBUG_BUILD build):
 * blocks are mmap'd; rolled-back blocks are poisoned (0xDB) and made inaccessible
 * (PROT_NONE) in a quarantine ring, partial rollbacks are poisoned, and pointers
 * handed to the transport are checked for ownership. Violations abort with a
 * message naming the check, the file and line, and a backtrace (see debug.h).
 */
#ifndef PXCY_HEAP_H
#define PXCY_HEAP_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "debug.h"

#define PXCY_ALIGN 16
#define PXCY_ROUND(n) (((n) + (PXCY_ALIGN - 1)) & ~(size_t)(PXCY_ALIGN - 1))
/* Largest single request: PXCY_ROUND and header arithmetic cannot wrap below it. */
#define PXCY_MAX_ALLOC (((size_t)1 << (sizeof(size_t) * 8 - 2)))
#define PXCY_BIG_CACHE 4   /* oversized free blocks a pool keeps for reuse */
#define PXCY_BLOCK_MAGIC 0x70786379626c6bULL /* "pxcyblk" */

typedef struct pxcy_block {
    struct pxcy_block *prev;  /* next older block of the same heap / next free block */
    struct pxcy_block *next;  /* next newer block of the same heap */
    size_t cap;               /* payload bytes */
    size_t used;              /* payload bytes handed out */
    uint64_t magic;
    void *owner;              /* owning heap (debug ownership checks) */
    size_t map_len;           /* debug: length of the mapping (0: malloc'd) */
} __attribute__((aligned(PXCY_ALIGN))) pxcy_block;

#define PXCY_PAYLOAD(b) ((char *)(b) + sizeof(pxcy_block))

typedef struct pxcy_pool {
    pxcy_block *free;
    size_t nfree;
    size_t max_free;      /* free blocks kept for reuse */
    size_t block_size;    /* payload bytes of a standard block */
    size_t live_blocks;   /* blocks handed out (stats) */
    size_t live_bytes;
    pxcy_block *big[PXCY_BIG_CACHE]; /* oversized blocks kept for reuse (large sends, input) */
    size_t peak;          /* the largest `bytes` any heap of this pool reached (stats) */
} pxcy_pool;

static inline void pxcy_pool_init(pxcy_pool *p, size_t block_size, size_t max_free) {
    p->free = NULL;
    p->nfree = 0;
    p->max_free = max_free;
    p->block_size = PXCY_ROUND(block_size);
    p->live_blocks = 0;
    p->live_bytes = 0;
    for (int i = 0; i < PXCY_BIG_CACHE; i++) p->big[i] = NULL;
    p->peak = 0;
}

static inline pxcy_block *pxcy__block_new(size_t cap) {
    pxcy_block *b;
    if (pxcy_debug_enabled) {
        size_t len = (sizeof(pxcy_block) + cap + 4095) & ~(size_t)4095;
        void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) return NULL;
        b = (pxcy_block *)m;
        b->map_len = len;
        pxcy_debug_register(b, len);
    } else {
        b = (pxcy_block *)malloc(sizeof(pxcy_block) + cap);
        if (!b) return NULL;
        b->map_len = 0;
    }
    b->cap = cap;
    b->used = 0;
    b->prev = b->next = NULL;
    b->magic = PXCY_BLOCK_MAGIC;
    b->owner = NULL;
    return b;
}

static inline void pxcy__block_destroy(pxcy_block *b) {
    if (b->map_len) {
        pxcy_debug_quarantine(b, b->map_len); /* poisons, PROT_NONE, unmaps later */
    } else {
        free(b);
    }
}

/* A block with at least `need` payload bytes. */
static inline pxcy_block *pxcy_pool_get(pxcy_pool *p, size_t need) {
    pxcy_block *b = NULL;
    if (PXCY_UNLIKELY(need > PXCY_MAX_ALLOC)) return NULL;
    if (need <= p->block_size) {
        if (p->free) {
            b = p->free;
            p->free = b->prev;
            p->nfree--;
        }
    } else {
        /* an oversized block kept from earlier: no malloc for steady large sends */
        for (int i = 0; i < PXCY_BIG_CACHE; i++) {
            pxcy_block *k = p->big[i];
            if (k && k->cap >= need && k->cap / 2 <= need) { b = k; p->big[i] = NULL; break; }
        }
    }
    if (!b) {
        b = pxcy__block_new(need <= p->block_size ? p->block_size : PXCY_ROUND(need));
        if (!b) return NULL;
    }
    b->prev = b->next = NULL;
    b->used = 0;
    p->live_blocks++;
    p->live_bytes += b->cap;
    return b;
}

static inline void pxcy_pool_put(pxcy_pool *p, pxcy_block *b) {
    p->live_blocks--;
    p->live_bytes -= b->cap;
    b->owner = NULL;
    if (!pxcy_debug_enabled) {
        if (b->cap == p->block_size) {
            if (p->nfree < p->max_free) {
                b->prev = p->free;
                p->free = b;
                p->nfree++;
                return;
            }
        } else if (b->cap > p->block_size && p->max_free) {
            for (int i = 0; i < PXCY_BIG_CACHE; i++) {
                if (!p->big[i]) { p->big[i] = b; return; }
            }
            /* cache full: keep the larger block */
            for (int i = 0; i < PXCY_BIG_CACHE; i++) {
                if (p->big[i]->cap < b->cap) {
                    pxcy_block *old = p->big[i];
                    p->big[i] = b;
                    b = old;
                    break;
                }
            }
        }
    }
    pxcy__block_destroy(b);
}

static inline void pxcy_pool_clear(pxcy_pool *p) {
    while (p->free) {
        pxcy_block *b = p->free;
        p->free = b->prev;
        pxcy__block_destroy(b);
    }
    p->nfree = 0;
    for (int i = 0; i < PXCY_BIG_CACHE; i++) {
        if (p->big[i]) pxcy__block_destroy(p->big[i]);
        p->big[i] = NULL;
    }
}

/* ---------------------------------------------------------------- transient */

typedef struct pxcy_heap {
    pxcy_block *top;      /* newest block; older ones via prev */
    pxcy_block *bottom;   /* oldest block; newer ones via next */
    pxcy_pool *pool;
    size_t bytes;         /* payload capacity held */
    size_t limit;         /* upper bound on bytes (0: none) */
} pxcy_heap;

typedef struct pxcy_snapshot {
    pxcy_block *top;
    size_t used;
} pxcy_snapshot;

static inline void pxcy_heap_init(pxcy_heap *h, pxcy_pool *pool, size_t limit) {
    h->top = h->bottom = NULL;
    h->pool = pool;
    h->bytes = 0;
    h->limit = limit;
}

static inline int pxcy__heap_grow(pxcy_heap *h, size_t need) {
    if (PXCY_UNLIKELY(need > PXCY_MAX_ALLOC)) return -1;
    size_t cap = need <= h->pool->block_size ? h->pool->block_size : PXCY_ROUND(need);
    if (h->limit && (cap > h->limit || h->bytes > h->limit - cap)) return -1;
    pxcy_block *b = pxcy_pool_get(h->pool, need);
    if (!b) return -1;
    b->owner = h;
    b->prev = h->top;
    b->next = NULL;
    if (h->top) h->top->next = b;
    else h->bottom = b;
    h->top = b;
    h->bytes += b->cap;
    if (h->bytes > h->pool->peak) __atomic_store_n(&h->pool->peak, h->bytes, __ATOMIC_RELAXED);
    return 0;
}

/* Drop the newest block (rollback/reset). */
static inline void pxcy__heap_pop(pxcy_heap *h) {
    pxcy_block *b = h->top;
    h->top = b->prev;
    if (h->top) h->top->next = NULL;
    else h->bottom = NULL;
    h->bytes -= b->cap;
    pxcy_pool_put(h->pool, b);
}

/* Room for n contiguous bytes at the bump pointer (unaligned); NULL when over limit. */
static inline char *pxcy_heap_reserve(pxcy_heap *h, size_t n) {
    pxcy_block *b = h->top;
    if (PXCY_UNLIKELY(!b || b->cap - b->used < n)) {
        if (pxcy__heap_grow(h, n) < 0) return NULL;
        b = h->top;
    }
    return PXCY_PAYLOAD(b) + b->used;
}

/* Hand out n bytes previously reserved (the caller checks n against the reservation). */
static inline void pxcy_heap_commit(pxcy_heap *h, size_t n) { h->top->used += n; }

/* Room left in the newest block after the bump pointer (what a reserve got, at least). */
static inline size_t pxcy_heap_room(const pxcy_heap *h) {
    return h->top ? h->top->cap - h->top->used : 0;
}

/* n bytes, 16-aligned. */
static inline void *pxcy_heap_alloc(pxcy_heap *h, size_t n) {
    pxcy_block *b = h->top;
    if (n == 0) n = 1;
    if (PXCY_UNLIKELY(n > PXCY_MAX_ALLOC)) return NULL;
    if (PXCY_LIKELY(b != NULL)) {
        size_t at = PXCY_ROUND(b->used);
        if (PXCY_LIKELY(at <= b->cap && b->cap - at >= n)) {
            b->used = at + n;
            return PXCY_PAYLOAD(b) + at;
        }
    }
    if (pxcy__heap_grow(h, n) < 0) return NULL;
    b = h->top;
    b->used = n;
    return PXCY_PAYLOAD(b);
}

/* The current end of the heap: contiguous with the next reserve() if it fits. */
static inline char *pxcy_heap_end(const pxcy_heap *h) {
    return h->top ? PXCY_PAYLOAD(h->top) + h->top->used : NULL;
}

static inline pxcy_snapshot pxcy_heap_snapshot(const pxcy_heap *h) {
    pxcy_snapshot s;
    s.top = h->top;
    s.used = h->top ? h->top->used : 0;
    return s;
}

static inline void pxcy_heap_rollback(pxcy_heap *h, pxcy_snapshot s) {
    while (h->top && h->top != s.top) pxcy__heap_pop(h);
    if (h->top) {
        if (pxcy_debug_enabled && h->top->used > s.used)
            memset(PXCY_PAYLOAD(h->top) + s.used, PXCY_POISON, h->top->used - s.used);
        h->top->used = s.used;
    }
}

/* Roll back everything. */
static inline void pxcy_heap_reset(pxcy_heap *h) {
    while (h->top) pxcy__heap_pop(h);
    h->bytes = 0;
}

/* Release the blocks older than `mark` (a block of this heap, from an earlier
 * pxcy_heap_top()): everything allocated before the mark's block was entered is
 * given back, the mark's block and newer ones stay. The newest block always stays. */
static inline void pxcy_heap_release_below(pxcy_heap *h, const pxcy_block *mark) {
    while (h->bottom && h->bottom != mark && h->bottom != h->top) {
        pxcy_block *b = h->bottom;
        h->bottom = b->next;
        h->bottom->prev = NULL;
        h->bytes -= b->cap;
        pxcy_pool_put(h->pool, b);
    }
}

static inline pxcy_block *pxcy_heap_top(const pxcy_heap *h) { return h->top; }

/* Is p inside the live part of this heap? */
static inline int pxcy_heap_owns(const pxcy_heap *h, const void *p) {
    const char *c = (const char *)p;
    for (const pxcy_block *b = h->top; b; b = b->prev)
        if (c >= PXCY_PAYLOAD(b) && c < PXCY_PAYLOAD(b) + b->used) return 1;
    return 0;
}

/* --------------------------------------------------------------- persistent */

#define PXCY_PCLASSES 8          /* 16, 32, ..., 2048 payload bytes */
#define PXCY_PMAX 2048
#define PXCY_PMAGIC 0x70657273u  /* "pers" */

typedef struct pxcy_pchunk {
    uint32_t magic;
    uint32_t klass;          /* size class, or PXCY_PCLASSES for a dedicated chunk */
    struct pxcy_pchunk *next; /* free list / list of dedicated chunks */
} __attribute__((aligned(PXCY_ALIGN))) pxcy_pchunk;

typedef struct pxcy_pheap {
    pxcy_heap blocks;                 /* bump storage for size-class chunks */
    pxcy_pchunk *free[PXCY_PCLASSES];
    pxcy_pchunk *big;                 /* dedicated chunks, freed on reset */
    size_t bytes;                     /* payload bytes live */
    size_t limit;
} pxcy_pheap;

static inline void pxcy_pheap_init(pxcy_pheap *h, pxcy_pool *pool, size_t limit) {
    pxcy_heap_init(&h->blocks, pool, 0);
    for (int i = 0; i < PXCY_PCLASSES; i++) h->free[i] = NULL;
    h->big = NULL;
    h->bytes = 0;
    h->limit = limit;
}

static inline int pxcy__pclass(size_t n) {
    int k = 0;
    size_t sz = 16;
    while (sz < n) { sz <<= 1; k++; }
    return k;
}

static inline void *pxcy_pheap_alloc(pxcy_pheap *h, size_t n) {
    pxcy_pchunk *c;
    if (n == 0) n = 1;
    if (PXCY_UNLIKELY(n > PXCY_MAX_ALLOC)) return NULL;
    if (n > PXCY_PMAX) {
        /* dedicated chunk: [size_t size, pad][pxcy_pchunk][payload] */
        if (h->limit && (n > h->limit || h->bytes > h->limit - n)) return NULL;
        char *m = (char *)malloc(PXCY_ALIGN + sizeof(pxcy_pchunk) + n);
        if (!m) return NULL;
        *(size_t *)m = n;
        c = (pxcy_pchunk *)(m + PXCY_ALIGN);
        c->magic = PXCY_PMAGIC;
        c->klass = PXCY_PCLASSES;
        c->next = h->big;
        h->big = c;
        h->bytes += n;
        return c + 1;
    }
    int k = pxcy__pclass(n);
    size_t sz = (size_t)16 << k;
    if (h->limit && (sz > h->limit || h->bytes > h->limit - sz)) return NULL;
    c = h->free[k];
    if (c) {
        h->free[k] = c->next;
    } else {
        c = (pxcy_pchunk *)pxcy_heap_alloc(&h->blocks, sizeof(pxcy_pchunk) + sz);
        if (!c) return NULL;
        c->klass = (uint32_t)k;
    }
    c->magic = PXCY_PMAGIC;
    c->next = NULL;
    h->bytes += sz;
    return c + 1;
}

#define PXCY_BIGSIZE(c) (*(size_t *)((char *)(c) - PXCY_ALIGN))

/* Give back a value from pxcy_pheap_alloc. Returns -1 if p is not a live one. */
static inline int pxcy_pheap_free(pxcy_pheap *h, void *p) {
    if (!p) return 0;
    pxcy_pchunk *c = (pxcy_pchunk *)p - 1;
    if (c->magic != PXCY_PMAGIC) return -1;
    c->magic = 0;
    if (c->klass == PXCY_PCLASSES) {
        pxcy_pchunk **pp = &h->big;
        while (*pp && *pp != c) pp = &(*pp)->next;
        if (!*pp) return -1;
        *pp = c->next;
        h->bytes -= PXCY_BIGSIZE(c);
        free((char *)c - PXCY_ALIGN);
        return 0;
    }
    size_t sz = (size_t)16 << c->klass;
    if (pxcy_debug_enabled) memset(p, PXCY_POISON, sz);
    c->next = h->free[c->klass];
    h->free[c->klass] = c;
    h->bytes -= sz;
    return 0;
}

static inline void pxcy_pheap_reset(pxcy_pheap *h) {
    while (h->big) {
        pxcy_pchunk *c = h->big;
        h->big = c->next;
        free((char *)c - PXCY_ALIGN);
    }
    for (int i = 0; i < PXCY_PCLASSES; i++) h->free[i] = NULL;
    pxcy_heap_reset(&h->blocks);
    h->bytes = 0;
}

/* A persistent heap made on first use inside its own first block, so that a
 * connection that never keeps a value holds one pointer instead of this header
 * (an idle keep-alive connection's memory is mostly its record). Delete it with
 * pxcy_pheap_delete, never pxcy_pheap_reset: the header lives in a block it frees. */
static inline pxcy_pheap *pxcy_pheap_new(pxcy_pool *pool, size_t limit) {
    size_t hdr = PXCY_ROUND(sizeof(pxcy_pheap));
    pxcy_block *b = pxcy_pool_get(pool, hdr);
    if (!b) return NULL;
    pxcy_pheap *h = (pxcy_pheap *)PXCY_PAYLOAD(b);
    pxcy_pheap_init(h, pool, limit);
    b->owner = &h->blocks;
    b->used = hdr;
    h->blocks.top = h->blocks.bottom = b;
    h->blocks.bytes = b->cap;
    return h;
}

static inline void pxcy_pheap_delete(pxcy_pheap *h) {
    if (!h) return;
    while (h->big) {
        pxcy_pchunk *c = h->big;
        h->big = c->next;
        free((char *)c - PXCY_ALIGN);
    }
    pxcy_pool *pool = h->blocks.pool;
    pxcy_block *b = h->blocks.top;   /* the header's block is the oldest: freed last */
    while (b) {
        pxcy_block *older = b->prev;
        pxcy_pool_put(pool, b);
        b = older;
    }
}

#endif
