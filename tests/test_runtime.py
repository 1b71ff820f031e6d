"""The runtime over real sockets on 127.0.0.1: echo, lines, sendfile, faults, stop."""
import asyncio
import hashlib
import os
import random
import socket
import struct
import threading

import numpy as np
import pytest

import pxcy
from pxcy.protocols.echo import Echo
from pxcy.protocols.lines import Lines
from netutil import recv_exactly, settled_stats


def threads():
    return len(os.listdir("/proc/self/task"))


def test_echo_1000_connections_random_payloads(serve, nofile):
    nofile(2 * 1000 + 256)          # both ends of every connection live in this process
    server = serve(Echo)
    rng = random.Random(1)
    # sizes log-uniform up to 1 MiB: many small, some large
    sizes = [int(2 ** rng.uniform(0, 20)) for _ in range(1000)]

    async def one(i, n):
        payload = random.Random(i).randbytes(n)
        r, w = await asyncio.open_connection("127.0.0.1", server.port)

        async def writer():
            for k in range(0, n, 65536):          # several writes, interleaved with reads
                w.write(payload[k:k + 65536])
                await w.drain()

        wt = asyncio.create_task(writer())
        got = await r.readexactly(n)
        await wt
        w.close()
        return got == payload

    async def main():
        sem = asyncio.Semaphore(1000)

        async def guarded(i, n):
            async with sem:
                return await one(i, n)
        return await asyncio.gather(*(guarded(i, n) for i, n in enumerate(sizes)))

    results = asyncio.run(main())
    assert all(results)
    st = settled_stats(server, lambda st: st["bytes_out"] == sum(sizes))
    assert st["accepted"] == 1000
    assert st["bytes_in"] == st["bytes_out"] == sum(sizes)


def test_lines_100_connections_split_at_random_boundaries(serve):
    server = serve(Lines, workers=2)

    async def one(i):
        rng = random.Random(i)
        lines = []
        for _ in range(rng.randint(5, 60)):
            if lines and rng.random() < 0.2:
                lines.append("LAST")
            else:
                lines.append(f"c{i}-" + "".join(rng.choice("abcdé xyz") for _ in range(rng.randint(0, 80))))
        data = "".join(l + "\n" for l in lines).encode()
        expect, count, last = [], 0, b""
        for l in lines:
            b = l.encode()
            if b == b"LAST":
                expect.append(b"LAST " + last + b"\n")
            else:
                count += 1
                expect.append(b"%d " % count + b + b"\n")
                last = b
        expect = b"".join(expect)
        r, w = await asyncio.open_connection("127.0.0.1", server.port)
        pos = 0
        while pos < len(data):
            k = rng.randint(1, 17)
            w.write(data[pos:pos + k])
            await w.drain()
            pos += k
            if rng.random() < 0.3:
                await asyncio.sleep(0)
        got = await r.readexactly(len(expect))
        w.close()
        return got == expect

    async def main():
        return await asyncio.gather(*(one(i) for i in range(100)))

    assert all(asyncio.run(main()))


def test_lines_state_is_per_connection(serve):
    server = serve(Lines, workers=1)
    a = socket.create_connection(("127.0.0.1", server.port))
    b = socket.create_connection(("127.0.0.1", server.port))
    a.sendall(b"x\ny\n")
    assert recv_exactly(a, 8) == b"1 x\n2 y\n"
    b.sendall(b"LAST\nz\n")
    assert recv_exactly(b, 10) == b"LAST \n1 z\n"
    a.sendall(b"LAST\n")
    assert recv_exactly(a, 7) == b"LAST y\n"
    a.close()
    b.close()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("files")
    small = d / "small.bin"
    small.write_bytes(random.Random(2).randbytes(3 * 1024 * 1024 + 17))
    sparse = d / "sparse.bin"
    tail = random.Random(3).randbytes(1 << 20)
    with open(sparse, "wb") as f:                # 3 GiB + 1 MiB, mostly holes
        f.seek(3 << 30)
        f.write(tail)
        f.seek((2 << 30) + 12345)
        f.write(b"past-two-gib")
    return {"small": str(small), "sparse": str(sparse)}


