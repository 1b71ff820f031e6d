"""Packaging facts that need no build of their own: which .pyx become extensions, what
the wheel would ship, and the free-threading declaration in the generated modules."""
import glob
import os
import re
import runpy
import unittest.mock

import pytest
import setuptools

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_threading_default(c_file):
    """The module's Py_mod_gil slot when the build does not override it: Cython writes
    `#define __Pyx_FREETHREADING_COMPATIBLE Py_MOD_GIL_NOT_USED` when compiled with
    freethreading_compatible=True, Py_MOD_GIL_USED otherwise (the last definition)."""
    with open(c_file, encoding="utf-8", errors="replace") as f:
        found = re.findall(r"#define __Pyx_FREETHREADING_COMPATIBLE (\w+)", f.read())
    assert found, f"{c_file}: no Py_mod_gil slot (Cython < 3.1?)"
    return found[-1]


def test_extensions_declare_freethreading_compatible():
    pyx = glob.glob(os.path.join(ROOT, "pxcy", "*.pyx")) + glob.glob(os.path.join(ROOT, "pxcy", "protocols", "*.pyx"))
    assert pyx
    for p in pyx:
        c = p[:-4] + ".c"
        if not os.path.exists(c):
            pytest.skip(f"{c} not generated (build in place first: tools/setup.sh)")
        assert free_threading_default(c) == "Py_MOD_GIL_NOT_USED", c


def setup_kwargs(tmp_path, files):
    """setup.py's setup() arguments for a source tree holding `files` ({rel: text})."""
    for rel, text in files.items():
        os.makedirs(os.path.join(tmp_path, os.path.dirname(rel)), exist_ok=True)
        with open(os.path.join(tmp_path, rel), "w") as f:
            f.write(text)
    with open(os.path.join(ROOT, "setup.py")) as f:
        src = f.read()
    with open(os.path.join(tmp_path, "setup.py"), "w") as f:
        f.write(src)
    got = {}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with unittest.mock.patch.object(setuptools, "setup", lambda **kw: got.update(kw)), \
                unittest.mock.patch("Cython.Build.cythonize", lambda exts, **kw: exts):
            runpy.run_path(os.path.join(tmp_path, "setup.py"))
    finally:
        os.chdir(cwd)
    return got


def test_split_modules_build_one_extension_and_ship_every_fragment(tmp_path):
    """A module split uvloop-style: one top-level .pyx including .pxi fragments and files
    in a subfolder; .pxd beside them; headers under includes/. One extension per
    top-level .pyx, fragments never built, everything a cimporting project needs shipped."""
    files = {
        "pxcy/__init__.py": "", "pxcy/protocols/__init__.py": "", "templates/__init__.py": "",
        "templates/common/setup.py.tmpl": "", "templates/http/{{name}}/handler.pyx.tmpl": "",
        "pxcy/runtime.pyx": 'include "loop.pxi"\ninclude "runtime/server.pyx"\n',
        "pxcy/runtime.pxd": "", "pxcy/loop.pxi": "", "pxcy/loop.pxd": "",
        "pxcy/runtime/server.pyx": "", "pxcy/runtime/server.pxd": "",
        "pxcy/includes/heap.h": "", "pxcy/includes/sub/more.h": "", "pxcy/includes/impl.c": "",
        "pxcy/runtime.c": "/* generated */",
        "pxcy/protocols/http11.pyx": 'include "http11_parse.pyx"\n',
        "pxcy/protocols/http11_parse.pyx": "", "pxcy/protocols/http11.pxd": "",
        "pxcy/protocols/includes/http_parse.h": "", "pxcy/protocols/echo.pyx": "",
    }
    kw = setup_kwargs(str(tmp_path), files)
    assert sorted(e.name for e in kw["ext_modules"]) == [
        "pxcy.protocols.echo", "pxcy.protocols.http11", "pxcy.runtime"]
    data = kw["package_data"]
    assert set(data["pxcy"]) == {"runtime.pyx", "runtime.pxd", "loop.pxi", "loop.pxd",
                                 "runtime/server.pyx", "runtime/server.pxd",
                                 "includes/heap.h", "includes/sub/more.h"}
    assert set(data["pxcy.protocols"]) == {"http11.pyx", "http11_parse.pyx", "http11.pxd",
                                           "includes/http_parse.h", "echo.pyx"}
    assert "http/{{name}}/handler.pyx.tmpl" in data["pxcy.templates"]


