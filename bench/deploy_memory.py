#!/usr/bin/env python3
"""One wikisearch process with N workers vs N single-worker processes: RSS and PSS.

    PYTHONPATH=.:examples/wikisearch python3 bench/deploy_memory.py [--pages 100000] [--workers 4] [--quick]

Builds (or reuses, in --dir) a synthetic index, starts `wikisearch serve` both ways
on 127.0.0.1, sends each process a short warm-up of /offsets and /wiki requests,
and reads RSS and PSS from /proc/PID/smaps_rollup. docs/deployment.md quotes it.
"""
import argparse
import http.client
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rollup(pid):
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            m = re.match(r"(Rss|Pss):\s+(\d+) kB", line)
            if m:
                out[m.group(1)] = int(m.group(2)) * 1024
    return out


def start(index, workers, env):
    p = subprocess.Popen([sys.executable, "-m", "wikisearch", "serve", "--index", index, "--port", "0",
                          "--workers", str(workers)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    line = p.stdout.readline()
    m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    if not m:
        raise RuntimeError(line + p.stderr.read())
    return p, int(m.group(1))


def warm(port, n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for i in range(n):
        c.request("GET", "/offsets/%s" % "abcdefghij"[i % 10])
        c.getresponse().read()
    c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--dir", default=os.path.join(ROOT, "data", "deploy-memory"))
    ap.add_argument("--quick", action="store_true", help="10,000 pages, 2 workers")
    a = ap.parse_args()
    if a.quick:
        a.pages, a.workers = 10_000, 2
    sys.path[:0] = [ROOT, os.path.join(ROOT, "examples", "wikisearch")]
    from wikisearch.serve import prepare_demo
    index = prepare_demo(a.dir, a.pages, 1)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    one, port = start(index, a.workers, env)
    warm(port, 200)
    time.sleep(0.3)
    r1 = rollup(one.pid)
    one.terminate()
    one.wait()
    many = [start(index, 1, env) for _ in range(a.workers)]
    for p, port in many:
        warm(port, 200)
    time.sleep(0.3)
    rs = [rollup(p.pid) for p, _ in many]
    for p, _ in many:
        p.terminate()
        p.wait()
    mb = lambda b: f"{b / 1e6:.1f} MB"
    print(f"{a.pages} pages, {a.workers} workers")
    print(f"1 process x {a.workers} workers: RSS {mb(r1['Rss'])}, PSS {mb(r1['Pss'])}")
    print(f"{a.workers} processes x 1 worker: sum RSS {mb(sum(r['Rss'] for r in rs))}, "
          f"sum PSS {mb(sum(r['Pss'] for r in rs))}")


if __name__ == "__main__":
    main()
