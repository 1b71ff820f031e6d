"""User and system CPU per request of pxcy against the epoll reference responder, and
optionally against pxcy at another commit: where a gap in CPU per request comes from.

    python3 bench/cpu_split.py [--base COMMIT] [--depth 16] [--rounds 5] [--seconds 4]

Each server (`pxcy run pxcy.protocols.http11:HelloWorld`, 1 worker; bench/out/bin/ref_epoll)
is pinned to core 0 and wrk (1 thread, 256 connections when pipelined, else 64) to core 1;
the rounds interleave the servers. utime and stime come from /proc/PID/stat before and
after each wrk run; the table shows medians in microseconds per request and each server's
total against the reference's. --base COMMIT builds that commit in a temporary git
worktree (its extensions built in place, a minute or two) and measures it in the same
rounds, so a change is compared with its base on the same machine, minutes apart.
Exit status: 0; 2 for a bad argument, a missing tool (wrk, a C compiler) or an
instrumented pxcy (an unfinished tools/pgo_build.py).
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TICK = os.sysconf("SC_CLK_TCK")


def fail(msg):
    print(f"cpu_split: {msg}", file=sys.stderr)
    sys.exit(2)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])          # utime, stime (all threads)


def wait_port(port, proc, secs=60):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def build_kind(root):
    """pxcy.runtime.BUILD of the checkout at root: profile-guided or plain."""
    r = subprocess.run([sys.executable, "-c", "import pxcy.runtime as r; print(getattr(r, 'BUILD', 'plain'))"],
                       cwd=root, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=root))
    return r.stdout.strip() or "unknown"


def ref_binary():
    exe = os.path.join(HERE, "out", "bin", "ref_epoll")
    src = os.path.join(HERE, "ref_epoll.c")
    if not os.path.exists(exe) or os.path.getmtime(src) > os.path.getmtime(exe):
        cc = shutil.which("cc") or shutil.which("gcc")
        if not cc:
            fail("no C compiler to build bench/ref_epoll.c")
        os.makedirs(os.path.dirname(exe), exist_ok=True)
        subprocess.run([cc, "-O2", "-o", exe, src], check=True)
    return exe


def base_checkout(commit, tmp):
    wt = os.path.join(tmp, "base")
    r = subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", wt, commit],
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"--base {commit}: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else 'git worktree failed'}")
    print(f"cpu_split: building {commit} in {wt}", file=sys.stderr)
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=wt, check=True,
                   stdout=subprocess.DEVNULL)
    return wt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", help="also measure pxcy at this commit")
    ap.add_argument("--depth", type=int, default=16, help="requests per write (1: not pipelined)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=4)
    a = ap.parse_args()
    if a.depth < 1 or a.rounds < 1 or not 1 <= a.seconds <= 60:
        fail("--depth and --rounds must be >= 1, --seconds 1..60")
    if not shutil.which("wrk"):
        fail("wrk is not installed (apt-get install wrk)")
    tmp = tempfile.mkdtemp(prefix="pxcy-cpusplit.")
    procs, base = [], None
    try:
        servers = [("pxcy", ROOT)]
        if build_kind(ROOT) == "instrumented":
            fail(f"pxcy in {ROOT} is instrumented (tools/pgo_build.py did not finish): rebuild it first")
        if a.base:
            base = base_checkout(a.base, tmp)
            servers.append((f"pxcy@{a.base}", base))
        started = []
        for name, tree in servers:
            port = free_port()
            env = dict(os.environ, PYTHONPATH=tree)
            p = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-m", "pxcy", "run",
                                  "pxcy.protocols.http11:HelloWorld", "--port", str(port),
                                  "--workers", "1"], cwd=tree, env=env, start_new_session=True,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(p)
            started.append((name, port, p))
        port = free_port()
        p = subprocess.Popen(["taskset", "-c", "0", ref_binary(), str(port)], start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        started.append(("epoll-ref", port, p))
        for name, port, p in started:
            if not wait_port(port, p):
                fail(f"{name} did not start")
        lua = os.path.join(HERE, "wrk", "pipeline.lua")
        res = {name: [] for name, _, _ in started}
        for r in range(a.rounds):
            for name, port, p in started:
                url = f"http://127.0.0.1:{port}/plaintext"
                argv = ["taskset", "-c", "1", "wrk", "-t1", f"-d{a.seconds}s"]
                argv += ["-c256", "-s", lua, url, "--", str(a.depth)] if a.depth > 1 else ["-c64", url]
                u0, s0 = cpu_ticks(p.pid)
                out = subprocess.run(argv, capture_output=True, text=True, timeout=a.seconds + 60).stdout
                u1, s1 = cpu_ticks(p.pid)
                n = int(next(l for l in out.splitlines() if "requests in" in l).split()[0])
                res[name].append(((u1 - u0) / TICK / n * 1e6, (s1 - s0) / TICK / n * 1e6))
                print(f"cpu_split: round {r + 1} {name}: {n} requests", file=sys.stderr)
        ref_total = statistics.median(u + s for u, s in res["epoll-ref"])
        print(f"depth {a.depth}, {a.rounds} rounds of {a.seconds} s; medians, us per request; "
              f"pxcy build {build_kind(ROOT)}" + (f", {a.base}'s {build_kind(base)}" if base else ""))
        print(f"{'server':<22} {'user':>7} {'system':>7} {'total':>7}  {'total / ref':>11}")
        for name, v in res.items():
            tot = statistics.median(u + s for u, s in v)
            print(f"{name:<22} {statistics.median(u for u, _ in v):7.3f} "
                  f"{statistics.median(s for _, s in v):7.3f} {tot:7.3f}  {tot / ref_total:11.2f}")
        return 0
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
        if base:
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", base],
                           capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
