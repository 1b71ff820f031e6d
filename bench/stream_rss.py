"""RSS of a pxcy Echo server while one client streams through it with a window in
flight (the client sends as it receives, as streaming and pipelining clients do).

    python3 bench/stream_rss.py [--gib 2] [--window-mib 8] [--quick]

The server runs in a child process (1 worker); its RSS is sampled from /proc every
50 ms. Printed: bytes streamed, RSS before / max / at the end, the transient heap
high-water mark from stats(), and max RSS growth over max_unsent. Not a test: the
bound itself is asserted (on the heap) by tests/test_lifecycle.py.
"""
import argparse
import os
import random
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CHILD = r"""
import sys, json, pxcy
from pxcy.protocols.echo import Echo
s = pxcy.Server(Echo, "127.0.0.1", 0, workers=1, max_unsent=int(sys.argv[1])).start()
print(s.port, flush=True)
sys.stdin.readline()
print(json.dumps(s.stats()), flush=True)
s.stop()
"""


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gib", type=float, default=2.0)
    ap.add_argument("--window-mib", type=int, default=8)
    ap.add_argument("--max-unsent-mib", type=int, default=4)
    ap.add_argument("--quick", action="store_true", help="128 MiB (proves the script works)")
    a = ap.parse_args()
    total = (128 << 20) if a.quick else int(a.gib * (1 << 30))
    window = a.window_mib << 20
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.Popen([sys.executable, "-c", CHILD, str(a.max_unsent_mib << 20)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, env=env)
    port = int(p.stdout.readline())
    base = rss(p.pid)
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss(p.pid))
            time.sleep(0.05)

    threading.Thread(target=sample, daemon=True).start()
    block = random.Random(1).randbytes((1 << 20) + 7)
    twice = block + block
    s = socket.create_connection(("127.0.0.1", port))
    recvd = [0]
    cv = threading.Condition()

    def sender():
        off = 0
        while off < total:
            with cv:
                while off - recvd[0] >= window:
                    cv.wait()
            n = min(len(block), total - off, window - (off - recvd[0]))
            st = off % len(block)
            s.sendall(twice[st:st + n])
            off += n
        s.shutdown(socket.SHUT_WR)

    t0 = time.time()
    th = threading.Thread(target=sender)
    th.start()
    buf = bytearray(1 << 20)
    got = 0
    ok = True
    while got < total:
        n = s.recv_into(buf)
        if n == 0:
            break
        st = got % len(block)
        ok = ok and buf[:n] == twice[st:st + n]
        got += n
        with cv:
            recvd[0] = got
            cv.notify()
    th.join()
    secs = time.time() - t0
    end = rss(p.pid)
    done.set()
    import json
    p.stdin.write("\n")
    p.stdin.flush()
    stats = json.loads(p.stdout.readline())
    p.wait(timeout=30)
    print(f"streamed {got / (1 << 20):.0f} MiB in order={ok} in {secs:.1f} s "
          f"({got / secs / (1 << 20):.0f} MiB/s), window {a.window_mib} MiB, max_unsent {a.max_unsent_mib} MiB")
    print(f"server RSS: before {base >> 20} MiB, max {peak[0] >> 20} MiB, end {end >> 20} MiB; "
          f"growth {(peak[0] - base) / (1 << 20):.1f} MiB; transient_peak {stats['transient_peak'] / (1 << 20):.2f} MiB")
    return 0 if ok and got == total else 1


if __name__ == "__main__":
    sys.exit(main())
