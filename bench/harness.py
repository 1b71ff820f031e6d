#!/usr/bin/env python3
"""pxcy benchmark harness: pxcy against peers, in the same run, on the same machine.

Invoked by bench/run.sh (which installs wrk/nginx/uvloop/httptools and compiles
the C helpers first). See docs/benchmarks.md for the methodology.

Sections
  pinned    1 worker; server pinned to core 0, load generator pinned to core 1
  workers2  2 workers (pxcy --workers 2, nginx worker_processes 2, ...), unpinned
  memory    RSS per idle keep-alive connection at 10k connections; RSS drift
            over 1M requests (--quick: 200k)
  wikisearch optional: only with --wiki-index DIR and a `wikisearch` command
  scaling   only with --scaling: 1,2,4,8,16 workers, server on cores [0,W),
            wrk on [W,2W)

Every figure is the median of >= 3 interleaved runs (A, B, C, A, B, C, ...).
Server CPU is utime+stime from /proc/PID/stat summed over the server's process
tree (all threads of all its processes), read before and after each run.
"""
from __future__ import annotations

import argparse
import dataclasses
import html
import http.client
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
BIN = BENCH / "out" / "bin"
WRK_DIR = BENCH / "wrk"
PEERS = BENCH / "peers"
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
FILE_NAME = "data.bin"
FILE_SIZE = 64 * 1024 * 1024
FILE_SEED = 20240601
PLAIN = b"Hello, World!"
MIN_CPU_S = 0.2          # below 20 ticks of 1/100 s a run's CPU figure is mostly rounding
RESULTS_DIR = BENCH / "results"    # committed raw data of full runs
README = REPO / "README.md"

if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))
import rawdata  # noqa: E402  (bench/rawdata.py)
from results_md import DAGGER, DISTURBED, client_bound, machine_info, pxcy_build, table_md, write_report  # noqa: E402,F401


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Data model
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Load:
    """One kind of traffic. `role` says which server command must serve it."""
    name: str
    title: str
    role: str                      # "http" | "static" | "echo" | "wiki"
    client: str = "wrk"            # "wrk" | "echo"
    path: str = "/plaintext"
    script: str = "report.lua"
    script_args: tuple = ()
    connections: int = 64
    check: str = "plaintext"       # see Checker.check


@dataclass
class Ctx:
    """Everything a command builder may need."""
    args: argparse.Namespace
    tmp: Path                      # temp dir (nginx prefixes, data file, logs)
    docroot: Path                  # document root; the 64 MiB file is docroot/file/data.bin
    out_dir: Path                  # bench/out/<stamp>
    python: str                    # interpreter for peers
    pxcy_python: str               # interpreter for pxcy
    data: bytes = b""              # content of the 64 MiB file (for checks)
    wiki_paths: dict = field(default_factory=dict)


# argv builder: (ctx, port, workers) -> argv
ArgvFn = Callable[[Ctx, int, int], list]


@dataclass
class ServerCmd:
    """How one contender serves one or more roles with one process (tree)."""
    argv: ArgvFn
    env: Callable[[Ctx], dict] = lambda ctx: {}
    strict_check: bool = True      # False: canned responses (the C reference responders)
    notes: dict = field(default_factory=dict)   # role -> note shown in that role's rows
    start_timeout: float = 20.0


@dataclass
class Contender:
    name: str
    label: str
    roles: dict                    # role -> ServerCmd (roles sharing a ServerCmd share a process)
    is_pxcy: bool = False


@dataclass
class RunResult:
    section: str
    load: str
    server: str
    rep: int
    workers: int
    ok: bool
    error: str = ""
    requests: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50_us: float = 0.0
    p99_us: float = 0.0
    cpu_s: float = 0.0
    cpu_per_100k: float = 0.0
    server_util: float = 0.0       # server CPU seconds / wall seconds
    client_util: float = 0.0       # load generator CPU seconds / wall seconds
    other_util: float = 0.0        # rest of the machine's busy CPU / wall: other processes, unattributed irq time
    errors: dict = field(default_factory=dict)


@dataclass
class Row:
    """Median figures of one (section, load, server)."""
    section: str
    load: str
    server: str
    status: str                    # "ok" | "unavailable" | "failed" | "skipped" | ...
    note: str = ""
    runs: int = 0
    rps: float = 0.0
    p50_us: float = 0.0
    p99_us: float = 0.0
    cpu_per_100k: float = 0.0
    cpu_spread: float = 0.0        # (max-min)/2/median of cpu_per_100k, relative
    server_util: float = 0.0
    client_util: float = 0.0
    other_util: float = 0.0
    errors: dict = field(default_factory=dict)    # kind -> count, summed over all measured runs
    failed_runs: int = 0
    extra: dict = field(default_factory=dict)


# --------------------------------------------------------------------------
# /proc helpers
# --------------------------------------------------------------------------

def _stat_fields(pid: int) -> Optional[list]:
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    return s[s.rindex(")") + 2:].split()   # fields from "state" (field 3) on


def process_tree(root: int) -> list:
    """root plus all its descendants (e.g. nginx master + workers, forked peers)."""
    children: dict = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            f = _stat_fields(int(d))
            if f:
                children.setdefault(int(f[1]), []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


def tree_cpu_seconds(root: int) -> float:
    """utime+stime (all threads) summed over the process tree, in seconds."""
    ticks = 0
    for pid in process_tree(root):
        f = _stat_fields(pid)
        if f:
            ticks += int(f[11]) + int(f[12])   # fields 14, 15: utime, stime
    return ticks / CLK_TCK


def tree_rss_bytes(root: int) -> int:
    total = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle since boot (/proc/stat, first line)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)           # idle + iowait
    return (sum(v[:8]) - idle) / CLK_TCK                 # user..steal; guest is inside user


