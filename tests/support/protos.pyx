# cython: language_level=3
"""Handlers used by the runtime tests (built once per test session by conftest)."""
from libc.stdint cimport uint64_t, int64_t
from libc.stdlib cimport strtoll, strtoull, strtol
from libc.string cimport memchr, memcmp, memcpy, memset
from libc.stdio cimport snprintf
from pxcy.runtime cimport Protocol, Transport, pxcy_bytes


cdef const double[::1] TABLE     # global read-only data, loaded before serving


def load_table(arr):
    global TABLE
    TABLE = arr


cdef inline const char* next_line(Transport t, const char** p, const char* end, size_t* k) noexcept nogil:
    cdef const char* nl = <const char*>memchr(p[0], b'\n', end - p[0])
    cdef const char* line = p[0]
    if nl == NULL:
        return NULL
    k[0] = nl - line
    p[0] = nl + 1
    return line


cdef class FileSender(Protocol):
    """'PATH OFFSET COUNT\\n' -> those bytes of the file via sendfile (COUNT -1: to EOF);
    'ERR\\n' when the file cannot be opened."""
    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        cdef const char* p = data
        cdef const char* end = data + n
        cdef const char* line
        cdef size_t k, i
        cdef char* buf
        cdef char* sp
        cdef uint64_t off
        cdef int64_t cnt
        while True:
            line = next_line(t, &p, end, &k)
            if line == NULL:
                return t.pushback(end - p)
            buf = <char*>t.alloc(k + 1)
            memcpy(buf, line, k)
            buf[k] = 0
            sp = buf
            while sp[0] and sp[0] != b' ':
                sp += 1
            if sp[0] == 0:
                return -1
            sp[0] = 0
            off = strtoull(sp + 1, &sp, 10)
            cnt = strtoll(sp, NULL, 10)
            if t.sendfile_path(buf, <uint64_t>off, <uint64_t>cnt) < 0:
                t.send(b"ERR\n", 4)


cdef class TableLookup(Protocol):
    """'I\\n' -> TABLE[I] formatted with %.17g; reads the global NumPy array."""
    cdef long served

    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        cdef const char* p = data
        cdef const char* end = data + n
        cdef const char* line
        cdef size_t k
        cdef long i
        cdef char* out
        while True:
            line = next_line(t, &p, end, &k)
            if line == NULL:
                return t.pushback(end - p)
            i = strtoll(line, NULL, 10)
            if i < 0 or i >= TABLE.shape[0]:
                return -1
            out = t.reserve(32)
            if out == NULL:
                return -1
            self.served += 1
            t.commit(snprintf(out, 32, "%.17g\n", TABLE[i]))


cdef class Failing(Protocol):
    """Echoes, but a read containing 'fail' makes the callback return -1."""
    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        if n >= 4 and memchr(data, b'f', n) != NULL and data[0] == b'f':
            return -1
        return t.send(data, n)


cdef class Flood(Protocol):
    """Any input -> 32 MiB of b'x' (memory output, for backpressure and resets)."""
    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        cdef char* out
        cdef int i
        for i in range(32):
            out = t.reserve(1 << 20)
            if out == NULL:
                return -1
            memset(out, b'x', 1 << 20)
            if t.commit(1 << 20) < 0:
                return -1
        return 0


cdef class StaleRead(Protocol):
    """Misbehaves: keeps a transient pointer on self and reads it next time."""
    cdef size_t kept

    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        cdef char* p
        if self.kept == 0:
            p = <char*>t.alloc(64)
            memset(p, b'k', 64)
            self.kept = <size_t>p
            return t.send(b"kept\n", 5)
        return t.send(<char*>self.kept, 1)


cdef class StaleSend(Protocol):
    """Misbehaves: queues a transient pointer from an earlier callback without a copy."""
    cdef size_t kept

    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        cdef char* p
        if self.kept == 0:
            p = <char*>t.alloc(64)
            memset(p, b'k', 64)
            self.kept = <size_t>p
            return t.send(b"kept\n", 5)
        return t.send_nocopy(<char*>self.kept, 8)


