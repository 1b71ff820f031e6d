"""Shared helpers for the wikisearch tests (kept out of conftest.py so that test
modules can import them without clashing with other conftest modules)."""
import glob
import os
import subprocess
import sys

EXAMPLE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "examples", "wikisearch"))
PKG = os.path.join(EXAMPLE, "wikisearch")

DUMP_PAGES = 5000
DUMP_SEED = 7


REPO = os.path.abspath(os.path.join(EXAMPLE, "..", ".."))


def ext_is_stale():
    sos = [p for n in ("titleindex", "titlesort", "server") for p in glob.glob(os.path.join(PKG, n + ".*.so"))]
    if len(sos) < 3:
        return True
    built = min(os.path.getmtime(p) for p in sos)
    srcs = [os.path.join(PKG, n) for n in ("titleindex.pyx", "titleindex.pxd", "titlesort.pyx", "server.pyx")]
    # server.pyx cimports pxcy's runtime and HTTP layer: rebuild when their declarations change
    # (every .pxd of pxcy: http11.pxd textually includes protocols/http/*.pxd)
    srcs += glob.glob(os.path.join(REPO, "pxcy", "**", "*.pxd"), recursive=True)
    return any(os.path.exists(s) and os.path.getmtime(s) > built for s in srcs)


BUILD_ERROR = None


def build_extension():
    """Build wikisearch.lookup in place (if stale); returns None or the error text."""
    global BUILD_ERROR
    if ext_is_stale():
        env = dict(os.environ)
        env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
        r = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
                           cwd=EXAMPLE, capture_output=True, text=True, env=env)
        if r.returncode != 0:
            BUILD_ERROR = "building examples/wikisearch failed:\n" + r.stdout[-3000:] + r.stderr[-3000:]
    if EXAMPLE not in sys.path:
        sys.path.insert(0, EXAMPLE)
    return BUILD_ERROR


def run_cli(*args, cwd=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = EXAMPLE + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "wikisearch", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)


from ws_reference import expected  # noqa: E402,F401
