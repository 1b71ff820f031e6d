"""User-space instructions per request of the worker loop, counted by callgrind
(repeatable on a busy machine, unlike wall clock).

    python3 bench/callgrind.py [--requests N] [--pipeline K]

Runs `pxcy run pxcy.protocols.http11:HelloWorld` (1 worker) under valgrind with
collection only inside `worker_main`, drives N keep-alive GET /plaintext requests
(K per write when pipelined), stops the server with SIGTERM and prints the
instructions per request. Compare the number before and after a runtime change.

--code-lines also prints how many 64-byte lines of machine code a request runs
through (instructions executed at least 0.9 times per request): sequential requests
find most of them evicted by the kernel's work, so this, more than the instruction
count, sets pxcy's user time per request (docs/benchmarks.md, Profile).
"""
import collections
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

def request(port):
    """The request wrk sends in bench/run.sh's plaintext loads (wrk.format)."""
    return b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port


def drive(port, n, k):
    req = request(port)
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    done = 0
    buf = b""
    while done < n:
        batch = min(k, n - done)
        s.sendall(req * batch)
        got = 0
        while got < batch:
            chunk = s.recv(1 << 16)
            if not chunk:
                raise RuntimeError("server closed")
            buf += chunk
            got += buf.count(b"Hello, World!")
            buf = buf[buf.rfind(b"Hello, World!") + 13:] if b"Hello, World!" in buf else buf
        done += batch
    s.close()


def hot_code_lines(path, n):
    """Distinct 64-byte code lines (per object file) of the instructions executed at
    least 0.9 * n times, from a callgrind file written with --dump-instr=yes and
    uncompressed positions and names. A cost line after calls= is the call's
    inclusive cost, not the calling instruction's own: skipped."""
    counts = collections.Counter()
    obj, after_call = None, False
    with open(path) as f:
        for line in f:
            if line.startswith("ob="):
                obj = line[3:].strip()
            elif line.startswith("calls="):
                after_call = True
            elif line.startswith("0x"):
                if after_call:
                    after_call = False
                    continue
                parts = line.split()           # address, source line, Ir
                if len(parts) > 2:
                    counts[(obj, int(parts[0], 16))] += int(parts[2])
    return len({(o, addr >> 6) for (o, addr), c in counts.items() if c >= 0.9 * n})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=10000)
    ap.add_argument("--pipeline", type=int, default=1)
    ap.add_argument("--port", type=int, default=18183)
    ap.add_argument("--keep", help="keep the callgrind output at this path (callgrind_annotate it)")
    ap.add_argument("--code-lines", action="store_true",
                    help="also count the 64-byte lines of code a request runs through")
    a = ap.parse_args()
    out = a.keep or tempfile.mktemp(prefix="pxcy-cg.")
    cmd = ["valgrind", "--tool=callgrind", "--toggle-collect=__pyx_f_4pxcy_7runtime_worker_main",
           f"--callgrind-out-file={out}", *(["--dump-instr=yes", "--compress-pos=no", "--compress-strings=no"]
                                              if a.code_lines else []), sys.executable, "-m", "pxcy", "run",
           "pxcy.protocols.http11:HelloWorld", "--port", str(a.port), "--workers", "1"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", a.port)).close()
                break
            except OSError:
                time.sleep(0.1)
        drive(a.port, 200, a.pipeline)            # warm-up (counted, small)
        drive(a.port, a.requests, a.pipeline)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=120)
    ann = subprocess.run(["callgrind_annotate", out], capture_output=True, text=True).stdout
    lines = hot_code_lines(out, a.requests + 200) if a.code_lines else None
    if not a.keep:
        os.unlink(out)
    m = re.search(r"^\s*([\d,]+)\s+\(100.0%\)\s+PROGRAM TOTALS", ann, re.M)
    total = int(m.group(1).replace(",", ""))
    n = a.requests + 200
    print(f"pipeline={a.pipeline} requests={n} instructions={total} per_request={total / n:.0f}"
          + (f" code_lines={lines}" if lines is not None else ""))


if __name__ == "__main__":
    main()
