"""tools/setup.sh decides from the checkout itself: a second checkout set up while the
first one's pxcy is installed, on PYTHONPATH and the current directory, and with a
.venv made for the first, ends with its own pxcy (and wikisearch) imported from its own
.venv; re-running is cheap (no pip). The first setup builds pxcy profile-guided
(tools/pgo_build.py: the end-to-end check of that build); the others plain
(PXCY_PGO=0), to save the time.
Slow: two full setups (venv, packages from the pip cache, pxcy compiled)."""
import os
import subprocess

import pytest

from checkout import source_copy

pytestmark = pytest.mark.slow


def setup(checkout, cwd, env):
    r = subprocess.run([os.path.join(checkout, "tools", "setup.sh")], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r.stdout


def imported(checkout, module, cwd):
    """Where the checkout's venv imports `module` from, run from cwd (not isolated: the
    current directory and PYTHONPATH count, as for a user)."""
    r = subprocess.run([os.path.join(checkout, ".venv", "bin", "python"), "-c",
                        f"import os, {module}; print(os.path.realpath({module}.__file__))"],
                       cwd=cwd, capture_output=True, text=True, timeout=60,
                       env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def built_as(checkout):
    r = subprocess.run([os.path.join(checkout, ".venv", "bin", "python"), "-c",
                        "import pxcy.runtime as r; print(r.BUILD)"], cwd="/",
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_second_checkout_gets_its_own_pxcy(tmp_path):
    a = os.path.realpath(source_copy(str(tmp_path / "a")))
    b = os.path.realpath(source_copy(str(tmp_path / "b")))
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    out = setup(a, a, env)
    assert "creating" in out and "pip install -e ." in out, out
    assert imported(a, "pxcy", "/").startswith(a + "/pxcy/")
    if "not GCC" not in out:
        assert "pgo_build: built with the training run's profile" in out, out
        assert built_as(a) == "profile-guided"
    out = setup(a, a, env)                              # up to date: no build at all
    assert "building" not in out and "pip install" not in out, out
    env["PXCY_PGO"] = "0"                               # replaces the profile-guided build
    out = setup(a, a, env)
    assert "building pxcy plain (PXCY_PGO=0)" in out, out
    assert built_as(a) == "plain"

    # b holds a venv made for another path (a moved or copied checkout: its scripts
    # hold absolute paths), which must not be trusted
    os.makedirs(os.path.join(b, ".venv", "bin"))
    with open(os.path.join(b, ".venv", ".pxcy-checkout"), "w") as f:
        f.write(a + "\n")
    os.symlink(os.path.join(a, ".venv", "bin", "python"), os.path.join(b, ".venv", "bin", "python"))
    # and everything else points at a: the current directory, PYTHONPATH, PATH's python
    env_b = dict(env, PYTHONPATH=a, PATH=os.path.join(a, ".venv", "bin") + os.pathsep + env["PATH"])
    out = setup(b, a, env_b)
    assert "recreating" in out and "pip install -e ." in out, out
    for mod, where in (("pxcy", "/pxcy/"), ("wikisearch", "/examples/wikisearch/")):
        assert imported(b, mod, "/").startswith(b + where), mod
        assert imported(b, mod, b).startswith(b + where), mod      # run from its root, too
    assert imported(a, "pxcy", "/").startswith(a + "/pxcy/")       # a's venv untouched
    assert built_as(b) == "plain"                                   # PXCY_PGO=0

    # again: nothing to install, nothing rebuilt that did not change
    out = setup(b, b, env)
    assert "pip install" not in out and "creating" not in out, out
