"""hardware=slurm end to end on a real scheduler (scripts/slurm-localhost.sh): -m sweeps go
through sbatch as job arrays, the end-of-sweep callback merges the shards, a relaunch skips
finished jobs, and a job sent SLURM's timeout signal is requeued and resumes where it stopped.

Also, without a cluster: what the `hardware` options compose to.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from cli import ROOT, run_cli
from slurm_helpers import require_slurm
from zcnas.config import CONFIG_DIR
from zcnas.roster import read_roster

INDICES = "[0,7,42,100,999,1500,4000,7000,9999,12000,15000,15624]"


@pytest.fixture
def slurm(tmp_path, monkeypatch):
    """SLURM_CONF in the environment (submitit calls sbatch with it) and the launcher settings
    for this one-node test cluster; submitit's pickles and logs under tmp_path."""
    env = require_slurm()
    monkeypatch.setenv("SLURM_CONF", env["SLURM_CONF"])
    return ["hardware=slurm", f"hydra.launcher.submitit_folder={tmp_path}/submitit/%j",
            "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1"]


def results_under(folder: Path) -> dict[str, dict]:
    return {str(p.parent.relative_to(folder)): json.loads(p.read_text()) for p in sorted(folder.rglob("result.json"))
            if ".submitit" not in p.parts and "rosters" not in p.parts}


def logs_of(folder: Path, pattern: str) -> str:
    return "".join(p.read_text() for p in sorted(folder.rglob(pattern)))


def slurm_job_ids(folder: Path) -> list[str]:
    """The SLURM job ids Hydra recorded for the jobs (hydra.job.id), e.g. '57_3' for an array task."""
    ids = []
    for path in sorted(folder.rglob(".hydra/hydra.yaml")):
        match = re.search(r"\n    id: '?([0-9_]+)'?\n", path.read_text())
        assert match, f"no SLURM job id in {path}"
        ids.append(match.group(1))
    return ids


@pytest.mark.slurm
@pytest.mark.integration
@pytest.mark.slow
def test_sharded_scoring_sweep_through_sbatch_merges_and_resumes(tmp_path, slurm, benchmark_csv):
    score = ["task=score", "metric=val12", "benchmark=table", f"benchmark.path={benchmark_csv}", f"indices={INDICES}"]
    sweep_args = [*slurm, *score, "shard=0,1,2,3", "num_shards=4", "-m"]
    t0 = time.monotonic()
    proc = run_cli(tmp_path, *sweep_args, timeout=400)
    first_s = time.monotonic() - t0
    (sweep,) = (tmp_path / "multirun").glob("score-*")

    results = results_under(sweep)
    assert len(results) == 4
    assert sorted(r["shard"] for r in results.values()) == [0, 1, 2, 3]
    assert all(r["status"] == "ok" and r["num_shards"] == 4 and r["scored_now"] == 3 for r in results.values())
    # they ran as the 4 tasks of one SLURM job array
    ids = slurm_job_ids(sweep)
    assert len(ids) == 4 and len({i.split("_")[0] for i in ids}) == 1 and all("_" in i for i in ids), ids
    assert len(list((tmp_path / "submitit").rglob("*_submission.sh"))) >= 1

    # the callback merged the shards into one roster, equal to an unsharded scoring
    assert "4 job(s): 4 ok, 0 skipped (already done), 0 failed, 0 without result" in proc.stdout, proc.stdout
    assert "merged 4 roster(s) of val12 on cifar10 (12 rows)" in proc.stdout, proc.stdout
    merged = read_roster(sweep / "rosters" / "val12_cifar10.parquet")
    run_cli(tmp_path / "single", *score)
    (single_path,) = (tmp_path / "single" / "outputs").rglob("roster.parquet")
    single = read_roster(single_path)
    assert merged.rows[["index", "arch", "score", "seconds"]].equals(single.rows[["index", "arch", "score", "seconds"]])

    # the same command again: every job finds its result and skips
    t0 = time.monotonic()
    again = run_cli(tmp_path, *sweep_args, timeout=400)
    print(f"first sweep {first_s:.1f} s, relaunch {time.monotonic() - t0:.1f} s")
    assert "4 job(s): 0 ok, 4 skipped (already done), 0 failed" in again.stdout, again.stdout + again.stderr
    assert results_under(sweep) == results  # no result rewritten
    # the jobs said so in their logs (slurmstepd copies a job's stdout into its log file
    # asynchronously, so the last lines may land a moment after the job has returned)
    deadline = time.monotonic() + 30
    while (said := logs_of(tmp_path / "submitit", "*_log.out").count("job already done, skipping")) < 4:
        assert time.monotonic() < deadline, f"{said} of 4 job logs say the job was skipped"
        time.sleep(0.5)


