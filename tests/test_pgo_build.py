"""tools/pgo_build.py (the profile-guided build of tools/setup.sh), tools/pgo_train.py
(its training run) and setup.py's PXCY_PGO_PHASE. The end-to-end build (two compiles
and the training run) is exercised by tests/test_setup.py's first setup; here the
decisions are checked with the builds replaced by recorders, so a failure at any
step is seen to leave plain extensions, never the instrumented ones."""
import importlib.util
import os
import shutil
import signal
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_pgo_build():
    spec = importlib.util.spec_from_file_location("pgo_build", os.path.join(ROOT, "tools", "pgo_build.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def pgo(monkeypatch, tmp_path):
    """pgo_build with build() and train() recorded; .calls lists what ran in order."""
    mod = load_pgo_build()
    mod.calls = []
    mod.build_rc = {}              # phase -> return code (default 0)
    mod.train_result = None        # None: a profile; str: why not; exception: raised

    def build(phase=None, pgo_dir=None):
        mod.calls.append(("build", phase or "plain"))
        rc = mod.build_rc.get(phase or "plain", 0)
        if isinstance(rc, BaseException):
            raise rc
        return rc

    def train(pgo_dir):
        mod.calls.append(("train",))
        if isinstance(mod.train_result, BaseException):
            raise mod.train_result
        return mod.train_result

    monkeypatch.setattr(mod, "build", build)
    monkeypatch.setattr(mod, "train", train)
    monkeypatch.setattr(mod, "compiler_is_gcc", lambda: True)
    monkeypatch.delenv("PXCY_DEBUG_BUILD", raising=False)
    monkeypatch.delenv("PXCY_SANITIZE", raising=False)
    monkeypatch.setattr(mod.tempfile, "mkdtemp", lambda prefix="": str(tmp_path / "prof"))
    return mod


def test_profile_guided_build_steps(pgo, capsys):
    assert pgo.main() == 0
    assert pgo.calls == [("build", "generate"), ("train",), ("build", "use")]
    assert "built with the training run's profile" in capsys.readouterr().out


def test_failed_training_builds_plain_once(pgo, capsys):
    pgo.train_result = "RuntimeError: closed after 0 of 1 answers"
    assert pgo.main() == pgo.FELL_BACK          # built, plain: tools/setup.sh retries later
    assert pgo.calls == [("build", "generate"), ("train",), ("build", "plain")]
    out = capsys.readouterr().out
    assert "closed after 0 of 1 answers: building without a profile" in out
    assert out.count("\n") == 1


def test_interrupted_training_leaves_plain_extensions(pgo):
    pgo.train_result = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        pgo.main()
    assert pgo.calls[-1] == ("build", "plain")


def test_interrupted_instrumented_build_leaves_plain_extensions(pgo):
    """setuptools copies the built extensions in place at the end of the build: an
    interrupt there leaves them instrumented unless the plain build follows."""
    pgo.build_rc["generate"] = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        pgo.main()
    assert pgo.calls == [("build", "generate"), ("build", "plain")]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_terminated_training_leaves_plain_extensions(pgo, sig):
    before = signal.getsignal(sig)
    pgo.train_result = None

    def train(pgo_dir):
        pgo.calls.append(("train",))
        os.kill(os.getpid(), sig)
        return None

    pgo.train = train
    with pytest.raises(pgo.Stopped):
        pgo.main()
    assert pgo.calls == [("build", "generate"), ("train",), ("build", "plain")]
    assert signal.getsignal(sig) == before          # the caller's handlers are back

def test_failed_profile_build_falls_back_to_plain(pgo, capsys):
    """GCC without -fprofile-partial-training (before 10), say: plain, and exit 3."""
    pgo.build_rc["use"] = 1
    assert pgo.main() == pgo.FELL_BACK
    assert pgo.calls == [("build", "generate"), ("train",), ("build", "use"), ("build", "plain")]
    assert "the build with the profile failed: building without a profile" in capsys.readouterr().out


def test_failed_plain_build_is_its_status_and_retried_never_left_instrumented(pgo):
    pgo.build_rc["plain"] = 1
    pgo.train_result = "no profile"
    assert pgo.main() == 1                           # the build's own status
    assert pgo.calls == [("build", "generate"), ("train",), ("build", "plain"), ("build", "plain")]


def test_failed_instrumented_build_builds_plain(pgo, capsys):
    pgo.build_rc["generate"] = 1
    assert pgo.main() == pgo.FELL_BACK
    assert pgo.calls == [("build", "generate"), ("build", "plain")]
    assert "instrumented build failed" in capsys.readouterr().out


@pytest.mark.parametrize("env", [{"PXCY_DEBUG_BUILD": "1"}, {"PXCY_SANITIZE": "address"}])
def test_debug_and_sanitizer_builds_get_no_profile(pgo, monkeypatch, env):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert pgo.main() == 0
    assert pgo.calls == [("build", "plain")]


def test_other_compilers_get_no_profile(pgo, monkeypatch, capsys):
    monkeypatch.setattr(pgo, "compiler_is_gcc", lambda: False)
    assert pgo.main() == 0
    assert pgo.calls == [("build", "plain")]
    assert "not GCC" in capsys.readouterr().out


def test_compiler_check(monkeypatch):
    mod = load_pgo_build()
    monkeypatch.setenv("CC", "gcc")
    assert mod.compiler_is_gcc()
    monkeypatch.setenv("CC", "gcc -pthread")
    assert mod.compiler_is_gcc()
    monkeypatch.setenv("CC", "/nonexistent/cc")
    assert not mod.compiler_is_gcc()
    if subprocess.run(["sh", "-c", "command -v clang"], capture_output=True).returncode == 0:
        monkeypatch.setenv("CC", "clang")
        assert not mod.compiler_is_gcc()


def test_training_failure_reason_is_its_last_line(monkeypatch, tmp_path):
    mod = load_pgo_build()
    script = tmp_path / "tools" / "pgo_train.py"
    script.parent.mkdir()
    script.write_text("import sys\nprint('noise')\nprint('pgo_train: OSError: no port', file=sys.stderr)\n"
                      "sys.exit(1)\n")
    monkeypatch.setattr(mod, "ROOT", str(tmp_path))
    assert mod.train(str(tmp_path)) == "pgo_train: OSError: no port"
    # exits 0, but a trained module has no profile (a path mismatch, a module not imported)
    prof = tmp_path / "prof"
    prof.mkdir()
    script.write_text("import os, sys\nassert os.environ['PYTHONPATH'] == sys.argv[0].rsplit('/tools/', 1)[0]\n")
    assert mod.train(str(prof)) == ("the training run wrote no profile for pxcy/runtime, "
                                    "pxcy/protocols/http11, pxcy/protocols/echo, pxcy/protocols/lines")
    for m in mod.TRAINED[:-1]:
        (prof / ("#x#build#temp#" + m.replace("/", "#") + ".gcda")).write_bytes(b"")
    assert mod.train(str(prof)) == "the training run wrote no profile for pxcy/protocols/lines"
    (prof / "#x#build#temp#pxcy#protocols#lines.gcda").write_bytes(b"")
    assert mod.train(str(prof)) is None


class FakeBuild:
    """subprocess.Popen for pgo_build.build(): stderr text, or an exception from
    communicate() (the caller being stopped)."""
    results = []

    def __init__(self, argv, **kw):
        assert kw["start_new_session"]
        self.pid, self.returncode = 4242, 0
        self.result = FakeBuild.results.pop(0)

    def communicate(self):
        if isinstance(self.result, BaseException):
            raise self.result
        return None, self.result

    def wait(self):
        return 0


def test_final_build_shows_every_warning_but_the_known_cython_one(monkeypatch, capsys):
    mod = load_pgo_build()
    known = ("pxcy/runtime.c:41682:16: warning: \u2018__pyx_pyargnames\u2019 may be used uninitialized "
             "[-Wmaybe-uninitialized]\n")
    known_gcc11 = known.replace("uninitialized [", "uninitialized in this function [")
    other = "pxcy/runtime.c:9:1: warning: \u2018x\u2019 may be used uninitialized [-Wmaybe-uninitialized]\n"
    monkeypatch.setattr(mod.subprocess, "Popen", FakeBuild)
    FakeBuild.results[:] = [known * 3 + known_gcc11]
    assert mod.build("use", "/tmp/p") == 0
    cap = capsys.readouterr()
    assert cap.err == "" and "4 known Cython false positives" in cap.out
    FakeBuild.results[:] = [known + other]
    assert mod.build("use", "/tmp/p") == 0
    assert capsys.readouterr().err == known + other
    FakeBuild.results[:] = [known]                  # other builds show everything
    assert mod.build(None) == 0
    assert capsys.readouterr().err == known


def test_a_stopped_build_takes_its_compilers_with_it(monkeypatch):
    """SIGTERM to pgo_build alone: the build's whole process group is killed, so no
    compiler left running writes an instrumented object into the plain rebuild."""
    mod = load_pgo_build()
    killed = []
    monkeypatch.setattr(mod.subprocess, "Popen", FakeBuild)
    monkeypatch.setattr(mod.os, "killpg", lambda pid, sig: killed.append((pid, sig)))
    FakeBuild.results[:] = [mod.Stopped("SIGTERM")]
    with pytest.raises(mod.Stopped):
        mod.build("generate", "/tmp/p")
    assert killed == [(4242, signal.SIGKILL)]


def test_training_run_passes_against_this_build():
    """The training traffic stays valid as the servers change: every request gets
    exactly the answers it expects (pgo_train raises otherwise)."""
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "pgo_train.py")], cwd=ROOT,
                       env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == r.stderr == ""


