"""Operations (issues 13 listeners + 14): several listeners (TCP v4/v6, Unix, inherited
descriptors, systemd LISTEN_FDS), reuse_port, peer() per family, /healthz and drain,
/metrics parsed strictly, the CLI flags."""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

import pxcy
from pxcy.protocols.echo import Echo
from pxcy.protocols.http11 import HelloWorld, Static
from pxcy.runtime import parse_address, systemd_fds

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def http_get(connect, path, keep=False, method="GET"):
    """One request on a new connection; returns (status, headers dict, body)."""
    s = connect()
    s.settimeout(10)
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\n{'' if keep else 'Connection: close'}\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    n = int(headers.get("content-length", 0)) if method != "HEAD" else 0
    while len(body) < n:
        chunk = s.recv(65536)
        assert chunk
        body += chunk
    s.close()
    return status, headers, body


def tcp(port, host="127.0.0.1"):
    return lambda: socket.create_connection((host, port))


# ---------------------------------------------------------------- addresses

@pytest.mark.parametrize("spec,want", [
    ("127.0.0.1:80", ("tcp", ("127.0.0.1", 80))),
    ("[::1]:8080", ("tcp", ("::1", 8080))),
    (":81", ("tcp", ("0.0.0.0", 81))),
    ("8082", ("tcp", ("0.0.0.0", 8082))),
    ("unix:/run/x.sock", ("unix", "/run/x.sock")),
    ("fd:3", ("fd", 3)),
    ("systemd", ("systemd", None)),
    (("::", 0), ("tcp", ("::", 0))),
])
def test_parse_address(spec, want):
    assert parse_address(spec) == want


@pytest.mark.parametrize("spec", ["", "unix:", "fd:x", "fd:-1", "1.2.3.4:70000", "h:p", "[::1",
                                  "unix:/" + "x" * 200, 5])
def test_parse_address_refuses(spec):
    with pytest.raises(ValueError):
        parse_address(spec)
    with pytest.raises(ValueError):
        pxcy.Server(Echo, listen=[spec])


def test_systemd_fds_checks_pid():
    assert systemd_fds({"LISTEN_PID": "77", "LISTEN_FDS": "2"}, pid=77) == [3, 4]
    for env in ({"LISTEN_PID": "78", "LISTEN_FDS": "2"}, {"LISTEN_PID": "77", "LISTEN_FDS": "0"},
                {"LISTEN_PID": "77", "LISTEN_FDS": "x"}, {}):
        with pytest.raises(ValueError):
            systemd_fds(env, pid=77)


# ---------------------------------------------------------------- listeners

def _echo_once(connect, payload=b"ping"):
    c = connect()
    c.settimeout(10)
    c.sendall(payload)
    got = b""
    while len(got) < len(payload):
        chunk = c.recv(100)
        assert chunk
        got += chunk
    c.close()
    return got


def test_several_listeners_tcp4_tcp6_unix(tmp_path):
    path = str(tmp_path / "s.sock")
    srv = pxcy.Server(Echo, listen=["127.0.0.1:0", "[::1]:0", "unix:" + path], workers=2)
    try:
        srv.start()
    except OSError as e:
        if "::1" in str(e):
            pytest.skip("no IPv6 loopback")
        raise
    with srv:
        a4, a6, au = srv.addresses
        assert au == "unix:" + path
        assert srv.port == int(a4.rsplit(":", 1)[1])
        assert _echo_once(tcp(srv.port)) == b"ping"
        port6 = int(a6.rsplit(":", 1)[1])
        assert _echo_once(lambda: socket.create_connection(("::1", port6))) == b"ping"

        def unix():
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            return s
        for _ in range(20):
            assert _echo_once(unix) == b"ping"
    assert not os.path.exists(path), "stop() removes the Unix socket it made"


