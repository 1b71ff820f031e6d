"""Markdown rendering of bench/harness.py's results (RESULTS.md, RESULTS-scaling.md) and the
environment record of a run. Rendering is a pure function of the rows, memory figures and meta:
the same raw data gives the same bytes (see bench/rawdata.py, tests/test_bench_harness.py)."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import shutil
import statistics
import subprocess
from pathlib import Path
from typing import Optional

import rawdata  # bench/rawdata.py (on the path: harness.py and the tests put bench/ there)

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DISTURBED = 0.5          # other processes' CPU (cores) above which a row is flagged

def sh(cmd: list, stderr: bool = False) -> str:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        return ((p.stderr if stderr else p.stdout) or p.stdout or p.stderr).strip()
    except Exception as e:
        return f"n/a ({type(e).__name__})"


def py_version_of(python: str, module: str) -> str:
    code = (f"import {module} as m; print(getattr(m, '__version__', None) or "
            f"__import__('importlib.metadata').metadata.version('{module}'))")
    out = sh([python, "-c", code])
    return out.splitlines()[-1] if out and "Error" not in out else "not installed"


def pxcy_build(python: str) -> str:
    """How the measured pxcy was compiled: profile-guided (tools/pgo_build.py), plain,
    or instrumented (an unfinished pgo_build: the harness refuses to measure it)."""
    out = sh([python, "-c", "import pxcy.runtime as r; print(getattr(r, 'BUILD', 'plain'))"])
    return out.splitlines()[-1] if out and "Error" not in out else "unknown"


def machine_info(ctx: Ctx, command: str) -> dict:
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = sh(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    if not re.fullmatch(r"[0-9a-f]{4,40}", commit):
        commit = "none (no commits yet)"
    elif sh(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"]):
        commit += " (+ uncommitted changes)"
    return {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "kernel": platform.release(),
        "cpu": cpu,
        "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "loadavg_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "cython": py_version_of(ctx.pxcy_python, "Cython"),
        "pxcy": py_version_of(ctx.pxcy_python, "pxcy"),
        "pxcy_build": pxcy_build(ctx.pxcy_python),
        "nginx": sh(["nginx", "-v"], stderr=True).replace("nginx version: ", ""),
        "wrk": sh(["wrk", "-v"]).splitlines()[0] if shutil.which("wrk") else "not installed",
        "uvloop": py_version_of(ctx.python, "uvloop"),
        "httptools": py_version_of(ctx.python, "httptools"),
        "git_commit": commit,
        "command": command,
    }


def fmt_errors(errors: dict) -> str:
    bad = {k: v for k, v in errors.items() if v}
    if not bad:
        return "0"
    return f"**{sum(bad.values())}** (" + ", ".join(f"{k} {v}" for k, v in sorted(bad.items())) + ")"


def fmt_rate(v: float) -> str:
    return f"{v / 1000:.1f}k" if v >= 1000 else f"{v:.0f}"


def fmt_ms(us: float) -> str:
    return "n/a" if not us else f"{us / 1000:.2f}"


LOAD_UNIT = {"echo": "msg"}


def client_bound(r: Row, w: int) -> bool:
    """† : the load generator, not the server, was the bottleneck of this row."""
    return r.client_util > 0.9 * w and r.server_util < 0.9 * w


DAGGER = ("† = load generator limited: the load generator was the bottleneck (client ≥ 0.9 core per "
          "worker, server < 0.9), so req/s and latency say little about the server and **CPU s / 100k req** "
          "is the figure to compare.")


def table_md(rows: list, section: str) -> list:
    rows = [r for r in rows if r.section == section]
    if not rows:
        return []
    out = ["| load | server | req/s | p50 ms | p99 ms | CPU s / 100k req | server CPU util | other CPU | "
           "pxcy CPU ÷ this | pxcy req/s ÷ this | errors | note |",
           "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"]
    order: list = []
    for r in rows:
        if r.load not in order:
            order.append(r.load)
    for load in order:
        group = [r for r in rows if r.load == load]
        px = next((r for r in group if r.server == "pxcy" and r.status == "ok"), None)
        first = True
        for r in group:
            cell_load = f"**{load}**" if first else ""
            first = False
            if r.status != "ok":
                out.append(f"| {cell_load} | {r.server} | {r.status} | | | | | | | | "
                           f"{fmt_errors(r.errors) if r.errors else ''} | {md_escape(r.note)} |")
                continue
            flag = " †" if client_bound(r, 1) else ""
            spread = f" ±{r.cpu_spread * 100:.0f}%" if r.runs > 1 else ""
            cpu = f"{r.cpu_per_100k:.3f}{spread}" if r.cpu_per_100k else "n/a"
            if px and r.server != "pxcy":
                rc = (f"{px.cpu_per_100k / r.cpu_per_100k:.2f}"
                      if r.cpu_per_100k and px.cpu_per_100k else "—")
                rr = f"{px.rps / r.rps:.2f}" if r.rps else "—"
            else:
                rc = rr = "—"
            note = r.note + ("" if r.runs >= 3 else f"; median of {r.runs}")
            out.append(f"| {cell_load} | {r.server} | {fmt_rate(r.rps)}{flag} | {fmt_ms(r.p50_us)} | "
                       f"{fmt_ms(r.p99_us)} | {cpu} | {r.server_util:.2f} | {r.other_util:.2f} | {rc} | {rr} | "
                       f"{fmt_errors(r.errors)} | {md_escape(note.strip('; '))} |")
    return out


def scaling_md(rows: list) -> list:
    """One table: per load and server, one line per worker count, with scaling efficiency."""
    rows = [r for r in rows if r.section.startswith("scaling-w")]
    if not rows:
        return []
    w_of = lambda r: int(r.section[len("scaling-w"):])
    out = ["| load | server | workers | req/s | p50 ms | p99 ms | CPU s / 100k req | server CPU util | "
           "req/s ÷ (W × req/s at W=1) | errors | note |", "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|"]
    keys: list = []
    for r in rows:
        if (r.load, r.server) not in keys:
            keys.append((r.load, r.server))
    for load, server in keys:
        group = sorted((r for r in rows if r.load == load and r.server == server), key=w_of)
        base = next((r for r in group if w_of(r) == 1 and r.status == "ok"), None)
        for r in group:
            w = w_of(r)
            if r.status != "ok":
                out.append(f"| {load} | {server} | {w} | {r.status} | | | | | | "
                           f"{fmt_errors(r.errors) if r.errors else ''} | {md_escape(r.note)} |")
                continue
            eff = f"{r.rps / (w * base.rps):.2f}" if base and base.rps else "—"
            flag = " †" if client_bound(r, w) else ""
            out.append(f"| {load} | {server} | {w} | {fmt_rate(r.rps)}{flag} | {fmt_ms(r.p50_us)} | "
                       f"{fmt_ms(r.p99_us)} | {f'{r.cpu_per_100k:.3f}' if r.cpu_per_100k else 'n/a'} | "
                       f"{r.server_util:.2f} | {eff} | "
                       f"{fmt_errors(r.errors)} | {md_escape(r.note)} |")
    return out


def md_escape(s: str, n: int = 160) -> str:
    s = s.replace("|", "\\|").replace("\n", " ")
    return s if len(s) <= n else s[:n - 1] + "…"


def targets_md(rows: list, memory: list) -> list:
    """The issue's targets, checked against the pinned 1-worker table (and memory)."""
    def row(load, server):
        return next((r for r in rows if r.section == "pinned" and r.load == load and r.server == server
                     and r.status == "ok"), None)

    def cpu(load, server):
        r = row(load, server)
        return r.cpu_per_100k if r and r.cpu_per_100k > 0 else None

    def rps(load, server):
        r = row(load, server)
        return r.rps if r else None

    L = []

    def check(what, a, b, ok, fmt):
        if a is None or b is None:
            L.append(f"| {what} | not measured in this run | — |")
        else:
            L.append(f"| {what} | {fmt(a, b)} | {'yes' if ok(a, b) else '**no**'} |")

    def ratio(a, b):
        return f"pxcy {a:.3f} vs {b:.3f} s/100k ({a / b:.2f}×)"

    check("`/plaintext`: CPU per request ≤ nginx's", cpu("plaintext", "pxcy"), cpu("plaintext", "nginx"),
          lambda a, b: a <= b, ratio)
    check("`/plaintext`: within 10% of the epoll reference", cpu("plaintext", "pxcy"), cpu("plaintext", "epoll-ref"),
          lambda a, b: a <= 1.10 * b, ratio)
    pl = next((r.load for r in rows if r.load.startswith("pipeline")), "pipeline16")
    check(f"{pl}: ≥ 5× nginx's req/s", rps(pl, "pxcy"), rps(pl, "nginx"), lambda a, b: a >= 5 * b,
          lambda a, b: f"{a / 1e3:,.1f}k vs {b / 1e3:,.1f}k req/s ({a / b:.1f}×)")
    check(f"{pl}: ≥ 60% of the epoll reference's req/s", rps(pl, "pxcy"), rps(pl, "epoll-ref"), lambda a, b: a >= 0.6 * b,
          lambda a, b: f"{a / 1e3:,.1f}k vs {b / 1e3:,.1f}k req/s ({100 * a / b:.0f}%)")
    for load in ("range16k", "range256k"):
        check(f"{load}: CPU per request ≤ nginx's", cpu(load, "pxcy"), cpu(load, "nginx"),
              lambda a, b: a <= b, ratio)
    check("`/json` within 10% of `/plaintext` (pxcy)", cpu("json", "pxcy"), cpu("plaintext", "pxcy"),
          lambda a, b: a <= 1.10 * b, lambda a, b: f"{a:.3f} vs {b:.3f} s/100k")
    check("echo: CPU per message ≤ uvloop's", cpu("echo", "pxcy"), cpu("echo", "uvloop"),
          lambda a, b: a <= b, ratio)
    idle = {m["server"]: m for m in memory if m.get("test") == "idle_conns" and m.get("status") in ("ok", "partial")}
    a, b = (idle.get("pxcy") or {}).get("bytes_per_conn"), (idle.get("nginx") or {}).get("bytes_per_conn")
    check("idle keep-alive connection memory ≤ nginx's", a, b, lambda a, b: a <= b,
          lambda a, b: f"{a:.0f} vs {b:.0f} B per connection")
    grow = next((m for m in memory if m.get("server") == "pxcy" and m.get("test") != "idle_conns"
                 and m.get("status") in ("ok", "partial")), None)
    if grow:
        check("no RSS growth over the requests", grow["delta"], grow["requests"], lambda d, n: d <= 0,
              lambda d, n: f"{d / 2**10:+.0f} KiB over {n:,} requests")
    if not L:
        return []
    return ["| target | measured (1 worker, pinned) | met |", "|---|---|---|"] + L


