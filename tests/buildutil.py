"""Build a test-support Cython module in place (against pxcy) and import it."""
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
    """folder/name.pyx, built by folder/build.py when missing or older than deps."""
    # this interpreter's own build (a 3.13t run beside a 3.11 one: cpython-313t-*.so)
    so = glob.glob(os.path.join(folder, name + sysconfig.get_config_var("EXT_SUFFIX")))
    if not so or _stale(so[0], [os.path.join(folder, name + ".pyx"), *deps]):
        p = subprocess.run([sys.executable, os.path.join(folder, "build.py")], capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(name)