def secs(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# --------------------------------------------------------------------------
# Process management: everything started is tracked and stopped by PID
# --------------------------------------------------------------------------

class Procs:
    live: dict = {}                # pid -> Popen

    @classmethod
    def spawn(cls, argv, **kw) -> subprocess.Popen:
        p = subprocess.Popen(argv, start_new_session=True, **kw)
        cls.live[p.pid] = p
        return p

    @classmethod
    def stop(cls, p: subprocess.Popen, timeout: float = 5.0) -> None:
        """SIGTERM the process group we created for p (its pgid == its pid), then SIGKILL."""
        if p.poll() is None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    p.wait(timeout)
                    break
                except subprocess.TimeoutExpired:
                    continue
        else:
            try:   # leader gone; reap leftovers of its group (forked workers)
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        cls.live.pop(p.pid, None)

    @classmethod
    def stop_all(cls) -> None:
        for p in list(cls.live.values()):
            cls.stop(p, timeout=3.0)


class Server:
    """A running (contender, ServerCmd) instance."""

    def __init__(self, ctx: Ctx, contender: Contender, cmd: ServerCmd, workers: int,
                 cpus: Optional[str], tag: str):
        self.ctx, self.contender, self.cmd = ctx, contender, cmd
        self.workers, self.cpus, self.tag = workers, cpus, tag
        self.port = free_port()
        self.proc: Optional[subprocess.Popen] = None
        self.error = ""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def start(self) -> bool:
        try:
            argv = self.cmd.argv(self.ctx, self.port, self.workers)
        except Exception as e:          # builder says: not available
            self.error = f"unavailable: {e}"
            return False
        if self.cpus is not None:
            argv = ["taskset", "-c", self.cpus] + argv
        env = dict(os.environ)
        env.update(self.cmd.env(self.ctx))
        logbase = self.ctx.out_dir / f"server-{self.tag}-{self.contender.name}-{self.port}"
        self.stdout_path = logbase.with_suffix(".out")
        self.stderr_path = logbase.with_suffix(".err")
        try:
            self.proc = Procs.spawn(argv, cwd=str(REPO), env=env, stdin=subprocess.DEVNULL,
                                    stdout=open(self.stdout_path, "wb"),
                                    stderr=open(self.stderr_path, "wb"))
        except OSError as e:
            self.error = f"unavailable: {e}"
            return False
        deadline = time.monotonic() + self.cmd.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.error = f"unavailable: exited with {self.proc.returncode}: {self.stderr_tail()}"
                Procs.stop(self.proc)
                return False
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.05)
        self.error = f"unavailable: port {self.port} not accepting after {self.cmd.start_timeout:.0f}s: {self.stderr_tail()}"
        self.stop()
        return False

    def stderr_tail(self, n: int = 300) -> str:
        try:
            t = self.stderr_path.read_text(errors="replace").strip()
        except OSError:
            return ""
        t = " ".join(t.splitlines()[-3:])
        return t[-n:] if t else "(no stderr)"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None:
            Procs.stop(self.proc)


# --------------------------------------------------------------------------
# Contenders
# --------------------------------------------------------------------------

def need(binary: str) -> str:
    path = shutil.which(binary) or (str(BIN / binary) if (BIN / binary).exists() else None)
    if not path:
        raise RuntimeError(f"{binary} not found")
    return path


def pxcy_env(ctx: Ctx) -> dict:
    """Use the in-tree package when it has been built in place (has .so files)."""
    env = {}
    if any((REPO / "pxcy").rglob("*.so")):
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return env


def pxcy_run(target: str) -> ArgvFn:
    return lambda ctx, port, w: [ctx.pxcy_python, "-m", "pxcy", "run", target,
                                 "--host", HOST, "--port", str(port), "--workers", str(w)]


def pxcy_static(ctx: Ctx, port: int, w: int) -> list:
    return [ctx.pxcy_python, "-m", "pxcy", "static", str(ctx.docroot),
            "--host", HOST, "--port", str(port), "--workers", str(w)]


def wikisearch_argv(ctx: Ctx, port: int, w: int) -> list:
    if not ctx.args.wiki_index:
        raise RuntimeError("no --wiki-index given")
    return [need("wikisearch"), "serve", "--index", ctx.args.wiki_index,
            "--port", str(port), "--workers", str(w)]


def ref_argv(binary: str, echo: bool) -> ArgvFn:
    """bench/ref_epoll.c or bench/ref_uring.c (compiled by run.sh into bench/out/bin)."""
    return lambda ctx, port, w: [need(binary), str(port), "--workers", str(w)] + (["--echo"] if echo else [])


H2O_CONF = """\
{user}num-threads: {workers}
error-log: {dir}/error.log
hosts:
  "{host}:{port}":
    listen:
      host: {host}
      port: {port}
    paths:
      /:
        file.dir: {root}
"""


def h2o_argv(ctx: Ctx, port: int, w: int) -> list:
    """Debian's h2o serving the docroot as static files (/plaintext, /json and /file/ are files).
    As root it needs `user: root`; no pid-file (h2o's default is none)."""
    exe = need("h2o")
    d = ctx.tmp / f"h2o-{port}"
    d.mkdir(parents=True, exist_ok=True)
    user = "user: root\n" if os.geteuid() == 0 else ""
    conf = d / "h2o.conf"
    conf.write_text(H2O_CONF.format(user=user, workers=w, dir=d, host=HOST, port=port, root=ctx.docroot))
    return [exe, "-m", "master", "-c", str(conf)]


def peer_http(loop: str) -> ArgvFn:
    def argv(ctx, port, w):
        if loop == "uvloop":
            __import__("uvloop")
        __import__("httptools")
        return [ctx.python, str(PEERS / "asyncio_httptools.py"), "--loop", loop, "--port", str(port),
                "--root", str(ctx.docroot / "file"), "--workers", str(w)]
    return argv


def peer_echo(loop: str) -> ArgvFn:
    def argv(ctx, port, w):
        if loop == "uvloop":
            __import__("uvloop")
        return [ctx.python, str(PEERS / "asyncio_echo.py"), "--loop", loop, "--port", str(port),
                "--workers", str(w)]
    return argv


