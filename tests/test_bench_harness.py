"""bench/harness.py's report logic, from a small committed sample of raw data (bench/results/sample/).

Fast and measures nothing: no servers, no wrk. What it pins down:
- the Markdown is a pure function of the saved raw data (same files -> same bytes);
- any wrk / echo-client error fails a run, and the tables count errors per server;
- the † caveat (load generator limited) is always in the generated text and the README block;
- bench/RESULTS.md, once it names its raw data, is exactly what that raw data renders.
"""
import dataclasses
import gzip
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
SAMPLE = BENCH / "results" / "sample"


def _load_harness():
    spec = importlib.util.spec_from_file_location("pxcy_bench_harness", BENCH / "harness.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod              # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


H = _load_harness()
rawdata = sys.modules["rawdata"]


def render(src: Path, out: Path, readme: Path = None) -> str:
    assert H.rerender(src, str(out), readme) == 0
    return out.read_text()


def sample_runs():
    return rawdata.load(SAMPLE)


def test_sample_is_small_and_complete():
    assert (SAMPLE / "results.json").exists() and (SAMPLE / "runs.jsonl.gz").exists()
    assert sum(p.stat().st_size for p in SAMPLE.iterdir()) < 64 * 1024
    summary, runs = sample_runs()
    assert runs and summary["rows"] and summary["meta"]["git_commit"]


def test_report_regeneration_is_deterministic(tmp_path):
    a = render(SAMPLE, tmp_path / "a.md")
    b = render(SAMPLE, tmp_path / "b.md")
    assert a == b
    # a copy of the raw data elsewhere renders the same tables (only the raw-data path differs)
    other = tmp_path / "copy"
    shutil.copytree(SAMPLE, other)
    c = render(other, tmp_path / "c.md")
    strip = lambda t: re.sub(r"Raw data of this run: .*", "", t)
    assert strip(a) == strip(c)
    # the header names the commit measured, from the raw data, not the checkout's
    summary, _ = sample_runs()
    assert f"| git_commit | `{summary['meta']['git_commit']}` |" in a


def test_save_is_byte_identical(tmp_path):
    summary, runs = sample_runs()
    jl = tmp_path / "runs.jsonl"
    jl.write_text("".join(json.dumps(r) + "\n" for r in runs))
    d1 = rawdata.save(tmp_path / "one", summary, jl)
    d2 = rawdata.save(tmp_path / "two", summary, jl)
    for name in ("results.json", "runs.jsonl.gz"):
        assert (d1 / name).read_bytes() == (d2 / name).read_bytes()
    assert gzip.decompress((d1 / "runs.jsonl.gz").read_bytes()).decode() == jl.read_text()
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize("kind", ["connect", "read", "write", "timeout", "status", "io"])
def test_any_error_fails_a_run(kind):
    r = H.RunResult("pinned", "plaintext", "x", 0, 1, ok=True, requests=100000,
                    errors={"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0, kind: 1})
    H.judge(r)
    assert not r.ok and kind in r.error
    clean = H.RunResult("pinned", "plaintext", "x", 0, 1, ok=False, requests=100000,
                        errors={"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0})
    assert H.judge(clean).ok
    assert not H.judge(H.RunResult("pinned", "plaintext", "x", 0, 1, ok=True)).ok   # no requests


def test_errors_in_raw_data_fail_runs_and_show_in_the_table(tmp_path):
    """A run saved as ok but with wrk read errors is failed on re-rendering, and counted."""
    summary, runs = sample_runs()
    victim = next(r for r in runs if r["ok"] and r["section"] == "pinned" and r["load"] == "plaintext")
    victim["errors"] = dict(victim["errors"], read=7, timeout=2)
    jl = tmp_path / "runs.jsonl"
    jl.write_text("".join(json.dumps(r) + "\n" for r in runs))
    d = rawdata.save(tmp_path / "bad", summary, jl)
    md = render(d, tmp_path / "bad.md")
    row = next(l for l in md.splitlines()
               if f"| {victim['server']} |" in l and ("plaintext" in l or l.startswith("|  |"))
               and "**9** (read 7, timeout 2)" in l)
    assert "run(s) failed" in row or "| failed |" in row
    assert "measured run(s) failed" in md
    clean = render(SAMPLE, tmp_path / "clean.md")
    assert "**9**" not in clean and "| errors |" in clean


def test_dagger_caveat_is_always_in_the_generated_text(tmp_path):
    md = render(SAMPLE, tmp_path / "r.md")
    assert H.DAGGER in md
    assert "load generator limited" in H.DAGGER
    # also with no row flagged at all
    summary, runs = sample_runs()
    for r in runs:
        r["client_util"] = 0.1
    jl = tmp_path / "runs.jsonl"
    jl.write_text("".join(json.dumps(r) + "\n" for r in runs))
    md2 = render(rawdata.save(tmp_path / "noflag", summary, jl), tmp_path / "r2.md")
    assert H.DAGGER in md2 and " † |" not in md2


def test_dagger_marks_client_bound_rows():
    row = H.Row("pinned", "plaintext", "x", "ok", runs=3, rps=1e5, cpu_per_100k=0.4,
                client_util=0.95, server_util=0.5)
    assert H.client_bound(row, 1)
    assert any(" †" in l for l in H.table_md([row], "pinned"))
    row.server_util = 0.95
    assert not H.client_bound(row, 1)


def test_readme_block_is_rewritten_between_markers_only(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n{rawdata.README_BEGIN}\nold figures 1.23\n{rawdata.README_END}\nafter\n")
    render(SAMPLE, tmp_path / "r.md", readme)
    text = readme.read_text()
    assert text.startswith("# x\n\nbefore\n") and text.endswith("after\n")
    assert "old figures" not in text and "load generator limited" in text
    summary, _ = sample_runs()
    assert summary["meta"]["git_commit"] in text
    again = text
    render(SAMPLE, tmp_path / "r.md", readme)
    assert readme.read_text() == again                     # deterministic
    plain = tmp_path / "PLAIN.md"
    plain.write_text("no markers\n")
    render(SAMPLE, tmp_path / "r.md", plain)
    assert plain.read_text() == "no markers\n"


def test_the_repository_readme_has_the_markers():
    text = (REPO / "README.md").read_text()
    assert text.count(rawdata.README_BEGIN) == 1 and text.count(rawdata.README_END) == 1


def test_report_from_a_missing_dir_is_one_line_exit_2(tmp_path):
    p = subprocess.run([sys.executable, str(BENCH / "harness.py"), "--report-from", str(tmp_path / "nope")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("name", ["RESULTS.md", "RESULTS-scaling.md"])
def test_committed_results_are_what_their_raw_data_renders(tmp_path, name):
    committed = (BENCH / name).read_text()
    m = re.search(r"Raw data of this run: `(bench/results/[^`]+)/`", committed)
    if not m:
        pytest.skip(f"bench/{name} predates committed raw data (next full run: bench/run.sh)")
    out = render(REPO / m.group(1), tmp_path / name)
    assert out == committed, f"bench/{name} differs from `bench/run.sh --report-from {m.group(1)}`"


def test_reference_responders_and_h2o_are_peers():
    names = {c.name for c in H.contenders()}
    assert {"pxcy", "epoll-ref", "uring-ref", "nginx", "h2o", "asyncio", "uvloop"} <= names
    assert "floor" not in names
    assert (BENCH / "ref_epoll.c").exists() and (BENCH / "ref_uring.c").exists()
    assert not (BENCH / "floor.c").exists()


# ---- the new peers answer correctly (the same checks the harness runs before measuring) ----

def _ctx(tmp_path):
    import argparse
    docroot = tmp_path / "www"
    (docroot / "file").mkdir(parents=True)
    out = tmp_path / "out"
    out.mkdir()
    ctx = H.Ctx(argparse.Namespace(), tmp_path, docroot, out, sys.executable, sys.executable)
    ctx.data = bytes(range(256)) * (8 * 1024)                   # 2 MiB: the checks read at 1234567
    (docroot / "file" / H.FILE_NAME).write_bytes(ctx.data)
    for name, body in (("plaintext", H.PLAIN), ("json", b'{"message":"Hello, World!"}')):
        (docroot / name).write_bytes(body)
    return ctx


def _serve_and_check(ctx, name, role_loads):
    c = next(c for c in H.contenders() if c.name == name)
    checker = H.Checker(ctx)
    for role, load_names in role_loads.items():
        srv = H.Server(ctx, c, c.roles[role], 1, None, "test")
        assert srv.start(), srv.error
        try:
            for load in [l for l in H.loads(16) if l.name in load_names]:
                assert checker.check(srv, load) == "", (name, load.name)
        finally:
            srv.stop()


@pytest.mark.parametrize("prog", ["ref_epoll", "ref_uring"])
def test_reference_responders_answer_correctly(tmp_path, monkeypatch, prog):
    if not shutil.which("cc"):
        pytest.skip("no C compiler")
    if prog == "ref_uring" and not Path("/usr/include/liburing.h").exists():
        pytest.skip("liburing-dev not installed (tools/setup.sh installs it)")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    subprocess.run(["cc", "-O2", "-Wall", "-Werror", "-o", str(bindir / prog), str(BENCH / f"{prog}.c")]
                   + (["-luring"] if prog == "ref_uring" else []), check=True, timeout=120)
    monkeypatch.setattr(H, "BIN", bindir)
    monkeypatch.setattr(H.shutil, "which", lambda b: None)      # use the binary just built
    name = "epoll-ref" if prog == "ref_epoll" else "uring-ref"
    _serve_and_check(_ctx(tmp_path), name, {"http": ("plaintext", "pipeline16", "json"), "echo": ("echo",)})


def test_h2o_answers_correctly(tmp_path):
    if not shutil.which("h2o"):
        pytest.skip("h2o not installed (tools/setup.sh installs it)")
    _serve_and_check(_ctx(tmp_path), "h2o", {"http": ("plaintext", "pipeline16", "json", "range16k", "range256k")})


def test_scaling_rows_flag_dagger_per_worker_and_na_cpu():
    rows = [H.Row("scaling-w1", "plaintext", "pxcy", "ok", runs=3, rps=1e5, cpu_per_100k=0.0,
                  client_util=0.95, server_util=0.5),
            H.Row("scaling-w4", "plaintext", "pxcy", "ok", runs=3, rps=3e5, cpu_per_100k=0.4,
                  client_util=3.8, server_util=3.0, errors={"timeout": 2}, failed_runs=1)]
    md = sys.modules["results_md"].scaling_md(rows)
    w1, w4 = md[2], md[3]
    assert "| n/a |" in w1 and " †" in w1
    assert " †" in w4 and "**2** (timeout 2)" in w4


def test_dirty_tree_is_named_in_the_raw_dir_and_the_readme():
    meta = {"date": "2026-12-01T23:00:00+00:00", "git_commit": "abc1234 (+ uncommitted changes)"}
    assert rawdata.run_dir_name(meta, False) == "20261201-abc1234-dirty"
    assert rawdata.run_dir_name(meta, True) == "20261201-abc1234-dirty-scaling"
    block = "\n".join(rawdata.readme_block(meta, {}, [], [], lambda r: False, ""))
    assert "uncommitted" in block and "load generator limited" in block


def test_appended_sections_are_kept_and_rendered(tmp_path):
    """WIKISEARCH.md, PYTHON_ROUTES.md and CPU_SPLIT.md (written by their own scripts)
    travel with the raw data and are appended to the report, in that order."""
    summary, runs = sample_runs()
    jl = tmp_path / "runs.jsonl"
    jl.write_text("".join(json.dumps(r) + "\n" for r in runs))
    src = tmp_path / "bench"
    src.mkdir()
    (src / "WIKISEARCH.md").write_text("## wikisearch section\n")
    (src / "PYTHON_ROUTES.md").write_text("## python routes section\n")
    (src / "CPU_SPLIT.md").write_text("## cpu split section\n")
    d = rawdata.save(tmp_path / "kept", summary, jl, src)
    assert all((d / n).exists() for n in ("WIKISEARCH.md", "PYTHON_ROUTES.md", "CPU_SPLIT.md"))
    md = render(d, tmp_path / "r.md")
    assert md.index("## wikisearch section") < md.index("## python routes section") < md.index("## cpu split")
    assert "<!-- appended from bench/PYTHON_ROUTES.md (written by bench/python_routes.py) -->" in md


def test_python_routes_script_writes_its_table(tmp_path):
    out = tmp_path / "PYTHON_ROUTES.md"
    r = subprocess.run([sys.executable, str(BENCH / "python_routes.py"), "--quick", "--no-ft",
                        "--md", str(out), "--out", str(tmp_path / "pr.txt")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    md = out.read_text()
    row = [l for l in md.splitlines() if l.startswith("| 3.") and " GIL |" in l]
    assert len(row) == 1, md
    cells = [c.strip() for c in row[0].strip("|").split("|")]
    assert float(cells[1]) > 0 and float(cells[2]) > 0       # req/s with 1 and 2 Python threads
    bad = subprocess.run([sys.executable, str(BENCH / "python_routes.py"), "--seconds", "0"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_cpu_split_measures_pxcy_and_the_reference(tmp_path):
    """bench/cpu_split.py: one short round prints a row per server and, with --write, the
    same as Markdown with its command and a verdict (one round: no interval); bad
    arguments are one line and exit 2 (a base commit that does not exist too, before
    anything starts)."""
    if not shutil.which("wrk") or not shutil.which("taskset"):
        pytest.skip("wrk or taskset missing (tools/setup.sh installs them)")
    md = tmp_path / "CPU_SPLIT.md"
    r = subprocess.run([sys.executable, str(BENCH / "cpu_split.py"), "--rounds", "1", "--seconds", "1",
                        "--depth", "4", "--write", str(md)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = {l.split()[0]: l.split() for l in r.stdout.splitlines()[2:]}
    assert set(rows) == {"pxcy", "epoll-ref"}, r.stdout
    assert all(float(v[3]) > 0 for v in rows.values()) and rows["epoll-ref"][4] == "1.00"
    assert rows["epoll-ref"][5:] == ["1.000", "[too", "few", "rounds]"], r.stdout
    text = md.read_text()
    assert "`python3 bench/cpu_split.py --rounds 1 --seconds 1 --depth 4 --write" in text, text
    assert "not resolved: too few rounds" in text and r.stdout.splitlines()[2] in text, text
    assert [p.name for p in tmp_path.iterdir()] == ["CPU_SPLIT.md"]       # no temporary left
    for bad in (["--seconds", "0"], ["--rounds", "0"], ["--base", "no-such-commit-xyz"],
                ["--write", str(tmp_path / "no-such-folder" / "x.md")], ["--write", str(tmp_path)]):
        b = subprocess.run([sys.executable, str(BENCH / "cpu_split.py"), *bad],
                           capture_output=True, text=True, timeout=120)
        assert b.returncode == 2 and "Traceback" not in b.stderr, (bad, b.stderr)
        assert len(b.stderr.strip().splitlines()) == 1, b.stderr


def test_cpu_split_median_interval_is_the_sign_test_one():
    """The distribution-free 95% interval of a median: the k-th smallest and k-th largest
    of n, k from the binomial tail (the textbook table: n=6 -> 1, 9 -> 2, 20 -> 6,
    41 -> 14); none for n < 6."""
    spec = importlib.util.spec_from_file_location("pxcy_bench_cpu_split", BENCH / "cpu_split.py")
    cs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cs)
    for n, k in ((6, 1), (9, 2), (11, 2), (20, 6), (41, 14)):
        xs = [float(i) for i in range(n, 0, -1)]            # given in any order
        med, lo, hi = cs.median_ci(xs)
        assert (lo, hi) == (float(k), float(n + 1 - k)) and med == (n + 1) / 2, n
    assert cs.median_ci([1.0, 2.0, 3.0, 4.0, 5.0])[1:] == (None, None)


def test_cpu_split_verdict_on_the_issue_targets(tmp_path):
    """--write's verdict: met only when the whole interval is at most the load's bound
    (1.03 sequential, 1.10 pipelined), missed when all of it is above, otherwise not
    resolved; pairs are taken round by round."""
    import argparse
    spec = importlib.util.spec_from_file_location("pxcy_bench_cpu_split2", BENCH / "cpu_split.py")
    cs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cs)
    ref = [(0.3, 9.0 + (i % 7) * 0.3) for i in range(21)]        # rounds of varying cost

    def verdict(factors, depth=1):
        out = tmp_path / "v.md"
        px = [(u * f, s * f) for (u, s), f in zip(ref, factors)]
        cs.write_md(argparse.Namespace(write=str(out), depth=depth), "head", ["lines"],
                    {"pxcy": px, "epoll-ref": ref})
        return out.read_text().rsplit("Target", 1)[1]

    assert "**met**" in verdict([1.0 + 0.001 * i for i in range(21)])                 # <= 1.02
    assert "**missed**" in verdict([1.04 + 0.001 * i for i in range(21)])
    v = verdict([0.98 + 0.004 * i for i in range(21)])                                 # 0.98 .. 1.06
    assert "straddles 1.03 (its median, 1.020, is at or below it)" in v, v
    v = verdict([1.0 + 0.004 * i for i in range(21)])                                  # 1.00 .. 1.08
    assert "straddles 1.03 (its median, 1.040, is above it)" in v, v
    assert "**met**" not in verdict([1.0 + 0.02 * (i % 3) for i in range(21)])         # up to 1.04
    v = verdict([1.04 + 0.001 * i for i in range(21)], depth=16)      # pipelined: the 1.1x target
    assert "pipelined x16" in v and "**met**: the whole interval is at most 1.10" in v, v


def test_callgrind_code_lines_counts_hot_instruction_lines(tmp_path):
    """bench/callgrind.py --code-lines: distinct 64-byte lines, per object, of the
    instructions run at least 0.9 times per request; a call's inclusive cost line is
    not the calling instruction's own."""
    spec = importlib.util.spec_from_file_location("pxcy_bench_callgrind", BENCH / "callgrind.py")
    cg = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cg)
    out = tmp_path / "cg.out"
    out.write_text("positions: instr line\nevents: Ir\n"
                   "ob=/a.so\nfn=f\n"
                   "0x1000 10 100\n"        # line 0x40 of a.so: hot
                   "0x1030 11 95\n"         # same line
                   "0x1040 12 90\n"         # line 0x41: hot (exactly 0.9 per request)
                   "0x1080 13 89\n"         # line 0x42: cold
                   "calls=100 0x9000\n"
                   "0x10c0 14 5000\n"       # the call's inclusive cost: not counted
                   "ob=/b.so\nfn=g\n"
                   "0x1000 20 100\n")       # same address, other object: its own line
    assert cg.hot_code_lines(str(out), 100) == 3


def test_syscall_cost_compares_each_pair_in_both_process_kinds(tmp_path):
    """bench/syscall_cost.c (the numbers behind pxcy/includes/syscalls.h's choices):
    it builds warning-free, prints one line per pair of equivalent calls for a
    single-threaded process and for a second thread, and refuses a bad count."""
    if not shutil.which("cc"):
        pytest.skip("no C compiler")
    exe = tmp_path / "syscall_cost"
    subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-o", str(exe),
                    str(BENCH / "syscall_cost.c")], check=True, timeout=120)
    out = subprocess.run([str(exe), "2000"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines()]
    assert [(r[1], r[2], r[4]) for r in rows] == [
        (kind, a, b) for kind in ("single-threaded", "second-thread")
        for a, b in (("read", "recvfrom"), ("write", "sendto"), ("epoll_pwait", "epoll_wait"))]
    for r in rows:
        assert r[0] == "SYSCALL_COST" and len(r) == 7
        a, b, diff = float(r[3]), float(r[5]), float(r[6])
        assert a > 0 and b > 0 and abs(a - b - diff) < 0.2
    bad = subprocess.run([str(exe), "0"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stdout == "" and "usage" in bad.stderr
