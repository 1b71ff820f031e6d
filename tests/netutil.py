"""Socket helpers shared by the test modules (tests/ is on sys.path via conftest)."""
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
