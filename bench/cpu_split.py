"""User and system CPU per request of pxcy against the epoll reference responder, and
optionally against pxcy at another commit: where a gap in CPU per request comes from.

    python3 bench/cpu_split.py [--base COMMIT] [--depth 16] [--rounds 5] [--seconds 4] [--write FILE]

Each server (`pxcy run pxcy.protocols.http11:HelloWorld`, 1 worker; bench/out/bin/ref_epoll)
is pinned to core 0 and wrk (1 thread, 256 connections when pipelined, else 64) to core 1;
the rounds interleave the servers (in turn first: round r starts with server r mod n,
so a drift of the machine over a round does not favour one). utime and stime come from
/proc/PID/stat before and after each wrk run, split the exact total of its threads' run
times (/proc/PID/task/*/schedstat); the table shows medians in microseconds
per request and each server's median total against the reference's.

The pairs: each round's total of a server divided by the reference's in the same round,
their median, and a distribution-free 95% confidence interval for that median (order
statistics of the binomial sign test: no assumption on how the noise is distributed).
The rounds of one server vary by up to ±10% on this kind of machine, so a difference of
a few percent needs many rounds: the interval says whether the rounds resolve it
(`--depth 1 --rounds 41 --seconds 3`, 10 minutes, gave about ±4%). --write FILE also
writes the figures as Markdown, with a verdict on issue 11's target for the load (depth
1: within 3% of the reference; pipelined: at most 1.1x): bench/CPU_SPLIT.md (depth 1)
and bench/CPU_SPLIT_PIPELINED.md (--depth 16) are appended to bench/RESULTS.md by the
next bench/run.sh (and kept with that run's raw data).
--base COMMIT builds that commit in a temporary git
worktree (its extensions built in place, a minute or two) and measures it in the same
rounds, so a change is compared with its base on the same machine, minutes apart.
Exit status: 0; 2 for a bad argument, a missing tool (wrk, a C compiler) or an
instrumented pxcy (an unfinished tools/pgo_build.py).
"""
import argparse
import datetime
import math
import os
import shlex
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


def cpu_ns(pid):
    """CPU time of all the process's threads in nanoseconds (schedstat's run time: exact,
    where utime and stime come in clock ticks, 10 ms, split by sampling)."""
    t, read = 0, 0
    for name in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{name}/schedstat") as f:
                t += int(f.read().split()[0])
            read += 1
        except (OSError, ValueError, IndexError):
            pass                                     # (a thread gone since the listing)
    if not read:
        fail(f"no /proc/{pid}/task/*/schedstat to read (a kernel without CONFIG_SCHED_INFO?)")
    return t


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


def median_ci(xs, level=0.95):
    """(median, low, high): the interval [x(k), x(n-k+1)] of the sorted xs with the largest
    k for which P(Binomial(n, 1/2) < k) <= (1 - level) / 2; (median, None, None) when
    n is too small for any (n < 6 at 95%)."""
    xs, n = sorted(xs), len(xs)
    tail, k = 0.0, 0
    while True:
        t = tail + math.comb(n, k) / 2 ** n     # P(Binomial(n, 1/2) <= k)
        if t > (1 - level) / 2:
            break
        tail, k = t, k + 1
    med = statistics.median(xs)
    return (med, xs[k - 1], xs[n - k]) if k >= 1 else (med, None, None)


