#!/usr/bin/env python3
"""Three wikisearch hosts behind HAProxy, each host its own network namespace.

    sudo python3 tools/cluster.py [--index DIR] [--seconds-per-phase 3] [--drain 2] [--json]

Builds a balancer namespace holding a bridge and HAProxy, and three backend namespaces
joined to the bridge by veth pairs (10.77.N.1 is the balancer, 10.77.N.11-13 the hosts;
nothing but those addresses and the namespaces' loopbacks is used). One wikisearch
backend runs in each host. Under a continuous load that checks every response body
against a reference answer, it then:

  1. SIGKILLs host 1 while the load goes to a frontend whose backend section retries
     idempotent requests (``retry-on all-retryable-errors``): zero failures expected;
  2. restarts host 1 and waits until HAProxy's health check sees it up;
  3. SIGTERMs host 2 while the load goes to a frontend with **no retries**: the backend
     drains (``/healthz`` 503, ``Connection: close``) until HAProxy takes it out of
     rotation, then exits 0: zero failures expected;
  4. restarts host 2, waits for it to be up, and runs a phase over all three;
  5. (when nginx is installed; --no-nginx skips it) the same through nginx (upstream
     keepalive, passive checks, proxy_next_upstream error timeout): SIGKILLs host 3,
     restarts it, SIGTERMs it (drain), restarts it: zero failures expected.

Prints a summary (``--json``: one JSON object) and exits 0 only when every request got
the right answer and every SIGTERMed backend exited 0. Everything it made (namespaces,
processes, files) is removed on exit, also on failure, Ctrl-C or SIGTERM.
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BACKEND_PORT = 8080
RETRY_PORT, STRICT_PORT, NGINX_PORT = 8001, 8002, 8003
HOSTS = 3

HAPROXY_CFG = """\
global
    maxconn 4096
    stats socket {sock} level admin
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    option http-keep-alive
frontend fe_retry
    bind 127.0.0.1:{retry_port}
    default_backend be_retry
frontend fe_strict
    bind 127.0.0.1:{strict_port}
    default_backend be_strict
