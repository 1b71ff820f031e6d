"""Soak driver (run through bench/soak/run.sh).

For each server (pxcy.protocols.echo:Echo, and pxcy.protocols.http11:HelloWorld when
it imports): start `python -m pxcy run SPEC --port 0` as a subprocess, sample its RSS,
open fd count and thread count every second into a CSV, drive REQUESTS requests
through bench/soak/client (keep-alive, pipelined and reconnecting clients, every
answer checked), then hold IDLE idle keep-alive connections while active clients run,
and check: no client errors, RSS flat after warm-up, fd count back to baseline,
thread count unchanged. Writes summary.json next to the CSVs; exit status 1 on any
failed check. Everything is bounded (request count, per-phase timeouts) and the
processes it starts are stopped by PID.
"""
import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MiB = 1 << 20


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def nfds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def nthreads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


class Sampler(threading.Thread):
    """One row per `every` seconds: t, phase, rss, fds, threads."""

    def __init__(self, pid, path, every=1.0):
        super().__init__(daemon=True)
        self.pid, self.every, self.phase = pid, every, "start"
        self.rows = []
        self.stop_ev = threading.Event()
        self.f = open(path, "w", newline="")
        self.w = csv.writer(self.f)
        self.w.writerow(["t", "phase", "rss_bytes", "fds", "threads"])
        self.t0 = time.monotonic()
        self.lock = threading.Lock()

    def sample(self):
        with self.lock:
            return self._sample()

    def _sample(self):
        try:
            row = [round(time.monotonic() - self.t0, 2), self.phase, rss(self.pid), nfds(self.pid),
                   nthreads(self.pid)]
        except (FileNotFoundError, ProcessLookupError):
            return None
        self.rows.append(row)
        self.w.writerow(row)
        self.f.flush()
        return row

    def run(self):
        while not self.stop_ev.wait(self.every):
            self.sample()

    def stop(self):
        self.stop_ev.set()
        self.join()
        self.f.close()


