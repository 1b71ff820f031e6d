"""Latency of a small echo round trip on a 1-worker server while another connection
floods it, against the same round trip on an idle server (same run, a ratio).

    python3 bench/flood_latency.py [--probes 200] [--quick]

The flood client writes 1 MiB chunks as fast as the server takes them and drains
the echo; the probe sends 10 bytes and waits for them, `probes` times. Printed:
median and 99th percentile of the probe round trip, idle and under the flood,
and the server's read-budget counters (reads per turn, budget yields).
"""
import argparse
import os
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import pxcy                                             # noqa: E402
from pxcy.protocols.echo import Echo                    # noqa: E402


def probe_rtts(port, n):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        s.sendall(b"0123456789")
        got = b""
        while len(got) < 10:
            got += s.recv(10 - len(got))
        out.append(time.perf_counter() - t)
    s.close()
    return out


def summary(xs):
    xs = sorted(xs)
    return statistics.median(xs) * 1e6, xs[int(len(xs) * 0.99) - 1] * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--probes", type=int, default=200)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    n = 20 if a.quick else a.probes
    server = pxcy.Server(Echo, "127.0.0.1", 0, workers=1).start()
    try:
        idle = probe_rtts(server.port, n)
        stop = threading.Event()
        f = socket.create_connection(("127.0.0.1", server.port))

        def drain():
            while not stop.is_set():
                try:
                    if not f.recv(1 << 20):
                        return
                except OSError:
                    return

        def flood():
            chunk = b"x" * (1 << 20)
            while not stop.is_set():
                try:
                    f.sendall(chunk)
                except OSError:
                    return

        ts = [threading.Thread(target=drain), threading.Thread(target=flood)]
        for t in ts:
            t.start()
        time.sleep(0.2)
        loaded = probe_rtts(server.port, n)
        stop.set()
        f.shutdown(socket.SHUT_RDWR)
        for t in ts:
            t.join()
        st = server.stats()
    finally:
        server.stop()
    i50, i99 = summary(idle)
    l50, l99 = summary(loaded)
    print(f"probe round trip, idle:       median {i50:.0f} us, p99 {i99:.0f} us")
    print(f"probe round trip, under flood: median {l50:.0f} us, p99 {l99:.0f} us "
          f"(x{l50 / i50:.1f} median); reads/turn max {st['max_reads_per_turn']}, "
          f"budget yields {st['budget_yields']}, flood bytes {st['bytes_in'] >> 20} MiB")


if __name__ == "__main__":
    main()
