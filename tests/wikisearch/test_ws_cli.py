import os

import pytest

from ws_support import run_cli


@pytest.mark.parametrize("args", [
    ["frobnicate"],
    ["gen"],
    ["gen", "x.xml", "--pages", "abc"],
    ["gen", "x.xml", "--pages", "0"],
    ["gen", "x.xml", "--seed", "1.5"],
    ["build"],
    ["build", "does-not-exist.xml"],
    ["build", "notxml.txt"],
    ["gen", "no/such/dir/x.xml", "--pages", "5"],
])
def test_bad_args_exit_2_one_line(tmp_path, args):
    (tmp_path / "notxml.txt").write_text("hello world\n")
    r = run_cli(*args, cwd=str(tmp_path))
    assert r.returncode == 2, r
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("wikisearch: error: "), r.stderr
    assert "Traceback" not in r.stderr
    assert sorted(os.listdir(tmp_path)) == ["notxml.txt"]


def test_gen_and_build(tmp_path):
    r = run_cli("gen", "w.xml", "--pages", "300", "--seed", "9", cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "300 pages" in r.stdout
    r = run_cli("build", "w.xml", cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "MB/s" in r.stdout and "300 pages" in r.stdout
    from wikisearch.titlebuild import FILES
    assert sorted(os.listdir(tmp_path / "w.index")) == sorted(FILES + ["ends.npy", "manifest.json", "offsets.npy"])
    r = run_cli("build", "w.xml", "--index", "other", cwd=str(tmp_path))
    assert r.returncode == 0 and os.path.isdir(tmp_path / "other")


def test_serve_stub_reports_stale_index(tmp_path):
    r = run_cli("serve", "--index", "nope", cwd=str(tmp_path))
    assert r.returncode == 2 and r.stderr.startswith("wikisearch: error: index not found")


def test_no_arguments_prints_usage(tmp_path):
    r = run_cli(cwd=str(tmp_path))
    assert r.returncode == 2, r
    assert r.stdout.startswith("usage: wikisearch"), r.stdout
    for cmd in ("gen", "build", "serve", "demo"):
        assert cmd in r.stdout
    assert "Traceback" not in r.stderr and os.listdir(tmp_path) == []
