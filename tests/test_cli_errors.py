"""The command line keeps its promise: bad input is one line and exit status 2, job folders stay
flat under the output root, nothing is left behind by a failed run, non-finite results round-trip,
and a sweep with failed jobs exits non-zero after its summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from cli import ROOT, one_line_error, run_cli
from zcnas.errors import ConfigError
from zcnas.io import read_json, write_json
from zcnas.jobs import config_changes, folder_name, safe_part
from zcnas.studies.search_tables.report import render_markdown
from zcnas.studies.search_tables.statistics import cell_summary, collect
from zcnas.studies.search_tables.task import aggregate_into

FAST = ["benchmark=none", "search.n=3", "hardware.threads=1"]


# --- folder names: flat, shell-safe, stable ---------------------------------------------------------

def test_simple_overrides_keep_their_readable_names():
    assert folder_name(["seed=3", "metric=synflow", "search=random"]) == "metric=synflow,search=random,seed=3"
    assert folder_name([]) == "default"
    # settings that do not change a result are left out, one list for names and for changes
    assert folder_name(["metric=synflow", "hardware=slurm", "progress=false", "paths.output_dir=/x"]) == "metric=synflow"


@pytest.mark.parametrize("value", ["../../../../tmp/x", "/a/b=c,d.parquet", "[0,1]", "'quoted value'", "~/x", ".."])
def test_any_value_gives_one_flat_shell_safe_folder(value):
    name = folder_name([f"metric.roster={value}", "seed=1"])
    assert "/" not in name and ".." not in name.split("=")[1]
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-=,")
    assert folder_name([f"metric.roster={value}"]) != folder_name(["metric.roster=other"])


def test_a_path_reads_by_its_file_name_and_distinct_paths_get_distinct_names():
    a, b = safe_part("/data/a/synflow_cifar10.parquet"), safe_part("/data/b/synflow_cifar10.parquet")
    assert a.startswith("synflow_cifar10.parquet-") and a != b


def test_data_path_and_rosters_are_part_of_a_jobs_identity():
    assert config_changes({"dataset": {"data_path": "/a.npz"}}, {"dataset": {"data_path": "/b.npz"}}) == ["dataset.data_path"]
    assert config_changes({"metric": {"roster": "/x"}}, {"metric": {"roster": "/y"}}) == ["metric.roster"]
    assert config_changes({"paths": {"root_dir": "/a"}, "dataset": {"download": True}, "hardware": {"threads": 1}},
                          {"paths": {"root_dir": "/b"}, "dataset": {"download": False}, "hardware": {"threads": 2}}) == []


@pytest.mark.integration
def test_a_path_override_cannot_leave_the_output_root(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    proc = run_cli(tmp_path, "metric=synflow", f"metric.roster=../../../../{outside}/x.parquet", *FAST, check=False)
    assert "roster not found" in one_line_error(proc)
    assert list(outside.iterdir()) == []  # nothing written beside the user's folder
    for path in (tmp_path / "outputs").rglob("*"):
        assert path.resolve().is_relative_to((tmp_path / "outputs").resolve())


# --- one line, exit status 2 --------------------------------------------------------------------

@pytest.mark.integration
@pytest.mark.parametrize("args, expected", [
    (["metric=naswot"], "error: unknown metric 'naswot'; valid: "),
    (["dataset=cifar11"], "error: unknown dataset 'cifar11'; valid: ImageNet16-120, cifar10, cifar100"),
    (["-m", "metric=synflow,naswot"], "error: unknown metric 'naswot'"),
    (["search.nn=5"], "error: unknown setting search.nn (valid keys of search: "),
    (["+seed=4"], "error: seed already exists"),
    (["sweep_name=../x", "-m", "seed=0"], "error: sweep_name must be a plain folder name"),
    (["metric=hook_logdet", "dataset.data_path=~/zcnas-no-such-dir/cifar.npz"], os.path.expanduser("~/zcnas-no-such-dir")),
    (["metric=synflow", "metric.roster=/tmp/zcnas=no,such.parquet"], "roster not found: /tmp/zcnas=no,such.parquet"),
    (["task=correlate", "alpha=2"], "error: alpha must be a number in [0, 1]"),  # not metric.alpha
])
def test_bad_command_lines_are_one_line(tmp_path, args, expected):
    line = one_line_error(run_cli(tmp_path, *FAST, *args, check=False))
    assert expected in line, line


@pytest.mark.integration
def test_an_output_folder_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    proc = run_cli(tmp_path, *FAST, f"paths.output_dir={tmp_path}/file", check=False)
    assert "cannot write" in one_line_error(proc) and "paths.output_dir" in proc.stderr


@pytest.mark.integration
def test_an_unwritable_output_folder_is_one_line(tmp_path):
    # /proc refuses new folders even to root (a chmod'ed folder would not stop root)
    proc = run_cli(tmp_path, *FAST, "paths.output_dir=/proc/zcnas-outputs", check=False)
    assert "cannot write" in one_line_error(proc)


def test_a_full_disk_while_writing_the_result_is_one_line(compose_cfg, tmp_path, monkeypatch, capsys):
    """Simulated: ENOSPC raised by the result write (a full file system cannot be made here)."""
    import errno

    from zcnas import runner

    def full(path, obj):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(runner, "write_json", full)
    with pytest.raises(SystemExit) as exit_:
        runner.run_job(compose_cfg(*FAST), tmp_path / "job")
    assert exit_.value.code == 2
    assert "No space left on device" in capsys.readouterr().err


@pytest.mark.integration
def test_slurm_without_slurm_is_one_line(tmp_path):
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + ":/usr/bin/nonexistent", "HYDRA_FULL_ERROR": "0"}
    cmd = [sys.executable, str(ROOT / "run.py"), f"paths.multirun_dir={tmp_path}/m", "-m", "hardware=slurm", "seed=0"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    line = one_line_error(proc)
    assert "hardware=slurm needs SLURM" in line and "hardware=submitit_local" in line


# --- nothing left behind, failures are not success --------------------------------------------------

@pytest.mark.integration
def test_a_failed_single_run_leaves_no_folder(tmp_path):
    one_line_error(run_cli(tmp_path, "search.n=0", "benchmark=none", check=False))
    assert not list((tmp_path / "outputs").rglob("*.hydra")), "a folder holding only Hydra's records was left"


@pytest.mark.integration
def test_a_sweep_with_a_failed_job_exits_non_zero_after_its_summary(tmp_path, benchmark_csv):
    proc = run_cli(tmp_path, "-m", "task=score", "metric=val12", "benchmark=table", f"benchmark.path={benchmark_csv}",
                   "indices=[0,1],[2,99999]", check=False)
    assert proc.returncode == 1, proc.stderr
    assert "1 ok, 0 skipped (already done), 1 failed" in proc.stdout
    assert "relaunch the same command" in proc.stdout


# --- what a result records ------------------------------------------------------------------------

def test_non_finite_values_round_trip_through_result_files(tmp_path):
    record = {"best": {"score": float("-inf"), "arch": "|x|"}, "trace": [float("nan"), 1.0, float("inf")]}
    write_json(tmp_path / "r.json", record)
    text = (tmp_path / "r.json").read_text()
    json.loads(text)  # strict JSON: no bare NaN/Infinity tokens
    back = read_json(tmp_path / "r.json")
    assert back["best"]["score"] == float("-inf") and back["trace"][2] == float("inf")
    assert back["trace"][0] != back["trace"][0] and back["best"]["arch"] == "|x|"


@pytest.mark.integration
def test_a_finished_search_with_a_minus_inf_best_relaunches(tmp_path):
    run_cli(tmp_path, *FAST)
    (path,) = (tmp_path / "outputs").rglob("result.json")
    result = json.loads(path.read_text())
    result["best"]["score"] = "-inf"  # as written for a search whose best score was -inf
    path.write_text(json.dumps(result))
    again = run_cli(tmp_path, *FAST)
    assert "already done" in again.stdout and "score -inf" in again.stdout


@pytest.mark.integration
def test_results_name_the_git_commit(tmp_path):
    run_cli(tmp_path, *FAST)
    (path,) = (tmp_path / "outputs").rglob("result.json")
    versions = json.loads(path.read_text())["versions"]
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:
        assert versions["commit"] == head.stdout.strip() and isinstance(versions["dirty"], bool)
    else:
        assert versions["commit"] is None


# --- reports never lose committed results -------------------------------------------------------

def _job(folder: Path, seed: int, visited: int = 500, acc: float = 94.0) -> None:
    write_json(folder / f"metric=val12,seed={seed}" / "result.json", {
        "status": "ok", "task": "search", "dataset": "cifar10", "metric": "val12", "search": "random", "seed": seed,
        "config": {"task": "search", "seed": seed},
        "best": {"arch": "|a|", "index": seed, "score": 1.0, "test_accuracy": acc, "rank": 1}, "visited": visited,
        "evaluations": visited, "distinct_scored": visited, "wall_seconds": 1.0, "scoring_wall_seconds": 1.0,
        "recorded_seconds": 1.0, "recorded_seconds_per_request": 1.0, "trace": {"best_test_accuracy": [acc]}})


def test_a_smaller_sweep_does_not_replace_reports_without_overwrite(tmp_path):
    for seed in range(3):
        _job(tmp_path / "full", seed)
    _job(tmp_path / "small", 0)
    aggregate_into(tmp_path / "full", tmp_path / "report")
    before = (tmp_path / "report" / "tables.md").read_bytes()
    with pytest.raises(ConfigError, match="overwrite=true"):
        aggregate_into(tmp_path / "small", tmp_path / "report")
    assert (tmp_path / "report" / "tables.md").read_bytes() == before
    aggregate_into(tmp_path / "full", tmp_path / "report")  # the same sweep again: fine
    aggregate_into(tmp_path / "small", tmp_path / "report", overwrite=True)
    assert len(pd.read_csv(tmp_path / "report" / "jobs.csv")) == 1


def test_cells_off_the_papers_budget_or_repeats_are_marked(tmp_path):
    for seed in range(3):
        _job(tmp_path / "s", seed, visited=10)
    text = render_markdown(collect(tmp_path / "s"))
    assert "‡" in text and "not comparable" in text
    cells = cell_summary(collect(tmp_path / "s"))
    assert cells.loc[0, "n"] == 3


@pytest.mark.integration
def test_import_never_overwrites_a_roster_silently(tmp_path):
    csv = tmp_path / "scores.csv"
    csv.write_text("index,score\n0,1.5\n1,2.5\n")
    out = tmp_path / "imported.parquet"
    args = ["task=import", f"source.path={csv}", "source.score_column=score", f"source.output={out}", "metric=synflow"]
    run_cli(tmp_path, *args)
    before = out.read_bytes()
    line = one_line_error(run_cli(tmp_path, *args, check=False))
    assert "already exists" in line and "source.replace=true" in line and out.read_bytes() == before
    run_cli(tmp_path, *args, "source.replace=true")


@pytest.mark.integration
def test_rosters_name_the_git_commit(tmp_path, benchmark_csv):
    from zcnas.provenance import code_version
    from zcnas.roster import read_roster

    run_cli(tmp_path, "task=score", "metric=val12", "benchmark=table", f"benchmark.path={benchmark_csv}", "indices=[0,1]")
    (path,) = (tmp_path / "outputs").rglob("roster.parquet")
    assert read_roster(path).meta["code"] == code_version()


def test_overrides_are_rewritten_only_where_hydra_would_misread_them():
    from zcnas.cli import normalize_override

    home = os.path.expanduser("~")
    assert normalize_override("dataset.data_path=~/data") == f"dataset.data_path={home}/data"
    assert normalize_override("metric.roster=/x/a=b.parquet") == "metric.roster='/x/a=b.parquet'"
    # lists, dicts, quotes and group choices are the user's Hydra syntax: untouched
    for arg in ("merge.inputs=['/x/a=1/*.parquet']", "metric.roster='/x/a=b'", "metric=synflow", "-m", "seed=3"):
        assert normalize_override(arg) == arg


@pytest.mark.integration
def test_a_value_of_the_wrong_type_is_one_line_and_says_why(tmp_path):
    line = one_line_error(run_cli(tmp_path, *FAST, "dataset.download=maybe", check=False))
    assert "dataset.download=maybe" in line and "not a valid bool" in line
