"""The pxcy command (run), debug mode and the in-process Harness."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from pxcy.testing import Harness, feed_chunks
from pxcy.protocols.echo import Echo
from pxcy.protocols.lines import Lines

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUPPORT = os.path.join(ROOT, "tests", "support")
try:
    import pxcy.protocols.http11 as _http11      # not in every build (PXCY_SAN_NO_HTTP)
except ImportError:
    _http11 = None
NEEDS_HTTP = pytest.mark.skipif(_http11 is None, reason="pxcy.protocols.http11 not built")


def pxcy_cmd(*args, **kw):
    return subprocess.run([sys.executable, "-m", "pxcy", *args], capture_output=True, text=True,
                          timeout=60, **kw)


def start_server(*args, env=None):
    p = subprocess.Popen([sys.executable, "-m", "pxcy", *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    line = p.stdout.readline()
    assert "serving" in line, (line, p.stderr.read() if p.poll() is not None else "")
    port = int(re.search(r"://127\.0\.0\.1:(\d+)", line).group(1))
    return p, port


def test_run_serves_and_sigterm_exits_0():
    p, port = start_server("run", "pxcy.protocols.echo:Echo", "--port", "0", "--workers", "2")
    try:
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"abc")
            assert s.recv(3) == b"abc"
            p.send_signal(signal.SIGTERM)
            assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()


@pytest.mark.parametrize("spec, scheme", [
    ("pxcy.protocols.echo:Echo", "tcp"),
    ("pxcy.protocols.lines:Lines", "tcp"),
    pytest.param("pxcy.protocols.http11:HelloWorld", "http", marks=NEEDS_HTTP),
])
def test_run_announces_the_right_scheme(spec, scheme):
    p = subprocess.Popen([sys.executable, "-m", "pxcy", "run", spec, "--port", "0", "--workers", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        m = re.search(r" on ([a-z]+)://127\.0\.0\.1:\d+(/?) ", line)
        assert m, (line, p.stderr.read() if p.poll() is not None else "")
        assert m.group(1) == scheme and m.group(2) == ("/" if scheme == "http" else ""), line
        assert "with 1 worker " in line, line
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_sigint_exits_0():
    p, port = start_server("run", "pxcy.protocols.lines:Lines", "--port", "0")
    p.send_signal(signal.SIGINT)
    assert p.wait(timeout=30) == 0


@pytest.mark.parametrize("args, message", [
    (["run", "no_such_module_xyz:App"], "cannot import module 'no_such_module_xyz'"),
    (["run", "pxcy.protocols.echo:Nope"], "has no attribute 'Nope'"),
    (["run", "os:path"], "is not a pxcy.runtime.Protocol subclass"),
    (["run", "justamodule"], "expected MODULE:CLASS"),
    (["run", "pxcy.protocols.echo:Echo", "--port", "99999"], "port out of range"),
    (["run", "pxcy.protocols.echo:Echo", "--workers", "0"], "must be >= 1"),
    (["frobnicate"], "invalid choice"),
    (["run"], "the following arguments are required: MODULE:CLASS"),
    (["new"], "the following arguments are required: NAME"),
    (["run", "pxcy.protocols.echo:Echo", "--bogus"], "unrecognized arguments: --bogus"),
    # what the module does have, so the user sees the spelling
    (["run", "pxcy.protocols.echo:echo"], "its Protocol classes: Echo"),
    pytest.param(["run", "pxcy.protocols.http11:Hello"], "its Protocol classes: HelloWorld, Static",
                 marks=NEEDS_HTTP),
    (["run", "os:nope"], "it defines no Protocol subclass"),
    # the bases have no behaviour: serving one is a mistake, not an empty server
    (["run", "pxcy.runtime:Protocol"], "is a base class"),
    pytest.param(["run", "pxcy.protocols.http11:HttpProtocol"], "is a base class", marks=NEEDS_HTTP),
])
def test_bad_arguments_one_line_exit_2(args, message):
    r = pxcy_cmd(*args)
    assert r.returncode == 2
    assert r.stderr.startswith("pxcy: error: "), r.stderr     # argparse's errors too
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr


def test_refused_protocol_one_line_exit_2(protos):
    r = subprocess.run([sys.executable, "-m", "pxcy", "run", "protos:WithObject"], capture_output=True,
                       text=True, timeout=60, cwd=SUPPORT)
    assert r.returncode == 2
    assert "only C-typed fields" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_port_in_use_one_line_exit_2():
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    r = pxcy_cmd("run", "pxcy.protocols.echo:Echo", "--port", str(blocker.getsockname()[1]))
    blocker.close()
    assert r.returncode == 2
    assert "cannot listen" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_version_and_help():
    r = pxcy_cmd("--version")
    assert r.returncode == 0 and r.stdout.startswith("pxcy ")
    r = pxcy_cmd("--help")
    assert r.returncode == 0 and "run" in r.stdout
    r = pxcy_cmd("run", "--help")
    assert r.returncode == 0 and "MODULE:CLASS" in r.stdout


# ------------------------------------------------------------------ Harness

def test_harness_lines_split_anywhere():
    data = b"alpha\nbeta\nLAST\ngamma\nLAST\n"
    want = b"1 alpha\n2 beta\nLAST beta\n3 gamma\nLAST gamma\n"
    for sizes in ([1], [2, 3], [7], [len(data)]):
        assert feed_chunks(Harness(Lines), data, sizes) == want


def test_harness_echo_and_heap_rollback():
    h = Harness(Echo)
    assert h.feed(b"x" * 200_000) == b"x" * 200_000
    assert h.transient_bytes == 0            # rolled back once the output was "written"


def test_harness_persistent_heap_bounded():
    h = Harness(Lines)
    for i in range(2000):
        h.feed(b"line number %d with some text\n" % i)
    assert h.persistent_bytes <= 64         # only the last line is kept
    h.close()
    assert h.closed


def test_harness_sendfile_reads_back(protos, tmp_path):
    f = tmp_path / "f.bin"
    f.write_bytes(bytes(range(256)) * 10)
    h = Harness(protos.FileSender)
    assert h.feed(f"{f} 10 5\n".encode()) == bytes(range(10, 15))
    assert h.feed(f"{f} 2555 -1\n".encode()) == bytes(range(251, 256))


# --------------------------------------------------------------- debug mode

DEBUG_CLIENT = textwrap.dedent("""
    import socket, sys
    sys.path.insert(0, {support!r})
    import pxcy, protos
    server = pxcy.Server(getattr(protos, {cls!r}), "127.0.0.1", 0, workers=1).start()
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall(b"one")
    assert s.recv(100) == b"kept\\n"
    s.sendall(b"two")
    s.recv(100)
    print("NOT CAUGHT", flush=True)
    server.stop()
