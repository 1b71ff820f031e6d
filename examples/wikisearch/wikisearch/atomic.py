"""Write a file so that readers see either the old one or the complete new one."""
import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_file(path, buffering=-1):
    """Yield a binary file open on a temp file beside `path`; when the block ends
    normally it is fsynced and renamed over `path`, on any error (Ctrl-C included)
    it is removed, so nothing half-written is ever left under `path`."""
    path = os.path.abspath(path)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=os.path.dirname(path))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)          # mkstemp makes 0600; give the usual mode
        with os.fdopen(fd, "wb", buffering=buffering) as f:
            fd = -1
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