def test_build_order_parallel_and_editable_skip(tmp_path, monkeypatch):
    """The module with the most source (its fragments counted) is compiled first, one
    compiler per CPU it may run on; PXCY_SKIP_EXTENSIONS=1 (tools/setup.sh's `pip install
    -e`, whose compile would be thrown away) declares no extension in an editable
    install's commands, and is ignored by any other (a wheel or in-place build without
    its extensions would pass for a build)."""
    files = {
        "pxcy/__init__.py": "", "pxcy/protocols/__init__.py": "", "templates/__init__.py": "",
        "pxcy/runtime.pyx": 'include "rt/big.pyx"\n', "pxcy/rt/big.pyx": "x" * 5000,
        "pxcy/protocols/http11.pyx": "y" * 3000, "pxcy/protocols/echo.pyx": "z" * 100,
    }
    monkeypatch.delenv("PXCY_SKIP_EXTENSIONS", raising=False)
    kw = setup_kwargs(str(tmp_path), files)
    assert [e.name for e in kw["ext_modules"]] == ["pxcy.runtime", "pxcy.protocols.http11",
                                                   "pxcy.protocols.echo"]
    assert kw["options"]["build_ext"]["parallel"] == len(os.sched_getaffinity(0))
    monkeypatch.setenv("PXCY_SKIP_EXTENSIONS", "1")
    for cmd in ("egg_info", "dist_info", "editable_wheel"):  # pip install -e's steps
        monkeypatch.setattr("sys.argv", ["setup.py", cmd, "--dist-dir", "x"])
        assert setup_kwargs(str(tmp_path), files)["ext_modules"] == [], cmd
    for cmd in ("build_ext", "bdist_wheel", "sdist"):      # never a build without them
        monkeypatch.setattr("sys.argv", ["setup.py", cmd])
        assert len(setup_kwargs(str(tmp_path), files)["ext_modules"]) == 3, cmd


def test_pyproject_dependencies():
    tomllib = pytest.importorskip("tomllib")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        meta = tomllib.load(f)
    deps = meta["project"]["dependencies"]
    assert "Cython>=3.1" in deps and "setuptools>=70.1" in deps and "numpy" in deps
    assert "wheel" not in " ".join(meta["build-system"]["requires"])
    with open(os.path.join(ROOT, "templates", "common", "pyproject.toml.tmpl"), "rb") as f:
        text = f.read().decode()
    reqs = re.search(r"^requires = (.*)$", text, re.M).group(1)
    assert "pxcy" in reqs and "Cython>=3.1" in reqs and "setuptools>=70.1" in reqs and "wheel" not in reqs
    with open(os.path.join(ROOT, "examples", "wikisearch", "pyproject.toml"), "rb") as f:
        ws = tomllib.load(f)
    assert "pxcy" in ws["build-system"]["requires"] and "pxcy" in ws["project"]["dependencies"]


def test_wikisearch_setup_skips_only_in_an_editable_install(monkeypatch, capsys):
    """examples/wikisearch/setup.py keeps the root setup.py's rule: PXCY_SKIP_EXTENSIONS=1
    empties the extension list for an editable install's own commands only, any other
    command builds them and says in one line that the variable was ignored; the build
    runs one compiler per CPU this process may use."""
    path = os.path.join(ROOT, "examples", "wikisearch", "setup.py")

    def kwargs(argv):
        got = {}
        monkeypatch.setattr("sys.argv", argv)
        with unittest.mock.patch.object(setuptools, "setup", lambda **kw: got.update(kw)), \
                unittest.mock.patch("Cython.Build.cythonize", lambda exts, **kw: exts):
            runpy.run_path(path)
        return got

    monkeypatch.delenv("PXCY_SKIP_EXTENSIONS", raising=False)
    kw = kwargs(["setup.py", "build_ext"])
    names = [e.name for e in kw["ext_modules"]]
    assert {"wikisearch.titleindex", "wikisearch.titlesort", "wikisearch.server"} <= set(names)
    assert kw["options"]["build_ext"]["parallel"] == len(os.sched_getaffinity(0))
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("PXCY_SKIP_EXTENSIONS", "1")
    for cmd in ("egg_info", "dist_info", "editable_wheel"):
        assert kwargs(["setup.py", cmd])["ext_modules"] == [], cmd
        assert capsys.readouterr().err == ""
    for cmd in ("build_ext", "bdist_wheel", "sdist"):
        assert [e.name for e in kwargs(["setup.py", cmd])["ext_modules"]] == names, cmd
        assert "PXCY_SKIP_EXTENSIONS applies to editable installs only" in capsys.readouterr().err
