# cython: language_level=3
"""Handlers used by tests/test_lifecycle_attack.py (built by build.py on first use)."""
from libc.stdint cimport uint64_t, int64_t, uint32_t
from libc.string cimport memchr, memcmp
from libc.stdio cimport snprintf
from pxcy.runtime cimport Protocol, Transport, pxcy_bytes


cdef class PushAll(Protocol):
    """Never makes progress: every byte is pushed back, nothing is sent (a parser
    waiting for the rest of a message)."""
    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        return t.pushback(n)


cdef class Edges(Protocol):
    """Misuse at the edges. Each input byte is a command:
    'p' pushback(1) from a timer (outside data_received) -> 'timer-pushback R';
    'c' cancel the running timer from timer_fired, twice -> 'cancel A B';
    'z' call_later(0) re-armed from timer_fired 3 times -> 'zero K' each;
    'k' close() then abort() inside data_received after queueing 'k\\n'."""
    cdef int64_t tid
    cdef int zeros
    cdef int mode

    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        cdef size_t i
        for i in range(n):
            if data[i] == b'p':
                self.mode = 1
                self.tid = t.call_later(0, 1)
            elif data[i] == b'c':
                self.mode = 2
                self.tid = t.call_later(0, 2)
            elif data[i] == b'z':
                self.mode = 3
                self.zeros = 0
                self.tid = t.call_later(0, 3)
            elif data[i] == b'k':
                t.send(b"k\n", 2)
                t.close()
                t.abort()
        return 0

    cdef int timer_fired(self, Transport t, uint64_t token) noexcept nogil:
        cdef char buf[64]
        cdef int a, b
        if token == 1:
            a = t.pushback(1)
            return t.send(buf, snprintf(buf, sizeof(buf), "timer-pushback %d\n", a))
        if token == 2:
            a = t.cancel(self.tid)
            b = t.cancel(self.tid)
            return t.send(buf, snprintf(buf, sizeof(buf), "cancel %d %d\n", a, b))
        if token == 3:
            self.zeros += 1
            t.send(buf, snprintf(buf, sizeof(buf), "zero %d\n", self.zeros))
            if self.zeros < 3:
                self.tid = t.call_later(0, 3)
            return 0
        return 0
