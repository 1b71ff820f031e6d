"""The block allocator (pxcy/includes/heap.h) through its C unit tests:
allocation, alignment, rollback, persistence, limits, poisoning and quarantine."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "tests", "c", "test_heap.c")
CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


def build_and_run(tmp_path, extra):
    exe = tmp_path / "test_heap"
    subprocess.run([CC, "-O1", "-g", "-Wall", "-Wextra", "-Werror", *extra, "-I", ROOT, SRC,
                    "-o", str(exe), "-lpthread", "-ldl"], check=True, capture_output=True, text=True)
    env = dict(os.environ, ASAN_OPTIONS="handle_segv=0:detect_leaks=1")
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "heap: all checks passed" in r.stdout


@pytest.mark.skipif(CC is None, reason="no C compiler")
def test_heap_c(tmp_path):
    build_and_run(tmp_path, [])


@pytest.mark.skipif(CC is None, reason="no C compiler")
def test_heap_c_sanitized(tmp_path):
    probe = subprocess.run([CC, "-fsanitize=address,undefined", "-x", "c", "-", "-o", str(tmp_path / "p")],
                           input="int main(void){return 0;}", capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("compiler lacks ASan/UBSan")
    build_and_run(tmp_path, ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"])
