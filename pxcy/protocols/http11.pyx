# cython: language_level=3
"""HTTP/1.1 server protocol: zero-copy parsing, nogil route handlers, static files.

Per read, data_received parses every complete request in the buffer (pipelining),
answers each into the transient heap (contiguous, so a batch leaves in one write),
and pushes back an incomplete head. The parser's scan state and the body framing
state live on the connection's own copy of `self`, so input arriving in many reads
is scanned once; a body that spans reads is decoded as it arrives, into the
persistent heap (buffered routes) or straight to the handler (streaming routes).
Request and Response objects are per-worker copies kept in the worker's scratch
memory: nothing is allocated per request except what a handler asks for.

One file per concern, included here (declarations in the matching http/*.pxd):
  http/common.pxi     per-worker scratch, status lines
  http/request.pxi    Request
  http/response.pxi   Response: head, send, error, streaming responses
  http/ranges.pxi     Range / multipart/byteranges
  http/static.pxi     static files: open below the root, conditionals, precompressed
  http/json.pxi       the JSON writer (includes/http_json.h)
  http/accesslog.pxi  combined-format access log (includes/http_log.h)
  http/router.pxi     route table and matching
  http/pyroutes.pxi   Python routes (route_py): run on the server's Python threads
  http/ops.pxi        /healthz and /metrics (before the route table)
  http/protocol.pxi   HttpProtocol: framing, dispatch; HelloWorld, Static
  http/body.pxi       request bodies: buffered or streamed to the route
"""
cimport cython
from cpython.object cimport PyObject, Py_TYPE
from libc.errno cimport errno, ENOENT, ENOTDIR, ENOSYS, EXDEV, ELOOP, EACCES, ENAMETOOLONG
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, calloc, realloc, free
from libc.string cimport memcpy, memcmp, memmove, strlen, memchr, memset
from posix.unistd cimport close as c_close

from pxcy.runtime cimport Protocol, Transport, pxcy_bytes
from pxcy.protocols.httpparse cimport *

cdef extern from "<stdio.h>" nogil:
    int snprintf(char* buf, size_t n, const char* fmt, ...)

cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    time_t time(time_t* t)

include "http/common.pxi"
include "http/request.pxi"
include "http/response.pxi"
include "http/ranges.pxi"
include "http/static.pxi"
include "http/json.pxi"
include "http/accesslog.pxi"
include "http/router.pxi"
include "http/pyroutes.pxi"
include "http/ops.pxi"
include "http/protocol.pxi"
include "http/body.pxi"
