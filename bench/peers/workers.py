"""Run a peer's serve(args) in one process, or fork args.workers of them (SO_REUSEPORT)."""
import os


def run_workers(serve, args):
    if args.workers == 1:
        serve(args)
        return
    pids = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            try:
                serve(args)
            finally:
                os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
