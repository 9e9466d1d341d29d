"""bench/gpu_rosters.sh hands each job line to run.py as arguments: no shell ever reads a line,
so a jobs file cannot run commands.  run.py is replaced by a stand-in
Python that records its arguments (the real scoring needs a GPU session)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.integration
def test_job_lines_are_arguments_never_shell(tmp_path):
    marker = tmp_path / "pwned"
    jobs = tmp_path / "jobs.txt"
    jobs.write_text("\n".join([
        "metric=synflow dataset=cifar10 indices=[0,1]",
        f"metric=synflow; touch {marker}",
        f"metric=synflow $(touch {marker})",
        f"metric=synflow `touch {marker}`",
        f"metric=synflow | touch {marker}",
        f"metric='synflow' && touch {marker}",
        "# a comment",
    ]) + "\n")
    record = tmp_path / "argv.txt"
    fake = tmp_path / "python"  # records each call's arguments, one per line, then a separator
    fake.write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "$@" >> {record}\necho --- >> {record}\n')
    fake.chmod(0o755)
    env = {**os.environ, "PY": str(fake), "JOBS": str(jobs), "OUT": str(tmp_path / "out"),
           "SCORES": str(tmp_path / "scores"), "HW": "local", "DEVICE": "cpu", "BENCH": "0", "DEADLINE": "60",
           "WORKERS": "1"}
    proc = subprocess.run(["bash", "bench/gpu_rosters.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    log = (tmp_path / "out" / "log.txt").read_text()
    assert not marker.exists(), "a job line was run by a shell"
    assert log.count("rejected") == 5, log
    calls = [c.strip().splitlines() for c in record.read_text().split("---") if c.strip()]
    job_calls = [c for c in calls if "task=score" in c]
    assert len(job_calls) == 1, (calls, proc.stdout, proc.stderr)
    args = job_calls[0]
    assert args[:5] == ["run.py", "task=score", "metric=synflow", "dataset=cifar10", "indices=[0,1]"]
