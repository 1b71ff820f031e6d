"""Unit-test handlers in-process, on the calling thread, without sockets.

    from pxcy.testing import Harness
    h = Harness(Lines)
    assert h.feed(b"hello\\n") == b"1 hello\\n"

The connection, its heaps, the output queue and heap rollback are the real ones
(debugger- and sanitizer-friendly); only the socket is replaced: `feed(data)` is
one read, its return value is everything the handler sent in response (file
ranges queued with sendfile are read back with pread). `closed` tells whether the
handler closed the connection; `close()` runs connection_lost; `feed_eof()` is the
peer's half-close (eof_received); `advance()` fires the timers that are due (the
harness follows the real clock). Pushed-back input is redelivered as on a socket.

The capabilities of a Server work here too:

    h = Harness(App, on_defer=fn)            # t.defer: fn runs on this thread and
    h.feed(b"...")                           # result_received follows in the same feed
    h = Harness(App, on_defer=fn, defer_inline=False)
    h.feed(b"..."); h.run_deferred()         # hold the jobs, run them when you say
    h = Harness(App, client=Upstream, connect_timeout=2)
    out = h.feed(b"...")                     # t.connect opens a real TCP connection;
    while b"done" not in out:                # advance(timeout) waits up to timeout for
        out += h.advance(1)                  # its next event (or the next timer)

An HTTP app's Python routes (route_py) bring their own on_defer.
"""
from pxcy.runtime import Harness

__all__ = ["Harness", "feed_chunks"]


def feed_chunks(harness, data, sizes):
    """Feed `data` split into pieces of the given sizes (cycled); return all output."""
    out = []
    i = k = 0
    sizes = list(sizes) or [len(data)]
    while i < len(data):
        n = max(1, sizes[k % len(sizes)])
        out.append(harness.feed(data[i:i + n]))
        i += n
        k += 1
    return b"".join(out)
