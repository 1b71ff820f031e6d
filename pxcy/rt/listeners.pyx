# Listening sockets (included into pxcy/runtime.pyx): address parsing, TCP (IPv4 and
# IPv6), Unix domain sockets, sockets inherited from systemd (LISTEN_FDS), and
# SO_REUSEPORT listeners of each worker's own. Runs with the GIL, before serving.

import stat as _stat


def parse_address(spec, default_port=0):
    """'HOST:PORT', '[V6]:PORT', 'PORT', 'unix:/path', 'fd:N' or 'systemd' ->
    (kind, value). kind is 'tcp' (value (host, port)), 'unix' (path), 'fd' (int) or
    'systemd' (None). ValueError with one clear line for anything else."""
    if isinstance(spec, tuple):
        host, port = spec
        return "tcp", (str(host), _port_of(port, spec))
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"listen address {spec!r}: expected HOST:PORT, unix:/path, fd:N or systemd")
    if spec.startswith("unix:"):
        path = spec[5:]
        if not path:
            raise ValueError(f"listen address {spec!r}: empty socket path")
        if len(_os.fsencode(path)) > 107:
            raise ValueError(f"listen address {spec!r}: socket path longer than 107 bytes")
        return "unix", path
    if spec.startswith("fd:"):
        try:
            fd = int(spec[3:])
        except ValueError:
            raise ValueError(f"listen address {spec!r}: fd:N needs a descriptor number") from None
        if fd < 0:
            raise ValueError(f"listen address {spec!r}: negative descriptor")
        return "fd", fd
    if spec == "systemd":
        return "systemd", None
    if spec.startswith("["):
        host, sep, rest = spec[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"listen address {spec!r}: expected [IPV6]:PORT")
        return "tcp", (host, _port_of(rest[1:] if rest else default_port, spec))
    if spec.count(":") == 1:
        host, _, port = spec.partition(":")
        return "tcp", (host or "0.0.0.0", _port_of(port, spec))
    if spec.isdigit():
        return "tcp", ("0.0.0.0", _port_of(spec, spec))
    if ":" in spec:                     # a bare IPv6 address
        return "tcp", (spec, _port_of(default_port, spec))
    return "tcp", (spec, _port_of(default_port, spec))


def _port_of(v, spec):
    try:
        p = int(v)
    except (TypeError, ValueError):
        raise ValueError(f"listen address {spec!r}: bad port {v!r}") from None
    if not 0 <= p <= 65535:
        raise ValueError(f"listen address {spec!r}: port out of range")
    return p


def systemd_fds(environ=None, pid=None):
    """The descriptors systemd passed (LISTEN_PID is us, LISTEN_FDS of them from 3)."""
    env = _os.environ if environ is None else environ
    if env.get("LISTEN_PID") != str(pid or _os.getpid()):
        raise ValueError("listen address 'systemd': LISTEN_PID is not this process "
                         "(not started by socket activation)")
    try:
        n = int(env.get("LISTEN_FDS", ""))
    except ValueError:
        raise ValueError("listen address 'systemd': LISTEN_FDS is not a number") from None
    if n < 1:
        raise ValueError("listen address 'systemd': LISTEN_FDS is 0")
    return list(range(3, 3 + n))


def _unix_listener(path, backlog):
    """Bind a Unix socket at path. A stale socket (nobody accepting) is replaced;
    a live one or any other file is an error (nothing is removed)."""
    try:
        st = _os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None:
        if not _stat.S_ISSOCK(st.st_mode):
            raise OSError(17, f"cannot listen on unix:{path}: the path exists and is not a socket")
        probe = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        probe.setblocking(False)        # a live server with a full backlog: EAGAIN, not a wait
        try:
            probe.connect(path)
        except ConnectionRefusedError:
            _os.unlink(path)            # stale: left by a process that is gone
        except BlockingIOError:
            raise OSError(98, f"cannot listen on unix:{path}: address in use by a running "
                              "server (not accepting: its backlog is full)") from None
        except OSError:
            pass
        else:
            raise OSError(98, f"cannot listen on unix:{path}: address in use by a running server")
        finally:
            probe.close()
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.bind(path)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError as e:
        sock.close()
        raise OSError(e.errno, f"cannot listen on unix:{path}: {e.strerror}") from None
    return sock


