"""Restart on one host without a failed request: a new process beside the old one on
the same port (reuse_port), the old one drains and exits 0, a continuous client sees
no failure. Runs tools/restart.py in a network namespace of its own (tcp_migrate_req
set there, never on the host)."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from netutil import netns_usable

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

needs = pytest.mark.skipif(not netns_usable(), reason="needs root and working ip netns (not a plain chroot)")


@needs
def test_restart_with_reuse_port_loses_no_request():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "restart.py"), "--json",
                        "--migrate", "1", "--drain", "1", "--rounds", "2", "--seconds", "1"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, timeout=120)
    assert p.stdout.strip(), p.stderr
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert res["ok"] > 1000 and res["failed"] == 0, res
    assert res["exits"] == [0, 0]
    assert p.returncode == 0
    out = subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE, text=True).stdout
    assert "pxrs" not in out


@needs
def test_restart_with_inherited_socket_loses_no_request():
    """The socket held by a parent (as systemd holds it) and inherited by each server
    (--listen fd:3): old and new accept from one queue, nothing is ever reset."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "restart.py"), "--json", "--pass-fd",
                        "--migrate", "0", "--drain", "1", "--rounds", "2", "--seconds", "1"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, timeout=120)
    assert p.stdout.strip(), p.stderr
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert res["mode"] == "pass-fd" and res["ok"] > 1000 and res["failed"] == 0, res
    assert res["exits"] == [0, 0] and p.returncode == 0
