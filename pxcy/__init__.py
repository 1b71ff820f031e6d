"""pxcy: parallel nogil network callbacks for stock CPython, written in Cython.

    import pxcy
    from myhandler import Hello
    pxcy.Server(Hello, "127.0.0.1", 8080, workers=4).serve_forever()

Handlers are Cython ``cdef class``es deriving from ``pxcy.runtime.Protocol``; see
the README for the model (parallel callbacks, the transient and persistent heaps).
"""
import os as _os

__version__ = "0.1.0"


def get_include():
    """Directory to add to ``cythonize(include_path=...)`` and the C include dirs of
    a handler module so that ``from pxcy.runtime cimport Protocol, Transport`` and
    the C headers it pulls in (``pxcy/includes/*.h``) resolve."""
    return _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))


def __getattr__(name):
    # Import the compiled runtime lazily so that `pxcy --help` / `pxcy new` work
    # even before the extensions are built.
    if name in ("Server", "Protocol", "Transport", "Harness"):
        from pxcy import runtime
        return getattr(runtime, name)
    raise AttributeError(name)
