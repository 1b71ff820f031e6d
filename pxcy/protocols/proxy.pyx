# cython: language_level=3
"""Proxy: a TCP relay built from connect / connect_done / send_to / origin().

    from pxcy.protocols.proxy import Proxy, ProxyUpstream, proxy_server
    server = proxy_server("127.0.0.1", 9000, port=8080)   # 127.0.0.1:8080 -> :9000

Each client connection asks its worker for an upstream connection
(`t.connect`) and pauses reading until `connect_done`: the bytes the client sends
before the upstream is up wait in the socket (and in the input buffer) and are
relayed, in order, as soon as it is. Both sides then forward with `send_to` (a
copy queued on the peer connection of the same worker); a side that closes
half-closes relays it (`write_eof_to`), a side that goes closes the other after
its queued output (`close_handle`). The upstream side runs
`ProxyUpstream`, which finds its client through `t.origin()`. Everything runs
without the GIL, on the client's worker.
"""
from libc.stdint cimport uint64_t
from libc.string cimport memcpy
from pxcy.runtime cimport Protocol, Transport


cdef class Proxy(Protocol):
    cdef char host[64]           # upstream address (numeric, or in Server(resolve=))
    cdef int port
    cdef uint64_t peer           # the upstream connection's handle (0: not up yet)

    def configure(self, str host, int port):
        b = host.encode()
        if not 0 < len(b) < 64:
            raise ValueError(f"upstream host {host!r}: 1 to 63 bytes")
        memcpy(self.host, <const char*>b, len(b))
        self.host[len(b)] = 0
        self.port = port
        return self

    cdef int connection_made(self, Transport t) noexcept nogil:
        if t.connect(self.host, self.port, 1) < 0:
            return -1
        t.pause_reading()            # until the upstream is up
        return 0

    cdef int connect_done(self, Transport t, uint64_t token, uint64_t handle) noexcept nogil:
        if handle == 0:
            return -1                # upstream unreachable: drop the client
        self.peer = handle
        t.resume_reading()           # input received meanwhile is delivered at once
        return 0

    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        return t.send_to(self.peer, data, n)

    cdef int eof_received(self, Transport t) noexcept nogil:
        t.write_eof_to(self.peer)    # relay the half-close; keep answering the client
        return 1

    cdef void connection_lost(self, Transport t) noexcept nogil:
        if self.peer:
            t.close_handle(self.peer)


cdef class ProxyUpstream(Protocol):
    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        return t.send_to(t.origin(), data, n)

    cdef int eof_received(self, Transport t) noexcept nogil:
        t.write_eof_to(t.origin())
        return 1

    cdef void connection_lost(self, Transport t) noexcept nogil:
        t.close_handle(t.origin())


def proxy_server(upstream_host, int upstream_port, host="127.0.0.1", port=0, **kw):
    """A pxcy.Server relaying host:port to upstream_host:upstream_port."""
    from pxcy import Server
    import ipaddress
    try:
        ipaddress.ip_address(upstream_host)
        resolve = ()
    except ValueError:
        resolve = (upstream_host,)
    return Server(Proxy().configure(upstream_host, upstream_port), host, port,
                  client=ProxyUpstream, resolve=resolve, **kw)
