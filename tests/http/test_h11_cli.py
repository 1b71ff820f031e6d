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