NGINX_CONF = """\
daemon off;
master_process on;
worker_processes {workers};
{user}pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
worker_rlimit_nofile 40000;
events {{
    worker_connections 20000;
    use epoll;
}}
http {{
    access_log off;
    server_tokens on;
    keepalive_requests 100000000;
    keepalive_timeout 600s;
    client_body_temp_path {dir}/client_temp;
    proxy_temp_path {dir}/proxy_temp;
    fastcgi_temp_path {dir}/fastcgi_temp;
    uwsgi_temp_path {dir}/uwsgi_temp;
    scgi_temp_path {dir}/scgi_temp;
    server {{
        listen {host}:{port} backlog=4096;
        location = /plaintext {{
            default_type text/plain;
            return 200 "Hello, World!";
        }}
        location = /json {{
            default_type application/json;
            return 200 '{{"message":"Hello, World!"}}';
        }}
        location /file/ {{
            root {root};
            default_type application/octet-stream;
            sendfile on;
            tcp_nopush on;
        }}
    }}
}}
"""


def nginx_argv(ctx: Ctx, port: int, w: int) -> list:
    exe = need("nginx")
    d = ctx.tmp / f"nginx-{port}"
    d.mkdir(parents=True, exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = d / "nginx.conf"
    conf.write_text(NGINX_CONF.format(workers=w, dir=d, host=HOST, port=port, root=ctx.docroot, user=user))
    return [exe, "-p", str(d), "-c", str(conf), "-e", str(d / "error.log")]


def contenders() -> list:
    hello = ServerCmd(pxcy_run("pxcy.protocols.http11:HelloWorld"), env=pxcy_env)
    static = ServerCmd(pxcy_static, env=pxcy_env)
    echo = ServerCmd(pxcy_run("pxcy.protocols.echo:Echo"), env=pxcy_env)
    wiki = ServerCmd(wikisearch_argv, env=pxcy_env, start_timeout=60.0)
    nginx = ServerCmd(nginx_argv, notes={"static": "sendfile on; tcp_nopush on"})
    h2o = ServerCmd(h2o_argv, notes={"http": "static file", "static": "file.dir"})
    asy = ServerCmd(peer_http("asyncio"), notes={"static": "pread + write"})
    uvl = ServerCmd(peer_http("uvloop"), notes={"static": "pread + write (uvloop has no loop.sendfile)"})
    return [
        Contender("pxcy", "pxcy", {"http": hello, "static": static, "echo": echo, "wiki": wiki}, is_pxcy=True),
        Contender("epoll-ref", "C epoll reference responder", {
            "http": ServerCmd(ref_argv("ref_epoll", False), strict_check=False,
                              notes={"http": "canned response, parses nothing"}),
            "echo": ServerCmd(ref_argv("ref_epoll", True))}),
        Contender("uring-ref", "C io_uring reference responder", {
            "http": ServerCmd(ref_argv("ref_uring", False), strict_check=False,
                              notes={"http": "canned response, parses nothing"}),
            "echo": ServerCmd(ref_argv("ref_uring", True))}),
        Contender("nginx", "nginx", {"http": nginx, "static": nginx}),
        Contender("h2o", "h2o", {"http": h2o, "static": h2o}),
        Contender("asyncio", "asyncio+httptools", {"http": asy, "static": asy}),
        Contender("uvloop", "uvloop+httptools", {"http": uvl, "static": uvl,
                                                 "echo": ServerCmd(peer_echo("uvloop"))}),
    ]


def loads(depth: int) -> list:
    return [
        Load("plaintext", "GET /plaintext", "http"),
        Load(f"pipeline{depth}", f"GET /plaintext, pipelined {depth} deep", "http",
             script="pipeline.lua", script_args=(str(depth),), connections=256, check="pipeline"),
        Load("json", "GET /json", "http", path="/json", check="json"),
        Load("range16k", "random 16 KiB ranges of a 64 MiB file", "static", path=f"/file/{FILE_NAME}",
             script="ranges.lua", script_args=("16k", str(FILE_SIZE)), check="range:16384"),
        Load("range256k", "random 256 KiB ranges of a 64 MiB file", "static", path=f"/file/{FILE_NAME}",
             script="ranges.lua", script_args=("256k", str(FILE_SIZE)), check="range:262144"),
        Load("echo", "echo, 64-byte messages, 64 connections", "echo", client="echo", check="echo"),
    ]


def wiki_loads() -> list:
    return [
        Load("wiki_offsets", "GET /offsets/<first 3 chars of a title>?limit=20", "wiki", script="paths.lua",
             script_args=("@offsets",), check="status200"),
        Load("wiki_page", "GET /wiki/<title>", "wiki", script="paths.lua",
             script_args=("@titles",), check="status200"),
    ]


# --------------------------------------------------------------------------
# Correctness checks (run once per server and load, before measuring)
# --------------------------------------------------------------------------

class Checker:
    def __init__(self, ctx: Ctx):
        self.ctx = ctx

    def check(self, srv: Server, load: Load) -> str:
        """'' if fine, else what is wrong."""
        strict = srv.cmd.strict_check
        try:
            if load.check == "echo":
                return self._echo(srv.port)
            if load.check == "pipeline":
                return self._pipeline(srv.port, int(load.script_args[0]))
            if load.check.startswith("range:"):
                n = int(load.check.split(":")[1])
                a = 1234567
                st, hdrs, body = self._get(srv.port, load.path, {"Range": f"bytes={a}-{a + n - 1}"})
                if st != 206:
                    return f"range request answered {st}, want 206"
                if body != self.ctx.data[a:a + n]:
                    return f"range body mismatch ({len(body)} bytes)"
                return ""
            path = load.path
            if load.check == "status200" and load.script_args and load.script_args[0].startswith("@"):
                path = self.ctx.wiki_paths[load.script_args[0][1:]][0]
            st, hdrs, body = self._get(srv.port, path)
            if st != 200:
                return f"GET {path} answered {st}"
            if not strict or load.check == "status200":
                return ""
            if load.check == "plaintext" and body != PLAIN:
                return f"body {body[:40]!r}"
            if load.check == "json" and json.loads(body) != {"message": "Hello, World!"}:
                return f"body {body[:60]!r}"
            missing = [h for h in ("server", "date") if h not in hdrs]
            if missing:
                return f"missing headers {missing}"
            return ""
        except Exception as e:
            return f"check failed: {type(e).__name__}: {e}"

    @staticmethod
    def _get(port, path, headers=None):
        c = http.client.HTTPConnection(HOST, port, timeout=10)
        try:
            c.request("GET", path, headers=headers or {})
            r = c.getresponse()
            body = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, body
        finally:
            c.close()

    @staticmethod
    def _pipeline(port, depth):
        req = f"GET /plaintext HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode() * depth
        with socket.create_connection((HOST, port), timeout=5) as s:
            s.sendall(req)
            buf = b""
            deadline = time.monotonic() + 5
            while buf.count(b"HTTP/1.1 200") < depth and time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        n = buf.count(b"HTTP/1.1 200")
        return "" if n == depth else f"{n} of {depth} pipelined responses"

    @staticmethod
    def _echo(port):
        msg = bytes(range(64))
        with socket.create_connection((HOST, port), timeout=5) as s:
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        return "" if got == msg else f"echo returned {got[:20]!r}"


# --------------------------------------------------------------------------
# Load generation
# --------------------------------------------------------------------------

@dataclass
class ClientSpec:
    cpus: Optional[str]            # taskset list for the load generator, None = unpinned
    threads: int = 1
    conn_scale: int = 1            # multiply a load's connections (scaling mode)


class Runner:
    def __init__(self, ctx: Ctx, runs_file):
        self.ctx = ctx
        self.runs_file = runs_file

    def client_argv(self, load: Load, port: int, duration: float, cs: ClientSpec) -> list:
        conns = load.connections * cs.conn_scale
        if load.client == "echo":
            argv = [need("echo_client"), HOST, str(port), str(conns), str(duration), "64"]
        else:
            args = list(load.script_args)
            if args and args[0].startswith("@"):      # paths.lua: path list file
                args[0] = str(self.ctx.tmp / f"paths-{args[0][1:]}.txt")
            argv = [need("wrk"), f"-t{cs.threads}", f"-c{max(conns, cs.threads)}", f"-d{secs(duration)}s",
                    "--timeout", "5s", "-s", str(WRK_DIR / load.script),
                    f"http://{HOST}:{port}{load.path}"]
            if args:
                argv += ["--"] + args
        if cs.cpus is not None:
            argv = ["taskset", "-c", cs.cpus] + argv
        return argv

    def run_once(self, section: str, srv: Server, load: Load, duration: float, cs: ClientSpec,
                 rep: int, record: bool = True) -> RunResult:
        res = RunResult(section, load.name, srv.contender.name, rep, srv.workers, ok=False)
        if not srv.alive():
            res.error = f"server not running (exit {srv.proc.returncode if srv.proc else '?'})"
            return self._record(res, record)
        try:
            argv = self.client_argv(load, srv.port, duration, cs)
        except RuntimeError as e:               # e.g. wrk not installed
            res.error = f"load generator unavailable: {e}"
            return self._record(res, record)
        cpu0, ccpu0, t0 = tree_cpu_seconds(srv.pid), children_cpu(), time.monotonic()
        busy0 = machine_busy_seconds()
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30)
        except subprocess.TimeoutExpired:
            res.error = "load generator timed out"
            return self._record(res, record)
        wall = time.monotonic() - t0
        cpu1, ccpu1, busy1 = tree_cpu_seconds(srv.pid), children_cpu(), machine_busy_seconds()
        tag = "ECHO_JSON " if load.client == "echo" else "WRK_JSON "
        line = next((l for l in p.stdout.splitlines() if l.startswith(tag)), None)
        if line is None:
            res.error = f"no {tag.strip()} line (rc {p.returncode}): {p.stderr.strip()[-200:]}"
            return self._record(res, record)
        d = json.loads(line[len(tag):])
        if load.client == "echo":
            res.requests, res.seconds = d["messages"], d["seconds"]
            res.rps, res.errors = d["msgs_per_sec"], {"io": d["errors"]}
        else:
            res.requests, res.seconds = d["requests"], d["duration_us"] / 1e6
            res.rps, res.errors = d["rps"], d["errors"]
        res.p50_us, res.p99_us = d["p50_us"], d["p99_us"]
        res.cpu_s = cpu1 - cpu0
        res.cpu_per_100k = res.cpu_s / res.requests * 1e5 if res.requests else 0.0
        res.server_util = res.cpu_s / wall
        res.client_util = (ccpu1 - ccpu0) / wall
        res.other_util = max(0.0, (busy1 - busy0) - res.cpu_s - (ccpu1 - ccpu0)) / wall
        judge(res)
        return self._record(res, record)

    def _record(self, res: RunResult, record: bool) -> RunResult:
        if record:
            self.runs_file.write(json.dumps(dataclasses.asdict(res)) + "\n")
            self.runs_file.flush()
            if res.ok:
                log(f"  {res.section:9} {res.load:11} {res.server:8} #{res.rep}: {res.rps:10.0f}/s "
                    f"p50 {res.p50_us / 1000:.2f}ms p99 {res.p99_us / 1000:.2f}ms "
                    f"cpu {res.cpu_per_100k:.3f}s/100k util srv/cli/other {res.server_util:.2f}/{res.client_util:.2f}/{res.other_util:.2f}"
                    + (f" [{res.error}]" if res.error else ""))
            else:
                log(f"  {res.section:9} {res.load:11} {res.server:8} #{res.rep}: FAILED {res.error}")
        return res


