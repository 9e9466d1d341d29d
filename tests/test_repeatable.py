"""Repeatable by default: a job's thread count, hence its scores, never depends on the machine's load;
every roster and result records the thread count and the C Cᵀ kernel; shards of other thread
counts still merge (those keys say how a roster was computed, not what it is)."""

from __future__ import annotations

import json

import pytest

from cli import run_cli
from zcnas import threads
from zcnas.roster import Roster, identity_conflict, make_rows, merge_rosters, read_roster
from zcnas.spaces.nats_tss.space import NATS_TSS

HARDWARE = ["local", "gpu", "submitit_local", "slurm", "slurm_gpu"]


@pytest.fixture
def machine(monkeypatch):
    """A 2-core machine whose load the test sets: ``machine(load)``."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("SLURM_CPUS_PER_TASK", raising=False)
    monkeypatch.setattr(threads, "usable_cpus", lambda: 2)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 2)

    def set_load(load: float) -> None:
        monkeypatch.setattr(threads, "_auto", None)  # a fresh process
        monkeypatch.setattr(threads, "other_load", lambda *a, **k: load)

    return set_load


@pytest.mark.parametrize("hardware", HARDWARE)
def test_the_default_thread_count_does_not_depend_on_the_load(compose_cfg, machine, hardware):
    counts = set()
    for load in (0.0, 0.9, 1.7, 6.0):
        machine(load)
        counts.add(threads.resolve_threads(compose_cfg(f"hardware={hardware}").hardware.get("threads")))
    assert len(counts) == 1, counts
    assert counts.pop()[0] == threads.DEFAULT_THREADS == 1


def test_the_default_job_sets_one_torch_thread_on_an_idle_machine(compose_cfg, machine, capsys):
    import torch

    from zcnas.build import configure_hardware

    before = torch.get_num_threads()
    machine(0.0)  # auto would take both cores here
    try:
        configure_hardware(compose_cfg())
        assert torch.get_num_threads() == 1
        assert "[zcnas] torch threads: 1 (hardware.threads)" in capsys.readouterr().out
    finally:
        torch.set_num_threads(before)


def test_auto_stays_the_load_aware_option(machine):
    machine(0.0)
    assert threads.resolve_threads("auto")[0] == 2  # an idle machine: both cores
    machine(1.7)
    n, why = threads.resolve_threads("auto")
    assert n == 1 and why.startswith("load 1.7")
    assert threads.last_decision() == (1, why)


@pytest.mark.integration
def test_a_score_job_records_its_threads_and_kernel(tmp_path):
    run_cli(tmp_path, "task=score", "metric=hook_logdet", "sample=2", "benchmark=none", "batch_size=8")
    (job,) = (tmp_path / "outputs" / "score").iterdir()
    meta = read_roster(job / "roster.parquet").meta
    assert meta["torch_threads"] == 1 and meta["threads_policy"] == "hardware.threads"
    assert meta["naswot_kernel"] in ("int8", "float32")
    versions = json.loads((job / "result.json").read_text())["versions"]
    assert versions["torch_threads"] == 1 and versions["threads_policy"] == "hardware.threads"
    assert versions["naswot_kernel"] == meta["naswot_kernel"]


@pytest.mark.integration
def test_shards_scored_with_other_thread_counts_merge(tmp_path):
    common = ["task=score", "metric=synflow", "sample=4", "num_shards=2", "benchmark=none"]
    run_cli(tmp_path, *common, "shard=0", "hardware.threads=1")
    run_cli(tmp_path, *common, "shard=1", "hardware.threads=2")
    shards = sorted((tmp_path / "outputs" / "score").glob("*/roster.parquet"))
    assert sorted(read_roster(p).meta["torch_threads"] for p in shards) == [1, 2]
    assert all(read_roster(p).meta["naswot_kernel"] is None for p in shards)  # synflow needs no product
    merged = run_cli(tmp_path, "task=merge", f"merge.inputs=[{tmp_path}/outputs/score/*/roster.parquet]",
                     f"merge.output_dir={tmp_path}/merged")
    assert "merged 2 roster(s)" in merged.stdout, merged.stdout
    merged = read_roster(tmp_path / "merged" / "synflow_cifar10.parquet")
    assert len(merged) == 4 and merged.meta["torch_threads"] == [1, 2]


def test_thread_count_and_kernel_are_not_identity():
    meta = {"metric": "hook_logdet", "dataset": "cifar10", "seed": 0, "batch_size": 8, "settings": {}}
    one = Roster(make_rows([(0, 1.0, 0.1, "computed")], NATS_TSS), {**meta, "torch_threads": 1, "naswot_kernel": "int8",
                                                           "threads_policy": "hardware.threads"})
    two = Roster(make_rows([(1, 2.0, 0.1, "computed")], NATS_TSS), {**meta, "torch_threads": 2, "naswot_kernel": "float32",
                                                           "threads_policy": "load 0.0 on 2 of 2 cores"})
    assert identity_conflict(one.meta, two.meta) is None
    merged = merge_rosters([("a", one), ("b", two)])
    assert len(merged.rows) == 2 and merged.meta["torch_threads"] == [1, 2]  # both counts, as it lists devices
    assert merge_rosters([("a", one), ("c", one)]).meta["torch_threads"] == 1


@pytest.mark.integration
def test_the_thread_bench_compares_thread_counts_and_machines(tmp_path):
    import subprocess
    import sys

    from cli import ROOT

    script = ROOT / "bench" / "thread_repro.py"
    from zcnas.io import read_json

    common = ["--cells", "3", "--macro", "1", "--metrics", "params,l2_norm", "--out", str(tmp_path)]
    run = subprocess.run([sys.executable, str(script), *common, "--tag", "a"], capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "cores" in run.stdout and "torch" in run.stdout  # the machine it ran on
    report = read_json(tmp_path / "a.json")
    agreement = report["agreement"]["1_vs_2_threads"]
    assert agreement["nats_tss"]["params"] == {"spearman": 1.0, "identical": 3, "n": 3, "max_rel_diff": 0.0}
    assert agreement["nas_bench_macro"]["l2_norm"]["identical"] == 1
    assert [report["runs"][t]["threads"] for t in ("1", "2")] == [1, 2]
    # another machine's output: the same architectures at the first thread count
    again = subprocess.run([sys.executable, str(script), *common, "--threads", "1", "--tag", "b",
                            "--against", str(tmp_path / "a.json")], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    versus = read_json(tmp_path / "b.json")["agreement"]["this_machine_vs_a"]
    assert versus["nats_tss"]["l2_norm"]["identical"] == 3