def start_server(spec, workers):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    p = subprocess.Popen([sys.executable, "-m", "pxcy", "run", spec, "--port", "0", "--workers", str(workers)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = p.stdout.readline()
    if "serving" not in line:
        p.kill()
        raise RuntimeError(f"{spec} did not start: {line!r} {p.stderr.read()}")
    return p, int(line.split("http://127.0.0.1:")[1].split("/")[0])


def stop_server(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            return p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            return "killed"
    return p.returncode


def wait_until(cond, tries=100, every=0.1):
    for _ in range(tries):
        if cond():
            return True
        time.sleep(every)
    return cond()


def parse_kv(line):
    return {k: int(v) for k, v in (x.split("=") for x in line.split() if "=" in x)}


def soak_one(name, spec, proto, args, client, outdir):
    res = {"server": spec}
    p, port = start_server(spec, args.workers)
    pid = p.pid
    sampler = Sampler(pid, os.path.join(outdir, f"{name}.csv"), every=args.sample)
    try:
        time.sleep(0.5)
        base = sampler.sample()
        res["baseline"] = {"rss": base[2], "fds": base[3], "threads": base[4]}
        sampler.start()

        # -- phase 1: the request mix
        sampler.phase = "load"
        t0 = time.monotonic()
        r = subprocess.run([client, "load", proto, str(port), str(args.requests), str(args.threads),
                            str(args.depth)], capture_output=True, text=True,
                           timeout=args.phase_timeout)
        res["load_seconds"] = round(time.monotonic() - t0, 1)
        res["load"] = parse_kv(r.stdout)
        res["load"]["exit"] = r.returncode
        if r.stderr.strip():
            res["load"]["stderr"] = r.stderr.strip()[-500:]
        load_rows = [row for row in sampler.rows if row[1] == "load"]

        # -- phase 2: idle keep-alive connections + active clients
        sampler.phase = "idle"
        idle_before = rss(pid)
        idle = subprocess.Popen([client, "idle", proto, str(port), str(args.idle)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            ready = idle.stdout.readline()
            res["idle"] = {"connections": args.idle, "ready": ready.strip()}
            wait_until(lambda: nfds(pid) >= base[3] + args.idle, tries=100)
            time.sleep(0.5)
            idle_rss = rss(pid)
            res["idle"]["server_fds"] = nfds(pid)
            res["idle"]["rss_delta"] = idle_rss - idle_before
            res["idle"]["bytes_per_conn"] = round((idle_rss - idle_before) / args.idle)
            ra = subprocess.run([client, "load", proto, str(port), str(args.active_requests), "6",
                                 str(args.depth)], capture_output=True, text=True,
                                timeout=args.phase_timeout)
            res["idle"]["active"] = parse_kv(ra.stdout)
            res["idle"]["active"]["exit"] = ra.returncode
        finally:
            try:
                out, _ = idle.communicate(timeout=args.phase_timeout)   # closes stdin: release
            except subprocess.TimeoutExpired:
                idle.kill()
                out, _ = idle.communicate()
            res["idle"]["after"] = out.strip()
            res["idle"]["exit"] = idle.returncode

        # -- back to baseline
        sampler.phase = "drain"
        wait_until(lambda: nfds(pid) <= base[3], tries=300)
        end = sampler.sample()
        res["end"] = {"rss": end[2], "fds": end[3], "threads": end[4]}
    finally:
        sampler.stop()
        res["exit"] = stop_server(p)

    # -- checks
    checks = {}
    checks["load: no client errors"] = res["load"].get("errors", 1) == 0 and res["load"]["exit"] == 0
    checks["load: all requests served"] = res["load"].get("requests") == args.requests
    q = max(1, len(load_rows) // 4)
    first = max(r[2] for r in load_rows[:q]) if load_rows else 0
    last = max(r[2] for r in load_rows[-q:]) if load_rows else 0
    allow = max(4 * MiB, first * 0.05)
    res["rss_first_quarter_max"], res["rss_last_quarter_max"] = first, last
    res["rss_samples"] = len(load_rows)
    checks["rss flat after warm-up (last quarter max <= first quarter max + max(4 MiB, 5%))"] = \
        bool(load_rows) and last <= first + allow
    checks["idle: every idle connection answered after the active phase"] = \
        res["idle"]["exit"] == 0 and "errors=0" in res["idle"]["after"]
    checks["idle: active clients unaffected (all answers correct)"] = \
        res["idle"]["active"].get("errors", 1) == 0 and res["idle"]["active"]["exit"] == 0
    checks["fd count back to baseline"] = res["end"]["fds"] == res["baseline"]["fds"]
    checks["thread count unchanged"] = res["end"]["threads"] == res["baseline"]["threads"] and \
        all(r[4] == res["baseline"]["threads"] for r in sampler.rows)
    checks["server exit 0 on SIGTERM"] = res["exit"] == 0
    res["checks"] = checks
    res["ok"] = all(checks.values())
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=10_000_000)
    ap.add_argument("--idle", type=int, default=10_000)
    ap.add_argument("--active-requests", type=int, default=200_000)
    ap.add_argument("--threads", type=int, default=12)
    ap.add_argument("--depth", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sample", type=float, default=1.0, help="seconds between samples")
    ap.add_argument("--phase-timeout", type=int, default=3600)
    ap.add_argument("--client", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", choices=["echo", "http"], default=None)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    servers = [("echo", "pxcy.protocols.echo:Echo", "echo")]
    try:
        import pxcy.protocols.http11 as h
        if hasattr(h, "HelloWorld"):
            servers.append(("http", "pxcy.protocols.http11:HelloWorld", "http"))
    except ImportError as e:
        print(f"soak: no HTTP server ({e}); echo only", flush=True)
    if args.only:
        servers = [s for s in servers if s[0] == args.only]
    summary = {"requests_per_server": args.requests, "idle": args.idle, "results": {}}
    ok = True
    for name, spec, proto in servers:
        print(f"soak: {name}: {args.requests} requests, then {args.idle} idle + "
              f"{args.active_requests} active ...", flush=True)
        res = soak_one(name, spec, proto, args, args.client, args.out)
        summary["results"][name] = res
        ok &= res["ok"]
        print(json.dumps({k: res[k] for k in ("load", "load_seconds", "baseline", "end",
                                              "rss_first_quarter_max", "rss_last_quarter_max",
                                              "rss_samples")}), flush=True)
        print(json.dumps(res["idle"]), flush=True)
        for k, v in res["checks"].items():
            print(f"  {'ok  ' if v else 'FAIL'} {k}", flush=True)
    summary["ok"] = ok
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(f"soak: {'PASS' if ok else 'FAIL'} (CSV and summary.json in {args.out})", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
