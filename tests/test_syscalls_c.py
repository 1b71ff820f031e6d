"""Build and run tests/c/test_syscalls.c: pxcy/includes/syscalls.h's direct system
calls (the inlined `syscall` instruction on x86-64; syscall(2), what other
architectures use) and its libc fallback (what sanitizer builds use), each checked
against the kernel's answers."""
import os
import platform
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "tests", "c", "test_syscalls.c")
CC = next((cc for cc in (os.environ.get("CC"), "cc", "gcc", "clang") if cc and shutil.which(cc.split()[0])),
          None)
pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler (cc/gcc/clang) on PATH")


@pytest.mark.parametrize("mode, flags", [("direct", ["-O2"]), ("direct-O0", ["-O0"]),
                                         ("syscall2", ["-O2", "-DPXCY_SYS_NO_ASM=1"]),
                                         ("libc", ["-O2", "-DPXCY_SYS_LIBC=1"])])
def test_syscalls_header(tmp_path, mode, flags):
    exe = str(tmp_path / f"test_syscalls_{mode}")
    res = subprocess.run(CC.split() + flags + ["-Wall", "-Wextra", "-Werror", "-I", ROOT, SRC, "-o", exe,
                                               "-lpthread"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, "compile failed:\n" + res.stderr
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    run = subprocess.run([exe], capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 0 and run.stdout.endswith(" 0 failures\n"), run.stdout + run.stderr
    assert run.stdout.startswith({"libc": "libc calls", "syscall2": "syscall(2) calls"}.get(mode, "direct calls"))
    if platform.machine() == "x86_64" and shutil.which("nm"):
        # the direct build enters the kernel itself: no call to libc's syscall() at all
        undefined = subprocess.run(["nm", "-u", exe], capture_output=True, text=True, check=True).stdout.split()
        assert any(u.startswith("syscall") for u in undefined) == (mode == "syscall2"), undefined
