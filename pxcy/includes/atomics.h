/* Atomics for state shared between the main thread and the workers: the stop flag,
 * the open-connection count, and per-worker counters (written by their worker only,
 * read by Python: relaxed stores keep reads race-free without a locked instruction). */
#ifndef PXCY_ATOMICS_H
#define PXCY_ATOMICS_H
#define pxcy_load_int(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define pxcy_store_int(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define pxcy_add_int(p, v) __atomic_add_fetch((p), (v), __ATOMIC_ACQ_REL)
#define pxcy_load_u64(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define pxcy_stat_add(p, v) __atomic_store_n((p), *(p) + (v), __ATOMIC_RELAXED)
#define pxcy_store_u64(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define pxcy_load_size(p) __atomic_load_n((p), __ATOMIC_RELAXED)
/* a per-worker high-water mark (written by its worker only) */
#define pxcy_stat_max(p, v) do { if ((v) > *(p)) __atomic_store_n((p), (v), __ATOMIC_RELAXED); } while (0)
/* the lock-free stack of defer results a worker drains (rt/defer.pyx) */
#define pxcy_xchg_ptr(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#define pxcy_cas_ptr(p, e, v) __atomic_compare_exchange_n((p), (e), (v), 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED)
#define pxcy_load_ptr(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#endif
