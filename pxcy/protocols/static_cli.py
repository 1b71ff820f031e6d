"""`pxcy static DIR`: serve a directory over HTTP/1.1 (registered by pxcy.cli)."""
import os

from pxcy.cli import CliError, add_server_args, serve


def cmd_static(args):
    from pxcy.protocols.http11 import Static
    if not os.path.isdir(args.root):
        raise CliError(f"not a directory: {args.root}")
    app = Static(args.root, follow_symlinks=args.follow_symlinks)
    return serve(app, args, f"static files from {os.path.realpath(args.root)}")


def register(sub):
    p = sub.add_parser("static", help="serve a directory: pxcy static DIR",
                       description="Serve the files below DIR (GET/HEAD, conditional requests, "
                                   "Range, sendfile). Nothing outside DIR is served.")
    p.add_argument("root", metavar="DIR", help="directory to serve")
    p.add_argument("--follow-symlinks", action="store_true",
                   help="also follow symlinks that lead outside DIR")
    add_server_args(p, access_log=True)
    p.set_defaults(func=cmd_static)
