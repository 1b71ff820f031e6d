#!/usr/bin/env python3
"""Benchmark of the wikisearch example (examples/wikisearch): index build speed,
search and article throughput/latency with wrk, and memory of one N-worker server
vs N single-worker processes.

    python bench/wikisearch.py [--pages 1000000] [--quick] [--duration 10] [--repeat 3] [--out bench/WIKISEARCH.md]

PyParallel's scale (27 million titles; ~18 GB dump of one-line pages, ~2.6 GB index;
build first, nice'd, then serve on a quiet machine):

    nice -n 10 python bench/wikisearch.py --pages 27000000 --short --data /tmp/ws27m --build-only
    python bench/wikisearch.py --pages 27000000 --short --data /tmp/ws27m --reuse-index --mem-workers ""

* The synthetic dump (`wikisearch gen`, seed 1) is cached under data/bench/
  (gitignored); the index is rebuilt on every run because its build time is one
  of the figures.
* Load: wrk with a Lua script that picks a random path per request from a list:
  `/offsets/<3-character prefix of a random title>` (percent-encoded UTF-8, so
  non-ASCII prefixes too; default limit 20) or `/wiki/<random title>`.
  1 worker: server pinned to core 0 (taskset), wrk to core 1, wrk -t1.
  2 workers: both unpinned, wrk -t2 (on a 2-core machine they share the cores).
* CPU per request: server CPU seconds (utime + stime from /proc/PID/stat) over each
  wrk row, per request; the same run measures pxcy's plaintext server
  (`pxcy run pxcy.protocols.http11:HelloWorld`, /plaintext, same pinning), so the
  /offsets : /plaintext ratio compares like with like on a shared machine.
* Memory: RSS (VmRSS) and PSS (/proc/PID/smaps_rollup) of one server with N
  workers vs the sum over N separate 1-worker servers, each after the same warm-up
  load. The index files and the dump are shared mmaps/page cache.

Every server is started as a subprocess and stopped by its PID (SIGTERM, then
SIGKILL after 10 s); every load is bounded by wrk's -d. Requires wrk and taskset;
the example must be built (pip install -e examples/wikisearch --no-build-isolation).
"""
import argparse
import datetime
import json
import os
import platform
import random
import re
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "wikisearch")
sys.path.insert(0, EXAMPLE)

LUA = r"""
local paths = {}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  math.randomseed((tid or 1) * 7919 + 12345)
end
function request()
  return wrk.format("GET", paths[math.random(#paths)])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\"requests\":%d,\"duration_us\":%d,\"bytes\":%d,\"p50_us\":%d,\"p90_us\":%d," ..
    "\"p99_us\":%d,\"p999_us\":%d,\"max_us\":%d,\"mean_us\":%.1f,\"errors\":%d,\"non2xx\":%d}\n",
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max,
    latency.mean, e.connect + e.read + e.write + e.timeout, e.status))
end
"""

SERVERS = []          # live Popen objects, stopped on exit whatever happens


def log(msg):
    print("[wikisearch bench] " + msg, file=sys.stderr, flush=True)


def cli(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = EXAMPLE + os.pathsep + env.get("PYTHONPATH", "")
    return [sys.executable, "-m", "wikisearch", *args], env


def run_timed(args):
    """Run a wikisearch command; returns (seconds, peak RSS bytes of that child, stdout)."""
    cmd, env = cli(*args)
    t = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    dt = time.monotonic() - t
    if p.returncode != 0:
        raise SystemExit("wikisearch %s failed (exit %d)" % (" ".join(args), p.returncode))
    return dt, ru.ru_maxrss * 1024, out


def start_server(index_dir, workers, cpus=None, timeout=120):
    cmd, env = cli("serve", "--index", index_dir, "--port", "0", "--workers", str(workers))
    if cpus is not None:
        cmd = ["taskset", "-c", cpus] + cmd
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    SERVERS.append(p)
    out = b""
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while True:
            m = re.search(rb"search page: http://127\.0\.0\.1:(\d+)/", out)
            if m:
                return p, int(m.group(1))
            if p.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("server did not start: %s %s" % (out.decode(errors="replace"),
                                                                   p.stderr.read().decode(errors="replace")))
            if sel.select(1.0):
                out += os.read(p.stdout.fileno(), 4096)
    finally:
        sel.close()


def stop_server(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in SERVERS:
        SERVERS.remove(p)
    return p.returncode


def stop_all(*_):
    for p in list(SERVERS):
        stop_server(p)
    if _:
        raise SystemExit(1)


def mem(pid):
    """(RSS, PSS) in bytes."""
    with open("/proc/%d/status" % pid) as f:
        rss = int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) * 1024
    with open("/proc/%d/smaps_rollup" % pid) as f:
        pss = int(re.search(r"^Pss:\s+(\d+) kB", f.read(), re.M).group(1)) * 1024
    return rss, pss


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(port, paths_file, lua, duration, connections, threads, cpus=None, pid=None):
    c0 = cpu_seconds(pid) if pid else None
    cmd = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % duration, "--timeout", "5s",
           "-s", lua, "http://127.0.0.1:%d/" % port, "--", paths_file]
    if cpus is not None:
        cmd = ["taskset", "-c", cpus] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    m = re.search(r"WRKJSON (\{.*\})", r.stdout)
    if r.returncode != 0 or not m:
        raise SystemExit("wrk failed: %s %s" % (r.stdout, r.stderr))
    res = json.loads(m.group(1))
    res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
    res["mb_s"] = res["bytes"] / (res["duration_us"] / 1e6) / 1e6
    if pid:
        res["cpu_s"] = cpu_seconds(pid) - c0
        res["cpu_us_per_req"] = res["cpu_s"] / max(res["requests"], 1) * 1e6
    return res