@pytest.mark.slurm
@pytest.mark.integration
@pytest.mark.slow
def test_search_sweep_through_sbatch_is_aggregated(tmp_path, slurm, benchmark_csv):
    proc = run_cli(tmp_path, *slurm, "metric=val12", "search=random", "search.n=5", "benchmark=table",
                   f"benchmark.path={benchmark_csv}", "seed=0,1", "-m", timeout=400)
    (sweep,) = (tmp_path / "multirun").glob("search-*")
    results = results_under(sweep)
    assert len(results) == 2 and all(r["status"] == "ok" and r["visited"] == 5 for r in results.values())
    assert "2 job(s): 2 ok, 0 skipped (already done), 0 failed" in proc.stdout
    assert "[zcnas] tables aggregated" in proc.stdout, proc.stdout + proc.stderr
    assert (sweep / "tables" / "jobs.csv").is_file()


def scontrol_job(job_id: str) -> dict[str, str]:
    out = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True).stdout
    return dict(re.findall(r"(\w+)=(\S*)", out))


@pytest.mark.slurm
@pytest.mark.integration
@pytest.mark.slow
def test_timed_out_scoring_job_is_requeued_and_resumes(tmp_path, slurm):
    """SLURM signals a job (SIGUSR2, submitit's choice) signal_delay_s before its time limit, and
    on preemption. submitit's handler calls the Hydra launcher's checkpoint(), requeues the job
    (scontrol requeue: same job id, SLURM_RESTART_COUNT+1) and exits; the requeued job reruns the
    same Hydra job, and the scoring resumes from its chunk files."""
    score = ["task=score", "metric=synflow", "benchmark=none", "sample=40", "checkpoint_every=2"]
    # timeout_min=10: submitit counts any signal as a *timeout* (not a preemption), so this also
    # checks that hardware=slurm allows requeues after a timeout (max_num_timeout > 0)
    cmd = [sys.executable, str(ROOT / "run.py"), f"paths.output_dir={tmp_path}/outputs",
           f"paths.multirun_dir={tmp_path}/multirun", "progress=false", *slurm, "hydra.launcher.timeout_min=10",
           *score, "-m"]
    log = tmp_path / "sweep.log"
    t0 = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while not list((tmp_path / "multirun").rglob("chunks/part-*.parquet")):
            assert proc.poll() is None, f"sweep ended before its job wrote a chunk:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no chunk after 240 s:\n{log.read_text()}"
            time.sleep(0.1)
        (job_folder,) = [p.name for p in (tmp_path / "submitit").iterdir() if p.is_dir()]
        # what SLURM does at the time limit (--signal=USR2@signal_delay_s); on preemption it
        # sends SIGTERM first, which submitit ignores: send both, as submitit's own tests do
        for sig in ("TERM", "USR2"):
            subprocess.run(["scancel", f"--signal={sig}", job_folder], check=True)
        # the requeued job waits out SLURM's requeue delay (BeginTime, ~2 min): start it now
        deadline = time.monotonic() + 60
        while (state := scontrol_job(job_folder)).get("Restarts") != "1" or state.get("JobState") != "PENDING":
            assert state.get("JobState") != "COMPLETED", "the job finished before the signal arrived"
            assert time.monotonic() < deadline, f"job not requeued: {state}"
            time.sleep(0.2)
        subprocess.run(["scontrol", "update", f"JobId={job_folder}", "StartTime=now"], check=True)
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            subprocess.run(["scancel", job_folder], check=False)
    assert proc.returncode == 0, log.read_text()

    (result,) = results_under(tmp_path / "multirun").values()
    print(f"signal -> requeue -> resume: {time.monotonic() - t0:.1f} s; job {job_folder}: "
          f"{result.get('resumed_rows')} rows resumed, {result.get('scored_now')} scored after the requeue")
    assert result["status"] == "ok" and result["architectures"] == 40
    assert result["resumed_rows"] > 0 and result["scored_now"] == 40 - result["resumed_rows"] < 40
    (roster_path,) = [p for p in (tmp_path / "multirun").rglob("roster.parquet") if "rosters" not in p.parts]
    roster = read_roster(roster_path)
    assert len(roster) == 40 and not roster.rows["index"].duplicated().any()

    # submitit's log tells the story: signal caught as a timeout, requeued, started again
    stderr = logs_of(tmp_path / "submitit", "*_log.err")
    stdout = logs_of(tmp_path / "submitit", "*_log.out")
    assert "Caught signal SIGUSR2" in stderr and "this job is timed-out" in stderr
    assert "Requeued job" in stdout + stderr
    assert (stdout + stderr).count("Starting with JobEnvironment") == 2
    assert scontrol_job(job_folder).get("Restarts") == "1"

    # and the scores are those of a run that was never interrupted
    run_cli(tmp_path / "clean", *score, "hardware.threads=1")
    (clean_path,) = (tmp_path / "clean" / "outputs").rglob("roster.parquet")
    clean = read_roster(clean_path)
    assert clean.rows[["index", "arch", "score"]].equals(roster.rows[["index", "arch", "score"]])


