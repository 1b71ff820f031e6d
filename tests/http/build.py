"""Build tests/http/apps.pyx in place against pxcy (as a user project would)."""
import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

import pxcy

here = os.path.dirname(os.path.abspath(__file__))
os.chdir(here)
headers = os.path.join(pxcy.get_include(), "pxcy", "protocols", "includes")
sys.argv = [sys.argv[0], "build_ext", "--inplace", "-q"]
setup(
    name="pxcy-test-http-apps",
    ext_modules=cythonize(
        [Extension("apps", ["apps.pyx"], include_dirs=[pxcy.get_include(), headers])],
        include_path=[pxcy.get_include()], language_level=3, quiet=True),
    script_args=sys.argv[1:],
)