def _tcp_listener(host, port, backlog, reuse_port):
    family = _socket.AF_INET6 if ":" in host else _socket.AF_INET
    sock = _socket.socket(family, _socket.SOCK_STREAM)
    try:
        sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEPORT, 1)
        if family == _socket.AF_INET6:
            sock.setsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError as e:
        sock.close()
        raise OSError(e.errno, f"cannot listen on {_fmt_tcp(host, port)}: {e.strerror}") from None
    return sock


def _inherited(fd):
    try:
        sock = _socket.socket(fileno=fd)
    except OSError as e:
        raise OSError(e.errno, f"cannot listen on fd:{fd}: {e.strerror}") from None
    if sock.type != _socket.SOCK_STREAM or not sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_ACCEPTCONN):
        sock.detach()
        raise OSError(22, f"cannot listen on fd:{fd}: not a listening stream socket")
    sock.setblocking(False)
    _os.set_inheritable(fd, False)
    return sock


def _fmt_tcp(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _describe(sock):
    """How a bound socket is written: 'HOST:PORT' or 'unix:/path'."""
    if sock.family == _socket.AF_UNIX:
        name = sock.getsockname()
        return "unix:" + (name.decode() if isinstance(name, bytes) else name)
    a = sock.getsockname()
    return _fmt_tcp(a[0], a[1])


def open_listeners(specs, int workers, int backlog, bint reuse_port):
    """Open every listener. Returns (shared, own, addresses, unix_paths, inherited):
    sockets all workers poll, per worker a list of its own (reuse_port TCP), the bound
    addresses, the Unix socket paths made here and the inherited descriptors. On
    failure everything opened here is closed; inherited descriptors are left open."""
    shared, own, addresses, unix_paths = [], [[] for _ in range(workers)], [], []
    taken = set()
    inherited = []                      # not ours to close if the start fails
    try:
        for spec in specs:
            kind, v = parse_address(spec)
            if kind == "tcp":
                host, port = v
                if reuse_port:
                    first = _tcp_listener(host, port, backlog, True)
                    own[0].append(first)
                    port = first.getsockname()[1]     # port 0: every worker on the one picked
                    for i in range(1, workers):
                        own[i].append(_tcp_listener(host, port, backlog, True))
                    addresses.append(_describe(first))
                else:
                    s = _tcp_listener(host, port, backlog, False)
                    shared.append(s)
                    addresses.append(_describe(s))
            elif kind == "unix":
                s = _unix_listener(v, backlog)
                unix_paths.append((v, _file_id(v)))
                shared.append(s)
                addresses.append("unix:" + v)
            else:
                fds = systemd_fds() if kind == "systemd" else [v]
                if kind == "systemd":
                    # consumed: children of this process must not take them as theirs
                    _os.environ.pop("LISTEN_PID", None)
                    _os.environ.pop("LISTEN_FDS", None)
                    _os.environ.pop("LISTEN_FDNAMES", None)
                for fd in fds:
                    if fd in taken:
                        raise ValueError(f"listen address fd:{fd} given twice")
                    taken.add(fd)
                    s = _inherited(fd)
                    inherited.append(s)
                    shared.append(s)
                    addresses.append(_describe(s))
        if len(shared) + len(own[0]) > MAX_LISTENERS:
            raise ValueError(f"at most {MAX_LISTENERS} listening sockets per worker")
        if not shared and not own[0]:
            raise ValueError("no address to listen on")
    except BaseException:
        for s in shared + [x for l in own for x in l]:
            if any(s is x for x in inherited):
                s.detach()
            else:
                s.close()
        for p, ident in unix_paths:
            _unlink_quiet(p, ident)
        raise
    return shared, own, addresses, unix_paths, [s.fileno() for s in inherited]


def _file_id(path):
    try:
        st = _os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _unlink_quiet(path, ident=None):
    """Remove path; with ident (from _file_id), only while it is still that file: a
    new server started on the same path (a restart) keeps its socket."""
    try:
        if ident is not None and _file_id(path) != ident:
            return
        _os.unlink(path)
    except OSError:
        pass
