"""hardware=submitit_local: a -m sweep whose jobs run as separate local processes through submitit.

The same launcher code path as hardware=slurm (pickled job, submitit's job environment,
results read back by the launching process), without a cluster.
"""

import json
import re

import pytest

from cli import run_cli
from zcnas.roster import read_roster

pytestmark = [pytest.mark.integration, pytest.mark.slow]

INDICES = "[3,14,159,2653,5897,9323]"


def test_submitit_local_sweep_of_two_jobs(tmp_path, benchmark_csv):
    common = ["task=score", "metric=val12", "benchmark=table", f"benchmark.path={benchmark_csv}", f"indices={INDICES}",
              "num_shards=2"]
    # "-m" last: run_cli puts its own overrides first, and argparse wants the overrides in one run
    proc = run_cli(tmp_path, "hardware=submitit_local", f"hydra.launcher.submitit_folder={tmp_path}/submitit/%j",
                   *common, "shard=0,1", "-m", timeout=300)

    (sweep,) = (tmp_path / "multirun").iterdir()  # the sweep's own folder, score-<hash>, holds both jobs
    results = {}
    for path in sorted(sweep.rglob("result.json")):
        result = json.loads(path.read_text())
        results[result["shard"]] = result
        # each job ran in a submitit process: Hydra recorded submitit's job id for it
        hydra_yaml = (path.parent / ".hydra" / "hydra.yaml").read_text()
        assert re.search(r"\n    id: '?\d+", hydra_yaml), hydra_yaml
    assert sorted(results) == [0, 1]
    assert all(r["status"] == "ok" and r["architectures"] == 3 for r in results.values())
    assert all(r["config"]["hardware"]["threads"] == 1 for r in results.values())

    # submitit's own records: one submission and one log per job
    logs = sorted((tmp_path / "submitit").rglob("*_log.out"))
    assert len(logs) == 2 and all("Starting with JobEnvironment" in p.read_text() for p in logs)

    # the callback's summary and merged roster, equal to one unsharded scoring of the same cells
    assert "2 job(s): 2 ok, 0 skipped (already done), 0 failed" in proc.stdout
    merged = read_roster(sweep / "rosters" / "val12_cifar10.parquet")
    run_cli(tmp_path / "single", *common[:-1])
    (single_path,) = (tmp_path / "single" / "outputs").rglob("roster.parquet")
    single = read_roster(single_path)
    assert merged.rows[["index", "score", "seconds"]].equals(single.rows[["index", "score", "seconds"]])