def judge(res: RunResult) -> RunResult:
    """A run is ok only with requests done and no error of any kind: wrk's connect, read,
    write, timeout and status (HTTP status > 399) counts, the echo client's I/O errors."""
    bad = {k: v for k, v in res.errors.items() if v}
    if res.requests == 0:
        res.error = res.error or "no requests completed"
    elif bad:
        res.error = "errors " + ", ".join(f"{k} {v}" for k, v in sorted(bad.items()))
    res.ok = res.requests > 0 and not bad
    return res


def error_totals(results: list) -> dict:
    tot: dict = {}
    for r in results:
        for k, v in r.errors.items():
            tot[k] = tot.get(k, 0) + int(v)
    return tot


def summarize(section: str, load: str, server: str, results: list, note: str = "") -> Row:
    results = [judge(r) for r in results]
    good = [r for r in results if r.ok]
    errors, failed = error_totals(results), len(results) - len(good)
    if not good:
        err = next((r.error for r in results if r.error), "no successful run")
        return Row(section, load, server, "failed", note=err, runs=0, errors=errors, failed_runs=failed)
    med = statistics.median
    cpus = [r.cpu_per_100k for r in good]
    m = med(cpus)
    row = Row(section, load, server, "ok", note=note, runs=len(good),
              rps=med(r.rps for r in good), p50_us=med(r.p50_us for r in good),
              p99_us=med(r.p99_us for r in good), cpu_per_100k=m,
              cpu_spread=(max(cpus) - min(cpus)) / 2 / m if m else 0.0,
              server_util=med(r.server_util for r in good), client_util=med(r.client_util for r in good),
              other_util=med(r.other_util for r in good), errors=errors, failed_runs=failed)
    notes = [row.note] if row.note else []
    if len(good) < len(results):
        notes.append(f"{len(results) - len(good)} run(s) failed")
    if med(r.cpu_s for r in good) < MIN_CPU_S:
        row.cpu_per_100k = 0.0              # rendered n/a: too few clock ticks to mean anything
        notes.append(f"too little server CPU for a CPU figure (< {MIN_CPU_S} s per run)")
    if row.other_util >= DISTURBED:
        notes.append("⚠ disturbed")
    row.note = "; ".join(notes)
    return row