def test_unix_path_taken(tmp_path):
    plain = tmp_path / "file"
    plain.write_text("keep me")
    with pytest.raises(OSError, match="exists and is not a socket"):
        pxcy.Server(Echo, listen=["unix:" + str(plain)], workers=1).start()
    assert plain.read_text() == "keep me"
    live = str(tmp_path / "live.sock")
    with pxcy.Server(Echo, listen=["unix:" + live], workers=1):
        with pytest.raises(OSError, match="in use"):
            pxcy.Server(Echo, listen=["unix:" + live], workers=1).start()
        s = socket.socket(socket.AF_UNIX)        # the first server still serves
        s.connect(live)
        s.close()
    # a stale socket file (its server gone without cleaning up) is replaced
    stale = str(tmp_path / "stale.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(stale)
    s.close()
    with pxcy.Server(Echo, listen=["unix:" + stale], workers=1):
        def unix():
            c = socket.socket(socket.AF_UNIX)
            c.connect(stale)
            return c
        assert _echo_once(unix) == b"ping"


def test_failed_listener_closes_the_others(tmp_path):
    """The second address fails: the first socket is closed, the Unix path removed."""
    path = str(tmp_path / "a.sock")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(OSError, match="cannot listen on 127.0.0.1:%d" % port):
        pxcy.Server(Echo, listen=["unix:" + path, f"127.0.0.1:{port}"], workers=1).start()
    assert len(os.listdir("/proc/self/fd")) == before
    assert not os.path.exists(path)
    busy.close()


def test_inherited_fd_listener():
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen()
    port = ls.getsockname()[1]
    fd = ls.detach()
    with pxcy.Server(Echo, listen=[f"fd:{fd}"], workers=2) as srv:
        assert srv.addresses == [f"127.0.0.1:{port}"]
        assert _echo_once(tcp(port)) == b"ping"
    with pytest.raises(OSError):
        os.fstat(fd)                       # the server owned and closed it
    r, w = os.pipe()
    with pytest.raises(OSError, match=f"cannot listen on fd:{r}: Socket operation on non-socket"):
        pxcy.Server(Echo, listen=[f"fd:{r}"], workers=1).start()
    os.close(w)
    os.close(r)
    idle = socket.socket()
    with pytest.raises(OSError, match="not a listening stream socket"):
        pxcy.Server(Echo, listen=[f"fd:{idle.fileno()}"], workers=1).start()
    idle.close()                           # still ours: the failed start did not close it
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen()
    with pytest.raises(ValueError, match="given twice"):
        pxcy.Server(Echo, listen=[f"fd:{ls.fileno()}", f"fd:{ls.fileno()}"], workers=1).start()
    ls.getsockname()                       # still open, still ours
    ls.close()


SYSTEMD_CHILD = r"""
import os, sys, pxcy
from pxcy.protocols.echo import Echo
srv = pxcy.Server(Echo, listen=["systemd"], workers=2)
srv.start()
assert "LISTEN_FDS" not in os.environ and "LISTEN_PID" not in os.environ   # consumed
srv.serve_forever(on_ready=lambda: print(" ".join(srv.addresses), flush=True))   # SIGTERM handled from here
"""


def test_systemd_socket_activation(tmp_path):
    """LISTEN_FDS/LISTEN_PID as systemd sets them: fds 3 and 4 (TCP and Unix)."""
    t = socket.socket()
    t.bind(("127.0.0.1", 0))
    t.listen()
    path = str(tmp_path / "act.sock")
    u = socket.socket(socket.AF_UNIX)
    u.bind(path)
    u.listen()
    # LISTEN_PID must be the child's pid: exec through a shell that sets it
    env = dict(os.environ, LISTEN_FDS="2", PYTHONPATH=os.pathsep.join(sys.path))
    script = tmp_path / "child.py"
    script.write_text(SYSTEMD_CHILD)

    tfd, ufd = os.dup(t.fileno()), os.dup(u.fileno())     # above 4, so dup2 cannot clobber them
    while min(tfd, ufd) <= 4:
        tfd, ufd = os.dup(tfd), os.dup(ufd)
    p = subprocess.Popen(["/bin/bash", "-c", f'exec 3<&{tfd} 4<&{ufd} {tfd}<&- {ufd}<&-; '
                          f'LISTEN_PID=$$ exec {sys.executable} {script}'],
                         env=env, stdout=subprocess.PIPE, text=True, pass_fds=(tfd, ufd))
    os.close(tfd)
    os.close(ufd)
    try:
        line = p.stdout.readline().split()
        assert line == [f"127.0.0.1:{t.getsockname()[1]}", "unix:" + path], line
        assert _echo_once(tcp(t.getsockname()[1])) == b"ping"

        def unix():
            c = socket.socket(socket.AF_UNIX)
            c.connect(path)
            return c
        assert _echo_once(unix) == b"ping"
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(20) == 0


def test_reuse_port_each_worker_its_own_listener():
    with pxcy.Server(Echo, port=0, workers=3, reuse_port=True) as srv:
        # 3 SO_REUSEPORT sockets bound to the port, all in this process
        inodes = set()
        for fd in os.listdir("/proc/self/fd"):
            try:
                s = socket.socket(fileno=int(fd))
            except OSError:
                continue
            try:
                if s.type == socket.SOCK_STREAM and s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) \
                        and s.family == socket.AF_INET and s.getsockname()[1] == srv.port:
                    assert s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
                    inodes.add(fd)
            finally:
                s.detach()
        assert len(inodes) == 3
        seen = set()
        for _ in range(60):
            assert _echo_once(tcp(srv.port)) == b"ping"
        # a second process-like server can bind beside it
        with pxcy.Server(Echo, port=srv.port, workers=1, reuse_port=True) as other:
            assert other.port == srv.port
            for _ in range(20):
                assert _echo_once(tcp(srv.port)) == b"ping"
    # without reuse_port the port is taken
    with pxcy.Server(Echo, port=0, workers=1) as a:
        with pytest.raises(OSError):
            pxcy.Server(Echo, port=a.port, workers=1).start()


