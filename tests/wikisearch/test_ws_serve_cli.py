"""`wikisearch serve` and `wikisearch demo` as subprocesses: errors are one line with
exit status 2, SIGTERM stops with status 0, demo caches its dump and index."""
import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

from ws_support import EXAMPLE, run_cli

URL_RE = re.compile(r"search page: (http://127\.0\.0\.1:(\d+)/)")


@pytest.fixture(scope="module")
def small_index(tmp_path_factory):
    from wikisearch import gen
    from wikisearch.index import build_index
    d = tmp_path_factory.mktemp("serve")
    dump = str(d / "w.xml")
    gen.generate(dump, pages=300, seed=3, progress=False)
    build_index(dump, str(d / "w.index"))
    return dump, str(d / "w.index")


def _one_line_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("wikisearch: error: "), r.stderr
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


class Served:
    """A `python -m wikisearch ...` server process: waits for its banner, stops by PID."""

    def __init__(self, *args, cwd=None, timeout=60):
        env = dict(os.environ)
        env["PYTHONPATH"] = EXAMPLE + os.pathsep + env.get("PYTHONPATH", "")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-m", "wikisearch", *args], cwd=cwd, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out, self.err = "", ""
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ, "out")
        sel.register(self.proc.stderr, selectors.EVENT_READ, "err")
        deadline = time.monotonic() + timeout
        try:
            while not URL_RE.search(self.out):
                left = deadline - time.monotonic()
                assert left > 0 and self.proc.poll() is None, (self.proc.poll(), self.out, self.err)
                for key, _ in sel.select(left):
                    # raw reads: a buffered readline() could hide lines from select()
                    chunk = os.read(key.fileobj.fileno(), 65536).decode("utf-8", "replace")
                    setattr(self, key.data, getattr(self, key.data) + chunk)
        except BaseException:
            self.kill()
            raise
        finally:
            sel.close()
        self.ready_s = time.monotonic() - self.t0
        m = URL_RE.search(self.out)
        self.url, self.port = m.group(1), int(m.group(2))

    def get_json(self, path):
        with urllib.request.urlopen(self.url + path.lstrip("/"), timeout=10) as r:
            return json.load(r)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self.out += out
        self.err += err
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def test_serve_missing_index_dir(tmp_path):
    r = run_cli("serve", "--index", str(tmp_path / "nope"), "--port", "0", cwd=str(tmp_path))
    _one_line_error(r, "index not found")


