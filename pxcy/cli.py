"""The `pxcy` command: run / static / new / build.

Bad arguments get one line on stderr and exit status 2, never a traceback.
"""
import argparse
import importlib
import os
import sys

import pxcy

EXIT_USAGE = 2


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


PREFIX = "pxcy: error: "


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # same one-line form as every other error; say where the usage is
        raise CliError(f"{message} (see `{self.prog} --help`)")


def _positive(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}")
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {text}")
    return v


def _port(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    if not 0 <= v <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range: {text}")
    return v


def _seconds(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}")
    if not 0 <= v <= 86400:
        raise argparse.ArgumentTypeError(f"must be between 0 and 86400 seconds: {text}")
    return v


def _listen_addr(text):
    from pxcy.runtime import parse_address
    try:
        parse_address(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))
    return text


def add_server_args(p, port=8080, access_log=False, metrics=True):
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=port, help=f"TCP port (default {port}; 0 picks one)")
    p.add_argument("--workers", type=_positive, default=None,
                   help="worker threads (default: number of CPUs)")
    p.add_argument("--listen", metavar="ADDR", action="append", type=_listen_addr, default=None,
                   help="listen on ADDR instead of --host/--port; repeatable: HOST:PORT, [V6]:PORT, "
                        "unix:/PATH, fd:N, systemd (LISTEN_FDS socket activation)")
    p.add_argument("--reuse-port", action="store_true",
                   help="one SO_REUSEPORT listener per worker (a new process can start beside this one)")
    p.add_argument("--drain", metavar="SECONDS", type=_seconds, default=None,
                   help="on SIGTERM, drain this long first: keep serving, /healthz 503, "
                        "Connection: close; then stop (default: 10 s if /healthz was asked "
                        "for in the last minute - a balancer is watching - else 0)")
    if metrics:
        p.add_argument("--metrics", action="store_true",
                       help="answer GET /metrics in Prometheus text format (HTTP)")
    if access_log:
        p.add_argument("--access-log", metavar="FILE", default=None,
                       help="append a combined-format access log to FILE (HTTP; default: off)")


