"""Three wikisearch hosts (network namespaces) behind Debian's HAProxy: a SIGKILLed
backend costs nothing with retries, a SIGTERMed one (drain) costs nothing without them,
and both come back. The scenario lives in tools/cluster.py (also a documented command)."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from netutil import netns_usable

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

needs = pytest.mark.skipif(not shutil.which("haproxy") or not netns_usable(),
                           reason="needs root, working ip netns (not a plain chroot) and haproxy")


@pytest.mark.slow
@needs
def test_cluster_kill_and_drain_lose_no_request():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, os.path.join(ROOT, "examples", "wikisearch"),
                                         env.get("PYTHONPATH", "")])
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "cluster.py"), "--json",
                        "--seconds-per-phase", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, env=env, timeout=300)
    assert p.stdout.strip(), p.stderr
    res = json.loads(p.stdout.strip().splitlines()[-1])
    phases = res["phases"]
    want = {"sigkill_with_retries", "sigterm_without_retries", "after_restarts"}
    if shutil.which("nginx"):
        want.add("nginx_sigkill_and_sigterm")
    assert set(phases) == want, p.stderr
    for name, counts in phases.items():
        assert counts["ok"] > 0 and counts["wrong"] == 0 and counts["errors"] == 0, (name, counts)
    assert res["exit_codes"] == dict({"h2_after_sigterm": 0},
                                     **({"h3_after_sigterm_nginx": 0} if shutil.which("nginx") else {}))
    assert res["ok"]
    out = subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE, text=True).stdout
    assert "pxlb" not in out and "pxh" not in out     # the script removed its namespaces
