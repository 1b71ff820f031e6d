"""docs/tutorial.md followed literally on a fresh `pxcy new demo --template http`.

The code blocks of sections 4, 5 and 6 are read from the tutorial itself and applied
the way its text tells a reader to: lines marked `# new` go in after the lines they
follow (the others are context that must be in the template, in that order; `...`
skips lines), the section-5 declaration, route and method go at the end of the class
or of `prepare()`, `Slice` joins the cimport, the section-6 tests are appended to
tests/test_handler.py. Section 5's slip (a `print(n)` in the handler) must fail the
build with the error lines shown; then `pxcy build`, the project's `pytest` and
`PXCY_DEBUG=1 pytest` (section 6), and section 8 served with 2 workers under wrk
(1 s per line instead of 5) -> no socket errors, no non-2xx, SIGTERM -> exit 0.
So this fails when the tutorial and the template drift apart, or a block is broken.
(Sections 0-2 and 7 with a wheel in a fresh venv: tests/test_wheel.py.)"""
import http.client
import json
import math
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_project import env, http_available, pxcy, start_server, stop_server

pytestmark = pytest.mark.slow
TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"


# ------------------------------------------------------------------ reading the tutorial

def sections():
    """{number: [(prose before the block, language, code), ...]} for `## N.` sections."""
    out, num, prose, block, lang = {}, None, [], None, ""
    for line in TUTORIAL.read_text().splitlines():
        fence = re.match(r"\s*```(\w*)\s*$", line)
        if block is not None:
            if fence:
                out.setdefault(num, []).append(("\n".join(prose), lang, "\n".join(block)))
                block, prose = None, []
            else:
                block.append(line)
            continue
        m = re.match(r"## (\d+)\. ", line)
        if m:
            num, prose = int(m.group(1)), []
        elif fence:
            lang, block = fence.group(1), []
        else:
            prose.append(line)
    return out


def code(line):
    """A line without its trailing comment and trailing blanks (indentation kept)."""
    return re.sub(r"\s+#.*$", "", line).rstrip()


def is_new(line):
    return re.search(r"#\s*new\b", line) is not None


def merge(target, block, start=None):
    """Apply a block of context lines, `...` and `# new` lines to the text target:
    context lines must appear in target in that order (from the line matching start
    on); each new line is inserted right after the line before it. -> new text."""
    lines = target.splitlines()
    cur = -1
    if start is not None:
        cur = next((i for i, l in enumerate(lines) if start in l), None)
        assert cur is not None, f"{start!r} not in the file"
    for b in block.splitlines():
        if not b.strip() or b.strip() == "...":
            continue
        if is_new(b):
            cur += 1
            lines.insert(cur, b)
            continue
        found = next((i for i in range(cur + 1, len(lines)) if code(lines[i]) == code(b)), None)
        assert found is not None, f"tutorial context line {b!r} is not in the template (after line {cur + 1})"
        cur = found
    return "\n".join(lines) + "\n"


def append_to_last_class(target, cls, block):
    """The block at the end of `cdef class cls`, which must be the file's last statement."""
    lines = target.rstrip("\n").splitlines()
    at = next(i for i, l in enumerate(lines) if l.startswith(f"cdef class {cls}("))
    after = [l for l in lines[at + 1:] if l.strip() and not l[0].isspace()]
    assert not after, f"{cls} is not the last thing in the file: {after[:1]}"
    return "\n".join(lines) + "\n\n" + block.rstrip() + "\n"


def last_method(target):
    """The name of the last method defined in the file."""
    return re.findall(r"^\s+(?:cdef|def)\s+(?:\w+\s+)?(\w+)\(", target, re.M)[-1]


def append_to_method(target, name, block):
    """The block after the last line of `def name(` (a method of a class)."""
    lines = target.splitlines()
    at = next(i for i, l in enumerate(lines) if re.match(rf"\s+def {name}\(", l))
    indent = len(lines[at]) - len(lines[at].lstrip())
    end = at
    for i in range(at + 1, len(lines)):
        l = lines[i]
        if l.strip() and len(l) - len(l.lstrip()) <= indent:
            break
        if l.strip():
            end = i
    lines[end + 1:end + 1] = block.rstrip().splitlines()
    return "\n".join(lines) + "\n"


