"""The connection lifecycle over real sockets (issue 11): EOF in every case, the one
close path, SIGPIPE, start/stop, the prototype snapshot and layout check, checked
arguments, transient memory reclaimed as output drains, fairness, timeouts, timers,
pause/resume and pushback redelivery.

No timed assertions: socket timeouts only turn a hang (the bug) into a failure.
"""
import os
import random
import resource
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import pxcy
from pxcy.protocols.echo import Echo
from pxcy.protocols.lines import Lines
from netutil import recv_exactly, settled_stats

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUPPORT = os.path.join(ROOT, "tests", "support")
HANG = float(os.environ.get("PXCY_TEST_HANG", "30"))   # s before a read counts as "never answered"


def threads():
    return len(os.listdir("/proc/self/task"))


def threads_settled(base, tries=200):
    """Thread count once joined Python threads have left the kernel's task list."""
    for _ in range(tries):
        if threads() <= base:
            break
        time.sleep(0.01)
    return threads()


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))


def recv_until_eof(s, limit=1 << 30):
    buf = bytearray()
    while len(buf) < limit:
        chunk = s.recv(1 << 20)
        if not chunk:
            return bytes(buf)
        buf += chunk
    return bytes(buf)


def wait_stats(server, cond, tries=400):
    for _ in range(tries):
        st = server.stats()
        if cond(st):
            return st
        time.sleep(0.025)
    return server.stats()


def run_child(code, env=None, timeout=120, **kw):
    """Run a Python snippet (pxcy importable, tests/support on the path)."""
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([ROOT, SUPPORT, os.path.join(ROOT, "tests"), e.get("PYTHONPATH", "")])
    e.update(env or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=e, capture_output=True,
                          text=True, timeout=timeout, **kw)


# ------------------------------------------------------------------- EOF

def test_200_connections_half_close_every_byte_echoed_then_closed(serve):
    raise_nofile(1024)
    server = serve(Echo, workers=2)
    socks = []
    for i in range(200):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.settimeout(HANG)
        payload = bytes([i % 256]) * 100
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)              # data and FIN arrive together
        socks.append((s, payload))
    for s, payload in socks:
        assert recv_until_eof(s) == payload     # every byte back, then the server's FIN
        s.close()
    st = wait_stats(server, lambda st: st["connections"] == 0)
    assert st["connections"] == 0 and st["closed"] == 200
    assert st["eofs"] == 200


def test_lines_answers_then_closes_after_half_close(serve):
    server = serve(Lines, workers=1)
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(HANG)
    s.sendall(b"a\nb\nunfinished")
    s.shutdown(socket.SHUT_WR)
    assert recv_until_eof(s) == b"1 a\n2 b\n"


def test_half_close_while_reading_is_paused_is_not_lost(serve):
    """The FIN arrives while backpressure pauses reading: the hang-up epoll reported
    must be remembered, or EOF is never seen once reading resumes (edge-triggered:
    no second edge)."""
    server = serve(Echo, workers=1, max_unsent=64 << 10)
    for i in range(5):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.settimeout(HANG)
        payload = random.Random(i).randbytes(8 << 20)

        def send():
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)

        t = threading.Thread(target=send)
        t.start()
        got = recv_until_eof(s)
        t.join()
        assert got == payload
        s.close()


def test_eof_received_keeps_writing_half_open(serve, protos):
    """eof_received -> 1: the connection stays open for writing; the handler answers
    and closes."""
    server = serve(protos.HalfCloser, workers=1)
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(HANG)
    s.sendall(b"12345")
    assert recv_exactly(s, 5) == b"12345"
    s.shutdown(socket.SHUT_WR)
    assert recv_until_eof(s) == b"eof 5\n"


def test_write_eof_shuts_our_side_and_reading_goes_on(serve, protos):
    server = serve(protos.HalfCloser, workers=1)
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(HANG)
    s.sendall(b"wreof")
    assert recv_until_eof(s) == b"bye\n"        # our FIN after the queued output
    s.sendall(b"more input")                    # the server still reads
    st = wait_stats(server, lambda st: st["bytes_in"] == 15)
    assert st["bytes_in"] == 15 and st["connections"] == 1
    s.shutdown(socket.SHUT_WR)                  # both directions done: closed
    st = wait_stats(server, lambda st: st["connections"] == 0)
    assert st["connections"] == 0
    s.close()


