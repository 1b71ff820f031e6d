"""Runtime capabilities over real sockets (issue 13): handles and send_to, outbound
connections (connect / connect_done / origin / token), the TCP proxy built from
them, and defer to a pool of Python threads.

No timed assertions: socket timeouts only turn a hang (the bug) into a failure.
"""
import os
import socket
import struct
import threading
import time

import pytest

import pxcy
from pxcy.protocols.echo import Echo
from pxcy.protocols.proxy import proxy_server

from netutil import free_port

HANG = float(os.environ.get("PXCY_TEST_HANG", "30"))
ENOENT, EXDEV, EINVAL, ECONNREFUSED, ENOPROTOOPT, ETIMEDOUT = 2, 18, 22, 111, 92, 110


def client(server):
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(HANG)
    return s, s.makefile("rb")


def wait_stats(server, cond, tries=400):
    for _ in range(tries):
        st = server.stats()
        if cond(st):
            return st
        time.sleep(0.025)
    return server.stats()


def reset(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def closed_port():
    return free_port()  # bound, never listened: connecting is refused


def recv_exactly(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(min(1 << 20, n - len(buf)))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


# ----------------------------------------------------------------- handles

def test_send_to_another_connection_of_the_worker(serve, protos):
    server = serve(protos.Relay, workers=1)
    a, fa = client(server)
    b, fb = client(server)
    b.sendall(b"H\n")
    hb = int(fb.readline().split()[1])
    b.sendall(b"H\n")
    assert int(fb.readline().split()[1]) == hb           # stable
    a.sendall(b"S %d hello there\n" % hb)
    assert fa.readline() == b"s 0 0\n"
    assert fb.readline() == b"hello there\n"
    a.sendall(b"S %d\n" % hb)                           # zero bytes: fine, nothing sent
    assert fa.readline() == b"s 0 0\n"
    a.sendall(b"H\n")
    ha = int(fa.readline().split()[1])
    a.sendall(b"S %d to myself\n" % ha)
    assert fa.readline() == b"to myself\n"
    assert fa.readline() == b"s 0 0\n"


def test_send_to_gone_stale_or_other_worker_refused(serve, protos):
    server = serve(protos.Relay, workers=1)
    a, fa = client(server)
    b, fb = client(server)
    b.sendall(b"H\n")
    hb = int(fb.readline().split()[1])
    other = (hb & ((1 << 48) - 1)) | (7 << 48)          # same slot, another worker's id
    a.sendall(b"S %d x\n" % other)
    assert fa.readline() == b"s -1 %d\n" % EXDEV
    for bogus in (0, 1, (1 << 48) | 0xffffff):
        a.sendall(b"S %d x\n" % bogus)
        assert fa.readline().startswith(b"s -1 ")
    fb.close()
    reset(b)
    wait_stats(server, lambda st: st["connections"] == 1)
    a.sendall(b"S %d x\n" % hb)
    assert fa.readline() == b"s -1 %d\n" % ENOENT
    # the slot is reused by a new connection: the old handle still names nobody
    c, fc = client(server)
    c.sendall(b"H\n")
    hc = int(fc.readline().split()[1])
    assert hc != hb and (hc & 0xffffff) == (hb & 0xffffff)
    a.sendall(b"S %d stale\nS %d fresh\n" % (hb, hc))
    assert fa.readline() == b"s -1 %d\n" % ENOENT
    assert fa.readline() == b"s 0 0\n"
    assert fc.readline() == b"fresh\n"


def test_close_handle_and_write_eof_to(serve, protos):
    server = serve(protos.Relay, workers=1)
    a, fa = client(server)
    b, fb = client(server)
    b.sendall(b"H\n")
    hb = int(fb.readline().split()[1])
    a.sendall(b"S %d last words\nW %d\n" % (hb, hb))
    assert fa.readline() == b"s 0 0\n"
    assert fa.readline() == b"w 0\n"
    assert fb.readline() == b"last words\n"
    assert fb.readline() == b""                          # our FIN on b, after its output
    b.sendall(b"H\n")                                    # b still reads (half-closed)
    b.shutdown(socket.SHUT_WR)
    wait_stats(server, lambda st: st["connections"] == 1)
    c, fc = client(server)
    c.sendall(b"H\n")
    hc = int(fc.readline().split()[1])
    a.sendall(b"X %d\nX %d\n" % (hc, hc))
    assert fa.readline() == b"x 0\n"
    assert fa.readline() in (b"x 0\n", b"x -1\n")
    assert fc.read() == b""


# ---------------------------------------------------------- outbound connect

def test_connect_done_with_origin_and_token(serve, protos):
    up = serve(Echo, workers=1)
    server = serve(protos.Relay, workers=1, client=protos.RelayClient)
    a, fa = client(server)
    a.sendall(b"C 127.0.0.1 %d 42\n" % up.port)
    assert fa.readline() == b"c 0 0\n"
    words = fa.readline().split()
    assert words[:3] == [b"up", b"1", b"42"]
    hu = int(words[3])
    done = fa.readline().split()
    assert done[:4] == [b"done", b"42", b"1", b"0"] and int(done[4]) == hu
    a.sendall(b"S %d ping\n" % hu)                       # through the Echo upstream and back
    assert fa.readline() == b"s 0 0\n"
    assert fa.readline() == b"ping\n"
    assert server.stats()["connects"] == 1


def test_connect_to_closed_port_reports_error(serve, protos):
    server = serve(protos.Relay, workers=1, client=protos.RelayClient)
    a, fa = client(server)
    port = closed_port()
    a.sendall(b"C 127.0.0.1 %d 5\n" % port)
    assert fa.readline() == b"c 0 0\n"
    assert fa.readline() == b"done 5 0 %d 0\n" % ECONNREFUSED
    a.sendall(b"C no.such.name 80 6\nC 127.0.0.1 0 7\n")   # not numeric, not resolved; bad port
    assert fa.readline() == b"c -1 %d\n" % EINVAL
    assert fa.readline() == b"c -1 %d\n" % EINVAL
    st = wait_stats(server, lambda st: st["connections"] == 1)
    assert st["connect_errors"] == 1 and st["connections"] == 1


def unanswered_port():
    """A listener that never answers a new connect: its accept queue (backlog 0: one
    connection) is full, so the kernel drops further SYNs and a connect to it stays
    in SYN_SENT (the kernel alone would retry for about two minutes)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(0)
    fillers = []
    for _ in range(8):
        c = socket.socket()
        c.settimeout(0.3)
        fillers.append(c)
        try:
            c.connect(ls.getsockname())
        except socket.timeout:
            return ls, fillers          # this one hangs: so will the server's
    pytest.skip("the kernel answered every connect (no accept queue limit here)")


def test_connect_timeout_reports_etimedout(serve, protos):
    ls, fillers = unanswered_port()
    server = serve(protos.Relay, workers=1, client=protos.RelayClient, connect_timeout=0.2)
    a, fa = client(server)
    a.sendall(b"C 127.0.0.1 %d 9\n" % ls.getsockname()[1])
    assert fa.readline() == b"c 0 0\n"
    assert fa.readline() == b"done 9 0 %d 0\n" % ETIMEDOUT     # not after the kernel's ~2 min
    st = wait_stats(server, lambda st: st["connections"] == 1)
    assert st["connect_errors"] == 1 and st["connections"] == 1
    a.sendall(b"H\n")                                    # the asking connection still serves
    assert fa.readline().startswith(b"h ")
    for c in fillers + [ls]:
        c.close()


def test_connect_timeout_does_not_touch_a_connection_once_up(serve, protos):
    up = serve(Echo, workers=1)
    server = serve(protos.Relay, workers=1, client=protos.RelayClient, connect_timeout=0.05)
    a, fa = client(server)
    a.sendall(b"C 127.0.0.1 %d 3\n" % up.port)
    assert fa.readline() == b"c 0 0\n"
    hu = int(fa.readline().split()[3])
    assert fa.readline().split()[:4] == [b"done", b"3", b"1", b"0"]
    time.sleep(0.3)                    # well past the connect deadline (not a timed assertion)
    a.sendall(b"S %d ping\n" % hu)
    assert fa.readline() == b"s 0 0\n"
    assert fa.readline() == b"ping\n"
    assert server.stats()["connect_errors"] == 0


@pytest.mark.parametrize("bad", [-1, "soon", 1e12])
def test_connect_timeout_checked(bad):
    with pytest.raises(ValueError, match="connect_timeout"):
        pxcy.Server(Echo, connect_timeout=bad)


def test_connect_without_client_protocol_refused(serve, protos):
    server = serve(protos.Relay, workers=1)
    a, fa = client(server)
    a.sendall(b"C 127.0.0.1 1 5\n")
    assert fa.readline() == b"c -1 %d\n" % ENOPROTOOPT


def test_connect_resolved_name(serve, protos):
    up = serve(Echo, workers=1)
    server = serve(protos.Relay, workers=1, client=protos.RelayClient, resolve=("localhost",))
    a, fa = client(server)
    a.sendall(b"C localhost %d 1\n" % up.port)
    assert fa.readline() == b"c 0 0\n"
    assert fa.readline().startswith(b"up 1 1 ")
    assert fa.readline().startswith(b"done 1 1 0 ")


def test_asking_connection_gone_before_connect_done(serve, protos):
    up = serve(Echo, workers=1)
    server = serve(protos.Relay, workers=1, client=protos.RelayClient)
    for _ in range(20):
        a, fa = client(server)
        a.sendall(b"C 127.0.0.1 %d 1\n" % up.port)
        fa.close()
        reset(a)
    st = wait_stats(server, lambda st: st["connects"] == 20 and st["connections"] == 0, tries=800)
    assert st["connects"] == 20
    # the upstream connections stay open (nobody closes them) but nothing crashed
    b, fb = client(server)
    b.sendall(b"hi\n")
    assert fb.readline() == b"hi\n"


# ------------------------------------------------------------------- proxy

def test_proxy_relays_100_concurrent_connections_byte_exact(serve):
    up = serve(Echo, workers=2)
    proxy = proxy_server("127.0.0.1", up.port, workers=2).start()
    try:
        payloads = [os.urandom(1000 + 997 * i) for i in range(100)]
        socks = []
        for p in payloads:
            s = socket.create_connection(("127.0.0.1", proxy.port))
            s.settimeout(HANG)
            s.sendall(p[:100])          # sent at once: before the upstream is connected
            socks.append(s)
        errors = []

        def run(s, p):
            try:
                s.sendall(p[100:])
                s.shutdown(socket.SHUT_WR)          # relayed as a half-close
                got = recv_exactly(s, len(p) + 1)
                if got != p:
                    errors.append((len(p), len(got)))
            except Exception as e:                  # noqa: BLE001 - reported below
                errors.append(e)
            finally:
                s.close()
        ths = [threading.Thread(target=run, args=(s, p)) for s, p in zip(socks, payloads)]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        assert errors == []
        st = wait_stats(proxy, lambda st: st["connections"] == 0)
        assert st["connections"] == 0 and st["connects"] == 100
        assert wait_stats(up, lambda st: st["connections"] == 0)["connections"] == 0
    finally:
        proxy.stop()


def test_proxy_to_closed_port_drops_client(serve):
    proxy = proxy_server("127.0.0.1", closed_port(), workers=1).start()
    try:
        s = socket.create_connection(("127.0.0.1", proxy.port))
        s.settimeout(HANG)
        s.sendall(b"lost")
        try:
            assert s.recv(10) == b""
        except ConnectionResetError:
            pass
        assert wait_stats(proxy, lambda st: st["connect_errors"] == 1)["connect_errors"] == 1
    finally:
        proxy.stop()


# ------------------------------------------------------------------- defer

def test_defer_results_come_back_to_the_connection(serve, protos):
    def fn(data):
        if data == b"boom":
            raise ValueError("boom")
        return data.upper()
    server = serve(protos.Relay, workers=1, on_defer=fn)
    a, fa = client(server)
    a.sendall(b"D 1 hello\nD 2 boom\nD 3 \n")
    assert [fa.readline() for _ in range(3)] == [b"d 0 0\n"] * 3
    got = sorted(fa.readline() for _ in range(3))
    assert got == [b"r 1 0 HELLO\n", b"r 2 -1 \n", b"r 3 0 \n"]
    a.sendall(b"echo\n")
    assert fa.readline() == b"echo\n"
    assert server.stats()["defers"] == 3


def test_defer_without_on_defer_refused(serve, protos):
    server = serve(protos.Relay, workers=1)
    a, fa = client(server)
    a.sendall(b"D 1 x\n")
    assert fa.readline() == b"d -1 %d\n" % ENOPROTOOPT


def test_defer_runs_on_python_threads_in_parallel(serve, protos):
    barrier = threading.Barrier(3, timeout=HANG)

    def fn(data):
        barrier.wait()          # needs both pool threads (and the test) at once
        return data
    server = serve(protos.Relay, workers=1, on_defer=fn, python_threads=2)
    a, fa = client(server)
    a.sendall(b"D 1 x\nD 2 y\n")
    barrier.wait()
    got = sorted(fa.readline() for _ in range(4))
    assert got == [b"d 0 0\n", b"d 0 0\n", b"r 1 0 x\n", b"r 2 0 y\n"]


def test_defer_result_for_connection_that_left_is_dropped(serve, protos):
    release = threading.Event()

    def fn(data):
        release.wait(HANG)
        return data * 1000
    server = serve(protos.Relay, workers=1, on_defer=fn, python_threads=2)
    for _ in range(10):
        a, fa = client(server)
        a.sendall(b"D 1 gone\n")
        assert fa.readline() == b"d 0 0\n"
        fa.close()
        reset(a)
    wait_stats(server, lambda st: st["connections"] == 0)
    b, fb = client(server)          # likely reuses a slot of one that left
    b.sendall(b"H\n")
    fb.readline()
    release.set()
    st = wait_stats(server, lambda st: st["defer_dropped"] == 10)
    assert st["defer_dropped"] == 10
    b.sendall(b"still\n")
    assert fb.readline() == b"still\n"


def test_stop_with_defers_in_flight(protos):
    gate = threading.Event()

    def fn(data):
        gate.wait(0.5)
        return data
    server = pxcy.Server(protos.Relay, "127.0.0.1", 0, workers=1, on_defer=fn,
                         python_threads=2).start()
    a, fa = client(server)
    a.sendall(b"".join(b"D %d x\n" % i for i in range(50)))
    fa.readline()
    server.stop()                   # joins the pool, then the workers; nothing leaks
    assert not server.serving


def test_bad_options(protos):
    with pytest.raises(ValueError):
        pxcy.Server(protos.Relay, python_threads=0)
    with pytest.raises(TypeError):
        pxcy.Server(protos.Relay, on_defer=3)
    with pytest.raises(TypeError):
        pxcy.Server(protos.Relay, client=protos.WithObject)
    with pytest.raises(OSError):
        pxcy.Server(protos.Relay, client=protos.RelayClient, resolve=("no.such.host.invalid",)).start()
    # resolve= without client= would be ignored: no outbound connection could use it
    with pytest.raises(ValueError, match="needs client=ClientProtocol"):
        pxcy.Server(protos.Relay, resolve=("localhost",))
    with pytest.raises(ValueError, match="needs client=ClientProtocol"):
        pxcy.Harness(protos.Relay, resolve="localhost")


# ------------------------------------------------- the tutorial's examples

def test_ticker_example_ticks_then_closes(serve, protos):
    server = serve(protos.Ticker, workers=1)
    a, fa = client(server)
    assert fa.read() == b"tick 1\ntick 2\ntick 3\n"
    b, fb = client(server)
    assert fb.readline() == b"tick 1\n"
    b.sendall(b"x")
    rest = fb.read()                 # a tick may fire before the byte arrives
    assert rest in (b"stopped\n", b"tick 2\nstopped\n"), rest
    st = wait_stats(server, lambda st: st["connections"] == 0)
    assert st["timers_fired"] == 4 + rest.count(b"tick")


# ------------------------------------- the same capabilities in pxcy.testing.Harness

def test_harness_defer_inline(protos):
    from pxcy.testing import Harness
    h = Harness(protos.Relay, on_defer=lambda b: b.upper())
    assert h.feed(b"D 7 hello\n") == b"d 0 0\nr 7 0 HELLO\n"     # the result in the same feed
    h2 = Harness(protos.Relay, on_defer=lambda b: 1 / 0)
    assert h2.feed(b"D 8 x\n") == b"d 0 0\nr 8 -1 \n"
    assert Harness(protos.Relay).feed(b"D 9 x\n") == b"d -1 %d\n" % ENOPROTOOPT
    assert h.stats()["defers"] == 1


def test_harness_defer_held_then_dropped_for_a_gone_connection(protos):
    from pxcy.testing import Harness
    calls = []
    h = Harness(protos.Relay, on_defer=lambda b: calls.append(b) or b"late", defer_inline=False)
    assert h.feed(b"D 1 a\nD 2 b\n") == b"d 0 0\nd 0 0\n"
    assert calls == []
    assert h.run_deferred() == b"r 1 0 late\nr 2 0 late\n"
    assert h.feed(b"D 3 c\n") == b"d 0 0\n"
    h.close()
    assert h.run_deferred() == b"" and calls == [b"a", b"b", b"c"]
    assert h.stats()["defer_dropped"] == 1


def harness_until(h, word, rounds=int(HANG)):
    out = b""
    for _ in range(rounds):
        out += h.advance(1)
        if word in out:
            return out
    return out


def test_harness_connect_and_relay(serve, protos):
    from pxcy.testing import Harness
    up = serve(Echo, workers=1)
    h = Harness(protos.Relay, client=protos.RelayClient)
    out = h.feed(b"C 127.0.0.1 %d 42\n" % up.port)       # loopback: may be up within the feed
    assert out.startswith(b"c 0 0\n")
    if b"done" not in out:
        out += harness_until(h, b"done")
    lines = out.split(b"\n")[1:]
    assert lines[0].split()[:3] == [b"up", b"1", b"42"], out
    hu = int(lines[0].split()[3])
    assert lines[1].split()[:4] == [b"done", b"42", b"1", b"0"] and int(lines[1].split()[4]) == hu
    out = h.feed(b"S %d ping\n" % hu)
    assert out.startswith(b"s 0 0\n")
    out += harness_until(h, b"ping\n") if b"ping\n" not in out else b""
    assert out == b"s 0 0\nping\n"
    out = h.feed(b"C 127.0.0.1 %d 5\n" % closed_port())
    out += harness_until(h, b"done 5") if b"done 5" not in out else b""
    assert out == b"c 0 0\ndone 5 0 %d 0\n" % ECONNREFUSED
    assert h.stats()["connects"] == 2 and h.stats()["connect_errors"] == 1


def test_harness_connect_timeout(protos):
    from pxcy.testing import Harness
    ls, fillers = unanswered_port()
    h = Harness(protos.Relay, client=protos.RelayClient, connect_timeout=0.2)
    assert h.feed(b"C 127.0.0.1 %d 9\n" % ls.getsockname()[1]) == b"c 0 0\n"
    assert harness_until(h, b"done") == b"done 9 0 %d 0\n" % ETIMEDOUT
    for c in fillers + [ls]:
        c.close()


def test_harness_runs_http_python_routes():
    from pxcy.testing import Harness
    from pxcy.protocols.http11 import HelloWorld
    app = HelloWorld()
    app.prepare()
    app.route_py(b"/py", lambda req: {"q": req.query_param("q")})
    h = Harness(app)
    out = h.feed(b"GET /py?q=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
    first, _, rest = out.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 200") and rest.startswith(b'{"q":"1"}HTTP/1.1 200'), out
    assert rest.endswith(b"Hello, World!"), out             # the nogil route answered after it