def load_protocol(spec):
    """'package.module:Class' -> the class, or CliError with one clear line."""
    mod_name, sep, attr = spec.partition(":")
    if not sep or not mod_name or not attr:
        raise CliError(f"expected MODULE:CLASS, got {spec!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        mod = importlib.import_module(mod_name)
    except ModuleNotFoundError as e:
        raise CliError(f"cannot import module {mod_name!r}: {e}")
    except ImportError as e:
        raise CliError(f"cannot import module {mod_name!r}: {e}")
    from pxcy.runtime import Protocol
    try:
        obj = getattr(mod, attr)
    except AttributeError:
        found = protocol_classes(mod)
        raise CliError(f"module {mod_name!r} has no attribute {attr!r}; "
                       + (f"its Protocol classes: {', '.join(found)}" if found
                          else "it defines no Protocol subclass"))
    if not (isinstance(obj, type) and issubclass(obj, Protocol)):
        raise CliError(f"{spec} is not a pxcy.runtime.Protocol subclass")
    if obj in _base_protocols():
        raise CliError(f"{spec} is a base class with no behaviour of its own; "
                       "serve a subclass of it (e.g. pxcy.protocols.http11:HelloWorld)")
    return obj


def _base_protocols():
    """The abstract bases a handler derives from: serving one is a mistake."""
    from pxcy.runtime import Protocol
    bases = [Protocol]
    try:
        from pxcy.protocols.http11 import HttpProtocol
        bases.append(HttpProtocol)
    except ImportError:
        pass
    return bases


def protocol_classes(mod):
    """Names of the servable Protocol subclasses defined in (or exported by) mod."""
    from pxcy.runtime import Protocol
    bases = _base_protocols()
    return sorted(name for name, v in vars(mod).items()
                  if not name.startswith("_") and isinstance(v, type) and issubclass(v, Protocol)
                  and v not in bases)


def scheme(protocol):
    """'http' for an HTTP protocol (class or instance), 'tcp' for anything else."""
    try:
        from pxcy.protocols.http11 import HttpProtocol
    except ImportError:
        return "tcp"
    cls = protocol if isinstance(protocol, type) else type(protocol)
    return "http" if issubclass(cls, HttpProtocol) else "tcp"


def serve(protocol, args, what=""):
    """Start a Server, print where it listens, serve until SIGINT/SIGTERM; exit 0."""
    from pxcy.runtime import Server
    log = getattr(args, "access_log", None)
    if log:
        protocol = _open_access_log(protocol, log)
    if getattr(args, "metrics", False):
        protocol = _instance(protocol)
        if not hasattr(protocol, "operations"):
            raise CliError("--metrics needs an HTTP protocol (an HttpProtocol subclass)")
        protocol.operations(metrics=True)
    listen = getattr(args, "listen", None)
    try:
        server = Server(protocol, args.host, args.port, workers=args.workers, listen=listen,
                        reuse_port=getattr(args, "reuse_port", False), drain=getattr(args, "drain", None))
        server.start()
    except (TypeError, ValueError, RuntimeError) as e:    # refused protocol, prepare() failed
        raise CliError(str(e).splitlines()[0] if str(e) else type(e).__name__)
    except OSError as e:
        if e.strerror and e.strerror.startswith("cannot listen"):
            raise CliError(e.strerror)
        raise CliError(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}")
    host = f"[{args.host}]" if ":" in args.host else args.host

    def ready():
        url = f"{scheme(server.prototype)}://{host}:{server.port}" + ("/" if scheme(server.prototype) == "http" else "")
        if listen:
            url = ", ".join(server.addresses)
        print(f"pxcy: serving {what or type(server.prototype).__name__} on {url} "
              f"with {server.workers} worker{'s' if server.workers != 1 else ''} (Ctrl-C to stop)",
              flush=True)
    server.serve_forever(on_ready=ready)
    if log:
        protocol.close_access_log()          # the workers are stopped: every line written
    print("pxcy: stopped", flush=True)
    return 0


def _instance(protocol):
    try:
        if isinstance(protocol, type):
            protocol = protocol()
    except Exception as e:
        raise CliError(f"cannot create {protocol.__name__}: {e}")
    return protocol


def _open_access_log(protocol, path):
    """The protocol instance with its access log open (HttpProtocol only)."""
    protocol = _instance(protocol)
    if not hasattr(protocol, "open_access_log"):
        raise CliError("--access-log needs an HTTP protocol (an HttpProtocol subclass)")
    try:
        protocol.open_access_log(path)
    except OSError as e:
        raise CliError(f"cannot open access log {path}: {e.strerror or e}")
    return protocol


def cmd_run(args):
    return serve(load_protocol(args.spec), args, args.spec)


def build_parser():
    parser = _Parser(prog="pxcy", description="Parallel nogil network callbacks for CPython.")
    parser.add_argument("--version", action="version", version=f"pxcy {pxcy.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("run", help="serve a Protocol class: pxcy run MODULE:CLASS",
                       description="Serve a pxcy Protocol subclass from worker threads.")
    p.add_argument("spec", metavar="MODULE:CLASS", help="e.g. pxcy.protocols.echo:Echo")
    add_server_args(p, access_log=True)
    p.set_defaults(func=cmd_run)

    for register in _extra_commands():
        register(sub)
    return parser


def _extra_commands():
    """Subcommands defined next to what they drive (static files, project tools)."""
    out = []
    for mod_name in ("pxcy.protocols.static_cli", "pxcy.project"):
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:
            continue
        out.append(mod.register)
    return out


def main(argv=None):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return EXIT_USAGE
        return args.func(args) or 0
    except CliError as e:
        msg = str(e)
        if not msg.startswith(PREFIX):
            msg = PREFIX + msg
        print(msg, file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
