import os
import subprocess
import sys

import pytest

import pxcy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUPPORT = os.path.join(ROOT, "tests", "support")


def _stale(target, sources):
    if not os.path.exists(target):
        return True
    t = os.path.getmtime(target)
    return any(os.path.getmtime(s) > t for s in sources)


@pytest.fixture(scope="session")
def protos():
    """tests/support/protos.pyx compiled against pxcy (rebuilt when sources change)."""
    import glob
    so = glob.glob(os.path.join(SUPPORT, "protos*.so"))
    deps = [os.path.join(SUPPORT, "protos.pyx"), os.path.join(ROOT, "pxcy", "runtime.pxd")]
    if not so or _stale(so[0], deps):
        subprocess.run([sys.executable, os.path.join(SUPPORT, "build.py")], check=True,
                       capture_output=True)
    if SUPPORT not in sys.path:
        sys.path.insert(0, SUPPORT)
    import protos as mod
    return mod


@pytest.fixture
def serve():
    """Start pxcy servers (127.0.0.1, a free port) with custom options; stopped at teardown."""
    started = []

    def start(protocol, workers=2, **options):
        s = pxcy.Server(protocol, "127.0.0.1", 0, workers=workers, **options).start()
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()
