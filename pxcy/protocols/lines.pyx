# cython: language_level=3
"""Lines: a stateful line protocol showing both kinds of persistence on self.

For each '\\n'-terminated line L: if L is ``LAST`` reply ``LAST <previous line>\\n``
(empty when none), else reply ``<n> <L>\\n`` with n the number of non-LAST lines
of this connection so far. Lines may arrive split across any number of reads: an
unfinished line is pushed back and arrives again, completed, with the next read.
"""
from libc.string cimport memchr, memcmp, memcpy
from libc.stdio cimport snprintf
from pxcy.runtime cimport Protocol, Transport, pxcy_bytes


cdef class Lines(Protocol):
    cdef long count            # scalar on self: persists for the connection
    cdef pxcy_bytes last       # bytes on self: copied into the persistent heap

    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        cdef const char* p = data
        cdef const char* end = data + n
        cdef const char* nl
        cdef size_t k
        cdef char* out
        cdef int hdr
        while p < end:
            nl = <const char*>memchr(p, b'\n', end - p)
            if nl == NULL:
                return t.pushback(end - p)      # the rest of the line comes later
            k = nl - p
            if k == 4 and memcmp(p, b"LAST", 4) == 0:
                out = t.reserve(self.last.size + 6)
                if out == NULL:
                    return -1
                memcpy(out, b"LAST ", 5)
                if self.last.size:
                    memcpy(out + 5, self.last.data, self.last.size)
                out[5 + self.last.size] = b'\n'
                if t.commit(self.last.size + 6) < 0:
                    return -1
            else:
                self.count += 1
                out = t.reserve(k + 24)
                if out == NULL:
                    return -1
                hdr = snprintf(out, 24, "%ld ", self.count)
                memcpy(out + hdr, p, k)
                out[hdr + k] = b'\n'
                if t.commit(hdr + k + 1) < 0:
                    return -1
                self.last = t.persist(self.last, p, k)
                if self.last.data == NULL:
                    return -1
            p = nl + 1
        return 0