def test_peer_every_family(protos, tmp_path):
    """Greeter greets with t.peer(): IPv4 host:port, [IPv6]:port, unix: for a Unix client."""
    path = str(tmp_path / "p.sock")
    specs = ["127.0.0.1:0", "unix:" + path]
    if socket.has_ipv6:
        specs.append("[::1]:0")
    try:
        srv = pxcy.Server(protos.Greeter, listen=specs, workers=1).start()
    except OSError:
        srv = pxcy.Server(protos.Greeter, listen=specs[:2], workers=1).start()
    with srv:
        c = socket.create_connection(("127.0.0.1", srv.port))
        line = c.makefile("rb").readline()
        assert line == f"hello 127.0.0.1:{c.getsockname()[1]}\n".encode()
        c.close()
        u = socket.socket(socket.AF_UNIX)
        u.connect(path)
        assert u.makefile("rb").readline() == b"hello unix:\n"     # an unnamed client
        u.close()
        u = socket.socket(socket.AF_UNIX)
        u.bind(str(tmp_path / "client.sock"))
        u.connect(path)
        assert u.makefile("rb").readline() == f"hello unix:{tmp_path / 'client.sock'}\n".encode()
        u.close()
        if len(srv.addresses) == 3:
            port6 = int(srv.addresses[2].rsplit(":", 1)[1])
            c = socket.create_connection(("::1", port6))
            assert c.makefile("rb").readline() == f"hello [::1]:{c.getsockname()[1]}\n".encode()
            c.close()


# ---------------------------------------------------------------- health and drain