cdef class Greeter(Protocol):
    """connection_made sends a greeting with the peer address; close on 'bye'."""
    cdef int connection_made(self, Transport t) noexcept nogil:
        cdef char buf[80]
        cdef int k = t.peer(buf, sizeof(buf))
        t.send(b"hello ", 6)
        t.send(buf, k)
        return t.send(b"\n", 1)

    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        if n >= 3 and data[0] == b'b' and data[1] == b'y' and data[2] == b'e':
            t.send(b"bye\n", 4)
            t.close()
            return 0
        return t.send(data, n)


cdef class WithObject(Protocol):
    cdef object forbidden


# ---------------------------------------------------------------- reliability
# (tests/test_reliability.py, bench/soak)

cdef enum:
    BIG_CHUNK = 256 * 1024

cdef unsigned char BIG_PATTERN[BIG_CHUNK + 251]   # byte i of a response is i % 251


def _init_pattern():
    cdef int i
    for i in range(BIG_CHUNK + 251):
        BIG_PATTERN[i] = i % 251

_init_pattern()


cdef class BigResponse(Protocol):
    """'N\\n' -> N bytes, byte i = i % 251, streamed from send_complete in 256 KiB
    chunks (a response "in progress" for a while). One request at a time, not
    pipelined: a pushed-back next request is only seen with the next read."""
    cdef uint64_t left
    cdef uint64_t pos

    cdef int _more(self, Transport t) noexcept nogil:
        cdef uint64_t k = self.left if self.left < BIG_CHUNK else BIG_CHUNK
        if k == 0:
            return 0
        # BIG_PATTERN is global read-only data: queued without a copy
        if t.send_nocopy(&BIG_PATTERN[self.pos % 251], k) < 0:
            return -1
        self.pos += k
        self.left -= k
        return 0

    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        cdef const char* nl
        cdef long long v
        if self.left:
            return t.pushback(n)
        nl = <const char*>memchr(data, b'\n', n)
        if nl == NULL:
            return t.pushback(n)
        v = strtoll(data, NULL, 10)
        if v <= 0:
            return -1
        self.left = <uint64_t>v
        self.pos = 0
        t.count_request()
        if nl + 1 < data + n:
            t.pushback(data + n - (nl + 1))
        return self._more(t)

    cdef int send_complete(self, Transport t) noexcept nogil:
        return self._more(t)


# ------------------------------------------------------------------ lifecycle
# (tests/test_lifecycle.py)

cimport cython
from libc.stdint cimport uint32_t

cdef extern from *:
    """
    static long px_lost_calls, px_lost_refused, px_fired_after_lost;
    #define px_atomic_inc(p) __atomic_add_fetch((p), 1, __ATOMIC_RELAXED)
    #define px_atomic_get(p) __atomic_load_n((p), __ATOMIC_RELAXED)
    """
    long px_lost_calls, px_lost_refused, px_fired_after_lost
    void px_atomic_inc(long* p) nogil
    long px_atomic_get(long* p) nogil


def lost_counts():
    """(connection_lost calls, sends refused from connection_lost)."""
    return px_atomic_get(&px_lost_calls), px_atomic_get(&px_lost_refused)


cdef class LostSender(Protocol):
    """Echo; 'close' -> t.close(). connection_lost tries to send (memory and a file)."""
    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        if n >= 5 and memcmp(data, b"close", 5) == 0:
            t.send(b"closing\n", 8)
            t.close()
            return 0
        return t.send(data, n)

    cdef void connection_lost(self, Transport t) noexcept nogil:
        px_atomic_inc(&px_lost_calls)
        if t.send(b"after-lost\n", 11) < 0:
            px_atomic_inc(&px_lost_refused)
        if t.sendfile_path(b"/etc/hostname", 0, <uint64_t>-1) < 0:
            px_atomic_inc(&px_lost_refused)


