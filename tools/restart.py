#!/usr/bin/env python3
"""Restart a pxcy server on one host under a continuous client; count failed requests.

    sudo python3 tools/restart.py [--migrate 0|1] [--drain 1] [--seconds 3] [--rounds 2] [--json]

Everything runs in a network namespace made for the run (only its loopback is used;
`net.ipv4.tcp_migrate_req` is set there, never on the host). Old process A serves
`pxcy run HelloWorld --reuse-port --drain D`; a client (4 threads, a fresh connection
every few requests, every body checked) runs against the port; then, each round, a
new process B starts beside A on the same port, A gets SIGTERM (drains, exits 0), and
B becomes the old one for the next round. Prints the counts; exit 0 only with zero
failed requests and every old process exiting 0.

What it shows (docs/deployment.md has the figures): with reuse_port and a drain,
the connections still waiting in the old process's accept queue when it closes its
listener are reset unless the kernel migrates them (`tcp_migrate_req=1`).
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PORT = 8090

CLIENT = r"""
import socket, sys, threading, time
port, stop_file = int(sys.argv[1]), sys.argv[2]
import os
ok = [0]; bad = [0]; examples = []
lock = threading.Lock()
REQ = b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"
def one(sock, f):
    sock.sendall(REQ)
    status = f.readline()
    close = False
    n = None
    while True:
        line = f.readline()
        if not line:
            raise EOFError("eof in head")
        if line == b"\r\n":
            break
        k, _, v = line.partition(b":")
        if k.lower() == b"content-length":
            n = int(v)
        if k.lower() == b"connection" and v.strip().lower() == b"close":
            close = True
    body = f.read(n)
    if not status.startswith(b"HTTP/1.1 200") or body != b"Hello, World!":
        raise ValueError("bad answer %r %r" % (status, body))
    return close
def run():
    while not os.path.exists(stop_file):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            f = s.makefile("rb")
            for _ in range(5):
                close = one(s, f)
                with lock:
                    ok[0] += 1
                if close:
                    break
            s.close()
        except Exception as e:
            with lock:
                bad[0] += 1
                if len(examples) < 5:
                    examples.append(repr(e))
ts = [threading.Thread(target=run) for _ in range(4)]
[t.start() for t in ts]
[t.join() for t in ts]
print(ok[0], bad[0], "|".join(examples), flush=True)
"""


def sh(*cmd):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    p.add_argument("--migrate", type=int, choices=(0, 1), default=1, help="net.ipv4.tcp_migrate_req (default 1)")
    p.add_argument("--drain", type=float, default=1.0, help="--drain of the old process (default 1)")
    p.add_argument("--seconds", type=float, default=1.5, help="load before each restart (default 1.5)")
    p.add_argument("--rounds", type=int, default=2, help="restarts (default 2)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--pass-fd", action="store_true",
                   help="instead of reuse_port: this script holds one listening socket (as systemd "
                        "does) and every server inherits it (--listen fd:3)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        print("restart.py: needs root (ip netns)", file=sys.stderr)
        return 2
    ns = "pxrs%x" % (os.getpid() & 0xFFFF)
    stop_file = "/tmp/%s.stop" % ns
    procs, client = [], None
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT] + [x for x in sys.path if x]))
    result = {"migrate": args.migrate, "drain": args.drain, "rounds": args.rounds,
              "mode": "pass-fd" if args.pass_fd else "reuse_port"}
    try:
        sh("ip", "netns", "add", ns)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        sh("ip", "netns", "exec", ns, "sysctl", "-q", "-w", f"net.ipv4.tcp_migrate_req={args.migrate}")
        held = None
        if args.pass_fd:
            # enter the namespace (this thread; children inherit it) to make the socket there
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            nsfd = os.open("/run/netns/" + ns, os.O_RDONLY)
            if libc.setns(nsfd, 0x40000000) != 0:          # CLONE_NEWNET
                raise OSError(ctypes.get_errno(), "setns")
            os.close(nsfd)
            import socket
            held = socket.socket()
            held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            held.bind(("127.0.0.1", PORT))
            held.listen(4096)
            import fcntl
            hfd = fcntl.fcntl(held.fileno(), fcntl.F_DUPFD, 10)   # never 3 itself
            held.close()
            held = socket.socket(fileno=hfd)

        def start():
            if held is not None:
                cmd = ["/bin/bash", "-c", 'exec 3<&%d %d<&-; exec "$@"' % (held.fileno(), held.fileno()), "-",
                       sys.executable, "-m", "pxcy", "run", "pxcy.protocols.http11:HelloWorld",
                       "--listen", "fd:3", "--workers", str(args.workers), "--drain", str(args.drain)]
            else:
                cmd = ["ip", "netns", "exec", ns, sys.executable, "-m", "pxcy", "run",
                       "pxcy.protocols.http11:HelloWorld", "--port", str(PORT), "--reuse-port",
                       "--workers", str(args.workers), "--drain", str(args.drain)]
            pr = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                  pass_fds=(held.fileno(),) if held is not None else ())
            line = pr.stdout.readline()
            if "serving" not in line:
                raise RuntimeError("server did not start: " + line + pr.stderr.read())
            procs.append(pr)
            return pr
        old = start()
        client = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", CLIENT, str(PORT), stop_file],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        exits = []
        for _ in range(args.rounds):
            time.sleep(args.seconds)
            new = start()
            old.send_signal(signal.SIGTERM)
            exits.append(old.wait(60))
            old = new
        time.sleep(args.seconds)
        open(stop_file, "w").close()
        out, err = client.communicate(timeout=60)
        ok, bad, *ex = out.split(" ", 2)
        result.update(ok=int(ok), failed=int(bad), examples=(ex[0].strip() if ex else ""), exits=exits)
    finally:
        for pr in procs:
            if pr.poll() is None:
                pr.kill()
                pr.wait()
        if client is not None and client.poll() is None:
            client.kill()
            client.wait()
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        if os.path.exists(stop_file):
            os.unlink(stop_file)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"restart ({result['mode']}, tcp_migrate_req={args.migrate}, drain {args.drain} s, {args.rounds} restarts): "
              f"{result['ok']} ok, {result['failed']} failed {result['examples']}; old processes exited {result['exits']}")
    return 0 if result["failed"] == 0 and all(e == 0 for e in result["exits"]) else 1


if __name__ == "__main__":
    sys.exit(main())
