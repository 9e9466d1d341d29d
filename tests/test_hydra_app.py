"""zcnas as a Hydra app: Hydra's override grammar, one folder per sweep, job logs, --help, job identity."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from cli import ROOT, run_cli
from zcnas.callbacks import SweepReport
from zcnas.cli import check_overrides, group_choices
from zcnas.config import CONFIG_DIR, group_options
from zcnas.io import write_json
from zcnas.jobs import sweep_id

QUICK = ["search.n=3", "benchmark=none", "hardware.threads=1"]


def sweep_folders(tmp_path: Path) -> list[Path]:
    return sorted(p for p in (tmp_path / "multirun").iterdir() if p.is_dir())


def test_group_choices_are_read_in_hydras_grammar():
    metrics = group_options("metric")
    assert group_choices("metric=choice(synflow,params)", metrics) == ("metric", ["synflow", "params"], True)
    assert group_choices("metric=synflow,params", metrics) == ("metric", ["synflow", "params"], True)
    assert group_choices("metric=glob(s*)", metrics) == ("metric", ["snip", "synflow"], True)
    assert group_choices("metric=glob(*,exclude=[s*,z*])", metrics)[1] == [m for m in metrics if m[0] not in "sz"]
    assert group_choices("+metric=synflow", metrics) == ("metric", ["synflow"], False)
    assert group_choices("search.n=3", metrics) is None
    assert check_overrides(["-m", "metric=choice(synflow,params)"], CONFIG_DIR) is None
    assert check_overrides(["-m", "metric=choice(synflow,nope)"], CONFIG_DIR).startswith("unknown metric 'nope'; valid: ")
    assert check_overrides(["-m", "metric=glob(x*)"], CONFIG_DIR).startswith("metric=glob(x*) matches no metric")
    assert "cannot be swept" in check_overrides(["-m", "hardware=choice(local,submitit_local)"], CONFIG_DIR)


def test_sweep_identity_is_its_overrides_in_any_order_wherever_it_runs():
    a = sweep_id(["metric=choice(synflow,params)", "search.n=3"])
    assert a == sweep_id(["search.n=3", "metric=choice(synflow,params)", "hardware=submitit_local", "progress=false",
                          "paths.multirun_dir=/elsewhere"])
    assert a != sweep_id(["metric=choice(synflow,params)", "search.n=4"])


@pytest.mark.integration
def test_ad_hoc_sweeps_in_hydra_grammar_get_their_own_folders_and_resume_there(tmp_path):
    first = run_cli(tmp_path, "-m", "metric=choice(synflow,params)", *QUICK)
    assert "2 job(s): 2 ok, 0 skipped (already done), 0 failed" in first.stdout
    (folder,) = sweep_folders(tmp_path)
    assert folder.name.startswith("search-")
    assert sorted(p.name for p in folder.iterdir() if (p / "result.json").is_file()) == [
        "metric=params,search.n=3", "metric=synflow,search.n=3"]
    # a job logged its output to its run.log too
    assert "random search, metric params" in (folder / "metric=params,search.n=3" / "run.log").read_text()

    # another sweep (other budget) gets another folder: its tables hold its own jobs only
    other = run_cli(tmp_path, "-m", "metric=params", "search.n=4", "benchmark=none", "hardware.threads=1", "seed=0,1")
    assert "2 job(s): 2 ok, 0 skipped (already done), 0 failed" in other.stdout
    second = next(p for p in sweep_folders(tmp_path) if p != folder)
    with open(second / "tables" / "jobs.csv") as f:
        jobs = list(csv.DictReader(f))
    assert sorted(j["job"] for j in jobs) == ["metric=params,search.n=4,seed=0", "metric=params,search.n=4,seed=1"]

    # the first command again, its overrides in another order: the same folder, nothing rerun
    again = run_cli(tmp_path, *reversed(QUICK), "metric=choice(synflow,params)", "-m")
    assert "2 job(s): 0 ok, 2 skipped (already done), 0 failed" in again.stdout
    assert f"sweep {folder}:" in again.stdout and len(sweep_folders(tmp_path)) == 2


@pytest.mark.integration
def test_a_job_with_its_defaults_spelled_out_is_the_job_without_them(tmp_path):
    plain = run_cli(tmp_path, *QUICK)
    (folder,) = (tmp_path / "outputs" / "search").iterdir()
    assert folder.name == "search.n=3"
    # the job's output is on the console as printed, and in its run.log
    assert "\n[zcnas] result written to " in "\n" + plain.stdout and plain.stdout.count("random search, metric synflow") == 1
    log = (folder / "run.log").read_text()
    assert "random search, metric synflow, dataset cifar10, seed 0" in log and "[zcnas] result written to" in log

    spelled = run_cli(tmp_path, *QUICK, "seed=0", "batch_size=128", "search.max_cost.fpga_energy=null")
    assert "job already done, skipping" in spelled.stdout
    assert [p.name for p in (tmp_path / "outputs" / "search").iterdir()] == ["search.n=3"]
    # values that differ from their defaults, and group choices, name the folder as they always did
    run_cli(tmp_path, *QUICK, "seed=1", "metric=params", "batch_size=128")
    assert sorted(p.name for p in (tmp_path / "outputs" / "search").iterdir()) == [
        "metric=params,search.n=3,seed=1", "search.n=3"]


def test_help_names_the_groups_and_the_first_commands():
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.startswith("zcnas: training-free (zero-cost) neural architecture search.")
    for group in ("metric", "search", "space", "dataset", "task", "experiment", "hardware"):
        assert f"\n{group}: " in proc.stdout
    assert "synflow" in proc.stdout and "aging_warmup" in proc.stdout
    assert proc.stdout.count("\n  python run.py ") == 3


def test_help_into_a_closed_pipe_exits_quietly():
    # the reader is gone before anything is written (run.py --help | head, at its worst)
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--help"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and stderr == ""


def _job(sweep: Path, name: str, status: str) -> None:
    (sweep / name / ".hydra").mkdir(parents=True)
    (sweep / name / ".hydra" / "overrides.yaml").write_text("[]\n")
    write_json(sweep / name / "result.json", {"status": status, "error": "boom", "task": "train"})


def test_a_sweep_with_a_failed_job_ends_the_command_with_status_1(tmp_path, capsys):
    from omegaconf import OmegaConf

    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})
    _job(tmp_path, "seed=0", "ok")
    assert SweepReport().on_multirun_end(config) is None
    _job(tmp_path, "seed=1", "failed")
    with pytest.raises(SystemExit) as exit_:
        SweepReport().on_multirun_end(config)
    assert exit_.value.code == 1
    assert "FAILED seed=1: boom" in capsys.readouterr().out