cdef class HalfCloser(Protocol):
    """Echo; keeps the connection open on EOF (eof_received -> 1), answers
    'eof <bytes seen>' and closes. 'wreof' -> 'bye' then write_eof() (reading goes on)."""
    cdef uint64_t seen

    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        self.seen += n
        if n >= 5 and memcmp(data, b"wreof", 5) == 0:
            t.send(b"bye\n", 4)
            return t.write_eof()
        if t.send(data, n) < 0:
            return 0                    # after write_eof: reading only
        return 0

    cdef int eof_received(self, Transport t) noexcept nogil:
        cdef char buf[48]
        cdef int k = snprintf(buf, sizeof(buf), "eof %llu\n", <unsigned long long>self.seen)
        t.send(buf, k)
        t.close()
        return 1


cdef class Timers(Protocol):
    """Lines: 'T MS TOKEN' -> call_later, answers 'id ID'; 'C ID' -> cancel, answers
    'cancel RESULT'; 'P MS' -> pause_reading and resume after MS (input read
    meanwhile is delivered then); other lines are echoed. A timer answers 'fired TOKEN'."""
    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        cdef const char* p = data
        cdef const char* end = data + n
        cdef const char* line
        cdef size_t k
        cdef char buf[64]
        cdef char* sp
        cdef long long a, b
        cdef int64_t tid
        while True:
            line = next_line(t, &p, end, &k)
            if line == NULL:
                return t.pushback(end - p)
            if k >= 2 and line[0] == b'T' and line[1] == b' ':
                a = strtoll(line + 2, &sp, 10)
                b = strtoll(sp, NULL, 10)
                tid = t.call_later(<uint32_t>a, <uint64_t>b)
                t.send(buf, snprintf(buf, sizeof(buf), "id %lld\n", <long long>tid))
            elif k >= 2 and line[0] == b'C' and line[1] == b' ':
                a = strtoll(line + 2, NULL, 10)
                t.send(buf, snprintf(buf, sizeof(buf), "cancel %d\n", t.cancel(<int64_t>a)))
            elif k >= 2 and line[0] == b'P' and line[1] == b' ':
                a = strtoll(line + 2, NULL, 10)
                t.pause_reading()
                t.call_later(<uint32_t>a, 0)
                t.send(b"paused\n", 7)
                return t.pushback(end - p)      # the rest waits for resume
            else:
                t.send(line, k + 1)

    cdef int timer_fired(self, Transport t, uint64_t token) noexcept nogil:
        cdef char buf[48]
        if token == 0:
            t.resume_reading()
            return t.send(b"resumed\n", 8)
        return t.send(buf, snprintf(buf, sizeof(buf), "fired %llu\n", <unsigned long long>token))

    cdef void connection_lost(self, Transport t) noexcept nogil:
        px_atomic_inc(&px_lost_calls)


cdef class Stall(Protocol):
    """One line per callback, like a parser that stops while output is queued:
    'BIG N' -> N pattern bytes (memory), other lines -> 'ok LINE'. With output
    pending it pushes everything back (no progress); after a line it pushes back
    the rest (progress). Answers pipelined lines only through redelivery."""
    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        cdef const char* p = data
        cdef const char* end = data + n
        cdef const char* line
        cdef size_t k
        cdef long long v, c
        if t.pending() > 0:
            return t.pushback(n)
        line = next_line(t, &p, end, &k)
        if line == NULL:
            return t.pushback(n)
        if k > 4 and memcmp(line, b"BIG ", 4) == 0:
            v = strtoll(line + 4, NULL, 10)
            while v > 0:
                c = v if v < BIG_CHUNK else BIG_CHUNK
                if t.send_nocopy(&BIG_PATTERN[0], <size_t>c) < 0:
                    return -1
                v -= c
        else:
            t.send(b"ok ", 3)
            t.send(line, k + 1)
        return t.pushback(end - p)


