"""Build pxcy's extensions in place with GCC's profile-guided optimisation.

    python tools/pgo_build.py            (from any directory; builds this checkout)

Three steps: an instrumented build (PXCY_PGO_PHASE=generate), a training run
(tools/pgo_train.py: pxcy's own servers under a second of mixed traffic, importing
this checkout's pxcy), and the final build laid out by the profile
(PXCY_PGO_PHASE=use): the paths a request takes end up together, in fewer cache
lines (docs/benchmarks.md, Profile-guided build). The profile lives in a temporary
folder, removed afterwards; a lock (build/.pgo.lock) keeps two runs apart.

Where PGO cannot be had it says why in one line and builds without a profile; the
checkout is never left with the instrumented extensions (interrupted, SIGTERM and
SIGHUP included: a plain build replaces them). Exit status: 0 built, profile-guided,
or plain by design (not GCC, a debug or sanitizer build); 3 built plain because a
step failed (either PGO build, the training, or a module without a profile: worth
retrying); 128 + the signal when stopped; else that of the failed plain build.
"""
import fcntl
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_TIMEOUT = 300
FELL_BACK = 3
# the modules the training run drives; each must come back with a profile
TRAINED = ("pxcy/runtime", "pxcy/protocols/http11", "pxcy/protocols/echo", "pxcy/protocols/lines")
# Cython's keyword-argument helper, inlined along profiled paths, draws this false
# positive in every extension; any other warning of the final build is shown
KNOWN_WARNING = re.compile(r"warning: .__pyx_pyargnames. may be used uninitialized( in this function)? "
                           r"\[-Wmaybe-uninitialized\]")


def say(msg):
    print(f"pgo_build: {msg}", flush=True)


def compiler_is_gcc():
    words = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()
    # "gcc -pthread", "ccache gcc": the compiler is the first word that is neither an
    # option nor a wrapper
    cc = next((w for w in words if not w.startswith("-") and os.path.basename(w) not in ("ccache", "distcc")),
              "cc")
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "Free Software Foundation" in out and "clang" not in out


def build(phase=None, pgo_dir=None):
    """setup.py build_ext --inplace --force; its output is quiet (-q), its warnings
    and errors go to stderr (the final build's known Cython false positive aside).
    The build runs in a process group of its own: stopped (an exception here), the
    whole group is killed, compilers included, before anything else builds."""
    env = {k: v for k, v in os.environ.items() if k not in ("PXCY_PGO_PHASE", "PXCY_PGO_DIR")}
    if phase:
        env.update(PXCY_PGO_PHASE=phase, PXCY_PGO_DIR=pgo_dir)
    p = subprocess.Popen([sys.executable, "setup.py", "-q", "build_ext", "--inplace", "--force"],
                         cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, errors="replace", start_new_session=True)
    try:
        _, err = p.communicate()
    except BaseException:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        raise
    warnings = [l for l in err.splitlines() if "warning:" in l or "error:" in l]
    if phase == "use" and p.returncode == 0 and warnings and all(KNOWN_WARNING.search(l) for l in warnings):
        say(f"{len(warnings)} known Cython false positives (-Wmaybe-uninitialized, __pyx_pyargnames) not shown")
    else:
        sys.stderr.write(err)
    return p.returncode


def train(pgo_dir):
    """Run the training; None when every trained module has a profile, else why not."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    try:
        r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "pgo_train.py")], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=TRAIN_TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"the training run took over {TRAIN_TIMEOUT} s"
    if r.returncode != 0:
        lines = (r.stderr or r.stdout).strip().splitlines()
        return lines[-1] if lines else f"the training run exited with status {r.returncode}"
    # gcda names are the object files' paths with '/' as '#'
    have = {os.path.basename(p) for p in glob.glob(os.path.join(pgo_dir, "*.gcda"))}
    missing = [m for m in TRAINED if not any(h.endswith("#" + m.replace("/", "#") + ".gcda") for h in have)]
    if missing:
        return f"the training run wrote no profile for {', '.join(missing)}"
    return None


class Stopped(Exception):
    pass


def on_signal(signum, frame):
    raise Stopped(signal.Signals(signum).name)


def main():
    if os.environ.get("PXCY_DEBUG_BUILD") == "1" or os.environ.get("PXCY_SANITIZE"):
        say("debug or sanitizer build: built without a profile")
        return build()
    if not compiler_is_gcc():
        say("the C compiler is not GCC: built without a profile")
        return build()
    os.makedirs(os.path.join(ROOT, "build"), exist_ok=True)
    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        with open(os.path.join(ROOT, "build", ".pgo.lock"), "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                say("waiting for another pgo_build of this checkout")
                fcntl.flock(lock, fcntl.LOCK_EX)
            return profiled_build()
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def profiled_build():
    pgo_dir = tempfile.mkdtemp(prefix="pxcy-pgo-")
    instrumented = True         # from the moment the first build may put them in place
    try:
        if build("generate", pgo_dir) != 0:
            why = "the instrumented build failed"
        else:
            why = train(pgo_dir)
            if not why:
                if build("use", pgo_dir) == 0:
                    instrumented = False
                    say("built with the training run's profile")
                    return 0
                why = "the build with the profile failed"
        say(f"{why}: building without a profile")
        rc = build()
        instrumented = rc != 0
        return FELL_BACK if rc == 0 else rc
    finally:
        if instrumented:
            # never leave the instrumented extensions in place (interrupted, or the
            # plain build failed too): they would write profiles into a removed
            # folder. Signals during this build are ignored (dropped), SIGKILL aside
            held = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
            try:
                say("rebuilding without a profile")
                build()
            finally:
                for sig, handler in held.items():
                    signal.signal(sig, handler)
        shutil.rmtree(pgo_dir, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (KeyboardInterrupt, Stopped) as e:
        name = str(e) if isinstance(e, Stopped) else "SIGINT"
        print(f"pgo_build: stopped ({name})", file=sys.stderr)
        sys.exit(128 + signal.Signals[name])