@pytest.mark.parametrize("change", ["touch", "append"])
def test_serve_dump_changed(tmp_path, change):
    from wikisearch import gen
    from wikisearch.index import build_index
    dump = str(tmp_path / "c.xml")
    gen.generate(dump, pages=50, seed=4, progress=False)
    build_index(dump, str(tmp_path / "c.index"))
    if change == "touch":
        st = os.stat(dump)
        os.utime(dump, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    else:
        with open(dump, "ab") as f:
            f.write(b"\n")
    r = run_cli("serve", "--index", str(tmp_path / "c.index"), "--port", "0", cwd=str(tmp_path))
    _one_line_error(r, "dump changed", "wikisearch build")


def test_serve_port_in_use(small_index, tmp_path):
    _, index_dir = small_index
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        r = run_cli("serve", "--index", index_dir, "--port", str(s.getsockname()[1]), cwd=str(tmp_path))
    finally:
        s.close()
    _one_line_error(r, "cannot listen", "in use")


def test_serve_answers_and_sigterm_exits_0(small_index, tmp_path):
    dump, index_dir = small_index
    srv = Served("serve", "--index", index_dir, "--port", "0", "--workers", "2", cwd=str(tmp_path))
    try:
        assert "300 pages" in srv.out and "2 workers" in srv.out
        hits = srv.get_json("/offsets/A?limit=3")
        assert 1 <= len(hits) <= 3 and all(t.startswith("A") for t, _, _ in hits)
        stats = srv.get_json("/stats")
        assert stats["pages"] == 300 and stats["workers"] == 2 and stats["dump_size"] == os.path.getsize(dump)
    finally:
        rc = srv.stop(signal.SIGTERM)
    assert rc == 0, srv.err
    assert "wikisearch: stopped (2 requests served)" in srv.out
    assert "Traceback" not in srv.err


def test_demo_generates_then_reuses(tmp_path):
    d = tmp_path / "demo"
    runs = []
    for _ in range(2):
        srv = Served("demo", "--pages", "2000", "--dir", str(d), "--port", "0", "--workers", "1",
                     cwd=str(tmp_path))
        try:
            hits = srv.get_json("/offsets/C?limit=5")
            assert hits and all(t.startswith("C") for t, _, _ in hits)
            # the article bytes are the dump's
            t, s, e = hits[0]
            with urllib.request.urlopen(srv.url + "wiki/" + urllib.parse.quote(t, safe=""), timeout=10) as r:
                body = r.read()
            with open(d / "synthetic-2000-seed1.xml", "rb") as f:
                f.seek(s)
                assert body == f.read(e - s)
            assert srv.get_json("/stats")["pages"] == 2000
        finally:
            rc = srv.stop()
        assert rc == 0, srv.err
        runs.append(srv)
    first, second = runs
    assert "generating" in first.err and "indexing" in first.err
    assert "generating" not in second.err and "indexing" not in second.err, second.err
    assert sorted(os.listdir(d)) == ["synthetic-2000-seed1.index", "synthetic-2000-seed1.xml"]



def test_stopped_line_counts_one_request_in_the_singular(small_index, tmp_path):
    _, index_dir = small_index
    srv = Served("serve", "--index", index_dir, "--port", "0", "--workers", "1", cwd=str(tmp_path))
    try:
        srv.get_json("/stats")
    finally:
        rc = srv.stop(signal.SIGTERM)
    assert rc == 0, srv.err
    assert "wikisearch: stopped (1 request served)" in srv.out, srv.out


@pytest.mark.parametrize("args,needle", [(["--drain", "-5"], "--drain"), (["--drain", "x"], "--drain"),
                                         (["--listen", "unix:"], "empty socket path")])
def test_serve_ops_flags_bad_values(small_index, tmp_path, args, needle):
    _, index_dir = small_index
    r = run_cli("serve", "--index", index_dir, "--port", "0", *args, cwd=str(tmp_path))
    _one_line_error(r, needle)


def test_serve_health_metrics_and_drain(small_index, tmp_path):
    """--metrics, --reuse-port, --drain: /healthz 200, /metrics parses, SIGTERM drains
    (/healthz 503, requests still answered with Connection: close), then exit 0."""
    import urllib.error
    from test_operations import strict_parse       # (tests/ is on sys.path: conftest)
    _, index_dir = small_index
    srv = Served("serve", "--index", index_dir, "--port", "0", "--workers", "2", "--metrics",
                 "--reuse-port", "--drain", "1", cwd=str(tmp_path))
    try:
        with urllib.request.urlopen(srv.url + "healthz", timeout=10) as r:
            assert r.status == 200 and r.read() == b"ok\n"
        with urllib.request.urlopen(srv.url + "metrics", timeout=10) as r:
            m = strict_parse(r.read().decode())
        assert m["pxcy_workers"][()] == 2
        srv.proc.send_signal(signal.SIGTERM)
        for _ in range(500):
            try:
                urllib.request.urlopen(srv.url + "healthz", timeout=10)
            except urllib.error.HTTPError as e:
                assert e.code == 503
                break
            time.sleep(0.01)
        with urllib.request.urlopen(srv.url + "offsets/A?limit=1", timeout=10) as r:
            assert r.status == 200 and r.headers["Connection"] == "close"
        out, err = srv.proc.communicate(timeout=30)
        assert srv.proc.returncode == 0, err
    finally:
        srv.kill()