def start_plaintext(cpus):
    """pxcy's TechEmpower-style server (the /plaintext reference), 1 worker."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    cmd = ["taskset", "-c", cpus, sys.executable, "-m", "pxcy", "run", "pxcy.protocols.http11:HelloWorld",
           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    SERVERS.append(p)
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/plaintext" % port, timeout=2) as r:
                if r.read() == b"Hello, World!":
                    return p, port
        except OSError:
            pass
        if p.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("plaintext server did not start: %s" % p.stderr.read().decode(errors="replace"))
        time.sleep(0.2)


def sample_pages(index, n, seed):
    """n random pages: (title, namespace, name without the namespace prefix)."""
    rng = random.Random(seed)
    pick = rng.sample(range(index.page_count), min(n, index.page_count))
    ns, skip = index.arrays["namespaces"], index.arrays["name_skip"]
    out = []
    for i in pick:
        t = index.title(i)
        out.append((t, int(ns[i]), t.encode("utf-8")[int(skip[i]):].decode("utf-8")))
    return out


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = re.search(r"model name\s*:\s*(.*)", f.read()).group(1).strip()
    except (OSError, AttributeError):
        pass
    with open("/proc/meminfo") as f:
        memkb = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
    wrkv = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return {"cpu": cpu, "cores": os.cpu_count(), "mem_gb": round(memkb / 2**20, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "wrk": (wrkv.stdout + wrkv.stderr).split("\n")[0].strip()}


def fmt_mb(b):
    return "%.1f" % (b / 2**20)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=None, help="pages in the dump (default 1000000; --quick 100000)")
    ap.add_argument("--quick", action="store_true", help="100k pages, 5 s loads")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--duration", type=int, default=None, help="seconds per wrk run (default 10; --quick 5)")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3,
                    help="1-worker rows, alternated with /plaintext, repeated (medians compared; default 3)")
    ap.add_argument("--mem-workers", default="2,4", help="N for the memory comparison (default 2,4; \"\" skips it)")
    ap.add_argument("--short", action="store_true", help="one-line pages (wikisearch gen --short), for scale runs")
    ap.add_argument("--build-only", action="store_true", help="generate and index, record the build, stop")
    ap.add_argument("--callgrind", metavar="JSON",
                    help="include instructions per request from bench/wikisearch_callgrind.py --json JSON")
    ap.add_argument("--callgrind-baseline", metavar="JSON", nargs=2,
                    help="LABEL JSON: the same measurement of an earlier version, for comparison")
    ap.add_argument("--reuse-index", action="store_true",
                    help="keep an index built by an earlier --build-only run (and its build figures)")
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "bench"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "WIKISEARCH.md"))
    a = ap.parse_args()
    pages = a.pages or (100_000 if a.quick else 1_000_000)
    duration = a.duration or (5 if a.quick else 10)
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            raise SystemExit("%s is required (apt install %s)" % (tool, "wrk" if tool == "wrk" else "util-linux"))
    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGINT, stop_all)
    command = "python bench/wikisearch.py " + shlex.join(sys.argv[1:])
    res = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
           "command": command.strip(), "machine": machine(), "pages": pages, "seed": a.seed,
           "short": a.short}
    res["loadavg_start"] = os.getloadavg()
    try:
        run(a, pages, duration, res)
    finally:
        stop_all()
    if a.build_only:
        return
    res["loadavg_end"] = os.getloadavg()
    if a.callgrind:
        with open(a.callgrind) as f:
            res["callgrind"] = json.load(f)
    if a.callgrind_baseline:
        with open(a.callgrind_baseline[1]) as f:
            res["callgrind_baseline"] = dict(json.load(f), label=a.callgrind_baseline[0])
    stamp = time.strftime("%Y%m%d-%H%M%S")
    outdir = os.path.join(ROOT, "bench", "out")
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "wikisearch-%s.json" % stamp), "w") as f:
        json.dump(res, f, indent=1)
    md = markdown(res)
    with open(a.out, "w") as f:
        f.write(md)
    print(md)
    log("wrote %s and bench/out/wikisearch-%s.json" % (os.path.relpath(a.out, ROOT), stamp))


def run(a, pages, duration, res):
    from wikisearch.index import load_index
    os.makedirs(a.data, exist_ok=True)
    dump = os.path.join(a.data, "synthetic-%d-seed%d%s.xml" % (pages, a.seed, "-short" if a.short else ""))
    index_dir = dump[:-4] + ".index"
    build_json = dump[:-4] + ".build.json"

    # ---- dump (cached) and index (rebuilt unless --reuse-index: its build time is measured)
    if not os.path.exists(dump):
        log("generating %s (%d pages; ~2 min per million, 10 s with --short)..." % (dump, pages))
        dt, rss, _ = run_timed(["gen", dump, "--pages", str(pages), "--seed", str(a.seed)]
                               + (["--short"] if a.short else []))
        res["gen"] = {"seconds": dt, "peak_rss": rss}
    if a.reuse_index and os.path.isdir(index_dir) and os.path.exists(build_json):
        with open(build_json) as f:
            res["build"] = json.load(f)
        log("reusing %s (built %s)" % (index_dir, res["build"].get("date")))
    else:
        if os.path.isdir(index_dir):
            shutil.rmtree(index_dir)
        size = os.path.getsize(dump)
        if size < 2 ** 30 * 4:
            # warm the page cache so the build measures indexing, not the disk
            with open(dump, "rb") as f:
                while f.read(64 << 20):
                    pass
        log("indexing %s (%.2f GB)..." % (dump, size / 1e9))
        dt, rss, out = run_timed(["build", dump, "--index", index_dir])
        files = {n: os.path.getsize(os.path.join(index_dir, n)) for n in sorted(os.listdir(index_dir))}
        res["build"] = {"dump_bytes": size, "seconds": dt, "s_per_gb": dt / (size / 1e9),
                        "mb_s": size / 1e6 / dt, "peak_rss": rss, "files": files, "output": out.strip(),
                        "date": res["date"], "loadavg_end": os.getloadavg()}
        with open(build_json, "w") as f:
            json.dump(res["build"], f, indent=1)
        log("indexed in %.1f s (%.1f s/GB), peak RSS %s MB" % (dt, dt / (size / 1e9), fmt_mb(rss)))
    if a.build_only:
        return

    # ---- path lists for wrk
    index = load_index(index_dir)
    sample = sample_pages(index, 20_000, a.seed)
    titles = [t for t, _, _ in sample]
    tmp = tempfile.mkdtemp(prefix="wsbench-")
    lists = {
        # the first 3 characters of the name, in the page's namespace
        "offsets": ["/offsets/" + urllib.parse.quote(name[:3], safe="") + ("?ns=%d" % ns if ns else "")
                    for _, ns, name in sample],
        "wiki": ["/wiki/" + urllib.parse.quote(t, safe="") for t in titles],
    }
    lists["mixed"] = lists["offsets"][:5000] + lists["wiki"][:5000]
    files_ = {}
    for k, v in lists.items():
        files_[k] = os.path.join(tmp, k + ".txt")
        with open(files_[k], "w") as f:
            f.write("\n".join(v) + "\n")
    lua = os.path.join(tmp, "paths.lua")
    with open(lua, "w") as f:
        f.write(LUA)
    res["non_ascii_prefixes"] = sum(1 for t in titles if any(ord(c) > 127 for c in t[:3])) / len(titles)
    res["mean_article_bytes"] = sum(int(e) - int(s) for s, e in (index.page_range(i) for i in range(0, index.page_count, 97))) \
        / len(range(0, index.page_count, 97))
    del index

    try:
        # ---- the /plaintext reference: pxcy's HelloWorld, pinned like the 1-worker rows and
        # measured alternately with them (--repeat times), so that both see the same machine
        pp, pport = start_plaintext("0")
        plain = os.path.join(tmp, "plain.txt")
        with open(plain, "w") as f:
            f.write("/plaintext\n")
        wrk(pport, plain, lua, 2, a.connections, 1, "1")
        res["plaintext_rows"] = []
        # ---- throughput / latency
        res["load"] = []
        for workers, srv_cpus, wrk_cpus, threads in ((1, "0", "1", 1), (2, None, None, 2)):
            p, port = start_server(index_dir, workers, srv_cpus)
            res.setdefault("mem_start", {})[str(workers)] = dict(zip(("rss", "pss"), mem(p.pid)))
            try:
                # sanity: the answers are right before we time them
                hits = []
                for path in lists["offsets"][:200]:
                    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
                        assert r.status == 200
                        hits.append(len(json.load(r)))
                assert sum(hits) > 0
                res["mean_hits"] = sum(hits) / len(hits)
                res["full_20_share"] = sum(1 for h in hits if h == 20) / len(hits)
                wrk(port, files_["mixed"], lua, 2, a.connections, threads, wrk_cpus)     # warm-up
                for rep in range(a.repeat if workers == 1 else 1):
                    if workers == 1:
                        r = wrk(pport, plain, lua, duration, a.connections, 1, "1", pid=pp.pid)
                        r.update(kind="plaintext", workers=1, pinned=True, threads=1, connections=a.connections,
                                 duration=duration, load1_before=os.getloadavg()[0], rep=rep)
                        res["plaintext_rows"].append(r)
                        log("plaintext: %.0f req/s, %.2f us CPU/request" % (r["rps"], r["cpu_us_per_req"]))
                    for kind in ("offsets", "wiki"):
                        log("wrk %s, %d worker(s), %d s..." % (kind, workers, duration))
                        load1 = os.getloadavg()[0]
                        r = wrk(port, files_[kind], lua, duration, a.connections, threads, wrk_cpus, pid=p.pid)
                        r.update(kind=kind, workers=workers, pinned=srv_cpus is not None, threads=threads,
                                 connections=a.connections, duration=duration, load1_before=load1, rep=rep)
                        res["load"].append(r)
                        log("  %.0f req/s, p99 %.2f ms, errors %d, non-2xx %d, %.2f us CPU/request"
                            % (r["rps"], r["p99_us"] / 1000, r["errors"], r["non2xx"], r["cpu_us_per_req"]))
                if workers == 1:
                    stop_server(pp)
                    rows = sorted(res["plaintext_rows"], key=lambda x: x["cpu_us_per_req"])
                    res["plaintext"] = rows[len(rows) // 2]          # the median row
                rss, pss = mem(p.pid)
                res.setdefault("mem_after_load", {})[str(workers)] = {"rss": rss, "pss": pss}
            finally:
                assert stop_server(p) == 0

        # ---- memory: one N-worker process vs N single-worker processes
        res["memory"] = []
        for n in [int(x) for x in a.mem_workers.split(",") if x]:
            row = {"n": n}
            p, port = start_server(index_dir, n)
            try:
                wrk(port, files_["mixed"], lua, 2, 16, 1)
                row["one_rss"], row["one_pss"] = mem(p.pid)
            finally:
                stop_server(p)
            procs = []
            try:
                for _ in range(n):
                    procs.append(start_server(index_dir, 1))
                for q, port in procs:
                    wrk(port, files_["mixed"], lua, 2, 16, 1)
                ms = [mem(q.pid) for q, _ in procs]
                row["sep_rss"] = sum(m[0] for m in ms)
                row["sep_pss"] = sum(m[1] for m in ms)
            finally:
                for q, _ in procs:
                    stop_server(q)
            res["memory"].append(row)
            log("memory N=%d: one process RSS %s MB PSS %s MB; %d processes RSS %s MB PSS %s MB"
                % (n, fmt_mb(row["one_rss"]), fmt_mb(row["one_pss"]), n, fmt_mb(row["sep_rss"]),
                   fmt_mb(row["sep_pss"])))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def markdown(r):
    m = r["machine"]
    b = r["build"]
    L = []
    L.append("## wikisearch (examples/wikisearch)\n")
    L.append("- date: %s" % r["date"])
    L.append("- machine: %s, %d cores, %.1f GB RAM, Linux %s, Python %s, %s"
             % (m["cpu"], m["cores"], m["mem_gb"], m["kernel"], m["python"], m["wrk"]))
    L.append("- command: `%s`" % r["command"])
    L.append("- machine load (1/5/15-min load average) at start %s, at end %s: the machine was shared "
             "with other jobs, so absolute figures are noisy (the load1 column gives the load average "
             "just before each wrk row)" % ("/".join("%.1f" % x for x in r["loadavg_start"]),
                                             "/".join("%.1f" % x for x in r["loadavg_end"])))
    L.append("- data: synthetic dump (`wikisearch gen --pages %d --seed %d%s`), %.2f GB, %d pages, "
             "mean page %.0f bytes; cached in the data directory and (as far as it fits) in the page cache "
             "during the runs" % (r["pages"], r["seed"], " --short" if r.get("short") else "",
                                  b["dump_bytes"] / 1e9, r["pages"], r["mean_article_bytes"]))
    if "gen" in r:
        L.append("- generating it took %.0f s (peak RSS %s MB)" % (r["gen"]["seconds"], fmt_mb(r["gen"]["peak_rss"])))
    L.append("")
    L.append("### Index build (`wikisearch build`, one process)\n")
    L.append("| dump | time | per GB of dump | throughput | peak RSS | index on disk |")
    L.append("|---|---|---|---|---|---|")
    L.append("| %.2f GB | %.1f s | %.1f s/GB | %.0f MB/s | %s MB | %s MB |"
             % (b["dump_bytes"] / 1e9, b["seconds"], b["s_per_gb"], b["mb_s"], fmt_mb(b["peak_rss"]),
                fmt_mb(sum(b["files"].values()))))
    L.append("")
    L.append("Index files: " + ", ".join("%s %s MB" % (k, fmt_mb(v)) for k, v in b["files"].items()) + ".")
    L.append("")
    L.append("### Throughput and latency (wrk, keep-alive, %d connections, %d s per row)\n"
             % (r["load"][0]["connections"], r["load"][0]["duration"]))
    L.append("Paths are drawn at random per request (wrk Lua script) from 20,000 random titles: "
             "`/offsets/<first 3 characters>` (percent-encoded UTF-8, %.0f %% non-ASCII; default limit 20) "
             "and `/wiki/<title>` (whole `<page>` element by sendfile). `/offsets` prefixes are those of the "
             "name, with `?ns=N` for pages outside the article namespace; a sample of 200 gave %.1f hits on "
             "average, %.0f %% of them the full 20."
             % (100 * r["non_ascii_prefixes"], r.get("mean_hits", 0), 100 * r.get("full_20_share", 0)))
    L.append("1 worker: server pinned to core 0, wrk (-t1) to core 1. 2 workers: server and wrk (-t2) "
             "unpinned, so on a 2-core machine wrk competes with the workers for the same cores.\n")
    L.append("Server CPU per request: utime + stime of the server process over the row / requests; "
             "`/plaintext` is pxcy's HelloWorld server, same pinning, same run, its rows alternated with the "
             "1-worker rows; \"vs /plaintext\" is against the median `/plaintext` row.\n")
    L.append("| endpoint | workers | requests/s | MB/s | p50 | p99 | p99.9 | errors | non-2xx | CPU/request | "
             "vs /plaintext | load1 |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    plain = r.get("plaintext")
    for x in r.get("plaintext_rows", [plain] if plain else []) + r["load"]:
        L.append("| `/%s%s` | %d%s | %.0f | %.1f | %.2f ms | %.2f ms | %.2f ms | %d | %d | %.2f µs | %s | %.1f |"
                 % (x["kind"], "" if x["kind"] == "plaintext" else "/…", x["workers"],
                    " (pinned)" if x["pinned"] else "", x["rps"], x["mb_s"],
                    x["p50_us"] / 1000, x["p99_us"] / 1000, x["p999_us"] / 1000, x["errors"], x["non2xx"],
                    x.get("cpu_us_per_req", 0), "%.2f×" % (x["cpu_us_per_req"] / plain["cpu_us_per_req"])
                    if plain and x["pinned"] else "–", x["load1_before"]))
    L.append("")
    L.append("### Server memory (after loading the index, and after the loads above)\n")
    L.append("| workers | RSS at start | PSS at start | RSS after load | PSS after load |")
    L.append("|---|---|---|---|---|")
    for w in sorted(r.get("mem_start", {})):
        s0, s1 = r["mem_start"][w], r["mem_after_load"].get(w, {"rss": 0, "pss": 0})
        L.append("| %s | %s MB | %s MB | %s MB | %s MB |" % (w, fmt_mb(s0["rss"]), fmt_mb(s0["pss"]),
                                                           fmt_mb(s1["rss"]), fmt_mb(s1["pss"])))
    L.append("")
    L.append("RSS counts the pages of the memory-mapped index files the process has touched; "
             "the whole index mapped would be the index size above.\n")
    cg = r.get("callgrind")
    if cg:
        L.append("### Instructions per request (valgrind callgrind, user space, %d-page index)\n" % cg["pages"])
        L.append("`bench/wikisearch_callgrind.py`: 1 worker under callgrind, counters zeroed after a warm-up, "
                 "then %d keep-alive requests one at a time; repeatable on a shared machine, kernel work "
                 "not included.\n" % cg["rows"][0]["requests"])
        base = r.get("callgrind_baseline")
        L.append("| endpoint | instructions/request | vs /plaintext |%s" % (
            " %s: instructions/request | vs /plaintext |" % base["label"] if base else ""))
        L.append("|---|---|---|%s" % ("---|---|" if base else ""))
        old = {x["name"]: x for x in base["rows"]} if base else {}
        for x in cg["rows"]:
            o = old.get(x["name"])
            L.append("| `/%s` | %.0f | %.2f× |%s" % (x["name"], x["ir_per_request"], x["vs_plaintext"],
                                                     " %.0f | %.2f× |" % (o["ir_per_request"], o["vs_plaintext"])
                                                     if o else ""))
        L.append("")
    # the goals, checked against this run
    goals = []
    pinned = {x["kind"]: x for x in r["load"] if x["pinned"]}
    if plain and "offsets" in pinned:
        offs = sorted(x["cpu_us_per_req"] for x in r["load"] if x["pinned"] and x["kind"] == "offsets")
        ratio = offs[len(offs) // 2] / plain["cpu_us_per_req"]
        goals.append("- `/offsets` (%.0f hits on average) CPU per request ≤ 2.5× `/plaintext` (medians of %d "
                     "alternated rows): %.2f× — %s"
                     % (r.get("mean_hits", 0), len(offs), ratio, "met" if ratio <= 2.5 else "NOT met"))
    rss = max([v["rss"] for v in r.get("mem_after_load", {}).values()] or [0])
    if rss:
        goals.append("- server RSS ≤ 3 GB: %.2f GB after the loads (upper bound: index %.2f GB + ~40 MB) — %s"
                     % (rss / 2**30, sum(b["files"].values()) / 2**30, "met" if rss <= 3 * 2**30 else "NOT met"))
    p99 = [(x["workers"], x["p99_us"]) for x in r["load"] if x["kind"] == "offsets"]
    if p99:
        goals.append("- `/offsets` p99 < 5 ms: %s — %s (on a loaded machine `/plaintext` itself had p99 %.2f ms)"
                     % (", ".join("%.2f ms with %d worker%s" % (p / 1000, w, "s" if w > 1 else "") for w, p in p99),
                        "met" if all(p < 5000 for _, p in p99) else "NOT met",
                        plain["p99_us"] / 1000 if plain else float("nan")))
    if goals:
        L.append("### Goals (issue 15)\n")
        L += goals
        L.append("")
    if not r["memory"]:
        return "\n".join(L) + "\n"
    L.append("### Memory: one server with N workers vs N single-worker servers\n")
    L.append("Each process measured after a 2 s mixed warm-up load. RSS counts shared pages (the "
             "memory-mapped offset arrays, shared libraries) in every process; PSS (from "
             "/proc/PID/smaps_rollup) divides them among the processes sharing them. The title index "
             "is memory-mapped too, so it is shared by processes as well as by workers.\n")
    L.append("| N | 1 process × N workers: RSS | PSS | N processes × 1 worker: ΣRSS | ΣPSS | saved (PSS) |")
    L.append("|---|---|---|---|---|---|")
    for x in r["memory"]:
        L.append("| %d | %s MB | %s MB | %s MB | %s MB | %s MB (%.1f×) |"
                 % (x["n"], fmt_mb(x["one_rss"]), fmt_mb(x["one_pss"]), fmt_mb(x["sep_rss"]),
                    fmt_mb(x["sep_pss"]), fmt_mb(x["sep_pss"] - x["one_pss"]), x["sep_pss"] / x["one_pss"]))
    L.append("")
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    main()
