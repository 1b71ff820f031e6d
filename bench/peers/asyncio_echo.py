"""Echo peer for the pxcy benchmarks: an asyncio.Protocol echo on asyncio or uvloop.

    python asyncio_echo.py --loop asyncio|uvloop --port PORT [--workers N]

data_received() writes back exactly what it got (one write per callback).
--workers N forks N processes sharing the port through SO_REUSEPORT.
"""
import argparse
import asyncio
import socket
import sys

from workers import run_workers  # noqa: E402 (bench/peers is the script's folder)


class Echo(asyncio.Protocol):
    __slots__ = ("transport",)

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data):
        self.transport.write(data)


def serve(args):
    if args.loop == "uvloop":
        import uvloop
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((args.host, args.port))
    s.listen(4096)
    s.setblocking(False)
    loop.run_until_complete(loop.create_server(Echo, sock=s, backlog=4096))
    loop.run_forever()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loop", choices=("asyncio", "uvloop"), default="uvloop")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    print(f"{args.loop} echo listening on {args.host}:{args.port} workers={args.workers}", flush=True)
    run_workers(serve, args)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
