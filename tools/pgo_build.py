"""Build pxcy's extensions in place with GCC's profile-guided optimisation.

    python tools/pgo_build.py            (from any directory; builds this checkout)

Three steps: an instrumented build (PXCY_PGO_PHASE=generate), a training run
(tools/pgo_train.py: pxcy's own servers under a few seconds of mixed traffic), and
the final build laid out by the profile (PXCY_PGO_PHASE=use): the paths a request
takes end up together, in fewer cache lines (docs/benchmarks.md has the effect).
The profile lives in a temporary folder, removed afterwards.

Where PGO cannot be had -- the compiler is not GCC, or the training run fails --
it says why in one line and builds without a profile: the checkout is never left
with the instrumented extensions. Exit status 0 when the extensions were built
(with or without a profile), else that of the failed build.
"""
import glob
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_TIMEOUT = 300


def say(msg):
    print(f"pgo_build: {msg}", flush=True)


def compiler_is_gcc():
    cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()
    try:
        out = subprocess.run(cc[:1] + ["--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "Free Software Foundation" in out and "clang" not in out


def build(phase=None, pgo_dir=None):
    env = {k: v for k, v in os.environ.items() if k not in ("PXCY_PGO_PHASE", "PXCY_PGO_DIR")}
    if phase:
        env.update(PXCY_PGO_PHASE=phase, PXCY_PGO_DIR=pgo_dir)
    # the build's own output is quiet (-q); its warnings and errors go to stderr
    return subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace", "--force"],
                          cwd=ROOT, env=env, stdout=subprocess.DEVNULL).returncode


def train(pgo_dir):
    """Run the training; None when it produced a profile, else why not."""
    try:
        r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "pgo_train.py")], cwd=ROOT,
                           capture_output=True, text=True, timeout=TRAIN_TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"the training run took over {TRAIN_TIMEOUT} s"
    if r.returncode != 0:
        lines = (r.stderr or r.stdout).strip().splitlines()
        return lines[-1] if lines else f"the training run exited with status {r.returncode}"
    if not glob.glob(os.path.join(pgo_dir, "*.gcda")):
        return "the training run wrote no profile"
    return None


def main():
    if os.environ.get("PXCY_DEBUG_BUILD") == "1" or os.environ.get("PXCY_SANITIZE"):
        say("debug or sanitizer build: built without a profile")
        return build()
    if not compiler_is_gcc():
        say("the C compiler is not GCC: built without a profile")
        return build()
    pgo_dir = tempfile.mkdtemp(prefix="pxcy-pgo-")
    instrumented = False
    try:
        if build("generate", pgo_dir) != 0:
            say("the instrumented build failed: building without a profile")
            return build()
        instrumented = True
        why = train(pgo_dir)
        if why:
            say(f"{why}: building without a profile")
            rc = build()
        else:
            rc = build("use", pgo_dir)
            if rc == 0:
                say("built with the training run's profile")
        instrumented = rc != 0
        return rc
    finally:
        if instrumented:
            # never leave the instrumented extensions in place (interrupted, or the
            # last build failed): they would write profiles into a removed folder
            say("rebuilding without a profile")
            build()
        shutil.rmtree(pgo_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