def in_order(block, target, where):
    """Every code line of the block (comments aside) appears in target, in order."""
    have = [code(l) for l in target.splitlines()]
    pos = 0
    for b in block.splitlines():
        if not code(b).strip():
            continue
        try:
            pos = have.index(code(b), pos) + 1
        except ValueError:
            raise AssertionError(f"tutorial line {b!r} is not in {where} (in that order)") from None


def shell_lines(block):
    """The commands of a sh block: comments dropped, split like a shell would."""
    return [shlex.split(l, comments=True) for l in block.splitlines() if shlex.split(l, comments=True)]


def run_sh(argv, cwd, timeout=300):
    """A tutorial command line: VAR=value prefixes, `pytest`/`python`/`pxcy` mapped to
    this interpreter (`pxcy` is `python -m pxcy`)."""
    e = env()
    while "=" in argv[0] and re.match(r"[A-Z_]+=", argv[0]):
        k, v = argv[0].split("=", 1)
        e[k] = v
        argv = argv[1:]
    prog = {"pytest": [sys.executable, "-m", "pytest"], "python": [sys.executable],
            "pxcy": [sys.executable, "-m", "pxcy"]}[argv[0]]
    return subprocess.run(prog + argv[1:], cwd=cwd, env=e, capture_output=True, text=True,
                          timeout=timeout)


# ------------------------------------------------------------------ the project

