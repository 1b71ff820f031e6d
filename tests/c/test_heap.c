#define _GNU_SOURCE  /* dladdr in debug.h */
/* Unit tests of pxcy/includes/heap.h: allocation, alignment, rollback, persistence,
 * limits, poisoning and quarantine in debug mode. Exit status 0 when all pass. */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include "pxcy/includes/heap.h"

static int failures;
#define CHECK(cond) do { if (!(cond)) { failures++; fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)

static void test_transient(void) {
    pxcy_pool pool;
    pxcy_heap h;
    pxcy_pool_init(&pool, 4096, 64);
    pxcy_heap_init(&h, &pool, 0);
    /* alignment and independence of allocations */
    char *prev[64];
    for (int i = 0; i < 64; i++) {
        size_t n = 1 + (size_t)i * 37;
        char *p = pxcy_heap_alloc(&h, n);
        CHECK(p != NULL);
        CHECK(((uintptr_t)p % PXCY_ALIGN) == 0);
        memset(p, i, n);
        prev[i] = p;
    }
    for (int i = 0; i < 64; i++) {
        size_t n = 1 + (size_t)i * 37;
        for (size_t k = 0; k < n; k++) CHECK(prev[i][k] == (char)i);
    }
    /* large allocation gets its own block */
    char *big = pxcy_heap_alloc(&h, 1 << 20);
    CHECK(big != NULL && ((uintptr_t)big % PXCY_ALIGN) == 0);
    memset(big, 7, 1 << 20);
    CHECK(h.bytes >= (1u << 20));
    /* snapshot / rollback: allocations after the snapshot are undone */
    pxcy_snapshot s = pxcy_heap_snapshot(&h);
    char *a = pxcy_heap_alloc(&h, 100);
    for (int i = 0; i < 10; i++) pxcy_heap_alloc(&h, 3000); /* crosses blocks */
    pxcy_heap_rollback(&h, s);
    char *b = pxcy_heap_alloc(&h, 100);
    CHECK(a == b);                     /* same place handed out again */
    CHECK(pxcy_heap_owns(&h, b));
    /* reset returns everything; standard blocks are recycled through the pool */
    pxcy_heap_reset(&h);
    CHECK(h.top == NULL && h.bytes == 0);
    CHECK(pool.live_blocks == 0);
    CHECK(pool.nfree > 0 && pool.nfree <= 64);
    char *c = pxcy_heap_alloc(&h, 10);
    CHECK(c != NULL && pool.live_blocks == 1);
    pxcy_heap_reset(&h);
    /* reserve / commit are contiguous */
    char *r1 = pxcy_heap_reserve(&h, 10);
    memcpy(r1, "0123456789", 10);
    pxcy_heap_commit(&h, 10);
    char *r2 = pxcy_heap_reserve(&h, 5);
    CHECK(r2 == r1 + 10);
    pxcy_heap_commit(&h, 5);
    CHECK(pxcy_heap_end(&h) == r1 + 15);
    pxcy_heap_reset(&h);
    /* limit */
    pxcy_heap_init(&h, &pool, 3 * 4096);
    int got = 0;
    while (pxcy_heap_alloc(&h, 1000)) got++;
    CHECK(got >= 8 && got <= 12);
    CHECK(pxcy_heap_alloc(&h, 1 << 20) == NULL);
    pxcy_heap_reset(&h);
    pxcy_pool_clear(&pool);
    CHECK(pool.nfree == 0);
}