def fetch(port, path, offset, count, expect_len):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(f"{path} {offset} {count}\n".encode())
        return recv_exactly(s, expect_len)


def test_sendfile_whole_and_ranges(serve, protos, files):
    server = serve(protos.FileSender)
    data = open(files["small"], "rb").read()
    size = len(data)
    assert fetch(server.port, files["small"], 0, -1, size) == data
    for off, cnt in [(0, 1), (0, 100), (1, 4096), (size - 1, 1), (size - 100, 100), (size // 2, 65536),
                     (12345, size - 12345)]:
        assert fetch(server.port, files["small"], off, cnt, cnt) == data[off:off + cnt], (off, cnt)
    # several requests pipelined on one connection: answered in order
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        reqs = [(7, 10), (size - 5, 5), (0, 3)]
        s.sendall(b"".join(f"{files['small']} {o} {c}\n".encode() for o, c in reqs))
        got = recv_exactly(s, 18)
        assert got == b"".join(data[o:o + c] for o, c in reqs)
    assert fetch(server.port, "/nonexistent/file", 0, -1, 4) == b"ERR\n"


def test_sendfile_past_2gib(serve, protos, files):
    server = serve(protos.FileSender)
    sparse = files["sparse"]
    size = os.path.getsize(sparse)
    off = (2 << 30) + 12345
    assert fetch(server.port, sparse, off, 12, 12) == b"past-two-gib"
    tail = open(sparse, "rb")
    tail.seek(size - (1 << 20))
    want = tail.read()
    assert fetch(server.port, sparse, size - (1 << 20), -1, 1 << 20) == want
    assert fetch(server.port, sparse, size - 7, 7, 7) == want[-7:]
    # a range spanning the hole before the tail: zeros then data
    got = fetch(server.port, sparse, (3 << 30) - 100, 200, 200)
    assert got == b"\0" * 100 + want[:100]


def test_sendfile_over_2gib_in_one_range(serve, protos, files):
    """One range larger than sendfile's 0x7ffff000 per-call limit."""
    server = serve(protos.FileSender, workers=1)
    sparse = files["sparse"]
    size = os.path.getsize(sparse)
    start = size - (0x7ffff000 + (2 << 20))
    count = size - start
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(f"{sparse} {start} {count}\n".encode())
        h = hashlib.sha256()
        got = 0
        while got < count:
            chunk = s.recv(1 << 22)
            assert chunk
            got += len(chunk)
            h.update(chunk)
    with open(sparse, "rb") as f:
        f.seek(start)
        ref = hashlib.sha256()
        while True:
            b = f.read(1 << 24)
            if not b:
                break
            ref.update(b)
    assert h.hexdigest() == ref.hexdigest()


def test_reset_during_large_send_keeps_serving(serve, protos, files):
    server = serve(protos.FileSender, workers=1)
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(f"{files['sparse']} 0 -1\n".encode())
        assert len(s.recv(65536)) > 0
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()                                   # RST mid-transfer
    data = open(files["small"], "rb").read()
    assert fetch(server.port, files["small"], 100, 1000, 1000) == data[100:1100]


def test_reset_during_memory_flood(serve, protos):
    server = serve(protos.Flood, workers=1)
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"go")
        assert s.recv(1000)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall(b"go")
    assert recv_exactly(s, 32 << 20) == b"x" * (32 << 20)
    s.close()


def test_backpressure_pauses_reading(serve):
    """A client that writes but never reads cannot make the server buffer without bound."""
    server = serve(Echo, workers=1, max_unsent=1 << 20)
    s = socket.create_connection(("127.0.0.1", server.port))
    s.setblocking(False)
    chunk = b"y" * 65536
    sent = 0
    stalled = 0
    while sent < (256 << 20) and stalled < 200:
        try:
            sent += s.send(chunk)
            stalled = 0
        except BlockingIOError:
            stalled += 1
            threading.Event().wait(0.005)
    st = server.stats()
    # everything the kernel could not hold is still with the client
    assert sent < (256 << 20)
    assert st["bytes_in"] - st["bytes_out"] <= (1 << 20) + (1 << 17)
    s.close()


