"""Reports are kept: a study run without report_dir writes into its own job folder, never into
results/; a report already in a named report_dir that holds more than the new run makes is not
replaced without overwrite=true (the same inputs may always rewrite it); a roster of another metric
than hw_metric, a non-finite ground-truth accuracy and a result.json no job wrote are refused or
reported, never taken as they are.  Small rosters are cut from the committed ones, in tmp_path."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from cli import ROOT, run_cli
from zcnas.io import write_json
from zcnas.roster import Roster, read_roster, write_roster

pytestmark = pytest.mark.integration

SAMPLE = ROOT / "results" / "rosters" / "sample1000"
#: the folders the studies wrote into by default before they wrote into their job folder
COMMITTED = [ROOT / "results" / name for name in ("correlation", "ensembles", "hw")]
ENSEMBLES_FAST = ["datasets=[cifar10]", "select_on=cifar10", "max_size=2", "rules=[rank]",
                  "whole_space_rosters=null", "search_measures.repeats=2", "search_measures.random.n=20",
                  "search_measures.top_k=[1]"]
HW_FAST = ["datasets=[cifar10]", "devices=[edgegpu]", "budgets=[0.5]", "searches.random.n=20",
           "~searches.aging_warmup"]


def small_rosters(folder: Path, metrics: list[str], rows: int) -> Path:
    """The first ``rows`` rows of the committed 1,000-cell CIFAR-10 rosters of ``metrics``."""
    for metric in metrics:
        roster = read_roster(SAMPLE / f"{metric}_cifar10.parquet")
        write_roster(folder / f"{metric}_cifar10.parquet",
                     Roster(roster.rows.iloc[:rows].reset_index(drop=True), roster.meta))
    return folder


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def stamps() -> dict[str, tuple[int, int]]:
    """(size, mtime) of every file in the committed report folders: a rewrite changes the mtime."""
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns)
            for folder in COMMITTED for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, f"exit {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    lines = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr and len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def job_result(tmp_path: Path) -> dict:
    (path,) = (tmp_path / "outputs").rglob("result.json")
    return json.loads(path.read_text())


# --- task=correlate ------------------------------------------------------------------------------

def test_correlate_keeps_a_bigger_report_and_rewrites_its_own(tmp_path):
    big = small_rosters(tmp_path / "big", ["hook_logdet", "synflow"], 300)
    one = small_rosters(tmp_path / "one", ["synflow"], 300)
    fewer = small_rosters(tmp_path / "fewer", ["hook_logdet", "synflow"], 100)
    report = tmp_path / "report"
    run_cli(tmp_path, "task=correlate", f"rosters=[{big}/*.parquet]", f"report_dir={report}")
    before = files(report)
    assert "combined" in before["correlations.csv"].decode()

    line = one_line_error(run_cli(tmp_path, "task=correlate", f"rosters=[{one}/*.parquet]",
                                  f"report_dir={report}", check=False))
    assert str(report) in line and "overwrite=true" in line and "report_dir=" in line
    assert "holds a report of" in line and "this run has" in line
    # the same metrics over fewer architectures: still less than the report holds
    line = one_line_error(run_cli(tmp_path, "task=correlate", f"rosters=[{fewer}/*.parquet]",
                                  f"report_dir={report}", check=False))
    assert "300 architectures there, 100 here" in line
    assert files(report) == before

    run_cli(tmp_path, "task=correlate", f"rosters=[{big}/*.parquet]", f"report_dir={report}")  # same inputs
    assert files(report) == before
    run_cli(tmp_path, "task=correlate", f"rosters=[{one}/*.parquet]", f"report_dir={report}", "overwrite=true")
    table = pd.read_csv(report / "correlations.csv")
    assert "hook_logdet" not in set(table["metric"]) and "synflow" in set(table["metric"])


def test_correlate_without_report_dir_writes_into_its_job_folder(tmp_path):
    one = small_rosters(tmp_path / "one", ["synflow"], 200)
    before = stamps()
    run_cli(tmp_path, "task=correlate", f"rosters=[{one}/*.parquet]")
    assert stamps() == before
    folder = Path(job_result(tmp_path)["report_dir"])
    assert folder.parent.parent == tmp_path / "outputs" and (folder / "table1.md").is_file()
    assert (folder / "result.json").is_file()


def test_correlate_refuses_a_non_finite_accuracy_in_one_line(tmp_path, benchmark_csv):
    table = pd.read_csv(benchmark_csv)
    table.loc[5, "cifar10_test_acc"] = math.inf
    table.to_csv(tmp_path / "table.csv", index=False)
    one = small_rosters(tmp_path / "one", ["synflow"], 100)
    line = one_line_error(run_cli(tmp_path, "task=correlate", f"rosters=[{one}/*.parquet]", "benchmark=table",
                                  f"benchmark.path={tmp_path / 'table.csv'}", f"report_dir={tmp_path / 'r'}",
                                  check=False))
    assert "table.csv" in line
    assert not (tmp_path / "r").exists()


# --- task=ensembles ------------------------------------------------------------------------------

def test_ensembles_keeps_a_bigger_report(tmp_path):
    big = small_rosters(tmp_path / "big", ["hook_logdet", "params", "synflow"], 200)
    small = small_rosters(tmp_path / "small", ["params", "synflow"], 200)
    report = tmp_path / "report"
    run_cli(tmp_path, "task=ensembles", f"rosters=[{big}/*.parquet]", f"report_dir={report}", *ENSEMBLES_FAST)
    before = files(report)

    line = one_line_error(run_cli(tmp_path, "task=ensembles", f"rosters=[{small}/*.parquet]",
                                  f"report_dir={report}", *ENSEMBLES_FAST, check=False))
    assert str(report) in line and "candidates" in line and "overwrite=true" in line
    assert files(report) == before

    run_cli(tmp_path, "task=ensembles", f"rosters=[{big}/*.parquet]", f"report_dir={report}", *ENSEMBLES_FAST)
    assert files(report) == before  # the same inputs rewrite their own report, byte for byte
    run_cli(tmp_path, "task=ensembles", f"rosters=[{small}/*.parquet]", f"report_dir={report}", *ENSEMBLES_FAST,
            "overwrite=true")
    assert "hook_logdet" not in set(pd.read_csv(report / "ensembles.csv")["candidate"])


def test_ensembles_without_report_dir_writes_into_its_job_folder(tmp_path):
    small = small_rosters(tmp_path / "small", ["params", "synflow"], 100)
    before = stamps()
    run_cli(tmp_path, "task=ensembles", f"rosters=[{small}/*.parquet]", *ENSEMBLES_FAST)
    assert stamps() == before
    folder = Path(job_result(tmp_path)["report_dir"])
    assert folder.parent.parent == tmp_path / "outputs" and (folder / "ensembles.csv").is_file()


# --- task=hw_study -------------------------------------------------------------------------------

def test_hw_study_keeps_a_bigger_report(tmp_path):
    report = tmp_path / "report"
    run_cli(tmp_path, "task=hw_study", *HW_FAST, "repeats=3", f"report_dir={report}")
    before = files(report)
    line = one_line_error(run_cli(tmp_path, "task=hw_study", *HW_FAST, "repeats=1", f"report_dir={report}",
                                  check=False))
    assert "holds a report of 3 search runs" in line and "this run has 1" in line and "overwrite=true" in line
    assert files(report) == before
    run_cli(tmp_path, "task=hw_study", *HW_FAST, "repeats=1", f"report_dir={report}", "overwrite=true")
    assert len(pd.read_csv(report / "hw_study.csv")) == 1


def test_hw_study_without_report_dir_writes_into_its_job_folder(tmp_path):
    before = stamps()
    run_cli(tmp_path, "task=hw_study", *HW_FAST, "repeats=1")
    assert stamps() == before
    folder = Path(job_result(tmp_path)["report_dir"])
    assert folder.parent.parent == tmp_path / "outputs" and (folder / "hw_study.csv").is_file()


def test_hw_study_refuses_a_roster_of_another_metric(tmp_path):
    synflow = ROOT / "results" / "rosters" / "synflow_cifar10.parquet"
    line = one_line_error(run_cli(tmp_path, "task=hw_study", *HW_FAST, "repeats=1", "hw_metric=hook_logdet",
                                  f"rosters={{cifar10: {synflow}}}", f"report_dir={tmp_path / 'r'}", check=False))
    assert "'synflow' scores, not hw_metric=hook_logdet's" in line
    assert not (tmp_path / "r").exists()


# --- task=aggregate ------------------------------------------------------------------------------

def search_result(seed: int, **changes) -> dict:
    record = {"status": "ok", "task": "search", "dataset": "cifar10", "metric": "val12", "search": "random",
              "seed": seed, "config": {"task": "search", "seed": seed},
              "best": {"arch": "|a|", "index": seed, "score": 1.0, "test_accuracy": 94.0, "rank": 1},
              "visited": 500, "evaluations": 500, "distinct_scored": 500, "wall_seconds": 1.0,
              "scoring_wall_seconds": 1.0, "recorded_seconds": 1.0, "recorded_seconds_per_request": 1.0,
              "trace": {"best_test_accuracy": [94.0]}}
    return {**record, **changes}


def test_aggregate_counts_no_hand_made_result_as_an_ok_job(tmp_path):
    sweep = tmp_path / "sweep"
    write_json(sweep / "seed=0" / "result.json", search_result(0))
    no_config = search_result(1)
    del no_config["config"]
    write_json(sweep / "seed=1" / "result.json", no_config)
    write_json(sweep / "seed=2" / "result.json",
               search_result(2, best={"arch": "|a|", "index": 2, "score": 1.0, "test_accuracy": math.nan}))
    (sweep / "seed=3").mkdir()
    (sweep / "seed=3" / "result.json").write_text("[]")
    proc = run_cli(tmp_path, "task=aggregate", f"sweep_dir={sweep}")
    assert "aggregated 4 jobs (1 ok, 3 failed)" in proc.stdout
    assert "seed=1: invalid result.json: status ok but no config" in proc.stdout
    assert "seed=2: invalid result.json: status ok but best.test_accuracy is nan" in proc.stdout
    assert "seed=3: invalid result.json: a JSON list" in proc.stdout
    jobs = pd.read_csv(sweep / "tables" / "jobs.csv")
    assert jobs.loc[jobs["status"] == "ok", "job"].tolist() == ["seed=0"]


def test_aggregate_over_a_list_alone_is_no_traceback(tmp_path):
    sweep = tmp_path / "sweep"
    (sweep / "job").mkdir(parents=True)
    (sweep / "job" / "result.json").write_text("[]")
    proc = run_cli(tmp_path, "task=aggregate", f"sweep_dir={sweep}", check=False)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert "(0 ok, 1 failed)" in proc.stdout
