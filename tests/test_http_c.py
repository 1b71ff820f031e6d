"""Build and run the C unit tests for pxcy/protocols/includes/http_*.h.

Compiles tests/c/test_http.c with -O1 -Wall -Wextra -Werror (and again with
-fsanitize=address,undefined when the compiler supports it) and runs it, also
replaying fuzz/corpus and fuzz/regressions through the fuzz harness's checks.
Skips only when no C compiler is available.
"""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INC = os.path.join(ROOT, "pxcy", "protocols", "includes")
SRC = os.path.join(ROOT, "tests", "c", "test_http.c")
FUZZ_INPUTS = [os.path.join(ROOT, "fuzz", "corpus"), os.path.join(ROOT, "fuzz", "regressions")]


def _compiler():
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc.split()[0]):
            return cc
    return None


CC = _compiler()
pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler (cc/gcc/clang) on PATH")


def _build(tmp_path, name, extra):
    exe = str(tmp_path / name)
    cmd = CC.split() + ["-O1", "-Wall", "-Wextra", "-Werror", "-I", INC] + extra + [SRC, "-o", exe, "-lpthread"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    return exe, res


def _run(exe, env=None):
    args = [exe] + [p for p in FUZZ_INPUTS if os.path.isdir(p)]
    # the binary carries its own sanitizer runtime: not the one a sanitized test run
    # preloads into Python (tests/sanitize/run.sh tsan: libtsan under an ASan binary aborts)
    env = {k: v for k, v in (os.environ if env is None else env).items() if k != "LD_PRELOAD"}
    res = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)
    sys.stdout.write(res.stdout[-4000:])
    assert res.returncode == 0, "C tests failed:\n" + res.stdout[-8000:] + res.stderr[-4000:]
    assert " 0 failures" in res.stdout


def test_http_c(tmp_path):
    exe, res = _build(tmp_path, "test_http", [])
    assert res.returncode == 0, "compile failed:\n" + res.stderr
    _run(exe)


def test_http_c_sanitized(tmp_path):
    san = ["-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
           "-fno-sanitize-recover=undefined"]
    probe = tmp_path / "probe.c"
    probe.write_text("int main(void){return 0;}\n")
    ok = subprocess.run(CC.split() + san + [str(probe), "-o", str(tmp_path / "probe")],
                        capture_output=True, text=True)
    if ok.returncode != 0:
        pytest.skip("compiler lacks -fsanitize=address,undefined: " + ok.stderr.strip()[:200])
    exe, res = _build(tmp_path, "test_http_san", san)
    assert res.returncode == 0, "compile failed:\n" + res.stderr
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    _run(exe, env)
