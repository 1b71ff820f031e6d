"""Build a test-support Cython module in place (against pxcy, as a user project
would) and import it.

    python tests/buildutil.py FOLDER NAME      # build FOLDER/NAME.pyx in place
"""
import glob
import importlib
import os
import subprocess
import sys
import sysconfig


def _stale(target, sources):
    t = os.path.getmtime(target)
    return any(os.path.getmtime(s) > t for s in sources)


def import_built(name, folder, deps):
    """folder/name.pyx, built (by this file, in a subprocess) when missing or older than deps."""
    # this interpreter's own build (a 3.13t run beside a 3.11 one: cpython-313t-*.so)
    so = glob.glob(os.path.join(folder, name + sysconfig.get_config_var("EXT_SUFFIX")))
    if not so or _stale(so[0], [os.path.join(folder, name + ".pyx"), *deps]):
        p = subprocess.run([sys.executable, os.path.abspath(__file__), folder, name],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(name)


def build(folder, name):
    """setup.py build_ext --inplace for folder/name.pyx (CFLAGS/LDFLAGS honoured)."""
    from Cython.Build import cythonize
    from setuptools import Extension, setup

    import pxcy
    os.chdir(folder)
    setup(name=f"pxcy-test-{name}",
          ext_modules=cythonize([Extension(name, [name + ".pyx"], include_dirs=[pxcy.get_include()])],
                                include_path=[pxcy.get_include()], language_level=3, quiet=True),
          script_args=["build_ext", "--inplace", "-q"])


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python tests/buildutil.py FOLDER NAME")
    build(os.path.abspath(sys.argv[1]), sys.argv[2])
