"""Short libFuzzer run of fuzz/fuzz_http.c (fuzz/run.sh 20).

Needs clang with the libFuzzer runtime (Debian: clang, libclang-rt-14-dev);
skips with the reason otherwise.  Set PXCY_FUZZ_SECONDS to change the length.
"""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(ROOT, "fuzz", "run.sh")


def _libfuzzer_missing(tmp_path):
    clang = os.environ.get("CLANG", "clang")
    if not shutil.which(clang):
        return f"{clang} not found (install clang and libclang-rt-<ver>-dev)"
    if not shutil.which("bash"):
        return "bash not found"
    src = tmp_path / "probe.c"
    src.write_text("#include <stddef.h>\n#include <stdint.h>\n"
                   "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)"
                   "{(void)d;(void)n;return 0;}\n")
    res = subprocess.run([clang, "-fsanitize=fuzzer,address,undefined", str(src), "-o",
                          str(tmp_path / "probe")], capture_output=True, text=True)
    if res.returncode != 0:
        return "clang cannot link -fsanitize=fuzzer (libFuzzer runtime missing, e.g. " \
               "libclang-rt-14-dev): " + res.stderr.strip()[:200]
    return None


def test_fuzz_http_short(tmp_path):
    why = _libfuzzer_missing(tmp_path)
    if why:
        pytest.skip(why)
    secs = os.environ.get("PXCY_FUZZ_SECONDS", "20")
    env = dict(os.environ, FUZZ_WORKDIR=str(tmp_path / "work"))
    res = subprocess.run(["bash", RUN, secs], capture_output=True, text=True,
                         timeout=int(secs) + 300, env=env)
    out = res.stdout[-6000:] + res.stderr[-6000:]
    assert res.returncode == 0, "fuzzing found a problem (copy the crash-* input into " \
                                "fuzz/regressions/):\n" + out