cdef class Reporter(Protocol):
    """connection_made sends 'value V' (a public field of the prototype)."""
    cdef public long value

    cdef int connection_made(self, Transport t) noexcept nogil:
        cdef char buf[48]
        return t.send(buf, snprintf(buf, sizeof(buf), "value %ld\n", self.value))


cdef class Misuse(Protocol):
    """'a' commit without reserve; 'b' commit past the reservation; 'c' huge sizes.
    Answers the results."""
    cdef pxcy_bytes kept

    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        cdef char buf[160]
        cdef int r1, r2
        cdef char* p
        cdef pxcy_bytes b
        if data[0] == b'a':
            r1 = t.commit(5)
            return t.send(buf, snprintf(buf, sizeof(buf), "commit-without-reserve %d\n", r1))
        if data[0] == b'b':
            p = t.reserve(4)
            r1 = t.commit(8)
            p = t.reserve(4)
            t.alloc(16)
            r2 = t.commit(4)
            return t.send(buf, snprintf(buf, sizeof(buf), "commit-past %d after-alloc %d\n", r1, r2))
        if data[0] == b'c':
            b.data = NULL
            b.size = 0
            self.kept = t.persist(b, data, <size_t>-1)
            return t.send(buf, snprintf(buf, sizeof(buf), "alloc %d persist %d send %d reserve %d\n",
                                        t.alloc(<size_t>-1) == NULL, self.kept.data == NULL,
                                        t.send(data, <size_t>-8), t.reserve(<size_t>-16) == NULL))
        return 0


cdef class WithCinit(Protocol):
    cdef void* p

    def __cinit__(self):
        self.p = <void*>self


cdef class WithMemoryview(Protocol):
    cdef double[:] mv


cdef class WithWeakref(Protocol):
    cdef object __weakref__


cdef class WithCharPointer(Protocol):
    """A C-typed class: Cython pickles a char* field as bytes, so probing a fresh
    instance (NULL pointers) crashed the process in PyBytes_FromString(NULL)."""
    cdef const char* name
    cdef char* buf
    cdef long n


@cython.no_gc
cdef class WithNoGcObject(Protocol):
    cdef object o


# ------------------------------------------------------------ capabilities
# (tests/test_capabilities.py: handles, send_to, connect, defer)

