"""`pxcy new` / `pxcy build`, end to end: render each template, build it the way users
do (pip install -e --no-build-isolation), run the project's own tests, serve it as a
subprocess and talk to it over a socket; plus the bad-input paths of the CLI."""
import http.client
import importlib
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = ["echo", "http", "lines"]
SUFFIX = f"{os.getpid()}"


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in e.get("PYTHONPATH", "").split(os.pathsep) if p])
    e.pop("PXCY_DEBUG", None)
    return e


def pxcy(*args, cwd, timeout=120):
    return subprocess.run([sys.executable, "-m", "pxcy", *args], cwd=cwd, env=env(),
                          capture_output=True, text=True, timeout=timeout)


def http_available():
    try:
        importlib.import_module("pxcy.protocols.http11")
        return True
    except ImportError as e:
        http_available.reason = f"pxcy.protocols.http11 is not built yet ({e})"
        return False


def snapshot(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            data = open(p, "rb").read() if os.path.isfile(p) else None
            out[os.path.relpath(p, root)] = (st.st_mode, st.st_mtime_ns, data)
    return out


# ------------------------------------------------------------------ CLI surface

def test_help_and_version(tmp_path):
    r = pxcy("--version", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.strip().startswith("pxcy ")
    r = pxcy("--help", cwd=tmp_path)
    assert r.returncode == 0
    for cmd in ("run", "new", "build"):
        assert cmd in r.stdout
    for cmd in ("run", "new", "build"):
        r = pxcy(cmd, "--help", cwd=tmp_path)
        assert r.returncode == 0, (cmd, r.stderr)
        assert "usage: pxcy " + cmd in r.stdout
    r = pxcy("new", "--help", cwd=tmp_path)
    for kind in TEMPLATES:
        assert kind in r.stdout             # templates listed with their summaries
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, why", [
    ("1app", "invalid project name"),
    ("my-app", "invalid project name"),
    ("my app", "invalid project name"),
    ("", "invalid project name"),
    ("class", "keyword"),
    ("pxcy", "shadow"),
    ("test", "shadow"),
    ("numpy", "shadow"),
    ("os", "shadow"),
    ("pytest", "shadow"),
])
def test_bad_name(tmp_path, name, why):
    r = pxcy("new", name, cwd=tmp_path)
    assert r.returncode == 2
    assert why in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_unknown_template_lists_available(tmp_path):
    r = pxcy("new", "myapp", "--template", "grpc", cwd=tmp_path)
    assert r.returncode == 2
    assert "unknown template 'grpc'" in r.stderr
    assert "available: " + ", ".join(TEMPLATES) in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_bad_args_one_line(tmp_path):
    r = pxcy("new", cwd=tmp_path)                       # NAME missing
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    r = pxcy("build", str(tmp_path), cwd=tmp_path)       # not a project
    assert r.returncode == 2 and "no setup.py" in r.stderr


def test_existing_nonempty_dir_untouched(tmp_path):
    target = tmp_path / "myapp"
    (target / "sub").mkdir(parents=True)
    (target / "keep.txt").write_text("mine")
    (target / "sub" / "handler.pyx").write_text("# mine too")
    before = snapshot(tmp_path)
    for args in (["new", "myapp"], ["new", "other", "--dir", "myapp"],
                 ["new", "myapp", "--template", "http"]):
        r = pxcy(*args, cwd=tmp_path)
        assert r.returncode == 2, args
        assert "not empty" in r.stderr and "nothing was written" in r.stderr
    (tmp_path / "afile").write_text("x")
    before = snapshot(tmp_path)
    r = pxcy("new", "myapp2", "--dir", "afile", cwd=tmp_path)
    assert r.returncode == 2 and "not a directory" in r.stderr
    assert snapshot(tmp_path) == before


