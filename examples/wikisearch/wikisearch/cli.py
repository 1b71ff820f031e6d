"""Command line: `wikisearch gen|build|serve|demo` (also `python -m wikisearch`).

Errors are printed as one line `wikisearch: error: ...` with exit status 2.
"""
import argparse
import os
import sys

from .errors import WikisearchError

PROG = "wikisearch"


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # One line, no usage dump, no traceback.
        sys.stderr.write("%s: error: %s\n" % (PROG, message))
        sys.exit(2)


def _positive_int(s):
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError("invalid integer: %r" % s) from None
    if v < 1:
        raise argparse.ArgumentTypeError("must be >= 1: %r" % s)
    return v


def _int(s):
    try:
        return int(s)
    except ValueError:
        raise argparse.ArgumentTypeError("invalid integer: %r" % s) from None


def cmd_gen(args):
    from . import gen
    t = __import__("time").monotonic()
    nbytes = gen.generate(args.out, pages=args.pages, seed=args.seed, short=args.short)
    dt = __import__("time").monotonic() - t
    print("wrote %s: %d pages, %.1f MB in %.1f s (seed %d)"
          % (args.out, args.pages, nbytes / 1e6, dt, args.seed))
    return 0


def cmd_build(args):
    from .index import build_index
    res = build_index(args.dump, args.index, log=lambda m: print(m, file=sys.stderr))
    print("indexed %d pages (%d titles%s) of %s: %.1f MB in %.2f s = %.1f MB/s -> %s"
          % (res.pages, res.titles,
             ", %d duplicate titles ignored" % res.duplicates if res.duplicates else "",
             res.dump_path, res.dump_bytes / 1e6, res.seconds, res.mb_per_s, res.index_dir))
    return 0


def cmd_serve(args):
    from .serve import serve
    return serve(args.index, args.host, args.port, args.workers, **_ops(args))


def _ops(args):
    return dict(drain=args.drain, metrics=args.metrics, listen=args.listen, reuse_port=args.reuse_port)


def cmd_demo(args):
    from .serve import demo
    return demo(args.dir, args.pages, args.seed, args.host, args.port, args.workers, **_ops(args))


def _server_args(p):
    from pxcy.cli import add_server_args     # --host/--port/--workers, as `pxcy run`
    add_server_args(p)      # also --listen, --reuse-port, --drain, --metrics


def make_parser():
    p = _Parser(prog=PROG, description="Wikipedia instant search over a MediaWiki XML dump.")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    g = sub.add_parser("gen", help="generate a synthetic MediaWiki XML dump")
    g.add_argument("out", metavar="OUT.xml")
    g.add_argument("--pages", type=_positive_int, default=100_000, help="number of pages (default 100000)")
    g.add_argument("--seed", type=_int, default=1, help="RNG seed (default 1)")
    g.add_argument("--short", action="store_true",
                   help="one-line articles (for scale runs: titles and offsets are what matter)")
    g.set_defaults(func=cmd_gen)

    b = sub.add_parser("build", help="index a dump (.xml or .xml.bz2)")
    b.add_argument("dump", metavar="DUMP")
    b.add_argument("--index", metavar="DIR", help="index directory (default: DUMP minus .xml[.bz2] + .index)")
    b.set_defaults(func=cmd_build)

    s = sub.add_parser("serve", help="serve the search page and API from an index")
    s.add_argument("--index", metavar="DIR", required=True, help="index directory (from wikisearch build)")
    _server_args(s)
    s.set_defaults(func=cmd_serve)

    d = sub.add_parser("demo", help="generate, index and serve a synthetic dump (cached in --dir)")
    d.add_argument("--pages", type=_positive_int, default=100_000, help="pages to generate (default 100000)")
    d.add_argument("--seed", type=_int, default=1, help="RNG seed (default 1)")
    d.add_argument("--dir", default=os.path.join("data", "wikisearch"),
                   help="where the dump and index are kept (default data/wikisearch)")
    _server_args(d)
    d.set_defaults(func=cmd_demo)
    return p


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv:                     # no command: the usage, as `pxcy` does
        make_parser().print_help()
        return 2
    args = make_parser().parse_args(argv)
    try:
        return args.func(args)
    except WikisearchError as e:
        msg = str(e)
    except ValueError as e:          # e.g. invalid arguments caught late
        msg = str(e)
    except OSError as e:
        msg = "%s: %s" % (e.filename, e.strerror) if e.filename else str(e)
    except KeyboardInterrupt:
        sys.stderr.write("%s: interrupted\n" % PROG)
        return 130
    sys.stderr.write("%s: error: %s\n" % (PROG, msg.splitlines()[0] if msg else "failed"))
    return 2


if __name__ == "__main__":
    sys.exit(main())
