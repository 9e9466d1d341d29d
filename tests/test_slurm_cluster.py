"""End to end: submitit array jobs on a real SLURM cluster (scripts/slurm-localhost.sh)."""

import sys
import time

import pytest
import submitit

from slurm_helpers import require_slurm

pytestmark = pytest.mark.slurm

# Four trivial jobs take a few seconds; the bound only guards against a hang, since
# without accounting (no sacct) submitit never learns that a job died without a result.
TIMEOUT_S = 180


def test_array_jobs_run_and_return(tmp_path, monkeypatch):
    env = require_slurm()
    # submitit runs sbatch/squeue/sacct with os.environ, so the config must be there.
    monkeypatch.setenv("SLURM_CONF", env["SLURM_CONF"])

    # Defined inside the test so cloudpickle ships it by value: the job's interpreter
    # does not need to import this test module.
    def work(x):
        import os
        import sys

        return x * x, os.environ.get("SLURM_ARRAY_TASK_ID"), sys.executable

    # The job runs on this machine, so a folder under tmp_path is visible to it.
    executor = submitit.AutoExecutor(folder=tmp_path / "jobs" / "%j")
    assert executor.cluster == "slurm", "submitit would run locally, not through SLURM"
    executor.update_parameters(slurm_partition="debug", timeout_min=5, slurm_array_parallelism=4)
    jobs = executor.map_array(work, [1, 2, 3, 4])

    deadline = time.monotonic() + TIMEOUT_S
    while not all(job.done() for job in jobs):
        if time.monotonic() > deadline:
            for job in jobs:
                job.cancel(check=False)
            logs = "\n".join(f"{job.job_id}: {job.stderr()}" for job in jobs)
            pytest.fail(f"array jobs not done after {TIMEOUT_S}s; job stderr:\n{logs}")
        time.sleep(1)

    results = [job.result() for job in jobs]
    assert [r[0] for r in results] == [1, 4, 9, 16]
    # One array, one task per input, all run by our interpreter (submitit's default).
    assert len({job.job_id.split("_")[0] for job in jobs}) == 1
    assert [r[1] for r in results] == ["0", "1", "2", "3"]
    assert {r[2] for r in results} == {sys.executable}
