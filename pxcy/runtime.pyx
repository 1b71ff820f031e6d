# cython: language_level=3
"""pxcy runtime: worker threads, one epoll loop each, connections, transport.

Every worker is a plain pthread with no Python thread state and every
asynchronous signal blocked. It waits on its own epoll set, which holds the
shared listening socket (EPOLLEXCLUSIVE: an idle worker takes the next
connection) and the connections it accepted; a connection never leaves its
worker. Callbacks are `noexcept nogil` methods of a per-connection copy of the
protocol prototype, so the GIL is never taken while serving.

Per read: one `read`, one `data_received`, then the output queued by the callback
goes out in one `send`/`sendmsg` (or `sendfile`); each callback's transient allocations
are released once the output queued up to its end has been written.

The module is one extension made of one file per concern (uvloop-style), all
calls between them direct C calls:

    rt/types.pxd       the private records: Conn (and its state enum), Worker, Core
    rt/protocol.pyx    Protocol, the handler base class
    rt/transport.pyx   Transport, what callbacks call
    rt/output.pyx      the output queue, writing, heap segments
    rt/input.pyx       reads, the input buffer, pushback and redelivery
    rt/connection.pyx  the connection state machine and its one close path
    rt/handles.pyx     connection handles, send_to (same worker)
    rt/connect.pyx     outbound connections (Transport.connect)
    rt/defer.pyx       Transport.defer: the Python thread pool and its results
    rt/timers.pyx      the per-worker timer heap (user timers and timeouts)
    rt/worker.pyx      the worker loop and accept
    rt/prototype.pyx   the prototype's layout check and snapshot
    rt/listeners.pyx   listening sockets: TCP, Unix, inherited (LISTEN_FDS), reuse_port
    rt/metrics.pyx     Prometheus text of the runtime counters (Transport.metrics)
    rt/server.pyx      Server (start/stop, drain, stats)
    rt/harness.pyx     Harness (pxcy.testing)
"""
cimport cython
from cpython.object cimport PyObject, PyTypeObject, Py_TYPE
from libc.errno cimport (errno, EAGAIN, EINTR, EMFILE, ENFILE, ENOBUFS, ENOMEM, ECONNABORTED,
                         EPROTO, EPERM, EPIPE, EINVAL, EIO, ENOENT, ETIMEDOUT, EOVERFLOW,
                         EINPROGRESS, ECONNREFUSED, EXDEV, ENOPROTOOPT, EOPNOTSUPP, ESHUTDOWN,
                         ECONNRESET)
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t, int64_t
from libc.stdlib cimport malloc, free, calloc, realloc
from libc.string cimport memcpy, memmove, memset, strcmp, strlen
from posix.unistd cimport close as c_close, read as c_read, write as c_write, pread
from posix.fcntl cimport open as c_open, O_RDONLY, O_CLOEXEC

from pxcy.heap cimport *
from pxcy.includes.system cimport *

pxcy_debug_init()

cdef extern from *:
    """
    #ifndef PXCY_PGO_BUILD
    #define PXCY_PGO_BUILD 0
    #endif
    """
    int PXCY_PGO_BUILD

# how these extensions were compiled (bench results record it): "profile-guided" when
# tools/pgo_build.py built them with its training run's profile, "instrumented" while
# it trains (the benchmarks refuse to measure that), else "plain"
BUILD = ("plain", "profile-guided", "instrumented")[PXCY_PGO_BUILD]

include "rt/types.pxd"
include "rt/protocol.pyx"
include "rt/transport.pyx"
include "rt/output.pyx"
include "rt/input.pyx"
include "rt/connection.pyx"
include "rt/handles.pyx"
include "rt/connect.pyx"
include "rt/timers.pyx"
include "rt/worker.pyx"
include "rt/prototype.pyx"
include "rt/listeners.pyx"
include "rt/metrics.pyx"
include "rt/server.pyx"
include "rt/defer.pyx"
include "rt/harness.pyx"
