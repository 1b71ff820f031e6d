# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Index-build helpers in C (titlebuild.py): sorting 27 million titles, gathering the
sorted keys and filling the title hash table take seconds here, hours in Python.
All release the GIL."""
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy

import numpy as np

from wikisearch.titleindex cimport bytes_cmp, fnv1a

cdef extern from "<stdlib.h>" nogil:
    void qsort_r(void* base, size_t nmemb, size_t size,
                 int (*compar)(const void*, const void*, void*), void* arg)


cdef struct SortCtx:
    const int32_t* ns
    const char* fkeys           # folded names in page order
    const uint32_t* fkoff
    const char* titles
    const uint32_t* toff
    const uint8_t* skip


cdef int cmp_name(const void* x, const void* y, void* arg) noexcept nogil:
    cdef SortCtx* c = <SortCtx*>arg
    cdef int32_t a = (<const int32_t*>x)[0], b = (<const int32_t*>y)[0]
    cdef int r
    if c.ns[a] != c.ns[b]:
        return -1 if c.ns[a] < c.ns[b] else 1
    r = bytes_cmp(c.titles + c.toff[a] + c.skip[a], c.toff[a + 1] - c.toff[a] - c.skip[a],
                  c.titles + c.toff[b] + c.skip[b], c.toff[b + 1] - c.toff[b] - c.skip[b])
    if r:
        return r
    return (a > b) - (a < b)


cdef int cmp_key(const void* x, const void* y, void* arg) noexcept nogil:
    cdef SortCtx* c = <SortCtx*>arg
    cdef int32_t a = (<const int32_t*>x)[0], b = (<const int32_t*>y)[0]
    cdef int r
    if c.ns[a] != c.ns[b]:
        return -1 if c.ns[a] < c.ns[b] else 1
    r = bytes_cmp(c.fkeys + c.fkoff[a], c.fkoff[a + 1] - c.fkoff[a],
                  c.fkeys + c.fkoff[b], c.fkoff[b + 1] - c.fkoff[b])
    if r:
        return r
    return cmp_name(x, y, arg)


def sort_pages(kind, const int32_t[::1] ns, const char[::1] titles, const uint32_t[::1] toff,
               const uint8_t[::1] skip, const char[::1] fkeys=None, const uint32_t[::1] fkoff=None):
    """Pages sorted by (ns, name, page) (kind "name") or (ns, folded name, name, page)
    (kind "key"), as int32. Releases the GIL."""
    cdef int64_t n = len(ns)
    out = np.arange(n, dtype=np.int32)
    cdef int32_t[::1] o = out
    cdef SortCtx c
    if n == 0:
        return out
    c.ns = &ns[0]
    c.titles = &titles[0]
    c.toff = &toff[0]
    c.skip = &skip[0]
    if kind == "key":
        c.fkeys = &fkeys[0]
        c.fkoff = &fkoff[0]
        with nogil:
            qsort_r(&o[0], n, sizeof(int32_t), cmp_key, &c)
    elif kind == "name":
        with nogil:
            qsort_r(&o[0], n, sizeof(int32_t), cmp_name, &c)
    else:
        raise ValueError(kind)
    return out


def gather(const char[::1] src, const uint32_t[::1] off, const int32_t[::1] order, char[::1] dst,
           uint32_t[::1] dst_off):
    """dst = concatenation of src[off[p]:off[p+1]] for p in order; dst_off its offsets."""
    cdef int64_t i, n = len(order)
    cdef uint32_t o = 0, m
    cdef int32_t p
    with nogil:
        for i in range(n):
            p = order[i]
            m = off[p + 1] - off[p]
            dst_off[i] = o
            memcpy(&dst[o], &src[off[p]], m)
            o += m
        dst_off[n] = o


def build_hash(const char[::1] titles, const uint32_t[::1] toff, int32_t[::1] slots, uint8_t[::1] dup):
    """Insert every page's title into slots (-1 filled, power-of-two size); a title seen
    before is not inserted and its page gets dup[p] = 1. Returns the number of duplicates."""
    cdef int64_t n = len(toff) - 1, p, dups = 0
    cdef uint64_t mask = len(slots) - 1, i
    cdef int32_t q
    cdef const char* t
    cdef uint32_t tn
    with nogil:
        for p in range(n):
            t = &titles[toff[p]]
            tn = toff[p + 1] - toff[p]
            i = fnv1a(t, tn) & mask
            while True:
                q = slots[i]
                if q < 0:
                    slots[i] = <int32_t>p
                    break
                if bytes_cmp(&titles[toff[q]], toff[q + 1] - toff[q], t, tn) == 0:
                    dup[p] = 1
                    dups += 1
                    break
                i = (i + 1) & mask
    return dups


def hash_lookup(const char[::1] titles, const uint32_t[::1] toff, const int32_t[::1] slots, bytes t):
    """Page of title t in a table made by build_hash, or -1 (for resolving redirects)."""
    cdef uint64_t mask = len(slots) - 1
    cdef uint64_t i = fnv1a(t, len(t)) & mask
    cdef int32_t q
    while True:
        q = slots[i]
        if q < 0:
            return -1
        if bytes_cmp(&titles[toff[q]], toff[q + 1] - toff[q], t, len(t)) == 0:
            return q
        i = (i + 1) & mask
