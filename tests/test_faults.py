"""Faults and resume: a killed scoring run resumes without losing or redoing work; a failing
job is recorded and reported without taking the sweep down; the end-of-sweep report
(src/zcnas/callbacks.py) reads the right jobs and merges shards in any order; bad settings
give one line, logs get no bar redraws, and non-finite results are shown again on relaunch."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli import ROOT, run_cli
from zcnas.callbacks import SweepReport, collect_jobs, merge_sweep_rosters, report_sweep
from zcnas.io import write_json
from zcnas.roster import Roster, make_rows, read_roster, write_roster
from zcnas.spaces.nats_tss.space import NATS_TSS

SCORE = ["task=score", "metric=synflow", "benchmark=none", "sample=30", "checkpoint_every=3", "hardware.threads=1"]


def start_cli(tmp_path: Path, *args: str, log: Path, env: dict | None = None) -> subprocess.Popen:
    """run_cli's command, started in the background, stdout and stderr into ``log``."""
    cmd = [sys.executable, str(ROOT / "run.py"), f"paths.output_dir={tmp_path}/outputs",
           f"paths.multirun_dir={tmp_path}/multirun", "progress=false", *args]
    with open(log, "w") as out:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "HYDRA_FULL_ERROR": "0", **(env or {})},
                                preexec_fn=_interruptible)