cdef class Relay(Protocol):
    """Lines: 'H' -> 'h HANDLE'; 'S HANDLE TEXT' -> send_to(HANDLE, 'TEXT\\n'), answers
    's RC ERR'; 'D TOKEN TEXT' -> defer(TOKEN, TEXT), answers 'd RC ERR', and later
    'r TOKEN STATUS DATA'; 'C HOST PORT TOKEN' -> connect, answers 'c RC ERR', later
    'done TOKEN UP ERR' (UP: handle != 0); 'W HANDLE' -> write_eof_to; 'X HANDLE' ->
    close_handle, answers 'x RC'. Bytes from an outbound connection ('RelayClient')
    arrive as they are."""
    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        cdef const char* p = data
        cdef const char* end = data + n
        cdef const char* line
        cdef size_t k
        cdef char buf[128]
        cdef char host[64]
        cdef char* sp
        cdef char* sp2
        cdef unsigned long long h, tok
        cdef long port
        cdef int rc
        while True:
            line = next_line(t, &p, end, &k)
            if line == NULL:
                return t.pushback(end - p)
            if k == 1 and line[0] == b'H':
                t.send(buf, snprintf(buf, sizeof(buf), "h %llu\n", <unsigned long long>t.handle()))
            elif k >= 2 and line[1] == b' ' and (line[0] == b'S' or line[0] == b'D'):
                h = strtoull(line + 2, &sp, 10)
                if sp < line + k:
                    sp += 1
                if line[0] == b'S':
                    memcpy(buf, sp, line + k - sp)
                    buf[line + k - sp] = b'\n'
                    rc = t.send_to(h, buf, line + k - sp + 1)
                    t.send(buf, snprintf(buf, sizeof(buf), "s %d %d\n", rc, t.error() if rc else 0))
                else:
                    rc = t.defer(h, sp, line + k - sp)
                    t.send(buf, snprintf(buf, sizeof(buf), "d %d %d\n", rc, t.error() if rc else 0))
            elif k >= 2 and line[1] == b' ' and (line[0] == b'W' or line[0] == b'X'):
                h = strtoull(line + 2, NULL, 10)
                if line[0] == b'W':
                    rc = t.write_eof_to(h)
                else:
                    rc = t.close_handle(h)
                t.send(buf, snprintf(buf, sizeof(buf), "%c %d\n", line[0] + 32, rc))
            elif k >= 2 and line[0] == b'C' and line[1] == b' ' and k < 60:
                memcpy(host, line + 2, k - 2)
                host[k - 2] = 0
                sp = <char*>memchr(host, b' ', k - 2)
                if sp == NULL:
                    continue
                sp[0] = 0
                port = strtol(sp + 1, &sp2, 10)
                tok = strtoull(sp2, NULL, 10)
                rc = t.connect(host, <int>port, tok)
                t.send(buf, snprintf(buf, sizeof(buf), "c %d %d\n", rc, t.error() if rc else 0))
            else:
                t.send(line, k + 1)

    cdef int connect_done(self, Transport t, uint64_t token, uint64_t handle) noexcept nogil:
        cdef char buf[96]
        return t.send(buf, snprintf(buf, sizeof(buf), "done %llu %d %d %llu\n",
                                    <unsigned long long>token, handle != 0,
                                    t.error() if handle == 0 else 0, <unsigned long long>handle))

    cdef int result_received(self, Transport t, uint64_t token, const char* data, size_t n,
                             int status) noexcept nogil:
        cdef char buf[64]
        t.send(buf, snprintf(buf, sizeof(buf), "r %llu %d ", <unsigned long long>token, status))
        t.send(data, n)
        return t.send(b"\n", 1)


cdef class RelayClient(Protocol):
    """Outbound side: announces 'up ORIGIN_OK TOKEN' to its origin, relays what it reads."""
    cdef int connection_made(self, Transport t) noexcept nogil:
        cdef char buf[64]
        return t.send_to(t.origin(), buf, snprintf(buf, sizeof(buf), "up %d %llu %llu\n",
                         t.origin() != 0, <unsigned long long>t.token(),
                         <unsigned long long>t.handle()))

    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        t.send_to(t.origin(), data, n)
        return 0


cdef class Ticker(Protocol):
    """docs/tutorial.md section 10: three ticks 50 ms apart, or stop on input."""
    cdef int ticks
    cdef int64_t timer

    cdef int connection_made(self, Transport t) noexcept nogil:
        self.timer = t.call_later(50, 1)
        return 0

    cdef int timer_fired(self, Transport t, uint64_t token) noexcept nogil:
        cdef char buf[32]
        self.ticks += 1
        t.send(buf, snprintf(buf, sizeof(buf), "tick %d\n", self.ticks))
        if self.ticks == 3:
            t.close()
        else:
            self.timer = t.call_later(50, 1)
        return 0

    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        t.cancel(self.timer)             # a byte from the client stops the ticks
        t.send(b"stopped\n", 8)
        t.close()
        return 0


cdef char MIX_PATH[256]
MIX_PATH[0] = 0

def mixer_set_path(bytes path):
    """The file Mixer's sendfile lines read (set before serving)."""
    assert len(path) < 255
    memcpy(MIX_PATH, <const char*>path, len(path))
    MIX_PATH[len(path)] = 0


