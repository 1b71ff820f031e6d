"""Python routes: req/s of a CPU-bound Python route with 1 and 2 Python threads,
and the latency of a nogil route while a slow Python route runs on the same worker.

    python3 bench/python_routes.py [--seconds S] [--quick] [--md bench/PYTHON_ROUTES.md]
                                   [--ft PYTHON | --no-ft]

Each run starts a server (1 worker) whose /cpu route is a Python function doing a
fixed amount of pure-Python work, drives it with wrk (1 thread, 4 keep-alive
connections; Python client threads when wrk is missing) for S seconds, and reports
req/s for python_threads=1 and 2 and their ratio (on a GIL build ~1.0; on a
free-threaded build up to the number of cores). Then /slow (a Python route sleeping
200 ms) is held busy while /plaintext is timed: p50/p99 of the nogil route, as
ratios against an idle run in the same process.

The same measurement runs under the free-threaded interpreter of
tools/freethreaded.sh (--ft, default ~/.cache/pxcy-ft/prefix/bin/python3.13t when it
exists and pxcy is built for it) in a subprocess, so one command gives both builds.
--md writes the table bench/run.sh appends to bench/RESULTS.md (and keeps with the
run's raw data). Figures also go to stdout and to --out (appended).
"""
import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FT_DEFAULT = os.path.expanduser("~/.cache/pxcy-ft/prefix/bin/python3.13t")

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
    """Completed 200 responses per second: wrk when there is one (a C client, so the
    client's own Python threads do not compete with the route's), else threads."""
    wrk = shutil.which("wrk")
    if wrk:
        out = subprocess.run([wrk, "-t1", f"-c{nclients}", f"-d{max(1, round(seconds))}s",
                              f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True,
                             timeout=seconds + 60).stdout
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        if not m or re.search(r"Non-2xx|Socket errors", out):
            raise RuntimeError(f"wrk failed or saw errors:\n{out}")
        return float(m.group(1))
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


def measure(secs, quick):
    """This interpreter's figures, as a dict."""
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    rates = {}
    for n in (1, 2):
        s = make(n)
        try:
            load(s.port, "/cpu", min(1.0, secs))            # warm-up
            rates[n] = load(s.port, "/cpu", secs)
        finally:
            s.stop()
    s = make(1)
    try:
        idle = latencies(s.port, 300 if quick else 2000)
        busy_stop = threading.Event()

        def hold():
            c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
            while not busy_stop.is_set():
                c.request("GET", "/slow")
                c.getresponse().read()
        h = threading.Thread(target=hold)
        h.start()
        time.sleep(0.05)
        busy = latencies(s.port, 300 if quick else 2000)
        busy_stop.set()
        h.join()
    finally:
        s.stop()
    return {"python": sys.version.split()[0], "build": "GIL" if gil else "free-threaded",
            "rps1": rates[1], "rps2": rates[2], "ratio": rates[2] / rates[1],
            "p50_busy_over_idle": busy[0] / idle[0], "p99_busy_over_idle": busy[1] / idle[1],
            "idle_p50_us": idle[0] * 1e6, "client": "wrk -t1 -c4" if shutil.which("wrk") else "4 threads"}


def lines_of(r):
    b = f"{r['python']} {r['build']}"
    return [f"{b}: cpu-bound Python route, python_threads=1: {r['rps1']:.0f} req/s",
            f"{b}: cpu-bound Python route, python_threads=2: {r['rps2']:.0f} req/s",
            f"{b}: python_threads=2 / python_threads=1 = {r['ratio']:.2f}",
            f"{b}: /plaintext p50 while a 200 ms Python route runs / idle = "
            f"{r['p50_busy_over_idle']:.2f} (p99 {r['p99_busy_over_idle']:.2f}; idle p50 {r['idle_p50_us']:.0f} us)"]


def ft_results(ft, a):
    """The same measurement under the free-threaded interpreter (a subprocess)."""
    built = any(f.startswith("runtime.cpython-313t") for f in os.listdir(os.path.join(ROOT, "pxcy")))
    if not (ft and os.access(ft, os.X_OK) and built):
        print(f"python_routes: no free-threaded build measured ({ft or 'none'}; build it with "
              "tools/freethreaded.sh)", file=sys.stderr)
        return None
    cmd = [ft, "-X", "gil=0", os.path.abspath(__file__), "--json", "--seconds", str(a.seconds)]
    if a.quick:
        cmd.append("--quick")
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"free-threaded run failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def write_md(path, results, a):
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    cmd = "python bench/python_routes.py" + (f" --seconds {a.seconds:g}" if a.seconds != 5.0 else "") \
        + (" --quick" if a.quick else "") + f" --md {os.path.relpath(path, ROOT)}"
    L = ["## Python routes: GIL build and free-threaded build", "",
         f"Written by `{cmd}` at `{commit}`{' (+ uncommitted changes)' if dirty else ''}, "
         f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs. One worker; `/cpu` is a "
         "Python route doing 20,000 iterations of pure-Python arithmetic, loaded for "
         f"{1.0 if a.quick else a.seconds:g} s by {results[0]['client']} (keep-alive); the ratio column is "
         "python_threads=2 ÷ 1. Last column: `/plaintext` (a nogil route) p50 while a 200 ms Python "
         "route is kept busy on the same worker, ÷ its idle p50 (same process).", "",
         "| interpreter | python_threads=1 req/s | python_threads=2 req/s | 2 ÷ 1 | nogil p50 busy ÷ idle |",
         "|---|--:|--:|--:|--:|"]
    for r in results:
        L.append(f"| {r['python']} {r['build']} | {r['rps1']:.0f} | {r['rps2']:.0f} | {r['ratio']:.2f} | "
                 f"{r['p50_busy_over_idle']:.2f} |")
    if len(results) == 1:
        L += ["", "No free-threaded interpreter was measured in this run (`tools/freethreaded.sh` builds one)."]
    tmp = path + ".partial"
    with open(tmp, "w") as f:
        f.write("\n".join(L) + "\n")
    os.replace(tmp, path)                  # nothing half-written


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--quick", action="store_true", help="1 s runs (proves the script works)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "python_routes.txt"))
    ap.add_argument("--md", help="write the Markdown table (bench/PYTHON_ROUTES.md) here")
    ap.add_argument("--ft", default=FT_DEFAULT, help="free-threaded interpreter to measure too")
    ap.add_argument("--no-ft", action="store_true", help="measure this interpreter only")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)   # the --ft subprocess
    a = ap.parse_args()
    if a.seconds <= 0:
        ap.error("--seconds must be positive")
    secs = 1.0 if a.quick else a.seconds
    if a.json:
        print(json.dumps(measure(secs, a.quick)))
        return
    results = [measure(secs, a.quick)]
    ft = None if a.no_ft else ft_results(a.ft, a)
    if ft is not None:
        results.append(ft)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "a") as f:
        f.write(f"# {time.strftime('%Y-%m-%d %H:%M:%S')} {'quick' if a.quick else f'{secs:g}s'}\n")
        for r in results:
            for line in lines_of(r):
                print(line)
                f.write(line + "\n")
    if a.md:
        write_md(a.md, results, a)


if __name__ == "__main__":
    main()
