"""Socket helpers shared by the test modules (tests/ is on sys.path via conftest)."""
import socket
import threading


def recv_exactly(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(1 << 20, n - len(buf)))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def settled_stats(server, done):
    """server.stats() once done(stats) holds: workers bump counters just after the
    syscall that made a client's read return, so a read can race them."""
    for _ in range(500):
        st = server.stats()
        if done(st):
            break
        threading.Event().wait(0.01)
    return st


def raise_nofile(need):
    """Raise this process's soft RLIMIT_NOFILE to at least `need` descriptors (children
    started afterwards inherit it), up to the hard limit; skip the test if the hard limit
    is lower. Returns the soft limit before. A default soft limit of 1,024 is common."""
    import resource

    import pytest

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"needs {need} file descriptors; the hard RLIMIT_NOFILE is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    return soft


def netns_usable():
    """`ip netns exec` works here (it does not inside a plain chroot: it remounts /sys)."""
    import os
    import shutil
    import subprocess
    if os.geteuid() != 0 or not shutil.which("ip"):
        return False
    ns = "pxprobe%d" % os.getpid()
    if subprocess.run(["ip", "netns", "add", ns], capture_output=True).returncode != 0:
        return False
    try:
        return subprocess.run(["ip", "netns", "exec", ns, "true"], capture_output=True).returncode == 0
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (bound, never listened: a
    connect to it is refused until someone takes it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