def test_healthz_states_and_connection_close():
    app = HelloWorld()
    with pxcy.Server(app, workers=2) as srv:
        c = tcp(srv.port)
        st, h, body = http_get(c, "/healthz")
        assert (st, body) == (200, b"ok\n") and h["cache-control"] == "no-store"
        st, h, body = http_get(c, "/healthz", method="HEAD")
        assert st == 200 and body == b""
        st, h, _ = http_get(c, "/plaintext", keep=True)
        assert st == 200 and h.get("connection", "keep-alive") == "keep-alive"
        assert not srv.draining
        srv.drain()
        assert srv.draining
        st, h, body = http_get(c, "/healthz", keep=True)
        assert (st, body) == (503, b"draining\n") and h["connection"] == "close"
        st, h, body = http_get(c, "/plaintext", keep=True)      # still served, but close
        assert (st, body) == (200, b"Hello, World!") and h["connection"] == "close"
        # a keep-alive client sees the close after its response
        s = c()
        s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"HTTP/1.1 200") and b"Connection: close" in data
        s.close()
        st = srv.stats()
        assert st["errors"] == 0 and st["responses_5xx"] == 1


def test_healthz_opt_out_and_static(tmp_path):
    app = HelloWorld(health=False)
    with pxcy.Server(app, workers=1) as srv:
        assert http_get(tcp(srv.port), "/healthz")[0] == 404
    (tmp_path / "a.txt").write_text("A")
    with pxcy.Server(Static(str(tmp_path)), workers=1) as srv:
        assert http_get(tcp(srv.port), "/healthz")[:1] == (200,)
        assert http_get(tcp(srv.port), "/a.txt")[2] == b"A"
        assert http_get(tcp(srv.port), "/healthz", method="POST")[0] == 405   # only GET/HEAD
    app = HelloWorld()
    assert app.operations() == {"health": True, "metrics": False}
    assert app.operations(health=False, metrics=True) == {"health": False, "metrics": True}


def test_ops_endpoints_refuse_other_methods_like_a_route():
    """/healthz and /metrics exist for GET and HEAD: another method gets 405 with Allow
    (OPTIONS: 204), not the 404 of a path that does not exist; a disabled endpoint is 404."""
    with pxcy.Server(HelloWorld(metrics=True), workers=1) as srv:
        for path in ("/healthz", "/metrics"):
            st, h, body = http_get(tcp(srv.port), path, method="POST")
            assert (st, h["allow"]) == (405, "GET, HEAD, OPTIONS"), path
            st, h, body = http_get(tcp(srv.port), path, method="OPTIONS")
            assert (st, h["allow"], body) == (204, "GET, HEAD, OPTIONS", b""), path
            assert http_get(tcp(srv.port), path)[0] == 200
        assert srv.stats()["health_checks"] == 1         # the refused ones were no checks
    with pxcy.Server(HelloWorld(health=False), workers=1) as srv:
        assert http_get(tcp(srv.port), "/healthz", method="POST")[0] == 404
        assert http_get(tcp(srv.port), "/metrics", method="DELETE")[0] == 404


def test_drain_auto_only_behind_a_health_checker():
    """drain=None (the default): a SIGTERM drains AUTO_DRAIN seconds once a health check
    has been answered (a balancer is watching), not before; an explicit drain wins."""
    from pxcy import runtime
    assert pxcy.Server(Echo).options["drain"] is None
    with pxcy.Server(HelloWorld(), workers=2) as srv:
        assert srv.drain_seconds == 0
        assert http_get(tcp(srv.port), "/plaintext")[0] == 200     # not a health check
        assert srv.drain_seconds == 0
        assert http_get(tcp(srv.port), "/healthz")[0] == 200
        assert srv.drain_seconds == runtime.AUTO_DRAIN == 10.0
        assert srv.stats()["health_checks"] == 1
    for explicit in (0, 2.5):
        with pxcy.Server(HelloWorld(), workers=1, drain=explicit) as srv:
            assert http_get(tcp(srv.port), "/healthz")[0] == 200
            assert srv.drain_seconds == explicit
    with pxcy.Server(HelloWorld(health=False), workers=1) as srv:   # opted out: 404, no drain
        assert http_get(tcp(srv.port), "/healthz")[0] == 404
        assert srv.drain_seconds == 0


