"""Fixtures of the HTTP black-box suite: one document root, served by pxcy's Static
(in-process) and by nginx (a subprocess with a generated config) where nginx is
installed, plus pxcy apps with routes (tests/http/apps.pyx, built here in place).

`server` is parametrized over both (ids `pxcy`, `nginx`): the same test checks
pxcy against a reference implementation. nginx cases skip when nginx is absent."""
import hashlib
import os
import random
import shutil
import socket
import subprocess
import time

import pytest

import pxcy
from pxcy.protocols.http11 import HelloWorld, Static

HERE = os.path.dirname(os.path.abspath(__file__))
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
     if os.access(p, os.X_OK)), None)

from rawhttp import BIG_SIZE, SENTINEL  # noqa: E402  (shared with the test modules)
from netutil import free_port  # noqa: E402  (tests/netutil.py)


class Served:
    def __init__(self, name, port, root, secrets):
        self.name = name
        self.port = port
        self.root = root
        self.secrets = secrets            # {name: bytes}: files outside the root

    def __repr__(self):
        return f"<{self.name} on {self.port}>"


@pytest.fixture(scope="session")
def apps():
    """tests/http/apps.pyx compiled against pxcy (rebuilt when its sources change)."""
    from buildutil import import_built
    import glob
    inc = os.path.join(pxcy.get_include(), "pxcy")
    deps = [os.path.join(inc, "protocols", "http11.pxd"), os.path.join(inc, "runtime.pxd"),
            os.path.join(inc, "protocols", "httpparse.pxd")]
    deps += sorted(glob.glob(os.path.join(inc, "protocols", "http", "*.pxd")))
    return import_built("apps", HERE, deps)


