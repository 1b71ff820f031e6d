"""The systemd units of docs/deployment.md, read from the page itself: systemd-analyze
accepts them, and the service's ExecStart works under systemd's own socket passing
(systemd-socket-activate sets LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES as PID 1 does)."""
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from netutil import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "deployment.md")

pytestmark = pytest.mark.skipif(not shutil.which("systemd-socket-activate"),
                                reason="systemd's tools missing (tools/setup.sh installs them)")


def units_from_docs():
    """{"app.socket": text, "app.service": text}: the indented block under each
    "`/etc/systemd/system/NAME`:" line of the page."""
    lines = open(DOC).read().splitlines()
    units = {}
    for i, line in enumerate(lines):
        m = re.fullmatch(r"`/etc/systemd/system/([\w.]+)`:", line.strip())
        if not m:
            continue
        body, j = [], i + 1
        while j < len(lines) and (lines[j].startswith("    ") or not lines[j].strip()):
            if body or lines[j].strip():
                body.append(lines[j][4:])
            j += 1
        units[m.group(1)] = "\n".join(body).strip() + "\n"
    assert set(units) == {"app.socket", "app.service"}, units
    return units


def ini(text):
    """[(section, key, value)] of a unit file."""
    out, section = [], None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out.append((section, k, v))
    return out


def one(items, section, key):
    vals = [v for s, k, v in items if s == section and k == key]
    assert len(vals) == 1, (section, key, vals)
    return vals[0]


@pytest.fixture
def deployed(tmp_path):
    """The units rewritten for this machine: /srv/app -> an app folder holding app.py,
    its venv -> the one running the tests, /run/app.sock and port 8080 -> free ones."""
    app = tmp_path / "srv-app"
    app.mkdir()
    (app / "app.py").write_text("from pxcy.protocols.http11 import HelloWorld as App\n")
    port, sock = free_port(), str(tmp_path / "app.sock")
    units = units_from_docs()
    out = {}
    for name, text in units.items():
        text = text.replace("/srv/app/.venv", sys.prefix).replace("/srv/app", str(app))
        text = text.replace("ListenStream=8080", f"ListenStream=127.0.0.1:{port}")
        text = text.replace("ListenStream=/run/app.sock", f"ListenStream={sock}")
        (tmp_path / name).write_text(text)
        out[name] = text
    return tmp_path, out, port, sock


def test_units_pass_systemd_analyze_verify(deployed):
    d, units, _, _ = deployed
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", "app.socket", "app.service"],
                       cwd=d, capture_output=True, text=True, timeout=60)
    # unknown keys and bad values are only warnings: any output at all fails
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), r.stderr


def test_verify_reports_a_misspelt_key(deployed):
    """The verify test above can fail: a misspelt key is reported."""
    d, units, _, _ = deployed
    (d / "bad.service").write_text(units["app.service"].replace("TimeoutStopSec", "TimeoutStopSecs"))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", "bad.service"],
                       cwd=d, capture_output=True, text=True, timeout=60)
    assert "TimeoutStopSecs" in r.stderr


def http(connect, path):
    c = connect()
    c.settimeout(20)
    c.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := c.recv(65536):
        data += chunk
    c.close()
    return data


def test_service_runs_under_socket_activation(deployed):
    d, units, port, sock = deployed
    socket_unit, service = ini(units["app.socket"]), ini(units["app.service"])
    listen = [v for s, k, v in socket_unit if (s, k) == ("Socket", "ListenStream")]
    assert listen == [f"127.0.0.1:{port}", sock]
    argv = shlex.split(one(service, "Service", "ExecStart"))
    cwd = one(service, "Service", "WorkingDirectory")
    kill = getattr(signal, one(service, "Service", "KillSignal"))
    stop_timeout = float(one(service, "Service", "TimeoutStopSec"))
    nofile = int(one(service, "Service", "LimitNOFILE"))
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    limit = min(nofile, hard) if hard != resource.RLIM_INFINITY else nofile

    def limits():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    cmd = ["systemd-socket-activate"] + [a for addr in listen for a in ("-l", addr)] + ["--"] + argv
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}   # as systemd: a clean env
    p = subprocess.Popen(cmd, cwd=cwd, env=env, preexec_fn=limits,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def tcp():
            return socket.create_connection(("127.0.0.1", port), timeout=20)

        def unix():
            c = socket.socket(socket.AF_UNIX)
            c.settimeout(20)
            c.connect(sock)
            return c
        for _ in range(200):                     # socket-activate binds, then waits for a client
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        # the first connection starts the service: it waits in the queue, then is answered
        r = http(tcp, b"/healthz")
        assert r.startswith(b"HTTP/1.1 200") and r.endswith(b"\r\n\r\nok\n"), r
        r = http(unix, b"/plaintext")
        assert r.startswith(b"HTTP/1.1 200") and r.endswith(b"Hello, World!"), r
        with open(f"/proc/{p.pid}/limits") as f:    # exec'd in place: same pid, the unit's limit
            assert re.search(rf"Max open files\s+{limit}\s", f.read())
        p.send_signal(kill)
        for _ in range(200):                     # draining: still serving, /healthz says 503
            r = http(unix, b"/healthz")
            if r.startswith(b"HTTP/1.1 503"):
                break
            time.sleep(0.02)
        assert r.startswith(b"HTTP/1.1 503") and b"Connection: close" in r, r
        assert p.wait(stop_timeout) == 0
        out = p.stdout.read()
        assert "pxcy: serving app:App on" in out and "pxcy: stopped" in out, out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