# ---- the hardware group, composed (no cluster needed) ----

def compose_with(config_dir: Path, *overrides: str):
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            return compose(config_name="config", overrides=list(overrides), return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()


def launcher(cfg) -> dict:
    return OmegaConf.to_container(cfg.hydra.launcher, resolve=True)


def test_hardware_options_compose(monkeypatch):
    monkeypatch.delenv("SLURM_CPUS_PER_TASK", raising=False)
    slurm = compose_with(CONFIG_DIR, "hardware=slurm", "task=score")
    lc = launcher(slurm)
    assert lc["_target_"].endswith("SlurmLauncher") and lc["partition"] is None  # the cluster's default
    assert (lc["cpus_per_task"], lc["gpus_per_node"], lc["mem_gb"], lc["timeout_min"]) == (2, None, 4, 120)
    assert lc["max_num_timeout"] > 0 and lc["setup"] is None and lc["name"] == "zcnas-score"
    assert OmegaConf.to_container(slurm.hardware, resolve=True) == {"device": "cpu", "threads": None}
    # every setting from the command line
    lc = launcher(compose_with(CONFIG_DIR, "hardware=slurm", "hydra.launcher.partition=long",
                               "hydra.launcher.gpus_per_node=2", "hydra.launcher.timeout_min=600",
                               "hydra.launcher.setup=[module load cuda]",
                               "+hydra.launcher.additional_parameters.mail-type=FAIL"))
    assert (lc["partition"], lc["gpus_per_node"], lc["timeout_min"]) == ("long", 2, 600)
    assert lc["setup"] == ["module load cuda"]
    assert lc["additional_parameters"] == {"mail-type": "FAIL"}
    # inside a job, torch gets the CPUs SLURM gave it
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "3")
    assert compose_with(CONFIG_DIR, "hardware=slurm").hardware.threads == 3

    gpu = compose_with(CONFIG_DIR, "hardware=slurm_gpu")
    assert launcher(gpu)["gpus_per_node"] == 1 and gpu.hardware.device == "cuda"
    assert launcher(compose_with(CONFIG_DIR, "hardware=submitit_local"))["_target_"].endswith("LocalLauncher")
    assert compose_with(CONFIG_DIR, "hardware=gpu").hardware.device == "cuda"
    assert launcher(compose_with(CONFIG_DIR))["_target_"].endswith("BasicLauncher")  # hardware=local


def test_per_machine_file_sets_cluster_defaults(tmp_path):
    """conf/local/default.yaml.example, installed as conf/local/default.yaml (in a copy of conf/)."""
    conf = tmp_path / "conf"
    shutil.copytree(CONFIG_DIR, conf, ignore=shutil.ignore_patterns("local"))  # not this machine's own file
    (conf / "local").mkdir()
    shutil.copy(CONFIG_DIR / "local" / "default.yaml.example", conf / "local" / "default.yaml")

    lc = launcher(compose_with(conf, "hardware=slurm"))
    assert (lc["partition"], lc["account"], lc["constraint"]) == ("cpu", "my-lab", None)
    assert lc["setup"] == ["module load cuda/12.1"]
    lc = launcher(compose_with(conf, "hardware=slurm_gpu"))
    assert (lc["partition"], lc["cpus_per_task"]) == ("gpu", 4)
    # the command line still wins
    assert launcher(compose_with(conf, "hardware=slurm", "hydra.launcher.partition=long"))["partition"] == "long"
    # and without a cluster launcher the file changes nothing
    assert compose_with(conf).hardware.device == "cpu"


def test_gpu_without_cuda_is_a_one_line_error(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    proc = run_cli(tmp_path, "hardware=gpu", "task=score", "metric=synflow", "benchmark=none", "indices=[0]",
                   check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: hardware asks for a CUDA device but torch sees none (CPU-only torch build or no GPU); "
        "use hardware=local or install a CUDA build of torch"]