# ------------------------------------------------------------ close path

CHILD_SERVE = """
    import os, signal, socket, sys
    import pxcy, protos
    proto = getattr(protos, sys.argv[1]) if len(sys.argv) > 1 else None
    """


def test_connection_lost_output_refused_during_graceful_close_debug_mode(protos):
    """Output queued from connection_lost during a lingering close is refused, never
    flushed from freed memory (debug mode poisons and unmaps rolled-back blocks)."""
    p = run_child("""
        import socket, protos, pxcy
        assert pxcy.runtime.debug_enabled()
        server = pxcy.Server(protos.LostSender, "127.0.0.1", 0, workers=1).start()
        for i in range(20):
            s = socket.create_connection(("127.0.0.1", server.port))
            s.settimeout(30)
            s.sendall(b"hello")
            assert s.recv(5) == b"hello"
            s.sendall(b"close")
            got = b""
            while True:
                c = s.recv(4096)
                if not c:
                    break
                got += c
            assert got == b"closing\\n", got
            s.close()
        st = server.stats()
        server.stop()
        print("lost", protos.lost_counts(), "refused_sends", st["refused_sends"])
    """, env={"PXCY_DEBUG": "1"})
    assert p.returncode == 0, p.stdout + p.stderr
    assert "lost (20, 40)" in p.stdout, p.stdout


MIXER_CHILD = """
    import os, socket, threading, time, protos, pxcy
    assert pxcy.runtime.debug_enabled() == (os.environ.get("PXCY_DEBUG") == "1")
    path = os.path.join(os.environ["MIX_DIR"], "mix.bin")
    content = bytes(range(256)) * 2
    with open(path, "wb") as f:
        f.write(content)
    protos.mixer_set_path(path.encode())

    def expected(i):
        k = i % 6
        if k == 0: return b"s%d\\n" % i
        if k == 1: return b"r%d\\n" % i
        if k == 2: return b"n%d\\n" % i
        if k == 3: return content[i % 100:i % 100 + 3]
        if k == 4:
            head = b"b%d:" % i
            return head + b":" + bytes([97 + i % 26]) * (20478 - len(head)) + b"\\n"
        return b"x%d,y\\n" % i

    N = 1200
    server = pxcy.Server(protos.Mixer, "127.0.0.1", 0, workers=1).start()
    for rnd in range(3):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)     # a slow reader: partial writes
        s.connect(("127.0.0.1", server.port))
        s.settimeout(60)
        lines = b"".join(b"%d\\n" % i for i in range(N))
        cut = [0, 7, len(lines) // 3 + 1, len(lines)]
        def feed():
            for a, b in zip(cut, cut[1:]):
                s.sendall(lines[a:b])
        th = threading.Thread(target=feed)
        th.start()
        want = b"".join(expected(i) for i in range(N))
        got = bytearray()
        while len(got) < len(want):
            c = s.recv(1000 + 3000 * rnd)
            assert c, "server closed early"
            got += c
            if len(got) % 7 == 0:
                time.sleep(0.001)
        th.join()
        assert bytes(got) == want, next(i for i in range(len(want)) if got[i] != want[i])
        s.close()
    st = server.stats()
    server.stop()
    print("mixed ok", st["errors"], st["refused_sends"])
"""