def commit_of(root):
    r = subprocess.run(["git", "-C", root, "describe", "--always", "--dirty"], capture_output=True, text=True)
    return r.stdout.strip() or "unknown"


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
    ap.add_argument("--write", metavar="FILE", help="also write the figures there as Markdown")
    a = ap.parse_args()
    if a.depth < 1 or a.rounds < 1 or not 1 <= a.seconds <= 60:
        fail("--depth and --rounds must be >= 1, --seconds 1..60")
    if a.write and not os.path.isdir(os.path.dirname(os.path.abspath(a.write))):
        fail(f"--write {a.write}: no such folder")
    if a.write and os.path.isdir(a.write):
        fail(f"--write {a.write}: is a folder")
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
            k = r % len(started)
            for name, port, p in started[k:] + started[:k]:
                url = f"http://127.0.0.1:{port}/plaintext"
                argv = ["taskset", "-c", "1", "wrk", "-t1", f"-d{a.seconds}s"]
                argv += ["-c256", "-s", lua, url, "--", str(a.depth)] if a.depth > 1 else ["-c64", url]
                u0, s0, t0 = *cpu_ticks(p.pid), cpu_ns(p.pid)
                out = subprocess.run(argv, capture_output=True, text=True, timeout=a.seconds + 60).stdout
                u1, s1, t1 = *cpu_ticks(p.pid), cpu_ns(p.pid)
                n = int(next(l for l in out.splitlines() if "requests in" in l).split()[0])
                # the exact total, split into user and system in the ticks' proportion
                tot, user = (t1 - t0) / 1e3 / n, (u1 - u0) / max(1, (u1 - u0) + (s1 - s0))
                res[name].append((tot * user, tot * (1 - user)))
                print(f"cpu_split: round {r + 1} {name}: {n} requests", file=sys.stderr)
        ref_total = statistics.median(u + s for u, s in res["epoll-ref"])
        head = (f"depth {a.depth}, {a.rounds} rounds of {a.seconds} s; medians, us per request; "
                f"pxcy build {build_kind(ROOT)}" + (f", {a.base}'s {build_kind(base)}" if base else ""))
        lines = [f"{'server':<22} {'user':>7} {'system':>7} {'total':>7}  {'total / ref':>11}  "
                 f"{'pairs: median [95% CI]':>24}"]
        for name, v in res.items():
            tot = statistics.median(u + s for u, s in v)
            med, lo, hi = median_ci([(u + s) / (ur + sr) for (u, s), (ur, sr) in zip(v, res["epoll-ref"])])
            ci = f"{med:.3f} [{lo:.3f}, {hi:.3f}]" if lo is not None else f"{med:.3f} [too few rounds]"
            lines.append(f"{name:<22} {statistics.median(u for u, _ in v):7.3f} "
                         f"{statistics.median(s for _, s in v):7.3f} {tot:7.3f}  {tot / ref_total:11.2f}  {ci:>24}")
        print(head)
        print("\n".join(lines))
        if a.write:
            write_md(a, head, lines, res)
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


def write_md(a, head, lines, res):
    """The figures as Markdown, with what produced them and the pxcy-to-reference verdict
    against issue 11's target for the load (met only when the whole interval is within it):
    sequential within 3% of the reference, pipelined at most 1.1x."""
    bound, what = ((1.03, "plaintext CPU per request within 3% of the epoll reference's") if a.depth == 1 else
                   (1.10, f"pipelined x{a.depth} CPU per request at most 1.1x the epoll reference's"))
    med, lo, hi = median_ci([(u + s) / (ur + sr) for (u, s), (ur, sr) in zip(res["pxcy"], res["epoll-ref"])])
    if lo is None:
        verdict = "not resolved: too few rounds for an interval"
    elif hi <= bound:
        verdict = f"**met**: the whole interval is at most {bound:.2f} (pxcy within {100 * (hi - 1):+.1f}% at worst)"
    elif lo > bound:
        verdict = f"**missed**: the whole interval is above {bound:.2f}"
    else:
        verdict = (f"not resolved at this number of rounds: the interval straddles {bound:.2f} "
                   f"(its median, {med:.3f}, is {'above' if med > bound else 'at or below'} it)")
    cmd = shlex.join(["python3", "bench/cpu_split.py", *sys.argv[1:]])
    text = "\n".join([
        f"## {'Sequential' if a.depth == 1 else f'Pipelined x{a.depth}'} CPU per request against the "
        "epoll reference (bench/cpu_split.py)", "",
        f"Command: `{cmd}` at `{commit_of(ROOT)}`, "
        f"{datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}, "
        f"{os.cpu_count()} CPUs. Each server pinned to core 0, wrk to core 1; the rounds interleave "
        "the servers, in turn first. *pairs* is each round's total (user + system) divided by the "
        "reference's in the same round: the median and its distribution-free 95% confidence interval.", "",
        "```", head] + lines + ["```", "",
        f"Target (issue 11: {what}): {verdict}.", ""])
    fd, tmp = tempfile.mkstemp(prefix=".cpu_split.", dir=os.path.dirname(os.path.abspath(a.write)))
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, a.write)              # nothing half-written is left behind
    except BaseException:
        os.unlink(tmp)
        raise


if __name__ == "__main__":
    sys.exit(main())
