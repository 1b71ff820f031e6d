import os
import resource
import sys

import pytest

import pxcy

# Scripts the tests run (tests/sanitize/run.sh, fuzz/run.sh, bench/...) take their
# interpreter from $PYTHON: the one running the tests (the project venv under make).
os.environ["PYTHON"] = sys.executable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUPPORT = os.path.join(ROOT, "tests", "support")


@pytest.fixture(scope="session")
def protos():
    """tests/support/protos.pyx compiled against pxcy (rebuilt when sources change)."""
    from buildutil import import_built
    return import_built("protos", SUPPORT, [os.path.join(ROOT, "pxcy", "runtime.pxd")])


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


@pytest.fixture
def nofile():
    """nofile(n): at least n file descriptors for this test and the processes it starts
    (soft RLIMIT_NOFILE raised up to the hard limit, restored afterwards)."""
    from netutil import raise_nofile
    saved = resource.getrlimit(resource.RLIMIT_NOFILE)
    yield raise_nofile
    resource.setrlimit(resource.RLIMIT_NOFILE, saved)