@pytest.fixture(scope="session")
def docroot(tmp_path_factory):
    """base/www is the document root; base/secret.txt and base/etc/passwd lie outside
    it and hold SENTINEL, so any traversal that escapes shows up in a body."""
    base = tmp_path_factory.mktemp("http")
    root = base / "www"
    root.mkdir()
    (base / "secret.txt").write_bytes(SENTINEL + b" secret.txt\n")
    (base / "etc").mkdir()
    (base / "etc" / "passwd").write_bytes(SENTINEL + b" root:x:0:0:root:/root:/bin/sh\n")
    big = random.Random(20240601).randbytes(BIG_SIZE)
    (root / "big.bin").write_bytes(big)
    (root / "hello.txt").write_bytes(b"Hello, static world!\n")
    (root / "index.html").write_bytes(b"<!doctype html><title>root</title>root index\n")
    (root / "style.css").write_bytes(b"body { color: red }\n")
    (root / "data.json").write_bytes(b'{"a": 1}\n')
    (root / "app.js").write_bytes(b"console.log(1);\n")
    (root / "pic.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (root / "empty.txt").write_bytes(b"")
    (root / "ten.txt").write_bytes(b"0123456789")
    (root / "dir").mkdir()
    (root / "dir" / "index.html").write_bytes(b"<!doctype html><title>dir</title>dir index\n")
    (root / "dir" / "a.txt").write_bytes(b"dir/a.txt\n")
    (root / "noindex").mkdir()
    (root / "idir").mkdir()                          # an index.html that is a directory
    (root / "idir" / "index.html").mkdir()
    (root / "idir" / "index.html" / "index.html").write_bytes(b"nested index\n")
    (root / "site" / "css").mkdir(parents=True)      # /assets/<x> -> site/<x>
    (root / "site" / "css" / "index.html").write_bytes(b"css index\n")
    (root / "noindex" / "x.txt").write_bytes(b"x\n")
    (root / "sp ace.txt").write_bytes(b"a file with a space\n")
    (root / "caf\u00e9.txt").write_bytes(b"unicode name\n")
    os.symlink("hello.txt", root / "link-inside.txt")
    os.symlink("dir", root / "link-dir")
    os.symlink(str(base / "secret.txt"), root / "link-outside.txt")
    os.symlink("../secret.txt", root / "link-outside-rel.txt")
    os.symlink(str(base / "etc"), root / "link-etc")
    # many small numbered files for pipelining
    (root / "n").mkdir()
    for i in range(100):
        (root / "n" / f"{i}.txt").write_bytes(f"file number {i}\n".encode() * (i % 7 + 1))
    # an hour old: a Last-Modified in the same second as the response's Date is a weak
    # validator (RFC 9110 8.8.2.2), so a test run right after this fixture would see
    # If-Range by date refused
    old = time.time() - 3600
    for dirpath, dirnames, filenames in os.walk(base):
        for name in filenames + dirnames:
            os.utime(os.path.join(dirpath, name), (old, old), follow_symlinks=False)
    return {"base": base, "root": str(root), "big": big,
            "big_sha": hashlib.sha256(big).hexdigest(),
            "secrets": {"secret.txt": (base / "secret.txt").read_bytes(),
                        "passwd": (base / "etc" / "passwd").read_bytes()}}


def wait_listening(port, proc=None, rounds=200):
    for _ in range(rounds):
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


@pytest.fixture(scope="session")
def pxcy_static(docroot):
    s = pxcy.Server(Static(docroot["root"]), "127.0.0.1", 0, workers=2).start()
    yield Served("pxcy", s.port, docroot["root"], docroot["secrets"])
    s.stop()


def nginx_config(tmp, root, port):
    out = subprocess.run([NGINX, "-V"], capture_output=True, text=True)
    flags = out.stdout + out.stderr
    temps = "".join(f"    {kind}_temp_path {tmp}/{kind};\n"
                    for kind, flag in (("client_body", "client-body"), ("proxy", "proxy"),
                                       ("fastcgi", "fastcgi"), ("uwsgi", "uwsgi"), ("scgi", "scgi"))
                    if f"--http-{flag}-temp-path" in flags or kind == "client_body")
    mime = "    include /etc/nginx/mime.types;\n" if os.path.exists("/etc/nginx/mime.types") else ""
    return f"""\
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
{mime}    default_type application/octet-stream;
    access_log off;
    sendfile on;
{temps}    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root {root};
        index index.html;
    }}
}}
"""


@pytest.fixture(scope="session")
def nginx_static(docroot, tmp_path_factory):
    if NGINX is None:
        pytest.skip("nginx is not installed")
    tmp = tmp_path_factory.mktemp("nginx")
    proc = None
    for attempt in range(3):                 # the free port may be taken meanwhile
        port = free_port()
        conf = tmp / "nginx.conf"
        conf.write_text(nginx_config(tmp, docroot["root"], port))
        proc = subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if wait_listening(port, proc):
            break
        proc.kill()
        proc.wait()
        err = proc.stderr.read().decode(errors="replace")
        proc = None
    if proc is None:
        pytest.skip(f"nginx did not start: {err.strip()[-300:]}")
    yield Served("nginx", port, docroot["root"], docroot["secrets"])
    proc.terminate()                          # by PID (Popen)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(params=["pxcy", "nginx"])
def server(request):
    """The static server under test: pxcy's Static, or nginx on the same root."""
    return request.getfixturevalue(f"{request.param}_static")


@pytest.fixture(scope="session")
def app_server(apps, docroot):
    """pxcy with routes (apps.Routes), static files below the same root, max_body 64 KiB."""
    s = pxcy.Server(apps.Routes(docroot["root"], max_body=64 * 1024), "127.0.0.1", 0, workers=2).start()
    yield Served("pxcy-app", s.port, docroot["root"], docroot["secrets"])
    s.stop()


@pytest.fixture
def own_app_server(apps, docroot):
    """Like app_server, but a Server of the test's own (its stats() start from zero)."""
    s = pxcy.Server(apps.Routes(docroot["root"], max_body=64 * 1024), "127.0.0.1", 0, workers=1).start()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def hello_server():
    s = pxcy.Server(HelloWorld, "127.0.0.1", 0, workers=2).start()
    yield Served("pxcy-hello", s.port, None, {})
    s.stop()




@pytest.fixture(scope="session")
def hello_big_body(apps, docroot):
    """apps.Routes with the default max_body (960 KiB): a port."""
    s = pxcy.Server(apps.Routes(docroot["root"]), "127.0.0.1", 0, workers=1).start()
    yield s.port
    s.stop()


@pytest.fixture(scope="session")
def timeout_server(apps, docroot):
    """apps.Routes with a 1 s request timeout: a port."""
    s = pxcy.Server(apps.Routes(docroot["root"], request_timeout=1.0), "127.0.0.1", 0, workers=1).start()
    yield s.port
    s.stop()