def write_report(path: Path, meta: dict, h: Harness, titles: dict, params: dict,
                 raw_dir: str = "", appended_from: Optional[Path] = None) -> None:
    """Render the Markdown from rows + memory + meta alone (no clock, no machine state):
    the same raw data gives the same file byte for byte."""
    failed_runs = sum(r.failed_runs for r in h.rows)
    px_rows = [r for r in h.rows if r.server == "pxcy"]
    px_missing = (not px_rows and any(c.name == "pxcy" for c in h.contenders)) or \
        any(r.status != "ok" for r in px_rows)
    L = ["# pxcy benchmark results", ""]
    if px_missing:
        reason = next((r.note for r in px_rows if r.status != "ok"), "pxcy not run")
        L += ["> **PRELIMINARY — not a pxcy result.** pxcy servers were unavailable or failed in this run "
              f"(first reason: `{md_escape(reason)[:200]}`). The peer rows only show the harness works; "
              "regenerate this file with `bench/run.sh` once pxcy's servers exist.", ""]
    if params.get("quick"):
        L += ["> `--quick` run: short durations, numbers are indicative only.", ""]
    others = [r.other_util for r in h.rows if r.status == "ok"]
    if others and statistics.median(others) >= 0.3:
        L += [f"> **Busy machine**: other work used a median {statistics.median(others):.2f} cores during the "
              f"measured runs (column *other CPU*); req/s and latency are disturbed, CPU per request less so. "
              f"Rows with ≥ {DISTURBED} are marked ⚠. Rerun on an idle machine for figures to quote.", ""]
    raw = (f"Raw data of this run: `{raw_dir}/` (regenerate this file: `bench/run.sh --report-from {raw_dir}`)."
           if raw_dir.startswith("bench/results/") else
           f"Raw data of this run: `{raw_dir}/` — not committed (a `--quick`/`--only`/`--runs`/`--duration`/"
           "`--results` run; full runs keep theirs under `bench/results/`)." if raw_dir else "Raw data of this run: not kept (a `--quick`/`--only`/`--results` run; full runs keep "
           "theirs under `bench/results/`).")
    L += ["Generated by `bench/harness.py` — do not edit by hand; methodology in `docs/benchmarks.md`. " + raw, "",
          "| | |", "|---|---|"]
    for k in ("date", "command", "git_commit", "nproc", "cpu", "mem_gib", "kernel", "loadavg_at_start",
              "python", "cython", "pxcy", "pxcy_build", "nginx", "wrk", "uvloop", "httptools"):
        v = meta.get(k)
        if v is None and k == "pxcy_build":
            continue                  # (raw data from before it was recorded)
        if k == "loadavg_at_start":
            v = " / ".join(f"{x:.2f}" for x in v)
        L.append(f"| {k} | `{v}` |")
    L += ["", f"Parameters: {params['runs']} interleaved runs per figure, {params['duration']} s each"
          + ("" if params.get("scaling") else f" (workers2: {params['duration2']} s)")
          + f", {params['warmup']} s warm-up per server and load; "
          + ("wrk `-tW -c(64×W)` (pipelined: `-c(256×W)`)." if params.get("scaling") else
             "wrk `-t1 -c64` (pipelined: `-c256`), echo client 64 connections."), "",
          "Columns: req/s and latency are medians over runs (wrk's percentiles; pipelined latency is per "
          "batch of requests and wrk's p99 for it is unreliable, hence n/a); **CPU s / 100k req** is "
          "server utime+stime (whole process tree) per 100,000 completed requests (echo: messages), "
          "median, ± half the min–max spread; **server CPU util** is server CPU seconds per wall second "
          "(1.00 = one core busy); **other CPU** is the rest of the machine's busy time during the run, in cores "
          "(other processes, and irq/softirq time charged to no process) — well above 0.1 means the run was "
          "disturbed; **pxcy ÷ this** compares pxcy's median with that row's (CPU: < 1 means "
          "pxcy spends less; req/s: > 1 means pxcy is faster); **errors** are wrk's connect, read, write, "
          "timeout and status (HTTP status > 399) counts (echo client: I/O errors) summed over the measured "
          "runs — a run with any error is failed and left out of the medians.", "", DAGGER, ""]
    if failed_runs:
        L[2:2] = [f"> **{failed_runs} measured run(s) failed** (errors or no requests): see the *errors* "
                  "column and notes; those runs are not in the medians.", ""]
    if any(r.section.startswith("scaling-w") for r in h.rows):
        L += ["## Scaling", "", titles.get("scaling", ""), ""] + scaling_md(h.rows) + [""]
    for section, title in titles.items():
        md = table_md(h.rows, section) if not section.startswith("scaling") else []
        if md:
            L += [f"## {title}", ""] + md + [""]
    if h.memory:
        L += ["## Memory", "",
              "Idle keep-alive connections: server RSS (VmRSS summed over its processes) before and after "
              "opening the connections and sending one request on each; per-connection figure = delta / "
              "connections. Kernel socket buffers are not in RSS.", "",
              "| server | test | before MiB | after MiB | figure | note |", "|---|---|--:|--:|--:|---|"]
        for m in h.memory:
            if m.get("status") not in ("ok", "partial"):
                L.append(f"| {m['server']} | {m['test']} | | | {m.get('status')} | {md_escape(m.get('note', ''))} |")
            elif m["test"] == "idle_conns":
                L.append(f"| {m['server']} | {m['ok']} idle keep-alive conns | {m['rss_before'] / 2**20:.1f} | "
                         f"{m['rss_after'] / 2**20:.1f} | {m['bytes_per_conn']:.0f} B/conn | {m.get('note', '')} |")
            else:
                L.append(f"| {m['server']} | {m['requests']:,} requests (/plaintext, 64 conns) | "
                         f"{m['rss_before'] / 2**20:.1f} | {m['rss_after'] / 2**20:.1f} | "
                         f"{m['delta'] / 2**10:+.0f} KiB | RSS samples: "
                         + ", ".join(f"{s[1] / 2**20:.1f}" for s in m["samples"][:12]) + " MiB |")
        L.append("")
    targets = [] if params.get("scaling") else targets_md(h.rows, h.memory)
    if targets:
        L += ["## Targets (issue #6)", "",
              "Checked against the pinned 1-worker table and the memory figures above; a target "
              "within the run-to-run spread (± column) is met within noise. Where pxcy's CPU per request "
              "goes: docs/benchmarks.md (Profile). Multi-core scaling: bench/RESULTS-scaling.md.", ""] + targets + [""]
    for name, script in rawdata.APPENDED if appended_from is not None and not params.get("scaling") else ():
        if (appended_from / name).exists():
            L += ["", f"<!-- appended from bench/{name} (written by {script}) -->", "",
                  (appended_from / name).read_text().strip(), ""]
    path.write_text("\n".join(L))