static void test_persistent(void) {
    pxcy_pool pool;
    pxcy_pheap ph;
    pxcy_pool_init(&pool, 4096 - 64, 16);
    pxcy_pheap_init(&ph, &pool, 1 << 20);
    char *v[100];
    for (int i = 0; i < 100; i++) {
        size_t n = 1 + (size_t)(i * 53) % 3000;   /* small and dedicated chunks */
        v[i] = pxcy_pheap_alloc(&ph, n);
        CHECK(v[i] != NULL && ((uintptr_t)v[i] % PXCY_ALIGN) == 0);
        memset(v[i], i, n);
    }
    for (int i = 0; i < 100; i++) CHECK(v[i][0] == (char)i);
    size_t before = ph.bytes;
    /* a freed value's space is reused by the next value of its size class */
    char *x = pxcy_pheap_alloc(&ph, 40);
    CHECK(pxcy_pheap_free(&ph, x) == 0);
    CHECK(ph.bytes == before);
    char *y = pxcy_pheap_alloc(&ph, 50);
    CHECK(x == y);
    CHECK(pxcy_pheap_free(&ph, y) == 0);
    CHECK(pxcy_pheap_free(&ph, y) == -1);     /* double free detected */
    for (int i = 0; i < 100; i++) CHECK(pxcy_pheap_free(&ph, v[i]) == 0);
    CHECK(ph.bytes == 0);
    /* overwrite loop: bounded memory */
    char *cur = NULL;
    size_t held = ph.blocks.bytes;
    for (int i = 0; i < 100000; i++) {
        char *n = pxcy_pheap_alloc(&ph, 1 + i % 700);
        CHECK(n != NULL);
        pxcy_pheap_free(&ph, cur);
        cur = n;
    }
    CHECK(ph.blocks.bytes - held <= 8 * 4096);   /* free lists reuse the space */
    /* limit */
    CHECK(pxcy_pheap_alloc(&ph, 2 << 20) == NULL);
    pxcy_pheap_reset(&ph);
    CHECK(ph.bytes == 0 && pool.live_blocks == 0);
    pxcy_pool_clear(&pool);
}

static sigjmp_buf jb;
static void on_segv(int sig) { (void)sig; siglongjmp(jb, 1); }

static void test_debug(void) {
    pxcy_debug_enabled = 1;
    pxcy_pool pool;
    pxcy_heap h;
    pxcy_pool_init(&pool, 4096, 8);
    pxcy_heap_init(&h, &pool, 0);
    /* partial rollback poisons */
    char *keep = pxcy_heap_alloc(&h, 16);
    pxcy_snapshot s = pxcy_heap_snapshot(&h);
    char *p = pxcy_heap_alloc(&h, 64);
    memset(p, 'A', 64);
    pxcy_heap_rollback(&h, s);
    CHECK((unsigned char)p[0] == PXCY_POISON && (unsigned char)p[63] == PXCY_POISON);
    CHECK(pxcy_debug_is_heap(keep));
    /* whole rollback: the block is quarantined, a stale access faults */
    pxcy_heap_reset(&h);
    CHECK(pxcy_debug_is_stale(keep));
    CHECK(!pxcy_debug_is_heap(keep));
    signal(SIGSEGV, on_segv);
    volatile int faulted = 0;
    if (sigsetjmp(jb, 1) == 0) {
        volatile char c = keep[0];
        (void)c;
    } else {
        faulted = 1;
    }
    signal(SIGSEGV, SIG_DFL);
    CHECK(faulted);
    /* freed persistent values are poisoned */
    pxcy_pheap ph;
    pxcy_pheap_init(&ph, &pool, 0);
    char *v = pxcy_pheap_alloc(&ph, 32);
    memset(v, 'B', 32);
    pxcy_pheap_free(&ph, v);
    CHECK((unsigned char)v[5] == PXCY_POISON);
    pxcy_pheap_reset(&ph);
    pxcy_pool_clear(&pool);
    pxcy_debug_enabled = 0;
}

/* FIFO release: segments freed from the oldest block while newer ones stay. */
static void test_release_below(void) {
    pxcy_pool pool;
    pxcy_heap h;
    pxcy_pool_init(&pool, 4096, 64);
    pxcy_heap_init(&h, &pool, 0);
    pxcy_block *marks[8];
    char *seg[8];
    for (int i = 0; i < 8; i++) {          /* 8 "callbacks" of 3 KiB each */
        seg[i] = pxcy_heap_alloc(&h, 3000);
        memset(seg[i], 'a' + i, 3000);
        marks[i] = pxcy_heap_top(&h);
    }
    size_t before = h.bytes;
    CHECK(pool.peak == before);
    pxcy_heap_release_below(&h, marks[3]);  /* segments 0..3 written */
    CHECK(h.bytes < before);
    CHECK(h.bottom == marks[3] && h.bottom->prev == NULL);
    for (int i = 3; i < 8; i++)             /* still live, untouched */
        for (int k = 0; k < 3000; k += 997) CHECK(seg[i][k] == 'a' + i);
    pxcy_heap_release_below(&h, marks[7]);  /* the top block always stays */
    CHECK(h.bottom == h.top && h.top == marks[7]);
    char *more = pxcy_heap_alloc(&h, 100);
    CHECK(more != NULL && pxcy_heap_owns(&h, more));
    pxcy_heap_release_below(&h, h.top);     /* nothing below the top: no-op */
    CHECK(h.bottom == h.top);
    pxcy_heap_reset(&h);
    CHECK(h.top == NULL && h.bottom == NULL && h.bytes == 0 && pool.live_blocks == 0);
    /* oversized blocks are kept for reuse (no malloc for steady large sends) */
    char *big = pxcy_heap_alloc(&h, 100000);
    CHECK(big != NULL);
    pxcy_heap_reset(&h);
    char *big2 = pxcy_heap_alloc(&h, 90000);
    CHECK(big2 == big);
    pxcy_heap_reset(&h);
    pxcy_pool_clear(&pool);
}

