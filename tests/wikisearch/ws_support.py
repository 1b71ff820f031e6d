"""Shared helpers for the wikisearch tests (kept out of conftest.py so that test
modules can import them without clashing with other conftest modules)."""
import bisect
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
    sos = glob.glob(os.path.join(PKG, "lookup.*.so")) + glob.glob(os.path.join(PKG, "server.*.so"))
    if len(sos) < 2:
        return True
    built = min(os.path.getmtime(p) for p in sos)
    srcs = [os.path.join(PKG, n) for n in ("lookup.pyx", "lookup.pxd", "datrie_c.pxd", "server.pyx")]
    # server.pyx cimports pxcy's runtime and HTTP layer: rebuild when their declarations change
    srcs += [os.path.join(REPO, "pxcy", n) for n in ("runtime.pxd", os.path.join("protocols", "http11.pxd"))]
    return any(os.path.exists(s) and os.path.getmtime(s) > built for s in srcs)


BUILD_ERROR = None


def build_extension():
    """Build wikisearch.lookup in place (if stale); returns None or the error text."""
    global BUILD_ERROR
    if ext_is_stale():
        r = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
                           cwd=EXAMPLE, capture_output=True, text=True)
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


def expected(ref, prefix, limit=20):
    """Brute-force answer of /offsets/<prefix>?limit=N from the `ref` fixture: titles
    that begin with the UTF-8 bytes `prefix`, in UTF-8 byte order, the first `limit`,
    as the JSON [[title, start, end], ...] the server sends."""
    if isinstance(prefix, str):
        prefix = prefix.encode("utf-8")
    i = bisect.bisect_left(ref, (prefix,))
    out = []
    while i < len(ref) and ref[i][0].startswith(prefix) and len(out) < limit:
        out.append([ref[i][1], ref[i][2], ref[i][3]])
        i += 1
    return out