def test_new_into_empty_dir_and_nested_dir(tmp_path):
    (tmp_path / "empty").mkdir()
    r = pxcy("new", "myapp", "--dir", "empty", "-t", "lines", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "empty" / "myapp" / "handler.pyx").is_file()
    r = pxcy("new", "myapp", "--dir", "a/b/c", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "a" / "b" / "c" / "setup.py").is_file()
    # no temporary folders left next to the targets
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "empty"]
    assert [p.name for p in (tmp_path / "a" / "b").iterdir()] == ["c"]


def test_failure_leaves_nothing(tmp_path, monkeypatch):
    sys.path.insert(0, str(REPO))
    from pxcy import project
    from pxcy.cli import CliError

    def boom(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(project.os, "rename", boom)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CliError, match="nothing was written"):
        project.create_project("myapp", "echo", str(tmp_path / "x" / "y"))
    assert list(tmp_path.iterdir()) == []       # temp folder and created parents removed

    # a template bug is found before anything is written
    bad = tmp_path / "tpl"
    (bad / "common").mkdir(parents=True)
    (bad / "broken").mkdir()
    (bad / "broken" / "about.txt").write_text("summary: x\n---\n")
    (bad / "broken" / "f.txt.tmpl").write_text("{{nosuch}}")
    monkeypatch.undo()
    with pytest.raises(CliError, match="unknown placeholder"):
        project.create_project("myapp", "broken", str(tmp_path / "out"), root=str(bad))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", TEMPLATES)
