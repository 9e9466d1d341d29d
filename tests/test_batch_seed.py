"""``dataset.batch_seed`` draws the scoring batch alone again, and the batch-spread study reads it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.cli import ROOT, one_line_error, run_cli
from zcnas.roster import read_roster_meta

CELLS = "indices=[53,83,120]"  # three cells of the committed 1,000-cell sample


def roster(tmp_path: Path, *overrides: str) -> tuple[pd.Series, dict]:
    folder = tmp_path / "-".join(overrides or ("default",))
    run_cli(folder, "task=score", "metric=hook_logdet", CELLS, "dataset=ImageNet16-120", *overrides)
    [path] = (folder / "outputs" / "score").glob("*/roster.parquet")
    return pd.read_parquet(path).set_index("index")["score"], read_roster_meta(path)


def test_batch_seed_moves_the_batch_only(tmp_path):
    default, default_meta = roster(tmp_path)
    same, same_meta = roster(tmp_path, "dataset.batch_seed=0")
    other, other_meta = roster(tmp_path, "dataset.batch_seed=1")
    # seed 0's batch is the default batch; the networks are the job seed's in all three
    assert same.equals(default)
    assert same_meta["data_sha256"] == default_meta["data_sha256"]
    assert "batch_seed" not in default_meta and same_meta["batch_seed"] == 0 and other_meta["batch_seed"] == 1
    assert other_meta["data_sha256"] != default_meta["data_sha256"]
    assert not other.equals(default)
    # another batch moves hook_logdet a little, not to another network's value
    assert ((other - default).abs() / default.abs()).max() < 0.01


def test_a_committed_sample_roster_is_batch_seed_zero(tmp_path):
    scores, _ = roster(tmp_path, "dataset.batch_seed=0")
    committed = pd.read_parquet(ROOT / "results/rosters/sample1000/hook_logdet_ImageNet16-120.parquet")
    assert committed.set_index("index")["score"].loc[scores.index].equals(scores)


@pytest.mark.parametrize("value", ["-1", "4294967296"])
def test_a_batch_seed_out_of_range_is_one_line(tmp_path, value):
    proc = run_cli(tmp_path, "task=score", "metric=hook_logdet", CELLS, f"dataset.batch_seed={value}", check=False)
    assert "dataset.batch_seed" in one_line_error(proc)


def test_batch_spread_scores_and_reports(tmp_path):
    script = [sys.executable, str(ROOT / "bench" / "batch_spread.py")]
    rosters, out = tmp_path / "rosters", tmp_path / "report"
    subprocess.run([*script, "score", "--cells", "4", "--seeds", "1", "--datasets", "ImageNet16-120",
                    "--metrics", "hook_logdet", "--output", str(tmp_path / "jobs"), "--rosters", str(rosters)],
                   check=True, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert [p.name for p in rosters.iterdir()] == ["hook_logdet_ImageNet16-120_batch1.parquet"]
    subprocess.run([*script, "report", "--rosters", str(rosters), "--out", str(out)],
                   check=True, cwd=ROOT, capture_output=True, text=True, timeout=600)
    frame = pd.read_csv(out / "batch_spread.csv")
    assert frame["batch_seed"].tolist() == [0, 1] and set(frame["cells"]) == {4}
    assert frame["spearman"].between(-1, 1).all()
    table = (out / "batch_spread.md").read_text()
    mean, std = frame["spearman"].mean(), frame["spearman"].std(ddof=1)
    assert f"| hook_logdet | ImageNet16-120 | 4 | 2 | {mean:.4f} ± {std:.4f} |" in table


def test_the_report_gives_the_ensemble_studys_rho_on_the_committed_batch(tmp_path):
    """Batch seed 0 of an ensemble row is the committed sample's ensemble: the ensemble study's ρ."""
    rosters, out, sample = tmp_path / "rosters", tmp_path / "report", ROOT / "results/rosters/sample1000"
    rosters.mkdir()
    for metric in ("jacov", "meco", "zico"):  # the committed batch again, named batch 1
        shutil.copyfile(sample / f"{metric}_ImageNet16-120.parquet", rosters / f"{metric}_ImageNet16-120_batch1.parquet")
    subprocess.run([sys.executable, str(ROOT / "bench" / "batch_spread.py"), "report", "--rosters", str(rosters),
                    "--out", str(out)], check=True, cwd=ROOT, capture_output=True, text=True, timeout=600)
    frame = pd.read_csv(out / "batch_spread.csv").set_index(["metric", "batch_seed"])
    study = pd.read_csv(ROOT / "results/ensembles/ensembles.csv").set_index(["dataset", "candidate"])["spearman"]
    for candidate in ("jacov+meco+zico [log]", "jacov+synflow+zen [geometric_rank]"):
        expected = study["ImageNet16-120", candidate]
        assert frame.loc[(candidate, 0), "spearman"] == pytest.approx(expected, abs=1e-6)
        assert frame.loc[(candidate, 1), "spearman"] == frame.loc[(candidate, 0), "spearman"]
        assert frame.loc[(candidate, 0), "cells"] == 1000