def test_callback_error_closes_only_that_connection(serve, protos):
    server = serve(protos.Failing, workers=1)
    good = socket.create_connection(("127.0.0.1", server.port))
    bad = socket.create_connection(("127.0.0.1", server.port))
    good.sendall(b"hello")
    assert recv_exactly(good, 5) == b"hello"
    bad.sendall(b"fail")
    assert bad.recv(10) == b""                      # closed
    good.sendall(b"again")
    assert recv_exactly(good, 5) == b"again"
    assert server.stats()["errors"] == 1


def test_connection_made_peer_and_graceful_close(serve, protos):
    server = serve(protos.Greeter, workers=1)
    s = socket.create_connection(("127.0.0.1", server.port))
    host, port = s.getsockname()
    assert s.makefile("rb").readline() == f"hello {host}:{port}\n".encode()
    s.sendall(b"bye")
    assert recv_exactly(s, 4) == b"bye\n"
    assert s.recv(10) == b""                        # server closed after flushing


def test_global_numpy_table_read_by_all_workers(serve, protos):
    table = np.arange(100_000, dtype=np.float64) * 0.5
    protos.load_table(table)
    server = serve(protos.TableLookup, workers=2)

    async def one(i):
        rng = random.Random(i)
        idx = [rng.randrange(len(table)) for _ in range(200)]
        r, w = await asyncio.open_connection("127.0.0.1", server.port)
        w.write(b"".join(b"%d\n" % k for k in idx))
        out = [float(await r.readline()) for _ in idx]
        w.close()
        return out == [table[k] for k in idx]

    async def main():
        return await asyncio.gather(*(one(i) for i in range(50)))

    assert all(asyncio.run(main()))


def test_max_connections(serve):
    server = serve(Echo, workers=1, max_connections=3)
    keep = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(3)]
    for s in keep:
        s.sendall(b"a")
        assert s.recv(1) == b"a"
    extra = socket.create_connection(("127.0.0.1", server.port))
    assert extra.recv(10) == b""                    # closed at once
    assert server.stats()["rejected"] >= 1
    keep[0].sendall(b"b")
    assert keep[0].recv(1) == b"b"


def test_python_object_fields_refused(protos):
    with pytest.raises(TypeError, match="only C-typed fields"):
        pxcy.Server(protos.WithObject)
    with pytest.raises(TypeError, match="not a pxcy.runtime.Protocol"):
        pxcy.Server(dict)


def test_stop_with_open_connections_leaves_no_thread():
    before = threads()
    server = pxcy.Server(Lines, "127.0.0.1", 0, workers=4).start()
    assert threads() == before + 4
    socks = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(50)]
    for i, s in enumerate(socks):
        s.sendall(b"partial line without newline" if i % 2 else b"x\n")
    for s in socks[::2]:
        assert s.recv(10) == b"1 x\n"
    server.stop()
    assert threads() == before
    for s in socks:
        assert s.recv(10) == b""                    # every connection was closed
    server.stop()                                   # idempotent
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port))


def test_port_in_use():
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    with pytest.raises(OSError):
        pxcy.Server(Echo, "127.0.0.1", blocker.getsockname()[1], workers=1).start()
    blocker.close()


def test_stats_count_callbacks_and_bytes(serve):
    server = serve(Echo, workers=1)
    s = socket.create_connection(("127.0.0.1", server.port))
    for _ in range(10):
        s.sendall(b"ping")
        assert recv_exactly(s, 4) == b"ping"
    st = settled_stats(server, lambda st: st["bytes_out"] == 40)
    assert st["bytes_in"] == st["bytes_out"] == 40
    assert st["reads"] == 10 and st["connections"] == 1
    assert st["callbacks"] >= 20                    # data_received + send_complete
    s.close()
