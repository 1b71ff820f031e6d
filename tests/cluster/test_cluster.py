"""Three wikisearch hosts (network namespaces) behind Debian's HAProxy: a SIGKILLed
backend costs nothing with retries, a SIGTERMed one (drain) costs nothing without them,
and both come back. The scenario lives in tools/cluster.py (also a documented command)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from netutil import netns_usable

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

needs = pytest.mark.skipif(not shutil.which("haproxy") or not netns_usable(),
                           reason="needs root, working ip netns (not a plain chroot) and haproxy")


def start_cluster_script():
    """tools/cluster.py --json in a session of its own: on a timeout, SIGTERM lets it stop
    its servers and remove its namespaces; what is left after that (its group: backends,
    HAProxy, nginx master and workers) is SIGKILLed, so a hung run leaks no process."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, os.path.join(ROOT, "examples", "wikisearch"),
                                         env.get("PYTHONPATH", "")])
    return subprocess.Popen([sys.executable, os.path.join(ROOT, "tools", "cluster.py"), "--json",
                             "--seconds-per-phase", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, start_new_session=True)


@pytest.mark.slow
@needs
def test_cluster_kill_and_drain_lose_no_request():
    proc = start_cluster_script()
    try:
        stdout, stderr = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        pytest.fail("tools/cluster.py did not finish in 300 s")
    assert stdout.strip(), stderr
    res = json.loads(stdout.strip().splitlines()[-1])
    phases = res["phases"]
    want = {"sigkill_with_retries", "sigterm_without_retries", "after_restarts"}
    if shutil.which("nginx"):
        want.add("nginx_sigkill_and_sigterm")
    assert set(phases) == want, stderr
    for name, counts in phases.items():
        assert counts["ok"] > 0 and counts["wrong"] == 0 and counts["errors"] == 0, (name, counts)
    assert res["exit_codes"] == dict({"h2_after_sigterm": 0},
                                     **({"h3_after_sigterm_nginx": 0} if shutil.which("nginx") else {}))
    assert res["ok"]
    out = subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE, text=True).stdout
    assert "pxlb" not in out and "pxh" not in out     # the script removed its namespaces


def _session_members(sid):
    """(pid, comm, cmdline) of the live processes whose session is sid, from /proc
    (zombies left out: they hold nothing; a process gone meanwhile is skipped)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()     # state, ppid, pgrp, session, ...
            if int(fields[3]) != sid or fields[0] == "Z":
                continue
            with open(f"/proc/{name}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{name}/cmdline") as f:
                cmdline = f.read().replace("\0", " ").strip()
        except (OSError, IndexError, ValueError):
            continue
        found.append((int(name), comm, cmdline))
    return found


@pytest.mark.slow
@needs
def test_cluster_sigterm_mid_run_leaves_no_process_or_namespace():
    """SIGTERM while the load runs (behind nginx when it is installed, else HAProxy):
    tools/cluster.py exits at once with 143, and nothing it started is left: no load
    generator, backend, balancer or nginx worker in its session, no namespace."""
    proc = start_cluster_script()
    try:
        want = "nginx" if shutil.which("nginx") else "haproxy"
        for _ in range(1200):           # at most 120 s (the phases before it take ~20 s)
            if any(comm == want for _, comm, _ in _session_members(proc.pid)):
                break
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.1)
        else:
            pytest.fail(f"{want} never ran")
        time.sleep(1)                   # a load generator runs now
        assert any("--load" in cmdline for _, _, cmdline in _session_members(proc.pid))
        proc.send_signal(signal.SIGTERM)
        # (a load generator left running would hold stderr open: this would time out)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 143, stderr
        assert _session_members(proc.pid) == []
        out = subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE, text=True).stdout
        assert "pxlb" not in out and "pxh" not in out
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if proc.poll() is None:
            proc.communicate()