def test_rendered_files(tmp_path, kind):
    r = pxcy("new", "myapp", "-t", kind, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    root = tmp_path / "myapp"
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    expected = {".gitignore", "README.md", "pyproject.toml", "setup.py", "myapp/__init__.py",
                "myapp/__main__.py", "myapp/handler.pyx", "tests/test_handler.py"}
    assert expected <= set(files)
    assert ("myapp/handler.pxd" in files) == (kind != "echo")
    for f in files:
        text = (root / f).read_text()
        assert "{{" not in text, f
        if f.endswith(".py"):
            compile(text, f, "exec")
    setup_py = (root / "setup.py").read_text()
    assert "include_path=[pxcy.get_include()]" in setup_py
    assert "include_dirs=[pxcy.get_include()" in setup_py
    assert "language_level=3" in setup_py
    assert '"pxcy>=' in (root / "pyproject.toml").read_text()
    pyx = (root / "myapp" / "handler.pyx").read_text()
    assert "noexcept nogil" in pyx and "language_level=3" in pyx
    readme = (root / "README.md").read_text()
    for s in ("pip install -e . --no-build-isolation", "python -m myapp --port 8080",
              "pxcy run myapp.handler:App", "pytest", "PXCY_DEBUG=1", "PXCY_DEBUG_BUILD=1 pxcy build",
              "pxcy build --annotate", "gdb"):
        assert s in readme, s


# ------------------------------------------------------------------ end to end

@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    """Render and pip-install (editable, in this environment) one project per template."""
    base = tmp_path_factory.mktemp("projects")
    built, installed = {}, []
    try:
        for kind in TEMPLATES:
            name = f"pxcyt_{kind}_{SUFFIX}"
            r = pxcy("new", name, "--template", kind, cwd=base)
            assert r.returncode == 0, r.stderr
            if kind == "http" and not http_available():
                continue
            r = subprocess.run([sys.executable, "-m", "pip", "install", "-e", f"./{name}",
                                "--no-build-isolation", "--no-deps", "-q", "--disable-pip-version-check"],
                               cwd=base, env=env(), capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, r.stdout + r.stderr
            installed.append(name)
            built[kind] = base / name
        yield built
    finally:
        for name in installed:
            subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", name],
                           env=env(), capture_output=True, timeout=120)


def need(projects, kind):
    if kind not in projects:
        pytest.skip(getattr(http_available, "reason", f"{kind} project not built"))
    return projects[kind]


def start_server(root):
    """python -m NAME --port 0 --workers 2 -> (process, port)."""
    p = subprocess.Popen([sys.executable, "-m", root.name, "--port", "0", "--workers", "2"],
                         cwd=root.parent, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    ready, _, _ = select.select([p.stdout], [], [], 30)
    line = p.stdout.readline() if ready else ""
    if "serving" not in line:
        p.kill()
        raise AssertionError(f"server did not start: {line!r} {p.stderr.read()}")
    port = int(re.search(r"://127\.0\.0\.1:(\d+)", line).group(1))
    return p, port


def stop_server(p):
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        raise
    rest = p.stdout.read()
    err = p.stderr.read()
    assert rc == 0, err
    assert "pxcy: stopped" in rest


def recv_all(sock):
    buf = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return buf
        buf += chunk


def client_echo(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"hello pxcy\n")
        s.shutdown(socket.SHUT_WR)
        got = b""
        deadline = time.time() + 5
        while len(got) < 11 and time.time() < deadline:
            chunk = s.recv(100)
            if not chunk:
                break
            got += chunk
        assert got == b"hello pxcy\n"


def client_lines(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"NAME e2e\nHEL")
        time.sleep(0.05)                     # the rest of the line in another read
        s.sendall(b"LO\nCOUNT\nQUIT\n")
        assert recv_all(s) == b"OK\nHello, e2e!\n3\nBYE\n"


def client_http(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/")
    r = c.getresponse()
    assert (r.status, r.read()) == (200, b"Hello, World!\n")
    c.request("GET", "/table/25")
    r = c.getresponse()
    assert r.status == 200
    assert json.loads(r.read()) == {"index": 25, "value": 5.0, "hits": 1}
    c.close()


CLIENTS = {"echo": client_echo, "lines": client_lines, "http": client_http}


@pytest.mark.parametrize("kind", TEMPLATES)
def test_project_tests_pass(projects, kind):
    root = need(projects, kind)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                       cwd=root, env=env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert " passed" in r.stdout


@pytest.mark.parametrize("kind", TEMPLATES)
def test_serve_and_sigterm(projects, kind):
    root = need(projects, kind)
    p, port = start_server(root)
    try:
        CLIENTS[kind](port)
    finally:
        stop_server(p)


def test_pxcy_run_spec(projects):
    root = need(projects, "lines")
    p = subprocess.Popen([sys.executable, "-m", "pxcy", "run", f"{root.name}.handler:App",
                          "--port", "0", "--workers", "1"],
                         cwd=root, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready, _, _ = select.select([p.stdout], [], [], 30)
    line = p.stdout.readline() if ready else ""
    assert "serving" in line, p.stderr.read() if not ready else line
    port = int(re.search(r"://127\.0\.0\.1:(\d+)", line).group(1))
    try:
        client_lines(port)
    finally:
        stop_server(p)


def test_build_error_annotate_debug(projects):
    """pxcy build: a Cython error names the .pyx line and shows no traceback; then
    --annotate --debug writes the HTML and a -O0 -g build with #line directives."""
    root = need(projects, "echo")
    pyx = root / root.name / "handler.pyx"
    good = pyx.read_text()
    pyx.write_text(good.replace("return t.send(data, n)", "return t.send(data, n_typo)"))
    try:
        r = pxcy("build", str(root), cwd=root.parent)
        assert r.returncode != 0
        out = r.stdout + r.stderr
        line = next(i for i, l in enumerate(good.splitlines(), 1) if "t.send(data, n)" in l)
        assert f"{root.name}/handler.pyx:{line}:" in out
        assert "undeclared name not builtin: n_typo" in out
        assert "Traceback" not in out
    finally:
        pyx.write_text(good)
    r = pxcy("build", "--annotate", "--debug", cwd=root)
    assert r.returncode == 0, r.stdout + r.stderr
    html = root / root.name / "handler.html"
    assert html.is_file() and str(html) in r.stdout
    assert "#line" in (root / root.name / "handler.c").read_text()
    # the rebuilt module still works (its own tests, through the editable install)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                       cwd=root, env=env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
