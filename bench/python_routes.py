"""Python routes: req/s of a CPU-bound Python route with 1 and 2 Python threads,
and the latency of a nogil route while a slow Python route runs on the same worker.

    python3 bench/python_routes.py [--seconds S] [--quick] [--out bench/out/python_routes.txt]
    tools/freethreaded.sh --build-only && ~/.cache/pxcy-ft/prefix/bin/python3.13t -X gil=0 bench/python_routes.py

Each run starts a server (1 worker) whose /cpu route is a Python function doing a
fixed amount of pure-Python work, drives it from 4 client threads for S seconds
with keep-alive connections, and prints req/s for python_threads=1 and 2 and their
ratio (on a GIL build ~1.0; on a free-threaded build up to the number of cores).
Then /slow (a Python route sleeping 200 ms) is held busy while /plaintext is timed:
p50/p99 of the nogil route, as ratios against an idle run in the same process.
Figures go to stdout and to --out (appended, with the interpreter's build).
"""
import argparse
import http.client
import os
import statistics
import sys
import threading
import time

from pxcy.protocols.http11 import HelloWorld
import pxcy


def cpu(req):
    s = 0
    for i in range(20000):
        s += i * i % 7
    return b"%d" % s


def slow(req):
    time.sleep(0.2)
    return b"slow"


def make(python_threads):
    app = HelloWorld()
    app.prepare()
    app.route_py("/cpu", cpu)
    app.route_py("/slow", slow)
    return pxcy.Server(app, "127.0.0.1", 0, workers=1, python_threads=python_threads).start()


def load(port, path, seconds, nclients=4):
    counts = [0] * nclients
    stop = time.monotonic() + seconds

    def run(i):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop:
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            counts[i] += r.status == 200
    ths = [threading.Thread(target=run, args=(i,)) for i in range(nclients)]
    t0 = time.monotonic()
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    return sum(counts) / (time.monotonic() - t0)


def latencies(port, n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        c.request("GET", "/plaintext")
        c.getresponse().read()
        out.append(time.perf_counter() - t0)
    out.sort()
    return out[len(out) // 2], out[int(len(out) * 0.99) - 1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--quick", action="store_true", help="1 s runs (proves the script works)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "out",
                                                  "python_routes.txt"))
    a = ap.parse_args()
    secs = 1.0 if a.quick else a.seconds
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    build = f"{sys.version.split()[0]} {'GIL' if gil else 'free-threaded'}"
    lines = []
    rates = {}
    for n in (1, 2):
        s = make(n)
        try:
            load(s.port, "/cpu", min(0.5, secs))            # warm-up
            rates[n] = load(s.port, "/cpu", secs)
        finally:
            s.stop()
        lines.append(f"{build}: cpu-bound Python route, python_threads={n}: {rates[n]:.0f} req/s")
    lines.append(f"{build}: python_threads=2 / python_threads=1 = {rates[2] / rates[1]:.2f}")
    s = make(1)
    try:
        idle = latencies(s.port, 300 if a.quick else 2000)
        busy_stop = threading.Event()

        def hold():
            c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
            while not busy_stop.is_set():
                c.request("GET", "/slow")
                c.getresponse().read()
        h = threading.Thread(target=hold)
        h.start()
        time.sleep(0.05)
        busy = latencies(s.port, 300 if a.quick else 2000)
        busy_stop.set()
        h.join()
    finally:
        s.stop()
    lines.append(f"{build}: /plaintext p50 while a 200 ms Python route runs / idle = "
                 f"{busy[0] / idle[0]:.2f} (p99 {busy[1] / idle[1]:.2f}; idle p50 {idle[0] * 1e6:.0f} us)")
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "a") as f:
        f.write(f"# {time.strftime('%Y-%m-%d %H:%M:%S')} {'quick' if a.quick else f'{secs:g}s'}\n")
        for line in lines:
            print(line)
            f.write(line + "\n")


if __name__ == "__main__":
    main()
