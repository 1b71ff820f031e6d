"""Build the wikisearch extensions.

`titleindex` (the title arrays and their nogil queries) needs only Cython.
Extensions that use the pxcy runtime (the HTTP server, `server.pyx`) get
`pxcy.get_include()` on their include path; pxcy is imported only when such a
module is present, so `titleindex` builds without pxcy.
"""
import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.join(HERE, "wikisearch")

extensions = [
    Extension(
        "wikisearch.titleindex",
        ["wikisearch/titleindex.pyx"],
        extra_compile_args=["-O2"],
    ),
    Extension(
        "wikisearch.titlesort",
        ["wikisearch/titlesort.pyx"],
        extra_compile_args=["-O2"],
    ),
]

# Modules built on the pxcy runtime. Only these need pxcy at build time.
PXCY_MODULES = ["server"]
include_path = []
for name in PXCY_MODULES:
    if os.path.exists(os.path.join(PKG, name + ".pyx")):
        import pxcy  # noqa: E402  (only required when a pxcy-based module exists)

        include_path = [pxcy.get_include()]

        extensions.append(
            Extension(
                "wikisearch." + name,
                ["wikisearch/%s.pyx" % name],
                include_dirs=[pxcy.get_include()],
                extra_compile_args=["-O2"],
            )
        )


def skip_extensions():
    """PXCY_SKIP_EXTENSIONS=1: tools/setup.sh's editable install, which builds them in
    place after. Any other command builds them (a wheel never comes out without them),
    and says so. (pxcy's own setup.py has the same rule; wikisearch must build without
    importing it.)"""
    if os.environ.get("PXCY_SKIP_EXTENSIONS") != "1":
        return False
    if {"editable_wheel", "dist_info", "egg_info"} & set(sys.argv):
        return True
    print("setup.py: PXCY_SKIP_EXTENSIONS applies to editable installs only; building the extensions",
          file=sys.stderr)
    return False


setup(
    ext_modules=[] if skip_extensions() else cythonize(
        extensions,
        language_level=3,
        include_path=include_path,
        compiler_directives={"boundscheck": False, "wraparound": False},
    ),
    # one compiler per CPU this process may run on
    options={"build_ext": {"parallel": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                           else os.cpu_count() or 1}},
)
