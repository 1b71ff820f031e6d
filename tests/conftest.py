import os

import pytest

import pxcy

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