# --------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------

@dataclass
class TableSpec:
    section: str
    title: str
    workers: int
    server_cpus: Optional[str]
    client: ClientSpec
    loads: list
    duration: float
    runs: int
    warmup: float
    note: str = ""                 # appended to every row of the table


class Harness:
    def __init__(self, ctx: Ctx, only: set):
        self.ctx = ctx
        self.only = only
        self.all_contenders = contenders()
        names = {c.name for c in self.all_contenders}
        sel = only & names
        self.contenders = [c for c in self.all_contenders if not sel or c.name in sel]
        self.rows: list = []
        self.memory: list = []
        self.scaling: list = []
        self.runs_file = open(ctx.out_dir / "runs.jsonl", "w")
        self.runner = Runner(ctx, self.runs_file)
        self.checker = Checker(ctx)

    def wants_load(self, load: Load) -> bool:
        load_names = {"plaintext", "json", "range16k", "range256k", "echo",
                      "wiki_offsets", "wiki_page"} | {n for n in self.only if n.startswith("pipeline")}
        sel = self.only & load_names
        return not sel or load.name in sel

    def wants_section(self, section: str) -> bool:
        sections = {"pinned", "workers2", "memory", "wikisearch", "scaling"}
        sel = self.only & sections
        return not sel or section in sel

    # ---- generic interleaved table ---------------------------------------
    def run_table(self, t: TableSpec) -> None:
        log(f"== {t.section}: {t.title}")
        load_list = [l for l in t.loads if self.wants_load(l)]
        roles = {l.role for l in load_list}
        # one server per (contender, ServerCmd): roles sharing a ServerCmd share the process
        servers: dict = {}          # (contender name, role) -> Server | str (error)
        started: dict = {}          # id(cmd) of contender -> Server | str
        try:
            for c in self.contenders:
                for role in sorted(roles & set(c.roles)):
                    cmd = c.roles[role]
                    key = (c.name, id(cmd))
                    if key not in started:
                        srv = Server(self.ctx, c, cmd, t.workers, t.server_cpus, t.section)
                        ok = srv.start()
                        log(f"   start {c.name:8} {role:6} port {srv.port}: " + ("up" if ok else srv.error))
                        started[key] = srv if ok else srv.error
                    servers[(c.name, role)] = started[key]
            for load in load_list:
                log(f"-- {t.section} / {load.name}: {load.title}")
                active = []
                for c in self.contenders:
                    if load.role not in c.roles:
                        continue
                    s = servers[(c.name, load.role)]
                    if isinstance(s, str):
                        self.rows.append(Row(t.section, load.name, c.name, "unavailable", note=s))
                        continue
                    err = self.checker.check(s, load)
                    if err:
                        log(f"   check {c.name}: {err}")
                        self.rows.append(Row(t.section, load.name, c.name, "failed", note=f"check: {err}"))
                        continue
                    if t.warmup > 0:
                        self.runner.run_once(t.section, s, load, t.warmup, t.client, rep=-1, record=False)
                    active.append(s)
                results: dict = {s.contender.name: [] for s in active}
                for rep in range(t.runs):           # interleaved: A B C, A B C, ...
                    for s in active:
                        results[s.contender.name].append(
                            self.runner.run_once(t.section, s, load, t.duration, t.client, rep))
                for s in active:
                    note = "; ".join(filter(None, [s.cmd.notes.get(load.role, ""), t.note]))
                    self.rows.append(summarize(t.section, load.name, s.contender.name,
                                               results[s.contender.name], note=note))
        finally:
            for s in started.values():
                if isinstance(s, Server):
                    s.stop()

    # ---- memory ----------------------------------------------------------
    def run_memory(self, n_conns: int, n_requests: int, warmup: float) -> None:
        log(f"== memory: RSS per idle keep-alive connection ({n_conns}), RSS over {n_requests} requests")
        plain = Load("plaintext", "GET /plaintext", "http")
        cs = ClientSpec(cpus="1" if os.cpu_count() >= 2 else None)
        for c in self.contenders:
            if c.name not in ("pxcy", "nginx", "uvloop") or "http" not in c.roles:
                continue
            tests = [("idle_conns", lambda srv: self._idle_conns(srv, n_conns))]
            if c.name in ("pxcy", "nginx"):      # nginx as the reference for pxcy's drift
                tests.append(("requests", lambda srv: self._rss_over_requests(srv, plain, cs, n_requests)))
            for test, fn in tests:                # each test on a fresh server
                srv = Server(self.ctx, c, c.roles["http"], 1, "0" if os.cpu_count() >= 2 else None, "memory")
                if not srv.start():
                    self.memory.append({"server": c.name, "test": test, "status": "unavailable",
                                        "note": srv.error})
                    continue
                try:
                    self.runner.run_once("memory", srv, plain, warmup, cs, rep=-1, record=False)
                    self.memory.append(fn(srv))
                except (RuntimeError, OSError, ValueError) as e:
                    self.memory.append({"server": c.name, "test": test, "status": "failed", "note": str(e)})
                finally:
                    srv.stop()

    def _idle_conns(self, srv: Server, n: int) -> dict:
        time.sleep(0.5)
        before = tree_rss_bytes(srv.pid)
        hold = Procs.spawn([need("connhold"), HOST, str(srv.port), str(n), "/plaintext"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        rec = {"server": srv.contender.name, "test": "idle_conns", "connections": n, "rss_before": before}
        try:
            line = hold.stdout.readline().strip()      # connhold gives up by itself after 120 s
            m = re.match(r"READY ok=(\d+) failed=(\d+)", line)
            if not m:
                rec.update(status="failed", note=f"connhold said {line!r}")
                return rec
            ok = int(m.group(1))
            time.sleep(1.0)
            after = tree_rss_bytes(srv.pid)
            rec.update(status="ok" if ok == n else "partial", ok=ok, rss_after=after,
                       bytes_per_conn=(after - before) / ok if ok else 0.0,
                       note="" if ok == n else f"only {ok} of {n} connections")
            log(f"   {srv.contender.name}: RSS {before / 2**20:.1f} -> {after / 2**20:.1f} MiB "
                f"with {ok} idle conns = {rec['bytes_per_conn']:.0f} B/conn")
            return rec
        finally:
            try:
                hold.stdin.close()
                hold.wait(10)
            except Exception:
                pass
            Procs.stop(hold)

    def _rss_over_requests(self, srv: Server, load: Load, cs: ClientSpec, target: int) -> dict:
        time.sleep(0.5)
        rec = {"server": srv.contender.name, "test": "requests", "target": target,
               "rss_before": tree_rss_bytes(srv.pid), "samples": []}
        done, t_end = 0, time.monotonic() + 120          # bounded in count and in time
        while done < target and time.monotonic() < t_end:
            r = self.runner.run_once("memory", srv, load, 1, cs, rep=len(rec["samples"]), record=False)
            if not r.ok:
                rec.update(status="failed", note=r.error)
                return rec
            done += r.requests
            rec["samples"].append([done, tree_rss_bytes(srv.pid)])
        rec.update(status="ok", requests=done, rss_after=tree_rss_bytes(srv.pid))
        rec["delta"] = rec["rss_after"] - rec["rss_before"]
        log(f"   {srv.contender.name}: RSS {rec['rss_before'] / 2**20:.1f} -> {rec['rss_after'] / 2**20:.1f} MiB "
            f"over {done} requests")
        return rec

    # ---- scaling -----------------------------------------------------------
    def run_scaling(self, workers_list: list, duration: float, runs: int, warmup: float,
                    oversubscribe: bool, depth: int) -> None:
        ncpu = os.cpu_count() or 1
        base = [l for l in loads(depth) if l.name in ("plaintext", f"pipeline{depth}")]
        keep = self.contenders
        self.contenders = [c for c in keep if c.name in ("pxcy", "nginx", "epoll-ref", "uring-ref")]
        try:
            for w in workers_list:
                if ncpu >= 2 * w:
                    spec = TableSpec(f"scaling-w{w}", f"{w} workers on cores 0-{w - 1}, wrk -t{w} on cores {w}-{2 * w - 1}",
                                     w, f"0-{w - 1}", ClientSpec(f"{w}-{2 * w - 1}", threads=w, conn_scale=w),
                                     base, duration, runs, warmup)
                elif oversubscribe:
                    spec = TableSpec(f"scaling-w{w}", f"{w} workers UNPINNED, oversubscribed ({ncpu} cores)",
                                     w, None, ClientSpec(None, threads=max(1, min(w, ncpu // 2)), conn_scale=w),
                                     base, duration, runs, warmup,
                                     note=f"oversubscribed: {w} workers + wrk on {ncpu} cores, unpinned")
                else:
                    for l in base:
                        for c in self.contenders:
                            self.rows.append(Row(f"scaling-w{w}", l.name, c.name, "skipped",
                                                 note=f"needs {2 * w} cores (server {w} + wrk {w}), have {ncpu}"))
                    continue
                self.run_table(spec)
        finally:
            self.contenders = keep


# --------------------------------------------------------------------------
# Setup and main
# --------------------------------------------------------------------------

def make_data_file(ctx: Ctx) -> None:
    """64 MiB of deterministic pseudo-random bytes (same seed -> same file everywhere)."""
    ctx.data = random.Random(FILE_SEED).randbytes(FILE_SIZE)
    p = ctx.docroot / "file" / FILE_NAME
    p.write_bytes(ctx.data)
    os.chmod(p, 0o644)
    # h2o serves /plaintext and /json as static files with the same bodies as the other servers
    for name, body in (("plaintext", PLAIN), ("json", b'{"message":"Hello, World!"}')):
        (ctx.docroot / name).write_bytes(body)
        os.chmod(ctx.docroot / name, 0o644)


def wiki_titles(ctx: Ctx, limit: int = 5000) -> list:
    """Titles for the wikisearch loads: --wiki-titles FILE, else scanned from the first
    64 MiB of the dump named in the index's manifest.json; deterministic sample."""
    titles = []
    if ctx.args.wiki_titles:
        with open(ctx.args.wiki_titles, encoding="utf-8") as f:
            titles = [t.strip() for t in f if t.strip()]
    elif ctx.args.wiki_index:
        try:
            with open(Path(ctx.args.wiki_index) / "manifest.json") as f:
                dump = json.load(f)["dump"]
            opener = __import__("bz2").open if dump.endswith(".bz2") else open
            with opener(dump, "rb") as f:
                head = f.read(64 * 2**20)
            titles = [html.unescape(t.decode("utf-8", "replace"))
                      for t in re.findall(rb"<title>(.*?)</title>", head)]
        except (OSError, KeyError, ValueError) as e:
            log(f"wikisearch: no titles from the index's dump ({e}); give --wiki-titles FILE")
    rnd = random.Random(7)
    return rnd.sample(titles, limit) if len(titles) > limit else titles


def make_wiki_paths(ctx: Ctx) -> None:
    """paths-offsets.txt: /offsets/<first 3 chars of a title>?limit=20 (as the search page asks);
    paths-titles.txt: /wiki/<percent-encoded title>."""
    titles = wiki_titles(ctx) if ctx.args.wiki_index else []
    q = lambda t: urllib.parse.quote(t, safe="")
    offsets = [f"/offsets/{q(t[:3])}?limit=20" for t in titles if len(t) >= 3]
    pages = [f"/wiki/{q(t)}" for t in titles]
    (ctx.tmp / "paths-offsets.txt").write_text("\n".join(offsets) + "\n")
    (ctx.tmp / "paths-titles.txt").write_text("\n".join(pages) + "\n")
    ctx.wiki_paths = {"offsets": offsets, "titles": pages}


def rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(REPO))
    except ValueError:
        return str(p)


def rerender(out_dir: Path, results: Optional[str], readme: Optional[Path] = None) -> int:
    """Rebuild rows from the raw runs (so summary rules apply anew) and write the Markdown.
    Reads only files under out_dir: the same raw data gives the same Markdown."""
    if not (out_dir / "results.json").exists():
        print(f"harness.py: error: --report-from {out_dir}: no results.json there", file=sys.stderr)
        return 2
    summary, run_dicts = rawdata.load(out_dir)
    fields = {f.name for f in dataclasses.fields(RunResult)}
    runs = [RunResult(**{k: v for k, v in d.items() if k in fields}) for d in run_dicts]
    h = Harness.__new__(Harness)
    h.contenders, h.memory = contenders(), summary["memory"]
    h.rows = []
    for d in summary["rows"]:
        old = Row(**{k: v for k, v in d.items() if k in {f.name for f in dataclasses.fields(Row)}})
        mine = [r for r in runs if (r.section, r.load, r.server) == (old.section, old.load, old.server)]
        if old.status == "ok" and mine:
            derived = re.compile(r"^(\d+ run\(s\) failed|too little|⚠|median of)")
            note = "; ".join(x for x in old.note.split("; ") if x and not derived.match(x))
            h.rows.append(summarize(old.section, old.load, old.server, mine, note=note))
        else:
            h.rows.append(old)
    titles = summary.get("titles") or {s: s for s in dict.fromkeys(r.section for r in h.rows)}
    path = Path(results or BENCH / ("RESULTS-scaling.md" if summary["params"].get("scaling") else "RESULTS.md"))
    write_report(path, summary["meta"], h, titles, summary["params"], raw_dir=rel(out_dir),
                 appended_from=out_dir)
    log(f"wrote {path} from {out_dir}")
    if readme is not None and not summary["params"].get("scaling"):
        update_readme(readme, summary["meta"], summary["params"], h, rel(out_dir))
    return 0


def update_readme(readme: Path, meta: dict, params: dict, h, raw_dir: str) -> None:
    block = rawdata.readme_block(meta, params, h.rows, h.memory, lambda r: client_bound(r, 1), raw_dir)
    if rawdata.rewrite_readme(readme, block):
        log(f"rewrote the performance block of {readme}")
    else:
        log(f"{readme}: no {rawdata.README_BEGIN[:24]}... markers; README left alone")


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description="pxcy benchmark harness (run via bench/run.sh)")
    ap.add_argument("--quick", action="store_true", help="short durations; whole run in a few minutes")
    ap.add_argument("--only", action="append", default=[],
                    help="restrict to servers (pxcy,epoll-ref,uring-ref,nginx,h2o,asyncio,uvloop), loads (plaintext,pipeline16,"
                         "json,range16k,range256k,echo) and/or sections (pinned,workers2,memory,wikisearch); "
                         "comma-separated, repeatable")
    ap.add_argument("--scaling", action="store_true", help="run the worker-scaling mode instead")
    ap.add_argument("--scaling-workers", default="1,2,4,8,16")
    ap.add_argument("--no-oversubscribe", dest="oversubscribe", action="store_false",
                    help="scaling: skip worker counts W with 2W > nproc instead of running them unpinned")
    ap.add_argument("--runs", type=int, default=None, help="interleaved runs per figure (>= 3 advised)")
    ap.add_argument("--duration", type=float, default=None, help="seconds per measured run")
    ap.add_argument("--pipeline", type=int, default=16, help="pipelining depth")
    ap.add_argument("--conns", type=int, default=10000, help="idle connections for the memory test")
    ap.add_argument("--wiki-index", default=os.environ.get("PXCY_WIKI_INDEX"))
    ap.add_argument("--wiki-titles", default=os.environ.get("PXCY_WIKI_TITLES"),
                    help="file with one article title per line (default: titles scanned from the dump "
                         "named in the index's manifest.json)")
    ap.add_argument("--wiki-demo", type=int, metavar="PAGES", default=0,
                    help="generate and index a synthetic dump of PAGES pages (wikisearch gen/build) in the "
                         "temp dir and run the wikisearch section on it")
    ap.add_argument("--results", default=None,
                    help="Markdown output (default bench/RESULTS.md; with --scaling bench/RESULTS-scaling.md)")
    ap.add_argument("--python", default=sys.executable, help="interpreter for the Python peers")
    ap.add_argument("--pxcy-python", default=os.environ.get("PXCY_PYTHON", sys.executable))
    ap.add_argument("--command", default=os.environ.get("BENCH_COMMAND"))
    ap.add_argument("--report-from", metavar="OUTDIR",
                    help="measure nothing: re-render the Markdown from OUTDIR/results.json + runs.jsonl(.gz) "
                         "(a bench/results/<run> dir or a bench/out/<stamp> dir)")
    ap.add_argument("--keep-raw", choices=("auto", "yes", "no"), default="auto",
                    help="save the raw data under bench/results/<date>-<commit>/ (auto: full runs only, "
                         "i.e. no --quick, --only, --runs, --duration or --results)")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.report_from:
        default_md = args.results is None or Path(args.results).resolve() == (BENCH / "RESULTS.md").resolve()
        return rerender(Path(args.report_from), args.results, README if default_md else None)
    only = {x.strip() for o in args.only for x in o.split(",") if x.strip()}
    q = args.quick
    runs = args.runs or 3
    duration = args.duration or (3.0 if q else 8.0)
    duration2 = args.duration or (2.0 if q else 5.0)
    warmup = 1.0 if q else 2.0
    n_requests = 200_000 if q else 1_000_000
    command = args.command or "bench/harness.py " + " ".join(sys.argv[1:])
    if pxcy_build(args.pxcy_python) == "instrumented":
        print("harness: pxcy's extensions are instrumented (tools/pgo_build.py did not finish): "
              "rebuild them (make setup) before measuring", file=sys.stderr)
        return 2

    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGINT, on_signal)     # explicit: a shell's `&` would leave SIGINT ignored
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    raise_nofile()

    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = BENCH / "out" / stamp
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="pxcy-bench-"))
    os.chmod(tmp, 0o755)                          # nginx workers may run as another user
    docroot = tmp / "www"
    (docroot / "file").mkdir(parents=True)
    for d in (docroot, docroot / "file"):
        os.chmod(d, 0o755)
    ctx = Ctx(args, tmp, docroot, out_dir, args.python, args.pxcy_python)
    rc = 0
    try:
        log(f"output: {out_dir}; temp: {tmp}")
        make_data_file(ctx)
        if args.wiki_demo and shutil.which("wikisearch"):
            wd = tmp / "wiki"
            wd.mkdir()
            log(f"wikisearch: generating and indexing a synthetic dump of {args.wiki_demo} pages")
            for cmd in (["wikisearch", "gen", "--pages", str(args.wiki_demo), str(wd / "dump.xml")],
                        ["wikisearch", "build", str(wd / "dump.xml"), "--index", str(wd / "index")]):
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
                if p.returncode:
                    log(f"wikisearch: {' '.join(cmd[:2])} failed: {p.stderr.strip()[-300:]}")
                    break
            else:
                args.wiki_index = str(wd / "index")
        make_wiki_paths(ctx)
        meta = machine_info(ctx, command)
        h = Harness(ctx, only)
        ncpu = os.cpu_count() or 1
        titles = {}
        depth = args.pipeline
        if args.scaling:
            ws = [int(w) for w in args.scaling_workers.split(",")]
            h.run_scaling(ws, duration, runs, warmup, args.oversubscribe, depth)
            titles["scaling"] = (
                "W workers; when nproc >= 2W the server is pinned to cores [0, W) and wrk (-tW, 64×W "
                "connections; pipelined 256×W) to cores [W, 2W); otherwise server and wrk (min(W, nproc/2) threads) "
                "run unpinned and share the cores (rows noted \"oversubscribed\"; --no-oversubscribe skips them). Last column: 1.00 = perfect linear scaling.")
        else:
            pinned = ncpu >= 2
            if h.wants_section("pinned"):
                t = TableSpec("pinned", "1 worker; server pinned to core 0, wrk / echo client pinned to core 1"
                              if pinned else "1 worker (single core machine: nothing pinned)",
                              1, "0" if pinned else None, ClientSpec("1" if pinned else None),
                              loads(depth), duration, runs, warmup)
                titles["pinned"] = t.title
                h.run_table(t)
            if h.wants_section("workers2"):
                t = TableSpec("workers2", "2 workers, unpinned (pxcy --workers 2, nginx worker_processes 2, "
                              "peers and reference responders fork 2 SO_REUSEPORT processes, h2o num-threads 2); load generator unpinned, 1 thread",
                              2, None, ClientSpec(None, threads=1 if ncpu <= 2 else 2),
                              loads(depth), duration2, runs, warmup)
                titles["workers2"] = t.title
                h.run_table(t)
            if h.wants_section("wikisearch") and args.wiki_index and shutil.which("wikisearch"):
                wl = [l for l in wiki_loads() if ctx.wiki_paths[l.script_args[0][1:]]]
                t = TableSpec("wikisearch", "wikisearch (pxcy), 1 worker pinned to core 0",
                              1, "0" if pinned else None, ClientSpec("1" if pinned else None),
                              wl, duration, runs, warmup)
                titles["wikisearch"] = t.title
                h.run_table(t)
            elif h.wants_section("wikisearch"):
                log("wikisearch section skipped (needs `wikisearch` on PATH and --wiki-index DIR)")
            if h.wants_section("memory"):
                h.run_memory(args.conns, n_requests, warmup)
        params = {"runs": runs, "duration": duration, "duration2": duration2, "warmup": warmup, "quick": q,
                  "scaling": args.scaling}
        summary = {"meta": meta, "params": params, "titles": titles,
                   "rows": [dataclasses.asdict(r) for r in h.rows], "memory": h.memory}
        (out_dir / "results.json").write_text(json.dumps(summary, indent=1, sort_keys=True))
        h.runs_file.close()
        full = not (q or only or args.runs or args.duration or args.results)
        src = out_dir
        if args.keep_raw == "yes" or (args.keep_raw == "auto" and full):
            src = rawdata.save(RESULTS_DIR / rawdata.run_dir_name(meta, args.scaling), summary,
                               out_dir / "runs.jsonl", None if args.scaling else BENCH)
            log(f"raw data kept in {rel(src)} (commit it with the Markdown)")
        # the Markdown always comes from the saved files, exactly as --report-from would make it
        rc = rerender(src, args.results, README if full else None)
        failed = sum(r.failed_runs for r in h.rows)
        if failed:
            log(f"{failed} measured run(s) failed (wrk/echo errors or no requests): exit status 1")
            rc = rc or 1
    except KeyboardInterrupt as e:
        log(f"interrupted ({e}); stopping servers")
        rc = 130
    finally:
        Procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