/* Huge sizes fail cleanly instead of wrapping. */
static void test_overflow(void) {
    pxcy_pool pool;
    pxcy_heap h;
    pxcy_pheap ph;
    pxcy_pool_init(&pool, 4096, 8);
    pxcy_heap_init(&h, &pool, 1 << 20);
    pxcy_pheap_init(&ph, &pool, 1 << 20);
    CHECK(pxcy_heap_alloc(&h, (size_t)-1) == NULL);
    CHECK(pxcy_heap_alloc(&h, (size_t)-16) == NULL);
    CHECK(pxcy_heap_reserve(&h, (size_t)-1) == NULL);
    CHECK(pxcy_heap_alloc(&h, PXCY_MAX_ALLOC + 1) == NULL);
    CHECK(pxcy_heap_alloc(&h, (1 << 20) + 1) == NULL);      /* over the limit */
    CHECK(pxcy_pheap_alloc(&ph, (size_t)-1) == NULL);
    CHECK(pxcy_pheap_alloc(&ph, (size_t)-4096) == NULL);
    CHECK(pxcy_pool_get(&pool, (size_t)-1) == NULL);
    void *ok = pxcy_heap_alloc(&h, 1000);
    CHECK(ok != NULL);
    pxcy_heap_reset(&h);
    pxcy_pheap_reset(&ph);
    pxcy_pool_clear(&pool);
}

/* A persistent heap made on first use lives in its own first block: values,
 * dedicated chunks, more blocks, then delete gives every block back (ASan: no
 * leak, no access to the header after its block is freed; debug: the blocks are
 * quarantined, so a use after delete faults). */
static void test_lazy_persistent(int debug) {
    pxcy_debug_enabled = debug;
    pxcy_pool pool;
    pxcy_pool_init(&pool, 4096 - 64, 16);
    pxcy_pheap *ph = pxcy_pheap_new(&pool, 1 << 20);
    CHECK(ph != NULL);
    CHECK(pool.live_blocks == 1 && ph->bytes == 0);
    CHECK((char *)ph == PXCY_PAYLOAD(ph->blocks.bottom));
    char *v[200];
    for (int i = 0; i < 200; i++) {         /* several blocks' worth of small values */
        v[i] = pxcy_pheap_alloc(ph, 1 + (i * 37) % 900);
        CHECK(v[i] != NULL);
        if (v[i]) memset(v[i], 'a' + i % 26, 1 + (i * 37) % 900);
    }
    CHECK(pool.live_blocks > 1);
    char *big = pxcy_pheap_alloc(ph, 10000); /* a dedicated chunk */
    CHECK(big != NULL);
    for (int i = 0; i < 200; i += 2) CHECK(pxcy_pheap_free(ph, v[i]) == 0);
    CHECK(v[199][0] == 'a' + 199 % 26);      /* the header's block was not overwritten */
    pxcy_pheap_delete(ph);
    CHECK(pool.live_blocks == 0 && pool.live_bytes == 0);
    pxcy_pheap_delete(NULL);                 /* a connection that never persisted */
    pxcy_pool_clear(&pool);
    pxcy_debug_enabled = 0;
}

int main(void) {
    test_lazy_persistent(0);
    test_lazy_persistent(1);
    test_release_below();
    test_overflow();
    test_transient();
    test_persistent();
    test_debug();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("heap: all checks passed\n");
    return 0;
}
