"""Build pxcy's Cython extensions.

Environment switches (all optional):
  PXCY_DEBUG_BUILD=1        -O0 -g, Cython line directives (tracebacks name .pyx lines), debug checks on
  PXCY_SANITIZE=address,undefined | thread   build with those sanitizers (see docs/reliability.md)
"""
import glob
import os

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def _flags():
    cflags = ["-O2", "-fno-strict-aliasing", "-Wno-unused-function"]
    ldflags = []
    debug = os.environ.get("PXCY_DEBUG_BUILD") == "1"
    if debug:
        cflags = ["-O0", "-g", "-DPXCY_DEBUG_BUILD=1", "-Wno-unused-function"]
    san = os.environ.get("PXCY_SANITIZE")
    if san:
        cflags += ["-g", "-fno-omit-frame-pointer", f"-fsanitize={san}"]
        ldflags += [f"-fsanitize={san}"]
    return cflags, ldflags, debug


def extensions():
    from Cython.Build import cythonize

    cflags, ldflags, debug = _flags()
    inc = [HERE, os.path.join("pxcy", "protocols", "includes")]
    exts = []
    for pyx in sorted(glob.glob("pxcy/*.pyx") + glob.glob("pxcy/protocols/*.pyx")):
        mod = pyx[:-4].replace(os.sep, ".")
        exts.append(Extension(mod, [pyx], include_dirs=inc, extra_compile_args=cflags,
                              extra_link_args=ldflags + ["-lpthread"]))
    return cythonize(
        exts,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True,
                             "initializedcheck": False},
        emit_linenums=debug,
        build_dir=None,
        quiet=True,
    )


setup(
    packages=["pxcy", "pxcy.protocols", "pxcy.templates"],
    package_dir={"pxcy.templates": "templates"},
    package_data={
        "pxcy": ["*.pxd", "*.pyx", "includes/*.h"],
        "pxcy.protocols": ["*.pxd", "*.pyx", "includes/*.h", "http/*.pxd", "http/*.pxi"],
        "pxcy.templates": ["**/*", "*/*", "*/*/*", "*/*/*/*"],
    },
    include_package_data=True,
    ext_modules=extensions(),
    zip_safe=False,
)
