# cython: language_level=3
"""Echo: every byte received is sent back, in order."""
from pxcy.runtime cimport Protocol, Transport


cdef class Echo(Protocol):
    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        return t.send(data, n)