def test_training_refuses_another_checkouts_pxcy(tmp_path):
    """Copied elsewhere, the training script would drive whatever pxcy is installed:
    it says so instead of training (and wrongly profiling) that one."""
    (tmp_path / "tools").mkdir()
    shutil.copy(os.path.join(ROOT, "tools", "pgo_train.py"), tmp_path / "tools")
    r = subprocess.run([sys.executable, str(tmp_path / "tools" / "pgo_train.py")], cwd=str(tmp_path),
                       env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"pgo_train: RuntimeError: pxcy imported from {ROOT}/pxcy, not from {tmp_path}"]


def test_setup_py_rejects_an_unknown_phase(tmp_path):
    env = dict(os.environ, PXCY_PGO_PHASE="sometimes", PXCY_PGO_DIR=str(tmp_path))
    r = subprocess.run([sys.executable, "setup.py", "--name"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["setup.py: PXCY_PGO_PHASE must be generate or use, not 'sometimes'"]
    env = {k: v for k, v in os.environ.items() if k != "PXCY_PGO_DIR"}
    r = subprocess.run([sys.executable, "setup.py", "--name"], cwd=ROOT, env=dict(env, PXCY_PGO_PHASE="use"),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["setup.py: PXCY_PGO_PHASE needs PXCY_PGO_DIR (the profile's folder)"]


def test_build_marker_says_how_pxcy_was_compiled():
    import pxcy.runtime
    assert pxcy.runtime.BUILD in ("profile-guided", "plain")     # never "instrumented" here
