"""The command line: `pxcy static DIR` and `pxcy run MODULE:CLASS`, as subprocesses."""
import os
import re
import signal
import subprocess
import sys

import pytest

from rawhttp import get

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def start(*args):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    p = subprocess.Popen([sys.executable, "-m", "pxcy", *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    line = p.stdout.readline()               # "pxcy: serving ... on http://127.0.0.1:PORT/ ..."
    m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    if not m:
        p.kill()
        out, err = p.communicate()
        pytest.fail(f"no serving line: {line!r} {out!r} {err!r}")
    return p, int(m.group(1))


def stop(p):
    p.send_signal(signal.SIGTERM)              # by PID
    try:
        out, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        pytest.fail("did not exit on SIGTERM")
    return p.returncode, out, err


def test_static_serves_and_exits_0_on_sigterm(docroot):
    p, port = start("static", docroot["root"], "--port", "0", "--workers", "1")
    try:
        r = get(port, "/hello.txt")
        assert r.status == 200 and r.body == b"Hello, static world!\n"
        r = get(port, "/big.bin", [("Range", "bytes=10-19")])
        assert r.status == 206 and r.body == docroot["big"][10:20]
        assert get(port, "/../secret.txt").status in (400, 403, 404)
        assert get(port, "/link-outside.txt").status in (403, 404)
    finally:
        rc, out, err = stop(p)
    assert rc == 0, err
    assert "Traceback" not in err


def test_static_nonexistent_dir_exit_2():
    p = subprocess.run([sys.executable, "-m", "pxcy", "static", "/nonexistent/pxcy-test-dir", "--port", "0"],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert "/nonexistent/pxcy-test-dir" in lines[0]
    assert "Traceback" not in p.stderr
    assert p.stdout == ""


def test_run_helloworld(docroot):
    p, port = start("run", "pxcy.protocols.http11:HelloWorld", "--port", "0", "--workers", "2")
    try:
        r = get(port, "/plaintext")
        assert r.status == 200 and r.body == b"Hello, World!"
        assert get(port, "/json").body == b'{"message":"Hello, World!"}'
    finally:
        rc, out, err = stop(p)
    assert rc == 0, err


def test_static_access_log_no_line_lost_on_sigterm(docroot, tmp_path):
    log = tmp_path / "access.log"
    p, port = start("static", docroot["root"], "--port", "0", "--workers", "2", "--access-log", str(log))
    try:
        from rawhttp import Conn
        with Conn(port) as c:
            for i in range(300):
                c.send(f"GET /hello.txt?i={i} HTTP/1.1\r\nHost: x\r\nUser-Agent: t\"ua\r\n"
                       f"Referer: http://r/\r\n\r\n")
            for i in range(300):
                assert c.read_response().status == 200
        assert get(port, "/missing").status == 404
    finally:
        rc, out, err = stop(p)                   # at once: lines still in the buffers
    assert rc == 0, err
    lines = log.read_text().splitlines()
    assert len(lines) == 301
    pat = re.compile(r'^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] '
                     r'"GET /hello\.txt\?i=(\d+) HTTP/1\.1" 200 21 "http://r/" "t\\x22ua"$')
    # two workers, each with its own log buffer: the /missing line (another connection,
    # maybe the other worker) can land anywhere among the others
    missing = [ln for ln in lines if re.search(r'"GET /missing HTTP/1\.1" 404 \d+ "-" "-"$', ln)]
    hello = [ln for ln in lines if ln not in missing]
    assert len(missing) == 1 and len(hello) == 300, lines
    assert all(pat.match(ln) for ln in hello), [ln for ln in hello if not pat.match(ln)][:3]
    assert sorted(int(pat.match(ln).group(1)) for ln in hello) == list(range(300))


def test_run_access_log_off_by_default_and_bad_path(tmp_path):
    p = subprocess.run([sys.executable, "-m", "pxcy", "run", "pxcy.protocols.http11:HelloWorld",
                        "--port", "0", "--access-log", str(tmp_path / "no" / "such" / "dir.log")],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert p.returncode == 2
    assert len(p.stderr.strip().splitlines()) == 1 and "access log" in p.stderr
    assert not (tmp_path / "no").exists()
    p = subprocess.run([sys.executable, "-m", "pxcy", "run", "pxcy.protocols.echo:Echo",
                        "--port", "0", "--access-log", str(tmp_path / "x.log")],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert p.returncode == 2 and "HTTP protocol" in p.stderr
    assert not (tmp_path / "x.log").exists()


def test_run_access_log(tmp_path):
    log = tmp_path / "a.log"
    p, port = start("run", "pxcy.protocols.http11:HelloWorld", "--port", "0", "--workers", "1",
                    "--access-log", str(log))
    try:
        assert get(port, "/plaintext").status == 200
    finally:
        rc, out, err = stop(p)
    assert rc == 0, err
    assert '"GET /plaintext HTTP/1.1" 200 13 "-" "-"' in log.read_text()
