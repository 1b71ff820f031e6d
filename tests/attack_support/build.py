"""Build tests/support/attack.pyx in place against pxcy (as a user project would)."""
import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

import pxcy

here = os.path.dirname(os.path.abspath(__file__))
os.chdir(here)
sys.argv = [sys.argv[0], "build_ext", "--inplace", "-q"]
setup(
    name="pxcy-test-attack",
    ext_modules=cythonize(
        [Extension("attack", ["attack.pyx"], include_dirs=[pxcy.get_include()])],
        include_path=[pxcy.get_include()], language_level=3, quiet=True),
    script_args=sys.argv[1:],
)
