#!/usr/bin/env python3
"""Server CPU for chunked request bodies sent in small writes, against body size.

Starts a server subprocess serving tests/http/apps.pyx's Routes (POST /echo, a
buffered body) with max_body raised, then
for each body size sends one chunked POST in 1,000-byte writes (1,000-byte chunks)
and reads the echo. Server CPU is utime+stime of the server process from
/proc/PID/stat, before and after, summed over --repeat requests per size.

Issue 12's claim: CPU per byte is flat (linear total), not growing with the body as
it was when every read re-parsed the request from its start (0.21 s for 0.96 MB
before, quadratic). The last column is CPU per MB relative to the smallest size.

    python3 bench/http_chunked_body.py            # 0.24 .. 1.92 MB, 20 requests each
    python3 bench/http_chunked_body.py --quick    # 0.12 .. 0.96 MB, 5 each
"""
import argparse
import os
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SERVER = r"""
import sys, os, signal
sys.path.insert(0, os.path.join(sys.argv[1], "tests", "http"))
sys.path.insert(0, os.path.join(sys.argv[1], "tests"))
from buildutil import import_built
import pxcy
apps = import_built("apps", os.path.join(sys.argv[1], "tests", "http"), [])
s = pxcy.Server(apps.Routes(None, max_body=8 << 20), "127.0.0.1", 0, workers=1,
                persistent_limit=64 << 20).start()
print(s.port, flush=True)
signal.sigwait({signal.SIGTERM, signal.SIGINT})
s.stop()
"""


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def post_chunked(port, body, write):
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n"
                  b"Connection: close\r\n\r\n")
        for i in range(0, len(body), write):
            piece = body[i:i + write]
            s.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        s.sendall(b"0\r\n\r\n")
        got = bytearray()
        while True:
            k = s.recv(1 << 20)
            if not k:
                break
            got += k
    head, _, rest = bytes(got).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:80]
    assert rest == body, (len(rest), len(body))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=None)
    args = ap.parse_args()
    sizes = [120_000, 480_000, 960_000] if args.quick else [240_000, 480_000, 960_000, 1_920_000]
    repeat = args.repeat or (5 if args.quick else 20)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.Popen([sys.executable, "-c", SERVER, ROOT], stdout=subprocess.PIPE, text=True, env=env)
    try:
        port = int(p.stdout.readline())
        rows = []
        for size in sizes:
            body = os.urandom(size)
            post_chunked(port, body, 1000)               # warm
            before = cpu_s(p.pid)
            for _ in range(repeat):
                post_chunked(port, body, 1000)
            rows.append((size, (cpu_s(p.pid) - before) / repeat))
        base = rows[0][1] / rows[0][0] if rows[0][1] > 0 else None
        print(f"{'body bytes':>12} {'server CPU s/request':>22} {'CPU/MB vs smallest':>20}")
        for size, c in rows:
            rel = f"{(c / size) / base:.2f}x" if base else "n/a (below clock resolution)"
            print(f"{size:>12} {c:>22.4f} {rel:>20}")
        print(f"(1,000-byte chunked writes, {repeat} requests per size, 1 worker; "
              "CPU from /proc/PID/stat, 10 ms ticks)")
    finally:
        p.terminate()                                      # by PID
        p.wait(timeout=30)


if __name__ == "__main__":
    main()
