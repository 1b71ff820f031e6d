# cython: language_level=3
"""HTTP/1.1 on the pxcy runtime: handlers are nogil methods of an HttpProtocol.

    from pxcy.protocols.http11 cimport HttpProtocol, Request, Response, Handler

    cdef class App(HttpProtocol):
        def prepare(self):                       # once, with the GIL, before serving
            self.route(b"/plaintext", <Handler>App.plaintext)
            self.route(b"/items/", <Handler>App.item, True)   # prefix: req.arg = rest of path
            self.route(b"/upload", <Handler>App.upload, methods=("POST", "PUT"))

        cdef int plaintext(self, Request req, Response res) noexcept nogil:
            return res.send(200, b"text/plain", b"Hello, World!", 13)

The declarations are split by concern into pxcy/protocols/http/*.pxd (included
here, so user code cimports everything from pxcy.protocols.http11); the
implementations are the matching http/*.pxi, included into the one extension.
"""
cimport cython
from cpython.object cimport PyObject
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from pxcy.runtime cimport Protocol, Transport, pxcy_bytes
from pxcy.protocols.httpparse cimport (px_request, px_slice, px_range, px_scan, px_body,
                                       px_json, px_log)


ctypedef px_slice Slice          # {const char* p; size_t n}: bytes, not NUL-terminated

cdef class HttpProtocol
cdef class Request
cdef class Response

# A route handler: an unbound cdef method of the HttpProtocol subclass.
ctypedef int (*Handler)(HttpProtocol self, Request req, Response res) noexcept nogil

include "http/router.pxd"
include "http/request.pxd"
include "http/response.pxd"
include "http/protocol.pxd"