@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`pxcy new demo --template http`, sections 4 and 5 applied, `pxcy build`."""
    if not http_available():
        pytest.skip(http_available.reason)
    tut = sections()
    base = tmp_path_factory.mktemp("tutorial")
    r = pxcy("new", "demo", "--template", "http", cwd=base)
    assert r.returncode == 0, r.stderr
    root = base / "demo"
    pxd, pyx, tests = root / "demo" / "handler.pxd", root / "demo" / "handler.pyx", root / "tests" / "test_handler.py"

    # section 4: a field in handler.pxd, its use in table() in handler.pyx
    (p1, l1, fields), (p2, l2, table), *_ = tut[4]
    assert "demo/handler.pxd" in p1 and l1 == "cython", p1
    assert "handler.pyx" in p2 and "table()" in p2 and l2 == "cython", p2
    pxd.write_text(merge(pxd.read_text(), fields))
    pyx.write_text(merge(pyx.read_text(), table, start="cdef int table("))

    # section 5: a route: declaration (pxd), registration (prepare), method (+ Slice cimport)
    _, (p1, _, decl), (p2, _, route), (p3, _, method), *_ = tut[5]
    assert "`handler.pxd`, in `App` after the other route handlers" in p1, p1
    assert "at the end of `prepare()`" in p2, p2
    assert "`handler.pyx`, as a method of `App` after `table()`" in p3.replace("\n", " "), p3
    assert last_method(pyx.read_text()) == "table"
    pxd.write_text(append_to_last_class(pxd.read_text(), "App", decl))
    pyx.write_text(append_to_method(pyx.read_text(), "prepare", route))
    pyx.write_text(append_to_last_class(pyx.read_text(), "App", method))
    m = re.search(r"add `(\w+)` to the `cimport` from `([\w.]+)`", p3.replace("\n", " "))
    assert m, p3
    name, module = m.groups()
    text, n = re.subn(rf"^(from {re.escape(module)} cimport .*)$", rf"\1, {name}", pyx.read_text(),
                      count=1, flags=re.M)
    assert n == 1, f"no `from {module} cimport` line in handler.pyx"
    pyx.write_text(text)

    # section 6: the test code appended to tests/test_handler.py
    py_blocks = [(p, c) for p, lang, c in tut[6] if lang == "python"]
    assert len(py_blocks) == 1 and "end of `tests/test_handler.py`" in py_blocks[0][0].replace("\n", " ")
    tests.write_text(tests.read_text().rstrip("\n") + "\n\n\n" + py_blocks[0][1] + "\n")

    # "Rebuild with `pxcy build`. If you slip ... say a `print(n)` just before `if n < 0:`
    # in `sum_first`, the build stops at your line": that slip first, then the real build
    slip_prose, _, slip_out = tut[5][-1]
    slip_prose = slip_prose.replace("\n", " ")
    assert "Rebuild with `pxcy build`" in slip_prose
    m = re.search(r"say a `([^`]+)` just before `([^`]+)` in `(\w+)`", slip_prose)
    assert m, slip_prose
    slip, before, method_name = m.groups()
    good = pyx.read_text()
    assert method_name in method
    lines = good.splitlines()
    at = next(i for i, l in enumerate(lines) if re.match(rf"\s+cdef int {method_name}\(", l))
    at = next(i for i in range(at, len(lines)) if lines[i].strip() == before)
    lines.insert(at, lines[at][:len(lines[at]) - len(lines[at].lstrip())] + slip)
    pyx.write_text("\n".join(lines) + "\n")
    try:
        r = pxcy("build", cwd=root, timeout=600)
    finally:
        pyx.write_text(good)
    assert r.returncode != 0
    got = (r.stdout + r.stderr).splitlines()
    for want in slip_out.splitlines():
        assert want == "..." or want in got, (want, r.stdout + r.stderr)
    assert "Traceback" not in r.stdout + r.stderr
    r = pxcy("build", cwd=root, timeout=600)
    assert r.returncode == 0, f"pxcy build of the tutorial's code failed:\n{r.stdout}\n{r.stderr}"
    return root


def test_template_is_what_the_tutorial_shows():
    """Sections 3 and 5 show template code as it is (comments aside): no drift."""
    from pxcy import project
    tut = sections()
    pyx = Path(project.templates_dir(), "http", "{{name}}", "handler.pyx.tmpl").read_text()
    (_, lang, handler), = [b for b in tut[3] if b[1] == "cython"]
    in_order(handler, pyx, "templates/http handler.pyx")
    _, lang, table = tut[5][0]
    assert "TABLE" in table
    in_order(table, pyx, "templates/http handler.pyx")


def test_section6_pytest_and_debug(demo):
    sh = [b for p, lang, b in sections()[6] if lang == "sh"]
    assert len(sh) == 1
    cmds = shell_lines(sh[0])
    assert cmds == [["pytest"], ["PXCY_DEBUG=1", "pytest"]], cmds
    new_tests = re.findall(r"^def (test_\w+)", [c for p, lang, c in sections()[6] if lang == "python"][0], re.M)
    assert new_tests
    for argv in cmds:
        r = run_sh(argv + ["-v", "-p", "no:cacheprovider"], cwd=demo)
        out = r.stdout + r.stderr
        assert r.returncode == 0, f"{' '.join(argv)}:\n{out[-6000:]}"
        for t in new_tests:
            assert re.search(rf"{t} PASSED", out), (t, out[-3000:])
        assert " failed" not in out and " error" not in out, out[-3000:]


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_section8_served_under_wrk(demo):
    (_, lang, sh), *_ = [b for b in sections()[8] if b[1] == "sh"]
    cmds = shell_lines(sh)
    assert cmds[0] == ["pxcy", "build"]        # already a release build (made by the fixture)
    assert cmds[1] == ["python", "-m", "demo", "--port", "8080", "--workers", "2", "&"], cmds[1]
    assert cmds[-1] == ["kill", "%1"]
    wrk = cmds[2:-1]
    assert [c[-1].removeprefix("http://127.0.0.1:8080") for c in wrk] == ["/", "/table/16", "/sum?n=1000"]
    p, port = start_server(demo / "demo")       # python -m demo --port 0 --workers 2, from demo/
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        for hits, total in ((1, 4.0), (2, 8.0)):    # per-connection total (section 4)
            c.request("GET", "/table/16")
            r = c.getresponse()
            assert r.status == 200
            assert json.loads(r.read()) == {"index": 16, "value": 4.0, "hits": hits, "total": total}
        c.request("GET", "/sum?n=1000")         # section 5
        r = c.getresponse()
        assert r.status == 200
        doc = json.loads(r.read())
        assert doc["n"] == 1000
        assert math.isclose(doc["sum"], math.fsum(math.sqrt(i) for i in range(1000)), rel_tol=1e-12)
        c.close()
        for argv in wrk:
            assert argv[0] == "wrk" and "-d5s" in argv, argv
            argv = ["-d1s" if a == "-d5s" else a for a in argv]
            argv[-1] = argv[-1].replace(":8080/", f":{port}/")
            r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, r.stdout + r.stderr
            assert "Socket errors" not in r.stdout and "Non-2xx" not in r.stdout, r.stdout
            assert re.search(r"\d+ requests in", r.stdout), r.stdout
    finally:
        stop_server(p)                          # kill %1: SIGTERM -> exit 0, "pxcy: stopped"
