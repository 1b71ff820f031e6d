#!/usr/bin/env python3
"""Instructions per request (valgrind callgrind) of wikisearch's /offsets and /wiki vs
pxcy's /plaintext: a repeatable CPU comparison on a shared, noisy machine.

    python bench/wikisearch_callgrind.py --index DIR [--requests 2000] [--json OUT]

Each server runs under `valgrind --tool=callgrind` with 1 worker; after a warm-up
the counters are zeroed (callgrind_control -z), N keep-alive requests are sent
one at a time, and the counters dumped: total instructions (Ir) of the server
process / N. The paths are those of bench/wikisearch.py (first 3 characters of
random names, `?ns=` outside the article namespace). Kernel work is not counted
(callgrind sees user space only), so the ratio is of the servers' own code.
"""
import argparse
import glob
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples", "wikisearch"))
sys.path.insert(0, ROOT)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def request(sock, path):
    sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = sock.recv(65536)
        if not d:
            raise OSError("server closed")
        buf += d
    head, _, body = buf.partition(b"\r\n\r\n")
    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
    n = int(m.group(1))
    while len(body) < n:
        body += sock.recv(65536)
    return int(head.split()[1]), body


def measure(argv, paths, n, outdir, name):
    port = free_port()
    out = os.path.join(outdir, name + ".cg")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, os.path.join(ROOT, "examples", "wikisearch"),
                                         env.get("PYTHONPATH", "")])
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out + ".%p", sys.executable] + \
        [a.replace("PORT", str(port)) for a in argv]
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=60)
                break
            except OSError:
                if p.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("%s did not start: %s" % (name, p.stderr.read().decode(errors="replace")))
                time.sleep(0.5)
        for k in range(200):                                 # warm-up
            request(sock, paths[k % len(paths)])
        subprocess.run(["callgrind_control", "-z", str(p.pid)], check=True, capture_output=True)
        statuses = {}
        for k in range(n):
            st, _ = request(sock, paths[k % len(paths)])
            statuses[st] = statuses.get(st, 0) + 1
        for f in glob.glob(out + ".*"):
            os.unlink(f)
        subprocess.run(["callgrind_control", "-d", str(p.pid)], check=True, capture_output=True)
        sock.close()
        time.sleep(0.5)
        ir = 0
        for f in glob.glob(out + ".*"):
            with open(f) as fh:
                for line in fh:
                    if line.startswith("summary:") or line.startswith("totals:"):
                        ir = max(ir, int(line.split()[1]))
        return {"name": name, "requests": n, "ir": ir, "ir_per_request": ir / n, "statuses": statuses}
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json")
    ap.add_argument("--paths", metavar="FILE", help="/offsets paths to use (one per line) instead of sampling them")
    ap.add_argument("--keep", metavar="DIR", help="keep the callgrind files there (callgrind_annotate them)")
    a = ap.parse_args()
    from wikisearch.index import load_index
    index = load_index(a.index)
    offsets, wiki = [], []
    if a.paths:
        with open(a.paths) as f:
            offsets = [l.strip() for l in f if l.startswith("/offsets/")]
        with open(a.paths) as f:
            wiki = [l.strip() for l in f if l.startswith("/wiki/")]
    else:
        rng = random.Random(a.seed)
        ns, skip = index.arrays["namespaces"], index.arrays["name_skip"]
        for i in rng.sample(range(index.page_count), min(2000, index.page_count)):
            t = index.title(i)
            name = t.encode("utf-8")[int(skip[i]):].decode("utf-8")
            offsets.append("/offsets/" + urllib.parse.quote(name[:3], safe="") + ("?ns=%d" % ns[i] if ns[i] else ""))
            wiki.append("/wiki/" + urllib.parse.quote(t, safe=""))
    serve = ["-m", "wikisearch", "serve", "--index", a.index, "--port", "PORT", "--workers", "1"]
    plain = ["-m", "pxcy", "run", "pxcy.protocols.http11:HelloWorld", "--port", "PORT", "--workers", "1"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="wscg-") as d:
        if a.keep:
            os.makedirs(a.keep, exist_ok=True)
            d = a.keep
        rows.append(measure(plain, ["/plaintext"], a.requests, d, "plaintext"))
        rows.append(measure(serve, offsets, a.requests, d, "offsets"))
        rows.append(measure(serve, wiki, a.requests, d, "wiki"))
    base = rows[0]["ir_per_request"]
    for r in rows:
        r["vs_plaintext"] = r["ir_per_request"] / base
        print("%-10s %10.0f instructions/request  %.2fx plaintext  statuses %s"
              % (r["name"], r["ir_per_request"], r["vs_plaintext"], r["statuses"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"index": a.index, "pages": index.page_count, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
