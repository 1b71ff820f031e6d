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

setup(
    # PXCY_SKIP_EXTENSIONS=1: tools/setup.sh's editable install, which builds them in place after
    # (any other command builds them: a wheel never comes out without them)
    ext_modules=[] if os.environ.get("PXCY_SKIP_EXTENSIONS") == "1" and {
        "editable_wheel", "dist_info", "egg_info"} & set(sys.argv) else cythonize(
        extensions,
        language_level=3,
        include_path=include_path,
        compiler_directives={"boundscheck": False, "wraparound": False},
    ),
    options={"build_ext": {"parallel": len(os.sched_getaffinity(0))}},      # one compiler per CPU
)