""")


@pytest.mark.parametrize("cls, message", [
    ("StaleSend", "points into transient memory that was already rolled back"),
    ("StaleRead", "access to transient heap memory after rollback"),
])
def test_debug_mode_catches_transient_pointer_kept_past_callback(protos, cls, message):
    env = dict(os.environ, PXCY_DEBUG="1")
    r = subprocess.run([sys.executable, "-c", DEBUG_CLIENT.format(support=SUPPORT, cls=cls)],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode != 0
    assert "NOT CAUGHT" not in r.stdout
    assert message in r.stderr
    assert "pxcy debug:" in r.stderr and "backtrace" in r.stderr
    if shutil.which("addr2line"):          # frames resolved to functions and source lines
        assert "runtime_worker_main in " in r.stderr, r.stderr   # (.pyx lines in a debug build)
    if cls == "StaleSend":                  # names the file and line of the check
        assert "runtime." in r.stderr.split("pxcy debug: ")[1].split(":")[0]


def test_without_debug_mode_stale_pointer_is_not_checked(protos):
    # the same misbehaving handler runs unchecked (and here, by luck, harmlessly):
    # this is what debug mode exists to catch
    r = subprocess.run([sys.executable, "-c", DEBUG_CLIENT.format(support=SUPPORT, cls="StaleSend")],
                       capture_output=True, text=True, timeout=60,
                       env={k: v for k, v in os.environ.items() if k != "PXCY_DEBUG"})
    assert "NOT CAUGHT" in r.stdout