def test_sigterm_drains_by_default_once_health_checked():
    p = subprocess.Popen([sys.executable, "-m", "pxcy", "run", "pxcy.protocols.http11:HelloWorld",
                          "--port", "0", "--workers", "2"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    try:
        port = int(re.search(r":(\d+)/", p.stdout.readline()).group(1))
        assert http_get(tcp(port), "/healthz")[0] == 200
        p.send_signal(signal.SIGTERM)
        for _ in range(500):
            if http_get(tcp(port), "/healthz")[0] == 503:
                break
            time.sleep(0.01)
        else:
            raise AssertionError("no drain after SIGTERM")
        p.send_signal(signal.SIGINT)                 # ends the drain at once
        assert p.wait(30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_drain_on_sigterm_timing(tmp_path):
    """SIGTERM with --drain 1.5: /healthz 503 and Connection: close for that long,
    requests still served, then exit 0 — and not before the drain time."""
    p = subprocess.Popen([sys.executable, "-m", "pxcy", "run", "pxcy.protocols.http11:HelloWorld",
                          "--port", "0", "--workers", "2", "--drain", "1.5"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    try:
        line = p.stdout.readline()
        port = int(re.search(r":(\d+)/", line).group(1))
        assert http_get(tcp(port), "/healthz")[0] == 200
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        for _ in range(500):
            if http_get(tcp(port), "/healthz")[0] == 503:
                break
            time.sleep(0.01)
        st, h, body = http_get(tcp(port), "/plaintext", keep=True)
        assert (st, h["connection"], body) == (200, "close", b"Hello, World!")
        assert p.poll() is None, "still draining"
        rc = p.wait(30)
        assert rc == 0, p.stderr.read()
        assert time.monotonic() - t0 >= 1.4          # (a lower bound: cannot flake)
        assert "Traceback" not in p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_second_signal_ends_the_drain():
    p = subprocess.Popen([sys.executable, "-m", "pxcy", "run", "pxcy.protocols.http11:HelloWorld",
                          "--port", "0", "--workers", "1", "--drain", "3600"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    line = p.stdout.readline()
    port = int(re.search(r":(\d+)/", line).group(1))
    p.send_signal(signal.SIGTERM)
    for _ in range(500):
        if http_get(tcp(port), "/healthz")[0] == 503:
            break
        time.sleep(0.01)
    p.send_signal(signal.SIGINT)
    assert p.wait(30) == 0


def test_drain_option_checked():
    for bad in (-1, "x", 1e9):
        with pytest.raises(ValueError):
            pxcy.Server(Echo, drain=bad)


# ---------------------------------------------------------------- metrics

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"'
                    r'(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")*\})? (-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)$')


def strict_parse(text):
    """Exposition format 0.0.4, strictly: every sample after its family's HELP and
    TYPE, each family once and contiguous, no duplicate series, a final newline; the
    same text through prometheus_client's parser. Returns {name: {labels: value}}."""
    from prometheus_client.parser import text_string_to_metric_families
    assert text.endswith("\n")
    fams, current, seen_series = {}, None, set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split()[2]
            assert name not in fams, f"family {name} twice"
            fams[name] = {"help": True}
            current = name
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert name == current and kind in ("counter", "gauge")
            fams[name]["type"] = kind
        else:
            m = SAMPLE.match(line)
            assert m, f"bad sample line {line!r}"
            assert m.group(1) == current and "type" in fams[current], line
            key = (m.group(1), m.group(2))
            assert key not in seen_series, f"duplicate series {line}"
            seen_series.add(key)
            if fams[current]["type"] == "counter":
                assert current.endswith("_total") and float(m.group(4)) >= 0
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def test_metrics_strict_and_counts():
    app = HelloWorld(metrics=True)
    with pxcy.Server(app, workers=2) as srv:
        c = tcp(srv.port)
        for _ in range(5):
            assert http_get(c, "/plaintext")[0] == 200
        assert http_get(c, "/nope")[0] == 404
        for _ in range(3):
            assert http_get(c, "/healthz")[0] == 200
        st, h, body = http_get(c, "/metrics")
        assert st == 200 and h["content-type"].startswith("text/plain; version=0.0.4")
        m = strict_parse(body.decode())
        ok = sum(v for k, v in m["pxcy_http_responses_total"].items() if ("class", "2xx") in k)
        nf = sum(v for k, v in m["pxcy_http_responses_total"].items() if ("class", "4xx") in k)
        assert ok >= 5 + 3 and nf == 1
        assert sum(m["pxcy_health_checks_total"].values()) == 3
        assert m["pxcy_workers"][()] == 2
        assert m["pxcy_connections_open"][()] >= 1
        assert sum(m["pxcy_connections_accepted_total"].values()) >= 7
        assert sum(m["pxcy_sent_bytes_total"].values()) > 0
        assert len(m["pxcy_transient_heap_peak_bytes"]) == 2
        assert m["pxcy_draining"][()] == 0
        srv.drain()
        assert strict_parse(http_get(c, "/metrics")[2].decode())["pxcy_draining"][()] == 1
    with pxcy.Server(HelloWorld(), workers=1) as srv:      # off by default
        assert http_get(tcp(srv.port), "/metrics")[0] == 404


@pytest.mark.parametrize("method, path, body", [("POST", "/metrics", b"own"),
                                                ("POST", "/healthz", b"catch-all"),
                                                ("PUT", "/%68ealthz", b"catch-all")])
def test_ops_endpoints_leave_other_methods_to_the_apps_routes(method, path, body):
    """The built-in endpoints take GET and HEAD only: an app's own route for another
    method of the same path, or a catch-all prefix route, still answers it."""
    app = HelloWorld(metrics=True)
    app.prepare()
    app.route_py("/metrics", lambda req: b"own", methods=("POST",))
    app.route_py("/", lambda req: b"catch-all", prefix=True, methods=("GET", "POST", "PUT"))
    with pxcy.Server(app, workers=1) as srv:
        st, h, got = http_get(tcp(srv.port), path, method=method)
        assert (st, got) == (200, body)
        assert http_get(tcp(srv.port), "/metrics")[0] == 200          # GET: still built in


def test_metrics_series_name_the_counters_stats_names():
    """Each per-worker series reads the Stats field of its name (by the field's address),
    and stats() names the same field (_STAT_ORDER): the two cannot drift apart."""
    from pxcy import runtime
    fields = dict(runtime.metric_fields())
    assert len(fields) == 18
    for series, index in fields.items():
        stat = runtime._STAT_ORDER[index]
        want = {"connections_accepted": "accepted", "connections_closed": "closed",
                "connections_rejected": "rejected", "received_bytes": "bytes_in",
                "sent_bytes": "bytes_out", "loop_turns": "turns",
                "input_buffer_peak_bytes": "input_peak"}
        base = series[len("pxcy_"):].removesuffix("_total")
        assert stat == want.get(base, base), (series, stat)


def test_metrics_large_worker_count():
    """More workers than the first 16 KiB buffer holds: the text is complete."""
    with pxcy.Server(HelloWorld(metrics=True), workers=24) as srv:
        body = http_get(tcp(srv.port), "/metrics")[2].decode()
        assert len(body) > 16 << 10
        m = strict_parse(body)
        assert len(m["pxcy_reads_total"]) == 24


# ---------------------------------------------------------------- CLI

def run_cli(*args, timeout=30):
    return subprocess.run([sys.executable, "-m", "pxcy", *args], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))


@pytest.mark.parametrize("args,msg", [
    (["--drain", "-1"], "--drain: must be between"),
    (["--drain", "soon"], "--drain: not a number"),
    (["--listen", "unix:"], "empty socket path"),
    (["--listen", "h:99999"], "port out of range"),
    (["--listen", "fd:x"], "descriptor number"),
])
def test_cli_bad_values(args, msg):
    r = run_cli("run", "pxcy.protocols.http11:HelloWorld", "--port", "0", *args)
    assert r.returncode == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_cli_metrics_needs_http_and_unix_taken(tmp_path):
    r = run_cli("run", "pxcy.protocols.echo:Echo", "--port", "0", "--metrics")
    assert r.returncode == 2 and "--metrics needs an HTTP protocol" in r.stderr
    f = tmp_path / "f"
    f.write_text("x")
    r = run_cli("static", str(tmp_path), "--listen", "unix:" + str(f))
    assert r.returncode == 2 and "is not a socket" in r.stderr and "Traceback" not in r.stderr
    assert f.read_text() == "x"


def test_cli_static_listen_metrics(tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    path = str(tmp_path / "s.sock")
    p = subprocess.Popen([sys.executable, "-m", "pxcy", "static", str(tmp_path), "--workers", "2",
                          "--listen", "127.0.0.1:0", "--listen", "unix:" + path, "--metrics",
                          "--reuse-port"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    try:
        line = p.stdout.readline()
        port = int(re.search(r"127\.0\.0\.1:(\d+)", line).group(1))
        assert "unix:" + path in line

        def unix():
            c = socket.socket(socket.AF_UNIX)
            c.connect(path)
            return c
        assert http_get(unix, "/a.txt")[2] == b"hello"
        assert http_get(tcp(port), "/a.txt")[2] == b"hello"
        assert http_get(unix, "/healthz")[0] == 200
        strict_parse(http_get(tcp(port), "/metrics")[2].decode())
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(20) == 0
    assert not os.path.exists(path)


SLOW_EVENT_CHILD = r"""
import signal, threading, time
class SlowEvent(threading.Event):
    # holds its lock for a while: a handler that used an Event would be caught holding it
    def set(self):
        with self._cond:
            time.sleep(0.5)
            self._flag = True
            self._cond.notify_all()
threading.Event = SlowEvent
signal.signal(signal.SIGTERM, lambda *a: None)      # what serve_forever restores afterwards
import pxcy
from pxcy.protocols.echo import Echo
srv = pxcy.Server(Echo, port=0, workers=2)
srv.serve_forever(on_ready=lambda: print(srv.port, flush=True))
print("stopped", flush=True)
"""


def test_signals_in_quick_succession_stop_the_server(tmp_path):
    """`make demo` stopped with `kill -TERM -- -PGID`: the server gets SIGTERM from the
    kill and again from make. A second handler ran nested in the first one, which held
    the lock of the threading.Event it was setting: the server hung for good."""
    script = tmp_path / "child.py"
    script.write_text(SLOW_EVENT_CHILD)
    p = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    try:
        assert int(p.stdout.readline())
        for _ in range(3):
            p.send_signal(signal.SIGTERM)      # (a no-op once the child has exited)
            time.sleep(0.2)                    # not coalesced: each lands in the one before's handler
        assert p.wait(60) == 0
        assert p.stdout.read() == "stopped\n"
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_signal_storm_stops_the_server():
    """Thousands of SIGTERMs and SIGINTs as fast as they can be sent: the server stops
    (exit 0, or killed by a signal that came after the handlers were restored, or 130:
    a SIGINT after the restore raised KeyboardInterrupt, which the CLI turns into the
    shell's interrupted status), never hangs."""
    p = subprocess.Popen([sys.executable, "-m", "pxcy", "run", "pxcy.protocols.echo:Echo",
                          "--port", "0", "--workers", "2"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    try:
        assert "127.0.0.1" in p.stdout.readline()
        for i in range(5000):
            try:
                os.kill(p.pid, signal.SIGTERM if i % 2 else signal.SIGINT)
            except ProcessLookupError:
                break
        assert p.wait(60) in (0, 130, -signal.SIGTERM, -signal.SIGINT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