def test_stop_finishes_a_response_streamed_from_send_complete(protos):
    """stop() while a response that send_complete streams in 256 KiB chunks is in
    flight to a slow reader: the whole response arrives, then the close. (The stop
    used to close such a connection after the chunk being written.)"""
    n = 6 * 1024 * 1024
    pattern = bytes(range(251)) * (n // 251 + 1)
    server = pxcy.Server(protos.BigResponse, "127.0.0.1", 0, workers=1, stop_timeout=60).start()
    try:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        s.connect(("127.0.0.1", server.port))
        s.settimeout(HANG)
        s.sendall(b"%d\n" % n)
        got = bytearray(recv_exactly(s, 300 * 1024))     # past the first chunk: mid-stream
        stopper = threading.Thread(target=server.stop)
        stopper.start()
        while True:
            c = s.recv(1 << 16)
            if not c:
                break
            got += c
        stopper.join(HANG)
        assert not stopper.is_alive()
        assert len(got) == n and bytes(got) == pattern[:n]
        s.close()
    finally:
        server.stop()


def test_send_from_an_uncommitted_reservation(serve, protos):
    """send(p, n) with p inside the last reserve(): the bytes are copied before a
    queue item is placed where they are (before the fix the copy's source and
    destination overlapped: ASan reports memcpy-param-overlap)."""
    def line(k):
        head = b"reserved-then-sent %d " % k
        return head + b"y" * (199 - len(head)) + b"\n"
    server = serve(protos.SendFromReservation, workers=1)
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(HANG)
    for k in range(3):
        s.sendall(b"x")
        want = b"".join(line(2 * k + i) for i in (1, 2))
        assert recv_exactly(s, len(want)) == want
    s.close()


@pytest.mark.parametrize("debug", ["0", "1"])
def test_interleaved_output_kinds_pipelined_to_a_slow_reader(protos, tmp_path, debug):
    """send, reserve/commit, alloc + send_nocopy, sendfile, large sends and two sends
    per request, 1,200 pipelined requests answered to a reader with a small receive
    buffer (partial writes everywhere): every byte in order. Small sends continue the
    queue's last memory item (one iovec for a run); debug mode unmaps released
    blocks, so an item or a run read from released memory would fault or differ."""
    p = run_child(MIXER_CHILD, env={"PXCY_DEBUG": debug, "MIX_DIR": str(tmp_path)}, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "mixed ok 0 0" in p.stdout, p.stdout + p.stderr


def test_connection_lost_exactly_once_on_every_close_kind(serve, protos):
    before = protos.lost_counts()[0]
    server = serve(protos.LostSender, workers=1)
    kinds = 0
    # graceful (t.close()), peer EOF, peer reset, server stop
    s = socket.create_connection(("127.0.0.1", server.port)); s.settimeout(HANG)
    s.sendall(b"close"); assert recv_until_eof(s) == b"closing\n"; kinds += 1
    s = socket.create_connection(("127.0.0.1", server.port)); s.settimeout(HANG)
    s.sendall(b"x"); assert s.recv(1) == b"x"; s.shutdown(socket.SHUT_WR)
    assert recv_until_eof(s) == b""; kinds += 1
    s = socket.create_connection(("127.0.0.1", server.port)); s.settimeout(HANG)
    s.sendall(b"x"); assert s.recv(1) == b"x"
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); s.close(); kinds += 1
    keep = socket.create_connection(("127.0.0.1", server.port)); keep.settimeout(HANG)
    keep.sendall(b"y"); assert keep.recv(1) == b"y"; kinds += 1
    wait_stats(server, lambda st: st["closed"] == 3)
    server.stop()
    assert protos.lost_counts()[0] - before == kinds
    assert recv_until_eof(keep) == b""


# ---------------------------------------------------------------- SIGPIPE

def test_sigpipe_default_resets_during_writev_sendfile_and_linger(protos, tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(1 << 30)                     # sparse 1 GiB
    p = run_child(f"""
        import signal, socket, struct, time
        import pxcy, protos
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        def rst(s):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        flood = pxcy.Server(protos.Flood, "127.0.0.1", 0, workers=1).start()
        files = pxcy.Server(protos.FileSender, "127.0.0.1", 0, workers=1).start()
        greet = pxcy.Server(protos.Greeter, "127.0.0.1", 0, workers=1, linger=5).start()
        for i in range(10):
            s = socket.create_connection(("127.0.0.1", flood.port)); s.sendall(b"go")
            s.recv(1000); rst(s)                                   # during writev
            s = socket.create_connection(("127.0.0.1", files.port))
            s.sendall(b"{big} 0 -1\\n"); s.recv(1000); rst(s)      # during sendfile
            s = socket.create_connection(("127.0.0.1", greet.port))
            s.recv(100); s.sendall(b"bye")
            s.recv(100); s.sendall(b"x" * 100000); rst(s)          # during linger
        time.sleep(0.5)
        s = socket.create_connection(("127.0.0.1", files.port))
        s.sendall(b"{big} 0 10\\n")
        assert s.recv(10) == b"\\0" * 10
        for srv in (flood, files, greet):
            srv.stop()
        print("alive")
    """)
    assert p.returncode == 0, (p.returncode, p.stdout + p.stderr)
    assert "alive" in p.stdout


def test_worker_threads_block_async_signals(serve):
    server = serve(Echo, workers=2)
    me = threading.get_native_id()
    masks = []
    for tid in os.listdir("/proc/self/task"):
        if int(tid) == me:
            continue
        with open(f"/proc/self/task/{tid}/status") as f:
            for line in f:
                if line.startswith("SigBlk:"):
                    masks.append(int(line.split()[1], 16))
    blocked = [m for m in masks if m & (1 << (signal.SIGINT - 1)) and m & (1 << (signal.SIGTERM - 1))
               and m & (1 << (signal.SIGPIPE - 1))]
    assert len(blocked) >= 2                    # both workers


# ------------------------------------------------------------- start/stop

def test_failed_start_under_low_fd_limit_closes_nothing_it_did_not_open():
    p = run_child("""
        import os, resource, stat, threading
        import pxcy
        from pxcy.protocols.echo import Echo
        r, w = os.pipe()
        os.dup2(r, 0)                                # fd 0 is a pipe we can check
        server = pxcy.Server(Echo, "127.0.0.1", 0, workers=8)
        nfd = len(os.listdir("/proc/self/fd"))
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (nfd + 6, hard))   # listener + ~2 workers
        before = threading.active_count(), len(os.listdir("/proc/self/task"))
        try:
            server.start()
        except OSError as e:
            print("raised", e.errno)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        assert stat.S_ISFIFO(os.fstat(0).st_mode), "fd 0 was closed"
        assert len(os.listdir("/proc/self/task")) == before[1], "thread left running"
        assert not server.serving
        print("fds", len(os.listdir("/proc/self/fd")) - nfd)
    """)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "raised" in p.stdout
    assert "fds 0" in p.stdout or "fds -" in p.stdout or "fds 1" in p.stdout, p.stdout


def test_start_and_stop_from_two_threads_at_once():
    base = threads()
    for i in range(30):
        server = pxcy.Server(Echo, "127.0.0.1", 0, workers=2)
        go = threading.Barrier(2)

        def starter():
            go.wait()
            try:
                server.start()
            except RuntimeError:
                pass                            # stopped before it started: refused

        def stopper():
            go.wait()
            if i % 2:
                time.sleep(0.0005 * (i % 7))
            server.stop()

        ts = [threading.Thread(target=starter), threading.Thread(target=stopper)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        serving = server.serving
        server.stop()
        assert not serving, f"iteration {i}: stop() during start() was lost"
        assert threads_settled(base) == base


def test_concurrent_stop_returns_after_threads_joined(protos):
    """Three threads call stop() at once: each returns only once the workers have
    finished (every connection_lost has run). Judged from what the workers did, not
    from /proc/self/task: a joined thread stays listed there for a moment while the
    kernel reaps it, which made a thread count flaky under load."""
    base = threads()
    for i in range(10):
        server = pxcy.Server(protos.Timers, "127.0.0.1", 0, workers=4, stop_timeout=1.0).start()
        conns = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(4)]
        for s in conns:
            s.sendall(b"x\n")
            recv_exactly(s, 2)
        before = protos.lost_counts()[0]
        seen = []
        go = threading.Barrier(3)

        def stopper():
            go.wait()
            server.stop()
            seen.append(protos.lost_counts()[0] - before)   # the caller's view right after stop()

        ts = [threading.Thread(target=stopper) for _ in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert seen == [4, 4, 4], (i, seen)
        for s in conns:
            s.close()
    assert threads_settled(base) == base


# --------------------------------------------------------------- prototype

def test_prototype_snapshot_main_thread_mutation_not_seen(serve, protos):
    proto = protos.Reporter()
    proto.value = 1
    server = serve(proto, workers=2)
    for v in range(2, 40):
        proto.value = v                         # the main thread changes the prototype
        s = socket.create_connection(("127.0.0.1", server.port))
        s.settimeout(HANG)
        assert s.makefile("rb").readline() == b"value 1\n"
        s.close()


@pytest.mark.parametrize("name, what", [
    ("WithCinit", "__cinit__"),
    ("WithMemoryview", "memoryview field"),
    ("WithObject", "Python-object field"),
    ("WithNoGcObject", "Python-object field"),
    ("WithWeakref", "__weakref__"),
])
def test_unsafe_protocol_layouts_refused(protos, name, what):
    cls = getattr(protos, name)
    with pytest.raises(TypeError) as e:
        pxcy.Server(cls)
    msg = str(e.value)
    assert "\n" not in msg
    assert what in msg and f"protos.{name}" in msg and "only C-typed fields" in msg
    with pytest.raises(TypeError):
        pxcy.Harness(cls)


def test_c_typed_protocols_accepted(protos):
    for cls in (protos.Reporter, protos.Stall, protos.Timers, protos.HalfCloser, Lines, Echo,
                protos.WithCharPointer):
        pxcy.Server(cls)


# ---------------------------------------------------------------- arguments

def test_commit_pairing_and_huge_sizes_fail_cleanly(protos):
    h = pxcy.Harness(protos.Misuse)
    assert h.feed(b"a") == b"commit-without-reserve -1\n"
    assert h.feed(b"b") == b"commit-past -1 after-alloc -1\n"
    assert h.feed(b"c") == b"alloc 1 persist 1 send -1 reserve 1\n"
    assert not h.closed


def test_timers_armed_from_timer_fired_past_the_first_table(protos):
    """200 timers armed from one timer_fired (the slot table and the heap grow, from 64,
    while timers_run walks them): each fires once, in the next turn."""
    h = pxcy.Harness(protos.TimerFan)
    out = h.feed(b"1200\n") + h.advance(0)
    tokens = sorted(int(line.split()[1]) for line in out.decode().splitlines())
    assert tokens == list(range(1, 201))
    assert not h.closed


def test_harness_says_when_a_protocol_never_settles(protos):
    """A stream that never ends keeps the Harness's settle loop busy: after its bound it
    raises a clear error instead of returning as if the protocol were done."""
    h = pxcy.Harness(protos.Endless)
    with pytest.raises(RuntimeError, match="still busy after 10000 rounds"):
        h.feed(b"go")
    assert pxcy.Harness(protos.Greeter).feed(b"x") is not None     # an ordinary one settles


@pytest.mark.parametrize("what", ["a", "b"])
def test_commit_misuse_aborts_with_file_and_line_in_debug_mode(protos, what):
    p = run_child(f"""
        import pxcy, protos
        h = pxcy.Harness(protos.Misuse)
        h.feed(b"{what}")
        print("survived")
    """, env={"PXCY_DEBUG": "1", "PXCY_DEBUG_SYMBOLIZE": "0"})
    assert p.returncode != 0 and "survived" not in p.stdout
    assert "Transport.commit" in p.stderr
    assert "runtime" in p.stderr and ":" in p.stderr


def test_sendfile_close_after_owns_fd_on_every_path(serve, protos, tmp_path):
    """FileSender's sendfile_path opens a file per request: a failed or empty send
    must not leak the descriptor."""
    f = tmp_path / "empty"
    f.write_bytes(b"")
    server = serve(protos.FileSender, workers=1)
    fds = len(os.listdir("/proc/self/fd"))
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(HANG)
    for _ in range(50):
        s.sendall(f"{f} 0 -1\n{f} 5 -1\n".encode())
    s.sendall(b"/nonexistent 0 1\n")
    assert recv_exactly(s, 4) == b"ERR\n"
    # offsets past off_t (they wrapped in the range check), and offset + count past it
    for off, cnt in ((1 << 63, 1), ((1 << 64) - 100, 10), ((1 << 63) - 5, 10)):
        s.sendall(f"{f} {off} {cnt}\n".encode())
        assert recv_exactly(s, 4) == b"ERR\n", (off, cnt)
    s.close()
    wait_stats(server, lambda st: st["connections"] == 0)
    assert len(os.listdir("/proc/self/fd")) <= fds + 1


# ---------------------------------------------------------- memory, input

def test_pipelined_behind_10mib_answered_without_more_input(serve, protos):
    """Stall pushes everything back while output is queued (no progress): its input
    comes back once the queue drains, without the client sending anything."""
    server = serve(protos.Stall, workers=1)
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(HANG)
    s.sendall(b"BIG 10485760\nsmall\nsmall2\n")
    body = recv_exactly(s, 10485760)
    assert len(body) == 10485760
    assert recv_exactly(s, 9 + 10) == b"ok small\nok small2\n"
    st = server.stats()
    assert st["redeliveries"] >= 2


def test_pushback_with_progress_redelivered_without_new_bytes(serve, protos):
    server = serve(protos.Stall, workers=1)
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(HANG)
    lines = b"".join(b"l%d\n" % i for i in range(100))
    s.sendall(lines)
    want = b"".join(b"ok l%d\n" % i for i in range(100))
    assert recv_exactly(s, len(want)) == want


def test_streaming_client_window_transient_heap_bounded(serve):
    """A client keeping a window in flight never lets the output queue drain: the
    transient heap must still be released as output is written (2 GiB by default;
    PXCY_STREAM_MB to change)."""
    total = int(os.environ.get("PXCY_STREAM_MB", "2048")) << 20
    window = 8 << 20
    max_unsent = 4 << 20
    server = serve(Echo, workers=1, max_unsent=max_unsent)
    block = random.Random(5).randbytes((1 << 20) + 7)
    twice = block + block
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(HANG)
    sent = [0]
    recvd = [0]
    cv = threading.Condition()
    errors = []

    def sender():
        off = 0
        try:
            while off < total:
                with cv:
                    while off - recvd[0] >= window:
                        cv.wait()
                n = min(len(block), total - off, window - (off - recvd[0]))
                start = off % len(block)
                s.sendall(twice[start:start + n])
                off += n
            s.shutdown(socket.SHUT_WR)
        except Exception as e:              # pragma: no cover
            errors.append(e)

    t = threading.Thread(target=sender)
    t.start()
    buf = bytearray(len(block))
    mv = memoryview(buf)
    got = 0
    ok = True
    while got < total:
        n = s.recv_into(mv, len(block))
        if n == 0:
            break
        start = got % len(block)
        if mv[:n] != twice[start:start + n]:
            ok = False
            break
        got += n
        with cv:
            recvd[0] = got
            cv.notify()
    t.join()
    assert not errors
    assert ok and got == total, (ok, got)
    assert recv_until_eof(s) == b""
    st = server.stats()
    # bound: max_unsent, plus one read's output (64 KiB) and a few 64 KiB blocks
    assert 0 < st["transient_peak"] <= max_unsent + (1 << 20), st["transient_peak"]


# ------------------------------------------------------- fairness, timeouts

def test_read_budget_bounds_reads_per_turn_under_flood(serve):
    server = serve(Echo, workers=1, read_budget=2, read_size=4096)
    flood = socket.create_connection(("127.0.0.1", server.port))
    flood.settimeout(HANG)
    probe = socket.create_connection(("127.0.0.1", server.port))
    probe.settimeout(HANG)
    stop = threading.Event()

    def drain():
        while not stop.is_set():
            try:
                if not flood.recv(1 << 20):
                    return
            except OSError:
                return

    t = threading.Thread(target=drain)
    t.start()
    chunk = b"f" * (1 << 20)
    for i in range(32):
        flood.sendall(chunk)
        probe.sendall(b"ping%03d" % i)
        assert recv_exactly(probe, 7) == b"ping%03d" % i
    st = server.stats()
    stop.set()
    flood.shutdown(socket.SHUT_RDWR)
    t.join()
    assert st["max_reads_per_turn"] <= 2
    assert st["budget_yields"] > 0


def test_client_that_stops_reading_closed_after_write_timeout(serve, protos):
    server = serve(protos.Flood, workers=1, write_timeout=0.3)
    s = socket.create_connection(("127.0.0.1", server.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(b"go")                            # 32 MiB that we never read
    st = wait_stats(server, lambda st: st["write_timeouts"] == 1 and st["connections"] == 0, tries=800)
    assert st["write_timeouts"] == 1 and st["connections"] == 0
    s.close()


# ------------------------------------------------------------------ timers

def test_timers_fire_in_order_and_cancel(serve, protos):
    server = serve(protos.Timers, workers=1)
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(HANG)
    f = s.makefile("rb")
    s.sendall(b"T 60 1\nT 20 2\nT 40 3\nT 40 4\nT 30 5\n")
    ids = [int(f.readline().split()[1]) for _ in range(5)]
    assert all(i >= 0 for i in ids) and len(set(ids)) == 5
    s.sendall(b"C %d\nC %d\n" % (ids[4], ids[4]))
    assert f.readline() == b"cancel 0\n"
    assert f.readline() == b"cancel -1\n"      # already cancelled
    got = [f.readline() for _ in range(4)]
    assert got == [b"fired 2\n", b"fired 3\n", b"fired 4\n", b"fired 1\n"]
    s.sendall(b"C %d\n" % ids[0])
    assert f.readline() == b"cancel -1\n"      # fired: its id is stale


def test_reset_while_paused_closes_at_once(serve, protos):
    """A client that resets a connection whose reading is paused (nothing queued): the
    reset was only remembered for the next read, so the record and its heaps stayed
    until the pause ended (here 10 minutes)."""
    server = serve(protos.Timers, workers=1)
    for queued in (b"", b"more input that waits for the resume\n"):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.settimeout(HANG)
        f = s.makefile("rb")
        s.sendall(b"P 600000\n" + queued)
        assert f.readline() == b"paused\n"
        wait_stats(server, lambda st: st["connections"] == 1)
        f.close()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        st = wait_stats(server, lambda st: st["connections"] == 0)
        assert st["connections"] == 0, queued


def test_many_timers_per_connection(serve, protos):
    server = serve(protos.Timers, workers=1)
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(HANG)
    f = s.makefile("rb")
    rng = random.Random(7)
    ms = [rng.randrange(0, 300) for _ in range(1000)]
    s.sendall(b"".join(b"T %d %d\n" % (m, i + 1) for i, m in enumerate(ms)))
    for _ in ms:
        assert f.readline().startswith(b"id ")
    got = [int(f.readline().split()[1]) for _ in ms]
    # one callback armed them all at the same `now`: order by delay, then arming
    assert got == sorted(range(1, 1001), key=lambda k: (ms[k - 1], k))


def test_timers_of_a_closed_connection_never_fire(serve, protos):
    server = serve(protos.Timers, workers=1)
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.settimeout(HANG)
        f = s.makefile("rb")
        s.sendall(b"T 50 1\nT 100 2\n")
        f.readline(); f.readline()
        f.close()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    time.sleep(0.3)                             # past every timer's due time
    st = wait_stats(server, lambda st: st["connections"] == 0)
    assert st["timers_fired"] == 0 and st["connections"] == 0


def test_pause_resume_delivers_input_received_while_paused(serve, protos):
    server = serve(protos.Timers, workers=1)
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(HANG)
    f = s.makefile("rb")
    s.sendall(b"P 200\nabc\n")
    assert f.readline() == b"paused\n"
    s.sendall(b"xyz\n")                         # arrives while paused
    assert f.readline() == b"resumed\n"
    assert f.readline() == b"abc\n"
    assert f.readline() == b"xyz\n"


def test_eof_arriving_while_paused_is_seen_after_resume(serve, protos):
    """The FIN comes (with data) while reading is paused: the hang-up event is used up
    then, so after resume_reading the runtime must still read on to EOF."""
    server = serve(protos.Timers, workers=1)
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(HANG)
    f = s.makefile("rb")
    s.sendall(b"P 200\nabc\n")
    assert f.readline() == b"paused\n"
    s.sendall(b"xyz\n")
    s.shutdown(socket.SHUT_WR)                  # while paused
    assert f.readline() == b"resumed\n"
    assert f.readline() == b"abc\n"
    assert f.readline() == b"xyz\n"
    assert f.readline() == b""                  # EOF seen: closed after the output
