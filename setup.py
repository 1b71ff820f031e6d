"""Build pxcy's Cython extensions.

Extensions: one per top-level ``.pyx`` in ``pxcy/`` and ``pxcy/protocols/`` (module
``pxcy.runtime`` from ``pxcy/runtime.pyx``, and so on). A module split into several
files keeps the others as *included fragments*: ``.pxi`` files, or files in a
subfolder (e.g. ``pxcy/runtime/loop.pyx``), pulled in with ``include "..."``; they are
never built on their own. (A top-level ``.pyx`` that another one ``include``s is
skipped too, but do not rely on that: name fragments ``.pxi``.)

Installed with the package (for handlers that cimport pxcy): every ``.pxd``, ``.pxi``,
``.pyx`` and C header under ``pxcy/`` (``includes/`` folders too) and the templates of
``pxcy new``; never the generated ``.c`` files.

Environment switches (all optional):
  PXCY_DEBUG_BUILD=1        -O0 -g, Cython line directives (tracebacks name .pyx lines), debug checks on
  PXCY_SANITIZE=address,undefined | thread   build with those sanitizers (see docs/reliability.md)
  PXCY_PGO_PHASE=generate | use, PXCY_PGO_DIR=DIR   the two builds of the profile-guided
                            build (GCC); tools/pgo_build.py sets them, see docs/benchmarks.md
  PXCY_SKIP_EXTENSIONS=1    no extensions in an editable install (`pip install -e`), which would
                            compile them in a temporary folder only to have tools/setup.sh build
                            them in place again; ignored (with a note) by every other command, so
                            a wheel or an in-place build can never come out without them

The extensions compile in parallel, one compiler per CPU, the largest first (build_ext
-j N overrides it).
"""
import glob
import os
import re
import sys

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
EXT_DIRS = ["pxcy", os.path.join("pxcy", "protocols")]
# shipped so that user projects can cimport pxcy and include its headers
SHIPPED = (".pxd", ".pxi", ".pyx", ".h")
INCLUDE_RE = re.compile(r'^\s*include\s+["\']([^"\']+)["\']', re.M)


def _flags():
    # -O3: 9% fewer instructions per pipelined /plaintext request than -O2 (bench/callgrind.py);
    # these come after the interpreter's own CFLAGS (which may say -O2 or -O3), so they decide
    cflags = ["-O3", "-fno-strict-aliasing", "-Wno-unused-function"]
    ldflags = []
    debug = os.environ.get("PXCY_DEBUG_BUILD") == "1"
    if debug:
        cflags = ["-O0", "-g", "-DPXCY_DEBUG_BUILD=1", "-Wno-unused-function"]
    san = os.environ.get("PXCY_SANITIZE")
    if san:
        cflags += ["-g", "-fno-omit-frame-pointer", f"-fsanitize={san}"]
        ldflags += [f"-fsanitize={san}"]
    phase, pgo_dir = os.environ.get("PXCY_PGO_PHASE"), os.environ.get("PXCY_PGO_DIR")
    if phase and not pgo_dir:
        print("setup.py: PXCY_PGO_PHASE needs PXCY_PGO_DIR (the profile's folder)", file=sys.stderr)
        raise SystemExit(2)
    if phase and not debug and not san:
        if phase == "generate":
            # counters updated atomically: the training run's workers are threads
            cflags += ["-fprofile-generate", "-fprofile-update=atomic", f"-fprofile-dir={pgo_dir}",
                       "-DPXCY_PGO_BUILD=2"]
            ldflags += ["-fprofile-generate"]
        elif phase == "use":
            # untrained code is optimised as without a profile; a module the training
            # does not drive (proxy) has none: tools/pgo_build.py checks the trained ones
            cflags += ["-fprofile-use", "-fprofile-partial-training", f"-fprofile-dir={pgo_dir}",
                       "-Wno-missing-profile", "-DPXCY_PGO_BUILD=1"]
        else:
            print(f"setup.py: PXCY_PGO_PHASE must be generate or use, not {phase!r}", file=sys.stderr)
            raise SystemExit(2)
    return cflags, ldflags, debug


def extension_sources():
    """Top-level .pyx files of EXT_DIRS that no other one includes, the largest module
    (with what it includes) first: compiled in parallel, the biggest bounds the time."""
    pyx = sorted(p for d in EXT_DIRS for p in glob.glob(os.path.join(HERE, d, "*.pyx")))
    included, size = set(), {}
    for p in pyx:
        with open(p, encoding="utf-8") as f:
            names = INCLUDE_RE.findall(f.read())
        parts = [os.path.normpath(os.path.join(os.path.dirname(p), n)) for n in names]
        included.update(parts)
        size[p] = os.path.getsize(p) + sum(os.path.getsize(q) for q in parts if os.path.exists(q))
    return [os.path.relpath(p, HERE) for p in sorted(pyx, key=lambda p: (-size[p], p))
            if os.path.normpath(p) not in included]


def extensions():
    from Cython.Build import cythonize

    cflags, ldflags, debug = _flags()
    inc = [HERE, os.path.join(HERE, "pxcy", "includes"), os.path.join(HERE, "pxcy", "protocols", "includes")]
    exts = []
    for pyx in extension_sources():
        mod = pyx[:-4].replace(os.sep, ".")
        exts.append(Extension(mod, [pyx], include_dirs=inc, extra_compile_args=cflags,
                              extra_link_args=ldflags + ["-lpthread"]))
    return cythonize(
        exts,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True,
                             "initializedcheck": False,
                             # worker threads never run Python; see docs/runtime.md
                             "freethreading_compatible": True},
        emit_linenums=debug,
        build_dir=None,
        quiet=True,
    )


def skip_extensions():
    """PXCY_SKIP_EXTENSIONS=1, for the commands of an editable install only."""
    if os.environ.get("PXCY_SKIP_EXTENSIONS") != "1":
        return False
    if any(cmd in sys.argv for cmd in ("editable_wheel", "dist_info", "egg_info")):
        return True
    print("setup.py: PXCY_SKIP_EXTENSIONS applies to editable installs only; building the extensions",
          file=sys.stderr)
    return False


def package_files(pkg_dir, suffixes=None, exclude=(".c", ".so", ".pyc", ".html", ".o")):
    """Files under pkg_dir (relative to it), not descending into subpackages (folders
    with an __init__.py, which have their own package_data) or __pycache__."""
    out = []
    root = os.path.join(HERE, pkg_dir)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith(".")
                             and not os.path.exists(os.path.join(dirpath, d, "__init__.py")))
        for fn in filenames:
            if (suffixes is None or fn.endswith(suffixes)) and not fn.endswith(exclude):
                out.append(os.path.relpath(os.path.join(dirpath, fn), root))
    return sorted(out)


setup(
    packages=["pxcy", "pxcy.protocols", "pxcy.templates"],
    package_dir={"pxcy.templates": "templates"},
    package_data={
        "pxcy": package_files("pxcy", SHIPPED),
        "pxcy.protocols": package_files(os.path.join("pxcy", "protocols"), SHIPPED),
        "pxcy.templates": package_files("templates"),
    },
    exclude_package_data={"": ["*.c"]},
    ext_modules=[] if skip_extensions() else extensions(),
    # (the CPUs this process may run on, not the machine's)
    options={"build_ext": {"parallel": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                           else os.cpu_count() or 1}},
    zip_safe=False,
)