def _interruptible() -> None:
    """The job gets Ctrl-C as from a terminal even when the tests run in the background, where a
    shell starts them with SIGINT ignored (which Python, and so the job, would keep)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"process ended (exit {proc.returncode}) before {what}:\n{log.read_text() if log else ''}")
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


@pytest.mark.integration
@pytest.mark.slow
def test_sigkilled_scoring_resumes_where_it_stopped(tmp_path):
    log = tmp_path / "first.log"
    proc = start_cli(tmp_path / "a", *SCORE, log=log)
    try:
        chunks = wait_for(lambda: sorted((tmp_path / "a" / "outputs").rglob("chunks/part-*.parquet")), 180,
                          "the first checkpoint chunk", proc, log)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"

    # what the killed run left: only whole, readable chunks (temporary files are never named part-*)
    chunks = sorted(chunks[0].parent.glob("part-*.parquet"))
    done_before = {}
    for path in chunks:
        done_before.update(read_roster(path).scores())
    assert 0 < len(done_before) < 30, f"the kill should land partway, {len(done_before)} rows were done"
    assert not (chunks[0].parent.parent / "result.json").exists()

    # the same command again resumes from the chunks
    again = run_cli(tmp_path / "a", *SCORE)
    (result_path,) = (tmp_path / "a" / "outputs").rglob("result.json")
    result = json.loads(result_path.read_text())
    assert result["status"] == "ok" and result["architectures"] == 30
    assert result["resumed_rows"] == len(done_before) > 0
    assert result["scored_now"] == 30 - len(done_before) < 30  # nothing completed was recomputed
    assert f"{len(done_before)} resumed" in again.stdout
    print(f"killed after {len(done_before)} of 30 rows; relaunch resumed {result['resumed_rows']}, "
          f"scored {result['scored_now']}")

    resumed = read_roster(result_path.parent / "roster.parquet")
    assert len(resumed) == 30 and not resumed.rows["index"].duplicated().any()
    assert all(resumed.scores()[i] == s for i, s in done_before.items())
    # the chunks on disk hold every row exactly once, too
    all_chunk_rows = [i for p in result_path.parent.glob("chunks/part-*.parquet") for i in read_roster(p).indices]
    assert sorted(all_chunk_rows) == sorted(resumed.indices)

    # identical to a run that was never interrupted
    run_cli(tmp_path / "b", *SCORE)
    (clean_path,) = (tmp_path / "b" / "outputs").rglob("roster.parquet")
    clean = read_roster(clean_path)
    assert clean.rows[["index", "arch", "score"]].equals(resumed.rows[["index", "arch", "score"]])
    assert json.loads(next((tmp_path / "b" / "outputs").rglob("result.json")).read_text())["resumed_rows"] == 0


@pytest.mark.integration
@pytest.mark.slow
def test_failing_job_is_recorded_and_listed_while_the_sweep_goes_on(tmp_path, benchmark_csv):
    proc = run_cli(tmp_path, "task=score", "metric=val12", "benchmark=table", f"benchmark.path={benchmark_csv}",
                   "indices=[0,1],[2,99999]", "-m", check=False)
    assert proc.returncode == 1, proc.stderr  # the sweep went on, then says that a job failed
    (sweep,) = (tmp_path / "multirun").glob("score-*")
    results = {str(p.parent.relative_to(sweep)): json.loads(p.read_text()) for p in sweep.rglob("result.json")}
    (good,) = [r for r in results.values() if r["status"] == "ok"]
    (bad_name,) = [n for n, r in results.items() if r["status"] == "failed"]
    assert good["architectures"] == 2
    assert "99999" in bad_name and "0..15624, got 99999" in results[bad_name]["error"]

    assert "2 job(s): 1 ok, 0 skipped (already done), 1 failed, 0 without result" in proc.stdout
    (failure_line,) = [line for line in proc.stdout.splitlines() if "FAILED" in line]
    assert bad_name in failure_line and "0..15624, got 99999" in failure_line
    assert "merged 1 roster(s) of val12 on cifar10 (2 rows)" in proc.stdout


# ---- the end-of-sweep report as plain Python ----

META = {"metric": "synflow", "dataset": "cifar10", "seed": 0, "batch_size": None, "settings": {}}


def make_job(sweep: Path, name: str, result: dict | None, rows=None, meta=META, hydra=True) -> Path:
    folder = sweep / name
    if hydra:
        (folder / ".hydra").mkdir(parents=True)
        (folder / ".hydra" / "overrides.yaml").write_text("- x=1\n")
    if result is not None:
        write_json(folder / "result.json", result)
    if rows is not None:
        write_roster(folder / "roster.parquet", Roster(make_rows(rows, NATS_TSS), dict(meta)))
    return folder


def age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_collect_jobs_sees_only_this_sweep_and_classifies_jobs(tmp_path):
    sweep = tmp_path / "sweep"
    old = make_job(sweep, "old_sweep_job", {"status": "failed", "error": "from an earlier sweep"})
    skipped = make_job(sweep, "done_before", {"status": "ok", "task": "search"})
    make_job(sweep, "ok", {"status": "ok", "task": "score"})
    make_job(sweep, "bad", {"status": "failed", "error": "boom\nsecond line", "config": {"task": "score"}})
    make_job(sweep, "died", None)
    make_job(sweep, "benchmark.path=", None, hydra=False)  # no .hydra, no result: not a job folder
    make_job(sweep / "benchmark.path=" / "x", "y,seed=1", {"status": "ok", "task": "search"})  # '/' in a job name
    # a path-valued override through a folder named like the sweep's report folders
    make_job(sweep / "metric.roster=results" / "rosters", "m.parquet,seed=2", {"status": "ok", "task": "search"})
    make_job(sweep, "corrupt", None)
    (sweep / "corrupt" / "result.json").write_text("{not json")
    make_job(sweep / ".submitit", "123", {"status": "ok"})
    make_job(sweep / "rosters", "x", {"status": "ok"})
    for path in old.rglob("*"):
        age(path, 3600)
    age(skipped / "result.json", 3600)  # written by an earlier launch; Hydra's record is new
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    age(sweep / "multirun.yaml", 60)

    jobs = {j.name: j for j in collect_jobs(sweep)}
    assert sorted(jobs) == ["bad", "benchmark.path=/x/y,seed=1", "corrupt", "died", "done_before",
                            "metric.roster=results/rosters/m.parquet,seed=2", "ok"]
    assert {n: j.state for n, j in jobs.items()} == {
        "bad": "failed", "benchmark.path=/x/y,seed=1": "ok", "corrupt": "failed", "died": "missing",
        "done_before": "skipped", "metric.roster=results/rosters/m.parquet,seed=2": "ok", "ok": "ok"}
    assert jobs["bad"].task == "score" and jobs["done_before"].task == "search"
    assert "unreadable result.json" in jobs["corrupt"].error

    assert len(collect_jobs(sweep, since=0)) == 8  # since=0: every job folder, earlier sweeps' too


def test_report_lists_failures(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    make_job(sweep, "ok", {"status": "ok", "task": "merge"})
    make_job(sweep, "bad", {"status": "failed", "error": "boom\nsecond line"})
    make_job(sweep, "died", None)
    report_sweep(sweep)
    out = capsys.readouterr().out
    assert "3 job(s): 1 ok, 0 skipped (already done), 1 failed, 1 without result" in out
    assert "FAILED bad: boom" in out and "second line" not in out
    assert "FAILED died: no result.json" in out


def test_report_caps_the_list_of_failures(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    for k in range(25):
        make_job(sweep, f"seed={k:02d}", {"status": "failed", "error": f"error {k}"})
    (sweep / "odd").mkdir()
    (sweep / "odd" / "result.json").write_text("[1, 2]")
    report_sweep(sweep)
    out = capsys.readouterr().out
    assert "26 job(s): 0 ok, 0 skipped (already done), 26 failed" in out
    assert out.count("FAILED") == 20 and "... and 6 more failures" in out


def test_shards_merge_to_the_same_roster_in_any_order(tmp_path):
    rows = [(i, float(i % 7) - 0.5 * i, 0.01 * i, "computed") for i in range(0, 400, 13)]
    shards = [rows[k::4] for k in range(4)]  # interleaved: no shard is a contiguous block
    sweep = tmp_path / "sweep"
    for k, shard in enumerate(shards):
        make_job(sweep, f"shard={k}", {"status": "ok", "task": "score"}, rows=shard)
    make_job(sweep, "other_dataset", {"status": "ok", "task": "score"}, rows=rows[:3],
             meta={**META, "dataset": "cifar100"})
    make_job(sweep, "failed_shard", {"status": "failed", "task": "score"}, rows=rows[:1])  # not merged
    jobs = collect_jobs(sweep)
    expected = Roster(make_rows(rows, NATS_TSS), META).rows
    shard_jobs = [j for j in jobs if j.name.startswith("shard=")]
    others = [j for j in jobs if j not in shard_jobs]
    for order in itertools.permutations(shard_jobs):  # the order in which shards finished or are found
        lines = merge_sweep_rosters([*order[:2], *others, *order[2:]], sweep)
        assert len(lines) == 2 and "merged 4 roster(s) of synflow on cifar10 (31 rows)" in lines[0]
        merged = read_roster(sweep / "rosters" / "synflow_cifar10.parquet")
        assert merged.rows.equals(expected) and merged.meta["seed"] == 0
    assert len(read_roster(sweep / "rosters" / "synflow_cifar100.parquet")) == 3


def test_incompatible_shards_give_a_warning_not_an_exception(tmp_path):
    sweep = tmp_path / "sweep"
    make_job(sweep, "seed=0", {"status": "ok", "task": "score"}, rows=[(0, 1.0, 0.0, "computed")])
    make_job(sweep, "seed=1", {"status": "ok", "task": "score"}, rows=[(1, 1.0, 0.0, "computed")],
             meta={**META, "seed": 1})
    (line,) = merge_sweep_rosters(collect_jobs(sweep), sweep)
    assert line.startswith("[zcnas] warning: rosters of synflow on cifar10 not merged") and "seed" in line


def test_callback_never_raises(tmp_path, capsys):
    from omegaconf import OmegaConf

    SweepReport().on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": "${missing}"}}}))
    err = capsys.readouterr().err
    assert err.startswith("[zcnas] warning: no sweep report") and err.count("\n") == 1



# ---- what a user sees: one-line messages, logs without bar redraws, non-finite results ----

@pytest.mark.integration
@pytest.mark.parametrize("override, message", [
    ("indices=5", "indices must be a list of NATS-Bench indices or architecture strings, e.g. indices=[0,1,2], got 5"),
    ("indices=abc", "indices must be a list of NATS-Bench indices or architecture strings, e.g. indices=[0,1,2], "
                    "got 'abc'"),
    ("checkpoint_every=abc", "checkpoint_every must be an integer (default 50), got 'abc'"),  # its default's type
])
def test_bad_score_settings_give_one_line(tmp_path, override, message):
    proc = run_cli(tmp_path, "task=score", "metric=synflow", "benchmark=none", override, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {message}", proc.stderr


@pytest.mark.integration
def test_progress_in_a_log_draws_no_bar(tmp_path):
    proc = run_cli(tmp_path, "metric=synflow", "benchmark=none", "search.n=20", "hardware.threads=1", "progress=true")
    assert "\r" not in proc.stderr and "it/s" not in proc.stderr, proc.stderr  # stderr is a pipe, not a terminal


def test_status_lines_replace_the_bar_when_stderr_is_not_a_terminal(monkeypatch, capsys):
    from zcnas.progress import StatusLines, progress_bar

    monkeypatch.setenv("ZCNAS_STATUS_SECONDS", "0")
    with progress_bar(3, "score synflow cifar10") as bar:
        assert isinstance(bar, StatusLines)
        bar.update(1)
        bar.set_postfix_str("best 1.5")
        bar.update(1)
    with progress_bar(None, "aging synflow cifar10") as bar:  # no total, so no ETA
        bar.update(1)
    with progress_bar(3, "off", enabled=False) as bar:
        bar.update(3)
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["[zcnas] score synflow cifar10: 1/3 (0 s)", "[zcnas] score synflow cifar10: 2/3 (0 s, best 1.5)",
                     "[zcnas] aging synflow cifar10: 1 (0 s)"]


def test_aging_progress_counts_the_cells_it_scores(compose_cfg, monkeypatch, capsys):
    """A zero-cost move scores up to 24 neighbours per visit: the progress counts scored cells, not visits."""
    from zcnas.tasks.search import run_search_job

    monkeypatch.setenv("ZCNAS_STATUS_SECONDS", "0")
    cfg = compose_cfg("search=aging", "search.p=4", "search.t=2", "search.m=6", "metric=synflow", "benchmark=none",
                      "hardware.threads=1", "progress=true")
    result = run_search_job(cfg)
    counts = [int(n) for n in re.findall(r"\] aging synflow cifar10: (\d+) \(", capsys.readouterr().err)]
    assert counts == list(range(1, result["distinct_scored"] + 1))
    assert result["distinct_scored"] > result["visited"]


@pytest.mark.integration
def test_a_search_whose_best_score_is_minus_inf_is_reported_again_on_relaunch(tmp_path):
    """Every cell scores -inf on identical images (NASWOT's kernel is singular); result.json stores it as null beside "score_non_finite": "-inf"."""
    import numpy as np

    from shared_data import shared_data_dir

    with np.load(shared_data_dir() / "samples" / "cifar10_sample.npz") as data:
        same = np.repeat(data["x"][:1], 16, axis=0)
        np.savez(tmp_path / "same.npz", x=same, y=data["y"][:16])
    args = ["metric=hook_logdet", "benchmark=none", "search.n=3", "batch_size=8", "hardware.threads=1",
            f"dataset.data_path={tmp_path / 'same.npz'}"]
    first = run_cli(tmp_path, *args)
    assert "score -inf" in first.stdout
    again = run_cli(tmp_path, *args)  # summarized from result.json, which keeps -inf apart from NaN
    assert "already done" in again.stdout and "score -inf" in again.stdout


def test_summaries_show_non_finite_and_missing_numbers():
    from zcnas.tasks.score import summarize_score
    from zcnas.tasks.search import summarize_search

    search = {"search": "random", "metric": "hook_logdet", "dataset": "cifar10", "seed": 0,
              "best": {"arch": "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "index": 1, "score": "-inf",
                       "test_accuracy": "nan", "rank": 15625, "best_in_space": 94.56},
              "visited": 3, "evaluations": 3, "distinct_scored": 3, "wall_seconds": 1.0,
              "scoring_wall_seconds": float("inf"), "recorded_seconds": None}
    text = summarize_search(search)
    assert "score -inf" in text and "test accuracy (200 epochs): nan%" in text and "scoring inf s" in text
    score = {"architectures": 0, "metric": "synflow", "dataset": "cifar10", "shard": 0, "num_shards": 1,
             "scored_now": 0, "resumed_rows": 0, "shared": 0, "non_finite": 0, "median_seconds": "nan",
             "wall_seconds": 0.5, "roster": "r.parquet"}
    assert "median nan s" in summarize_score(score)
