"""pxcy from its wheel alone: built in an isolated build (`pip wheel .`), installed into
a new virtual environment with nothing but pytest beside it, then the tutorial:
`pxcy new demo`, `pxcy build`, `python -m pytest`, `pip install -e . --no-build-isolation`,
serving. Also the sdist. Slow (two builds of pxcy, a venv, numpy and Cython from the
index), so the wheel is built once per session; still part of `make test`."""
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import urllib.request
import zipfile

import pytest

from checkout import source_copy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.slow
# the interpreter our venv was made from (a new venv from it has nothing installed)
BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)
_BUILT = {}


def run(cmd, cwd, env=None, timeout=900):
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{cmd} (in {cwd}) failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    return r


def clean_env(venv_dir=None):
    """No PYTHONPATH (the checkout must not leak in), the venv's scripts first on PATH."""
    e = {k: v for k, v in os.environ.items()
         if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PXCY_DEBUG", "PXCY_DEBUG_BUILD")}
    if venv_dir:
        e["PATH"] = os.path.join(venv_dir, "bin") + os.pathsep + e.get("PATH", "")
        e["VIRTUAL_ENV"] = venv_dir
    return e


@pytest.fixture(scope="session")
def wheel_venv(tmp_path_factory):
    """As docs/tutorial.md says: a new venv, then with its pip `pip wheel ./pxcy --no-deps
    -w dist` (isolated build: setuptools, Cython and NumPy come from the index) and
    `pip install dist/pxcy-*.whl pytest`. Returns the venv's folder."""
    base = tmp_path_factory.mktemp("wheel")
    src = source_copy(str(base / "pxcy"))
    d = str(base / "env")
    run([BASE_PYTHON, "-m", "venv", d], cwd=str(base), env=clean_env())
    pip = [os.path.join(d, "bin", "python"), "-m", "pip"]
    run(pip + ["wheel", "./pxcy", "--no-deps", "-q", "-w", "dist"], cwd=str(base), env=clean_env(d))
    wheels = [f for f in os.listdir(base / "dist") if f.endswith(".whl")]
    assert len(wheels) == 1, wheels
    _BUILT["wheel"] = str(base / "dist" / wheels[0])
    run(pip + ["install", "-q", _BUILT["wheel"], "pytest"], cwd=str(base), env=clean_env(d))
    # nothing else: pxcy's own dependencies (numpy, Cython, setuptools) and pytest's
    r = run(pip + ["list", "--format=freeze"], cwd=d, env=clean_env(d))
    names = {line.split("==")[0].lower() for line in r.stdout.split()}
    assert {"pxcy", "pytest", "cython", "numpy", "setuptools"} <= names, names
    return d


@pytest.fixture(scope="session")
def wheel(wheel_venv):
    return _BUILT["wheel"]


def test_wheel_contents(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for need in ("pxcy/runtime.pxd", "pxcy/heap.pxd", "pxcy/includes/heap.h",
                 "pxcy/protocols/http11.pxd", "pxcy/protocols/includes/http_parse.h",
                 "pxcy/templates/common/setup.py.tmpl", "pxcy/templates/http/about.txt"):
        assert need in names, need
    # every .pxd/.pxi/.h of the sources is in it (a new split file cannot be forgotten)
    for d, _, files in os.walk(os.path.join(ROOT, "pxcy")):
        for f in files:
            if f.endswith((".pxd", ".pxi", ".h")):
                rel = os.path.relpath(os.path.join(d, f), ROOT).replace(os.sep, "/")
                assert rel in names, f"{rel} is not in the wheel"
    assert not [n for n in names if n.endswith(".c")], "generated C in the wheel"
    assert any(re.match(r"pxcy/runtime\..*\.so$", n) for n in names)
    meta = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    reqs = re.findall(r"^Requires-Dist: (.*)$", meta, re.M)
    for dep in ("numpy", "Cython>=3.1", "setuptools>=70.1"):
        assert dep in reqs, (dep, reqs)


def test_wheel_alone_runs_the_tutorial(wheel_venv, tmp_path):
    v = wheel_venv
    env = clean_env(v)
    py, pxcy_bin = os.path.join(v, "bin", "python"), os.path.join(v, "bin", "pxcy")
    # the venv's pxcy is the wheel's, not this checkout's
    r = run([py, "-c", "import pxcy, Cython; print(pxcy.__file__)"], cwd=str(tmp_path), env=env)
    assert r.stdout.strip().startswith(os.path.realpath(v)) or r.stdout.strip().startswith(v), r.stdout

    # the README/tutorial path: pxcy new, pxcy build, the project's tests
    run([pxcy_bin, "new", "demo"], cwd=str(tmp_path), env=env)
    proj = str(tmp_path / "demo")
    r = run([pxcy_bin, "build"], cwd=proj, env=env)
    assert "pxcy: built demo/handler" in r.stdout, r.stdout
    from test_packaging import free_threading_default
    assert free_threading_default(os.path.join(proj, "demo", "handler.c")) == "Py_MOD_GIL_NOT_USED"
    r = run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=proj, env=env)
    assert " passed" in r.stdout and "failed" not in r.stdout, r.stdout

    # docs/tutorial.md sections 1-2: http template, pip install -e . --no-build-isolation
    tut = tmp_path / "tutorial"
    tut.mkdir()
    run([pxcy_bin, "new", "demo", "--template", "http"], cwd=str(tut), env=env)
    web = str(tut / "demo")
    run([py, "-m", "pip", "install", "-q", "-e", ".", "--no-build-isolation"], cwd=web, env=env)
    r = run([os.path.join(v, "bin", "pytest"), "-q", "-p", "no:cacheprovider"], cwd=web, env=env)
    assert " passed" in r.stdout and "failed" not in r.stdout, r.stdout
    # installed: `python -m demo` imports from anywhere; `pxcy run demo.handler:App`
    for cmd, cwd in (([py, "-m", "demo"], "/"), ([pxcy_bin, "run", "demo.handler:App"], web)):
        serve_and_check(cmd + ["--port", "0", "--workers", "1"], cwd, env)

    # section 6: the tests again with pxcy's debug checks
    r = run([os.path.join(v, "bin", "pytest"), "-q", "-p", "no:cacheprovider"], cwd=web,
            env=dict(env, PXCY_DEBUG="1"))
    assert " passed" in r.stdout and "failed" not in r.stdout, r.stdout
    # section 7: a debug build, and gdb on the unit tests (batch mode: run, then quit)
    run([pxcy_bin, "build", "--debug"], cwd=web, env=env)
    real_py = run([py, "-c", "import sys; print(sys.executable)"], cwd=web, env=env).stdout.strip()
    r = run(["gdb", "-batch", "-ex", "run", "--args", real_py, "-m", "pytest", "-x", "-q",
             "-p", "no:cacheprovider", "tests"], cwd=web, env=env)
    assert " passed" in r.stdout and "exited normally" in r.stdout, r.stdout[-2000:]
    # section 8: a release build served with 2 workers, the three wrk lines (1 s, not 5)
    run([pxcy_bin, "build"], cwd=web, env=env)
    serve_and_check([py, "-m", "demo", "--port", "0", "--workers", "2"], web, env,
                    wrk=["/", "/table/16"])      # /sum: tests/test_tutorial.py


def serve_and_check(cmd, cwd, env, wrk=()):
    """The tutorial's curl requests against a served http-template project (and its wrk
    lines, briefly, for the paths in wrk: no errors, no non-2xx); SIGTERM -> 0."""
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        line = p.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert m, (cmd, line, p.stderr.read() if p.poll() is not None else "")
        base = f"http://127.0.0.1:{m.group(1)}"
        with urllib.request.urlopen(base + "/", timeout=10) as resp:
            assert resp.read() == b"Hello, World!\n"
        with urllib.request.urlopen(base + "/table/16", timeout=10) as resp:
            assert json.loads(resp.read()) == {"index": 16, "value": 4, "hits": 1}
        for path in wrk:
            r = run(["wrk", "-t1", "-c64", "-d1s", base + path], cwd=cwd, env=env, timeout=60)
            assert "Socket errors" not in r.stdout and "Non-2xx" not in r.stdout, r.stdout
            assert re.search(r"\d+ requests in", r.stdout), r.stdout
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_sdist_has_sources_only_and_builds(wheel_venv, tmp_path):
    """The sdist holds what a build needs (no generated C) and builds a working pxcy."""
    src = source_copy(str(tmp_path / "src"))
    py = os.path.join(wheel_venv, "bin", "python")      # has setuptools and Cython (pxcy's deps)
    env = clean_env(wheel_venv)
    run([py, "setup.py", "-q", "sdist", "-d", str(tmp_path / "sd")], cwd=src, env=env)
    (sdist,) = os.listdir(tmp_path / "sd")
    with tarfile.open(tmp_path / "sd" / sdist) as t:
        names = [n.split("/", 1)[1] for n in t.getnames() if "/" in n]
    for need in ("pyproject.toml", "setup.py", "pxcy/runtime.pyx", "pxcy/runtime.pxd",
                 "pxcy/includes/heap.h", "pxcy/protocols/http11.pyx", "templates/common/setup.py.tmpl"):
        assert need in names, need
    assert not [n for n in names if n.endswith((".c", ".so"))], names
    run([py, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "w"),
         str(tmp_path / "sd" / sdist)], cwd=str(tmp_path), env=env)
    (whl,) = os.listdir(tmp_path / "w")
    names = zipfile.ZipFile(tmp_path / "w" / whl).namelist()
    assert any(re.match(r"pxcy/protocols/http11\..*\.so$", n) for n in names)
    assert not [n for n in names if n.endswith(".c")]