backend be_retry
    balance roundrobin
    option httpchk GET {health}
    retries 3
    retry-on all-retryable-errors
    option redispatch 1
{retry_servers}
backend be_strict
    balance roundrobin
    option httpchk GET {health}
    retries 0
{strict_servers}
"""

# nginx (open source: no active health checks): passive, it retries an idempotent
# request on the next server after a connect error or a reset (proxy_next_upstream
# error timeout, the default), and keeps upstream connections alive.
NGINX_CFG = """\
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/nginx-body;
    proxy_temp_path {dir}/nginx-proxy;
    fastcgi_temp_path {dir}/nginx-fcgi;
    uwsgi_temp_path {dir}/nginx-uwsgi;
    scgi_temp_path {dir}/nginx-scgi;
    upstream wikisearch {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://wikisearch;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 3;
            proxy_connect_timeout 2s;
        }}
    }}
}}
"""


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class Cluster:
    """The namespaces, the backends and HAProxy; close() removes all of it."""

    def __init__(self, index_dir, drain, workdir, python=sys.executable, log=print, health="/healthz"):
        self.health = health
        self.index_dir, self.drain, self.dir, self.python, self.log = index_dir, drain, workdir, python, log
        tag = "%x" % (os.getpid() & 0xFFFF)
        self.subnet = 77 + (os.getpid() % 100)
        self.lb = "pxlb" + tag
        self.hosts = ["pxh%s%d" % (tag, i + 1) for i in range(HOSTS)]
        self.tag = tag
        self.backends = [None] * HOSTS
        self.haproxy = None
        self.nginx = None
        self.loads = []             # load generators (Load) started so far
        self.made = []

    def addr(self, i):
        return "10.77.%d.%d" % (self.subnet, 11 + i)

    # -- network ---------------------------------------------------------------------
    def build_network(self):
        lb = self.lb
        sh("ip", "netns", "add", lb)
        self.made.append(lb)
        sh("ip", "-n", lb, "link", "set", "lo", "up")
        sh("ip", "-n", lb, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", lb, "addr", "add", "10.77.%d.1/24" % self.subnet, "dev", "br0")
        sh("ip", "-n", lb, "link", "set", "br0", "up")
        for i, ns in enumerate(self.hosts):
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
            host_end, bridge_end = "pxv%s%dh" % (self.tag, i), "pxv%s%db" % (self.tag, i)
            sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", bridge_end)
            sh("ip", "link", "set", host_end, "netns", ns)
            sh("ip", "link", "set", bridge_end, "netns", lb)
            sh("ip", "-n", lb, "link", "set", bridge_end, "master", "br0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "addr", "add", self.addr(i) + "/24", "dev", host_end)
            sh("ip", "-n", ns, "link", "set", host_end, "up")

    # -- processes -------------------------------------------------------------------
    def start_backend(self, i):
        cmd = ["ip", "netns", "exec", self.hosts[i], self.python, "-m", "wikisearch", "serve",
               "--index", self.index_dir, "--host", self.addr(i), "--port", str(BACKEND_PORT),
               "--workers", "1"]
        if self.drain is not None:
            cmd += ["--drain", str(self.drain)]
        out = open(os.path.join(self.dir, "backend%d.log" % (i + 1)), "ab")
        self.backends[i] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        out.close()

    def start_haproxy(self):
        servers = "\n".join("    server h%d %s:%d check inter 100ms fall 2 rise 2"
                            % (i + 1, self.addr(i), BACKEND_PORT) for i in range(HOSTS))
        self.sock = os.path.join(self.dir, "haproxy.sock")
        cfg = os.path.join(self.dir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(HAPROXY_CFG.format(sock=self.sock, health=self.health, retry_port=RETRY_PORT, strict_port=STRICT_PORT,
                                       retry_servers=servers, strict_servers=servers))
        out = open(os.path.join(self.dir, "haproxy.log"), "ab")
        self.haproxy = subprocess.Popen(["ip", "netns", "exec", self.lb, "haproxy", "-db", "-f", cfg],
                                        stdout=out, stderr=subprocess.STDOUT)
        out.close()

    def start_nginx(self):
        servers = "\n".join("        server %s:%d max_fails=1 fail_timeout=2s;" % (self.addr(i), BACKEND_PORT)
                             for i in range(HOSTS))
        cfg = os.path.join(self.dir, "nginx.conf")
        with open(cfg, "w") as f:
            f.write(NGINX_CFG.format(dir=self.dir, servers=servers, port=NGINX_PORT))
        out = open(os.path.join(self.dir, "nginx.log"), "ab")
        # in this script's process group (ip netns exec execs nginx: the pid is the
        # master's), so that a kill of the whole group reaches nginx too; close() stops
        # the master, which stops its workers (see stop_nginx)
        self.nginx = subprocess.Popen(["ip", "netns", "exec", self.lb, "nginx", "-p", self.dir, "-c", cfg],
                                      stdout=out, stderr=subprocess.STDOUT)
        out.close()
        end = time.monotonic() + 20
        while time.monotonic() < end:
            r = subprocess.run(["ip", "netns", "exec", self.lb, sys.executable, "-c",
                                "import socket; socket.create_connection(('127.0.0.1', %d), 1).close()"
                                % NGINX_PORT], stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("nginx did not start")

    def server_states(self):
        """{(backend, server): 'UP'|'DOWN'|...} from HAProxy's stats socket."""
        s = socket.socket(socket.AF_UNIX)
        try:
            s.settimeout(2)
            s.connect(self.sock)
            s.sendall(b"show stat\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        lines = data.decode().splitlines()
        head = lines[0].lstrip("# ").split(",")
        res = {}
        for line in lines[1:]:
            row = dict(zip(head, line.split(",")))
            if row.get("svname") not in ("FRONTEND", "BACKEND", None):
                res[(row["pxname"], row["svname"])] = row["status"].split()[0]
        return res

    def wait_state(self, server, want, timeout=30):
        end = time.monotonic() + timeout
        states = {}
        while time.monotonic() < end:
            try:
                states = self.server_states()
            except OSError:
                states = {}
            if states and all(states.get((be, server)) == want for be in ("be_retry", "be_strict")):
                return True
            time.sleep(0.05)
        raise RuntimeError("%s did not become %s (states %s)" % (server, want, states))

    def stop_nginx(self):
        """SIGTERM to the master: it stops its workers, waits for them and exits. If it
        has not within 10 s, its children (the workers) and then it are SIGKILLed;
        killing the master alone would leave the workers running."""
        p = self.nginx
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
            return
        except subprocess.TimeoutExpired:
            pass
        for pid in children_of(p.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        p.send_signal(signal.SIGKILL)

    def close(self):
        # once cleaning up, a second SIGTERM or Ctrl-C must not cut it short (leaving
        # servers running and namespaces behind)
        saved = signal.signal(signal.SIGTERM, signal.SIG_IGN), signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self._close()
        finally:
            signal.signal(signal.SIGTERM, saved[0])
            signal.signal(signal.SIGINT, saved[1])

    def _close(self):
        procs = [p for p in self.loads + self.backends + [self.haproxy] if p is not None]
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
        self.stop_nginx()
        if self.nginx is not None:
            procs.append(self.nginx)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass
        for ns in reversed(self.made):
            sh("ip", "netns", "del", ns, check=False)
        self.made = []


def children_of(pid):
    """The PIDs whose parent is pid: from /proc/PID/task/PID/children where the kernel
    has it (CONFIG_PROC_CHILDREN), else from every /proc/*/stat."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        pass
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:     # (state, ppid, ...)
                        found.append(int(name))
            except (OSError, IndexError, ValueError):
                pass
    return found


# -- load ---------------------------------------------------------------------------
def load_main(argv):
    """Runs inside the balancer namespace: GET the URLs in a loop until the stop file
    exists, compare each answer with the reference, print counts as JSON."""
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--reference", required=True)
    p.add_argument("--stop", required=True)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--max-seconds", type=float, default=120)
    a = p.parse_args(argv)
    with open(a.reference) as f:
        ref = [(u, s, b.encode("latin-1")) for u, s, b in json.load(f)]
    lock = threading.Lock()
    counts = {"ok": 0, "wrong": 0, "errors": 0, "examples": []}
    deadline = time.monotonic() + a.max_seconds

    def client(k):
        conn = None
        i = k
        while not os.path.exists(a.stop) and time.monotonic() < deadline:
            url, status, body = ref[i % len(ref)]
            i += 1
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
                conn.request("GET", url)
                r = conn.getresponse()
                got = r.read()
                good = r.status == status and got == body
                if r.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                good, got = False, repr(e).encode()
                if conn is not None:
                    conn.close()
                conn = None
                with lock:
                    counts["errors"] += 1
                    if len(counts["examples"]) < 5:
                        counts["examples"].append("%s: %r" % (url, e))
                time.sleep(0.01)        # (a balancer that is gone: no busy loop until the deadline)
                continue
            with lock:
                if good:
                    counts["ok"] += 1
                else:
                    counts["wrong"] += 1
                    if len(counts["examples"]) < 5:
                        counts["examples"].append("%s: %d %r" % (url, r.status, got[:80]))
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps(counts), flush=True)
    return 0


class Load:
    def __init__(self, cluster, port, reference):
        self.stop_file = os.path.join(cluster.dir, "stop-%d" % port)
        if os.path.exists(self.stop_file):
            os.unlink(self.stop_file)
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", cluster.lb, sys.executable, os.path.abspath(__file__), "--load",
             "--port", str(port), "--reference", reference, "--stop", self.stop_file],
            stdout=subprocess.PIPE, text=True)
        cluster.loads.append(self.proc)     # close() stops it if the run ends early

    def finish(self):
        open(self.stop_file, "w").close()
        out, _ = self.proc.communicate(timeout=60)
        return json.loads(out.strip().splitlines()[-1])


def reference_answers(cluster, index_dir):
    """The URLs the load asks for and their answers, taken from host 1 before any fault."""
    import html
    import re
    from urllib.parse import quote
    from wikisearch.index import load_index
    idx = load_index(index_dir)
    titles = []
    for i in range(0, idx.page_count, max(1, idx.page_count // 40)):
        m = re.search(rb"<title>(.*?)</title>", idx.read_page(i))
        if m:
            titles.append(html.unescape(m.group(1).decode("utf-8")))
    urls = []
    for t in titles:
        urls.append("/wiki/" + quote(t.encode("utf-8")))
        urls.append("/offsets/" + quote(t[:3].encode("utf-8")))
    urls.append("/offsets/")
    code = ("import http.client, json, sys\n"
            "out = []\n"
            "for u in json.load(sys.stdin):\n"
            "    c = http.client.HTTPConnection(%r, %d, timeout=10)\n"
            "    c.request('GET', u); r = c.getresponse(); b = r.read(); c.close()\n"
            "    out.append([u, r.status, b.decode('latin-1')])\n"
            "print(json.dumps(out))\n") % (cluster.addr(0), BACKEND_PORT)
    res = subprocess.run(["ip", "netns", "exec", cluster.lb, sys.executable, "-c", code],
                         input=json.dumps(urls), stdout=subprocess.PIPE, text=True, check=True)
    path = os.path.join(cluster.dir, "reference.json")
    with open(path, "w") as f:
        f.write(res.stdout)
    ref = json.loads(res.stdout)
    bad = [u for u, s, _ in ref if s >= 500]
    if bad:
        raise RuntimeError("reference answers failed: %s" % bad[:5])
    return path


def wait_listening(cluster, i, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cluster.backends[i].poll() is not None:
            raise RuntimeError("backend %d exited with %s" % (i + 1, cluster.backends[i].returncode))
        r = subprocess.run(["ip", "netns", "exec", cluster.lb, sys.executable, "-c",
                            "import socket; socket.create_connection((%r, %d), 1).close()"
                            % (cluster.addr(i), BACKEND_PORT)], stderr=subprocess.DEVNULL)
        if r.returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError("backend %d did not listen" % (i + 1))


def make_index(workdir):
    from wikisearch import gen
    from wikisearch.index import build_index
    dump = os.path.join(workdir, "dump.xml")
    gen.generate(dump, pages=2000, seed=3)
    build_index(dump, os.path.join(workdir, "dump.index"))
    return os.path.join(workdir, "dump.index")


def run(args, log):
    workdir = tempfile.mkdtemp(prefix="pxcy-cluster-")
    cluster = None
    result = {"phases": {}, "exit_codes": {}}
    try:
        index_dir = args.index or make_index(workdir)
        cluster = Cluster(index_dir, args.drain, workdir, log=log, health=args.health_path)
        cluster.build_network()
        for i in range(HOSTS):
            cluster.start_backend(i)
        for i in range(HOSTS):
            wait_listening(cluster, i)
        ref = reference_answers(cluster, index_dir)
        cluster.start_haproxy()
        for i in range(HOSTS):
            cluster.wait_state("h%d" % (i + 1), "UP")
        log("cluster up: 3 backends behind HAProxy")
        T = args.seconds_per_phase

        # 1. SIGKILL under retries
        load = Load(cluster, RETRY_PORT, ref)
        time.sleep(T)
        cluster.backends[0].send_signal(signal.SIGKILL)
        cluster.backends[0].wait()
        cluster.wait_state("h1", "DOWN")
        time.sleep(T / 2)
        cluster.start_backend(0)
        wait_listening(cluster, 0)
        cluster.wait_state("h1", "UP")
        time.sleep(T / 2)
        result["phases"]["sigkill_with_retries"] = load.finish()
        log("phase 1 (SIGKILL h1, retries): %s" % result["phases"]["sigkill_with_retries"])

        # 2. SIGTERM without retries
        load = Load(cluster, STRICT_PORT, ref)
        time.sleep(T)
        cluster.backends[1].send_signal(signal.SIGTERM)
        rc = cluster.backends[1].wait(timeout=60)
        result["exit_codes"]["h2_after_sigterm"] = rc
        cluster.start_backend(1)
        wait_listening(cluster, 1)
        cluster.wait_state("h2", "UP")
        time.sleep(T)
        result["phases"]["sigterm_without_retries"] = load.finish()
        log("phase 2 (SIGTERM h2, no retries, exit %s): %s" % (rc, result["phases"]["sigterm_without_retries"]))

        # 3. all three again
        load = Load(cluster, STRICT_PORT, ref)
        time.sleep(T)
        result["phases"]["after_restarts"] = load.finish()
        log("phase 3 (all restarted): %s" % result["phases"]["after_restarts"])

        # 4. the same faults behind nginx (passive: retries on connect errors)
        if args.nginx and shutil.which("nginx"):
            cluster.start_nginx()
            load = Load(cluster, NGINX_PORT, ref)
            time.sleep(T)
            cluster.backends[2].send_signal(signal.SIGKILL)
            cluster.backends[2].wait()
            time.sleep(T / 2)
            cluster.start_backend(2)
            wait_listening(cluster, 2)
            time.sleep(T)                 # nginx's fail_timeout (2 s) brings h3 back
            cluster.backends[2].send_signal(signal.SIGTERM)
            result["exit_codes"]["h3_after_sigterm_nginx"] = cluster.backends[2].wait(timeout=60)
            cluster.start_backend(2)
            wait_listening(cluster, 2)
            time.sleep(T / 2)
            result["phases"]["nginx_sigkill_and_sigterm"] = load.finish()
            log("phase 4 (nginx: SIGKILL h3, restart, SIGTERM h3): %s"
                % result["phases"]["nginx_sigkill_and_sigterm"])
    finally:
        if cluster is not None:
            cluster.close()
        if args.keep:
            log("kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    ok = (all(p["wrong"] == 0 and p["errors"] == 0 and p["ok"] > 0 for p in result["phases"].values())
          and all(rc == 0 for rc in result["exit_codes"].values())
          and len(result["phases"]) == (4 if args.nginx and shutil.which("nginx") else 3))
    result["ok"] = ok
    return result


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--load"]:
        return load_main(argv[1:])
    p = argparse.ArgumentParser(prog="cluster.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--index", help="wikisearch index directory (default: a 2,000-page synthetic one)")
    p.add_argument("--seconds-per-phase", type=float, default=3.0)
    p.add_argument("--drain", type=float, default=2.0,
                   help="--drain passed to the backends (default 2); -1: pass none")
    p.add_argument("--health-path", default="/healthz", help="HAProxy's health check (default /healthz)")
    p.add_argument("--no-nginx", dest="nginx", action="store_false",
                   help="skip phase 4 (the same faults behind nginx)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = p.parse_args(argv)
    if args.drain < 0:
        args.drain = None
    if os.geteuid() != 0 or not shutil.which("haproxy") or not shutil.which("ip"):
        sys.stderr.write("cluster.py: error: needs root, ip (iproute2) and haproxy\n")
        return 2
    log = (lambda m: print(m, file=sys.stderr, flush=True)) if args.json else (lambda m: print(m, flush=True))
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    result = run(args, log)
    if args.json:
        print(json.dumps(result))
    else:
        print("cluster: %s" % ("every request answered correctly" if result["ok"] else "FAILED: %s" % result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
