"""Attack pass on issue 14: /metrics under concurrent load, many workers (issue 14)."""
import socket
import threading
import time

import pxcy
from pxcy.protocols.http11 import HelloWorld

from test_operations import strict_parse


def _req(port, path, keep_sock=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    d = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        d += c
    s.close()
    return d


def test_metrics_monotonic_under_load():
    """Counters scraped while 4 clients hammer 6 workers: each per-worker counter never
    goes down between scrapes, every scrape parses strictly, the totals add up."""
    with pxcy.Server(HelloWorld(metrics=True), workers=6) as srv:
        stop = time.monotonic() + 2.0
        done = [0]

        def load():
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            f = s.makefile("rb")
            while time.monotonic() < stop:
                s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n" * 8)
                for _ in range(8):
                    line = f.readline()
                    assert line.startswith(b"HTTP/1.1 200"), line
                    while f.readline() != b"\r\n":
                        pass
                    f.read(13)
                done[0] += 8
            s.close()
        ts = [threading.Thread(target=load) for _ in range(4)]
        for t in ts:
            t.start()
        prev = None
        scrapes = 0
        while time.monotonic() < stop:
            d = _req(srv.port, b"/metrics")
            head, _, body = d.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head
            m = strict_parse(body.decode())
            if prev is not None:
                for name, series in m.items():
                    if not name.endswith("_total"):
                        continue
                    for k, v in series.items():
                        assert v >= prev[name].get(k, 0), (name, k, v, prev[name].get(k))
            prev = m
            scrapes += 1
        for t in ts:
            t.join()
        assert scrapes > 5
        m = strict_parse(_req(srv.port, b"/metrics").partition(b"\r\n\r\n")[2].decode())
        ok = sum(v for k, v in m["pxcy_http_responses_total"].items() if ("class", "2xx") in k)
        assert ok >= done[0] + scrapes
        assert sum(m["pxcy_requests_total"].values()) >= ok


def test_metrics_past_first_buffer_while_counts_change():
    """24 workers: the text is over the first 16 KiB buffer, so ops_answer formats it
    twice (once to measure, once into a buffer of that size). Connections opened and
    closed meanwhile change the gauges (9 -> 10 open: one byte longer): the second
    format no longer fits, and the answer was sent anyway - cut short, ending in a NUL,
    with stale heap bytes in between (or, two bytes longer, read past the buffer)."""
    with pxcy.Server(HelloWorld(metrics=True), workers=24) as srv:
        stop = time.monotonic() + 3.0

        def churn():
            while time.monotonic() < stop:
                socks = []
                for _ in range(12):
                    try:
                        socks.append(socket.create_connection(("127.0.0.1", srv.port)))
                    except OSError:
                        pass
                for s in socks:
                    s.close()
        ts = [threading.Thread(target=churn) for _ in range(2)]
        for t in ts:
            t.start()
        bad, n = [], 0
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        f = s.makefile("rb")
        try:
            while time.monotonic() < stop:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                assert f.readline().startswith(b"HTTP/1.1 200")
                cl = 0
                while True:
                    line = f.readline()
                    if line == b"\r\n":
                        break
                    if line.lower().startswith(b"content-length:"):
                        cl = int(line.split(b":")[1])
                body = f.read(cl)
                n += 1
                if b"\0" in body or not body.endswith(b"\n"):
                    bad.append(body[-60:])
        finally:
            s.close()
            for t in ts:
                t.join()
        assert n > 100
        assert not bad, f"{len(bad)} of {n} scrapes cut short, e.g. {bad[0]!r}"
