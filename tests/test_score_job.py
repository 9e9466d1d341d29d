"""The score job's one path: a single metric keeps its own engine and its layout (``roster.parquet``,
``chunks/``), several metrics a roster and a chunk folder each; and no module of zcnas imports
another's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import zcnas
from zcnas.roster import read_roster

PACKAGE = Path(zcnas.__file__).resolve().parent


def test_a_single_metric_job_scores_with_the_metrics_own_engine(compose_cfg, tmp_path, monkeypatch):
    from zcnas.metrics import fused
    from zcnas.runner import run_job

    def refuse(*args, **kwargs):
        raise AssertionError("a single-metric job went through the fused engine")

    monkeypatch.setattr(fused.FusedScorer, "score_cell", refuse)
    job = tmp_path / "job"
    result = run_job(compose_cfg("task=score", "metric=params", "indices=[1,2,3]", "benchmark=none",
                                 "hardware.threads=1"), job)
    assert result["metric"] == "params" and result["roster"] == str(job / "roster.parquet")
    # parameter counts of NATS-Bench cells 1, 2 and 3 (C=16, N=5, CIFAR-10 head)
    assert read_roster(job / "roster.parquet").scores() == {1: 802426.0, 2: 559386.0, 3: 73306.0}
    assert [p.name.split("-")[:2] for p in (job / "chunks").iterdir()] == [["part", "00001"]]


def test_a_several_metric_job_keeps_a_roster_and_a_chunk_folder_per_metric(compose_cfg, tmp_path):
    from zcnas.runner import run_job

    job = tmp_path / "job"
    result = run_job(compose_cfg("task=score", "metrics=[params]", "indices=[1,2,3]", "benchmark=none",
                                 "hardware.threads=1"), job)
    assert result["rosters"] == {"params": str(job / "roster_params.parquet")}
    assert read_roster(job / "roster_params.parquet").scores() == {1: 802426.0, 2: 559386.0, 3: 73306.0}
    assert sorted(p.name for p in (job / "chunks").iterdir()) == ["params"]
    assert not (job / "roster.parquet").exists()


def private_imports(path: Path) -> list[str]:
    """``from zcnas.x import _name`` in ``path``: a module reaching into another's private names."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "zcnas":
            found += [f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    return found


def test_no_module_imports_another_modules_private_names():
    offending = {str(p.relative_to(PACKAGE)): private_imports(p) for p in sorted(PACKAGE.rglob("*.py"))}
    assert {k: v for k, v in offending.items() if v} == {}


def test_load_rosters_is_the_roster_packages():
    import zcnas.roster

    assert zcnas.load_rosters is zcnas.roster.load_rosters