cdef class Mixer(Protocol):
    """Line 'I\\n' -> one answer by I % 6, each a different way of queueing output,
    so pipelined lines interleave them: 0 send, 1 reserve + commit (a partial
    commit), 2 alloc + send_nocopy, 3 sendfile of 3 bytes of MIX_PATH at I % 100,
    4 a 20 KiB send (the large-send path), 5 two sends. The answers are what
    expected() in tests/test_lifecycle.py's MIXER_CHILD computes."""
    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        cdef const char* p = data
        cdef const char* end = data + n
        cdef const char* line
        cdef size_t k
        cdef long i
        cdef char* out
        cdef int m
        cdef char big[20480]
        while True:
            line = next_line(t, &p, end, &k)
            if line == NULL:
                return t.pushback(end - p)
            i = strtol(line, NULL, 10)
            if i % 6 == 0:
                out = <char*>t.alloc(32)        # (alloc between sends: the tail cannot continue)
                m = snprintf(big, 64, "s%ld\n", i)
                if t.send(big, m) < 0:
                    return -1
            elif i % 6 == 1:
                out = t.reserve(64)
                if out == NULL:
                    return -1
                m = snprintf(out, 64, "r%ld\n", i)
                if t.commit(m) < 0:
                    return -1
            elif i % 6 == 2:
                out = <char*>t.alloc(32)
                if out == NULL:
                    return -1
                m = snprintf(out, 32, "n%ld\n", i)
                if t.send_nocopy(out, m) < 0:
                    return -1
            elif i % 6 == 3:
                if t.sendfile_path(MIX_PATH, <uint64_t>(i % 100), 3) < 0:
                    return -1
            elif i % 6 == 4:
                memset(big, 97 + i % 26, sizeof(big))
                m = snprintf(big, 32, "b%ld:", i)
                big[m] = b':'
                big[sizeof(big) - 1] = b'\n'
                if t.send(big, sizeof(big)) < 0:
                    return -1
            else:
                m = snprintf(big, 64, "x%ld,", i)
                if t.send(big, m) < 0 or t.send(b"y\n", 2) < 0:
                    return -1


cdef class SendFromReservation(Protocol):
    """Each read: twice, reserve(256), write a 200-byte line into it and send() it
    (not commit): the bytes are still in the heap's free room when send copies them."""
    cdef int count

    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        cdef char* out
        cdef int m, i
        for i in range(2):
            t.alloc(8)                          # the tail cannot be continued
            out = t.reserve(256)
            if out == NULL:
                return -1
            self.count += 1
            m = snprintf(out, 256, "reserved-then-sent %d ", self.count)
            memset(out + m, b'y', 199 - m)      # longer than a queue item: the copy
            out[199] = b'\n'                    # would overlap its source (ASan sees it)
            if t.send(out, 200) < 0:
                return -1
        return 0


cdef class Endless(Protocol):
    """Any input starts a stream that never ends: one byte from each send_complete
    (a Harness must say it is still busy, not return as if it were done)."""

    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        return t.send(b".", 1)

    cdef int send_complete(self, Transport t) noexcept nogil:
        return t.send(b".", 1)


cdef class TimerFan(Protocol):
    """'N' (N > 1000): one 0 ms timer, whose timer_fired arms N - 1000 more (tokens
    1..N-1000, past the timer tables' first 64 slots while they are being walked); each
    of those answers 'fired TOKEN'."""

    cdef int data_received(self, Transport t, const char* data, size_t n) noexcept nogil:
        cdef long long v = strtoll(data, NULL, 10)
        if t.call_later(0, <uint64_t>v) < 0:
            return -1
        return 0

    cdef int timer_fired(self, Transport t, uint64_t token) noexcept nogil:
        cdef char buf[48]
        cdef uint64_t i
        if token > 1000:
            for i in range(1, token - 1000 + 1):
                if t.call_later(0, i) < 0:
                    return -1
            return 0
        return t.send(buf, snprintf(buf, sizeof(buf), "fired %llu\n", <unsigned long long>token))
