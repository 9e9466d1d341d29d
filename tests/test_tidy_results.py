"""Results a pandas user can read: rosters as one DataFrame, folders of rosters only, strict result.json."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import zcnas
from cli import run_cli
from zcnas.errors import DataError
from zcnas.io import read_json, write_json
from zcnas.roster import Roster, make_rows, write_roster
from zcnas.spaces.nats_tss.space import NATS_TSS

ROOT = Path(__file__).resolve().parents[1]
ROSTERS = ROOT / "results" / "rosters"
META = ["metric", "dataset", "space", "seed"]


def refuse_constant(name: str):
    raise ValueError(f"not strict JSON: {name}")


def strict_loads(text: str):
    return json.loads(text, parse_constant=refuse_constant)


# --- rosters as one DataFrame ---------------------------------------------------------------------

def roster_folders() -> list[Path]:
    return [ROSTERS, *sorted(p for p in ROSTERS.rglob("*") if p.is_dir())]


def test_the_rosters_folder_holds_rosters_only():
    others = [str(p.relative_to(ROSTERS)) for p in ROSTERS.rglob("*") if p.is_file() and p.suffix != ".parquet"]
    assert not others, f"results/rosters/ holds files that are not rosters: {others}"
    assert (ROOT / "results" / "roster_notes" / "README.md").is_file()


@pytest.mark.parametrize("folder", roster_folders(), ids=lambda p: str(p.relative_to(ROOT)))
def test_pandas_reads_every_folder_of_rosters(folder):
    files = [p for p in folder.rglob("*.parquet")]
    frame = pd.read_parquet(folder)
    assert list(frame.columns) == ["index", "arch", "score", "finite", "seconds", "source"]
    assert len(frame) == sum(pq.read_metadata(p).num_rows for p in files)


def test_load_rosters_gives_every_row_of_results_rosters_with_its_metadata():
    files = sorted(ROSTERS.rglob("*.parquet"))
    frame = zcnas.load_rosters(ROSTERS)
    assert list(frame.columns) == [*META, "index", "arch", "score", "finite", "seconds", "source", "file"]
    assert len(frame) == sum(pq.read_metadata(p).num_rows for p in files)
    assert frame[META].notna().all().all()
    assert set(frame["space"]) == {"nats_tss", "nas_bench_macro", "nas_bench_101"}
    assert frame["file"].nunique() == len(files)
    one = frame[frame["file"] == str(ROSTERS / "sample1000" / "zico_cifar100.parquet")]
    assert len(one) == 1000 and set(one["metric"]) == {"zico"} and set(one["dataset"]) == {"cifar100"}
    assert set(one["space"]) == {"nats_tss"} and set(one["seed"]) == {0}
    whole = frame[(frame["metric"] == "synflow") & (frame["dataset"] == "cifar10") & (frame["space"] == "nats_tss")]
    assert whole.groupby("file").size().to_dict() == {str(ROSTERS / "synflow_cifar10.parquet"): 15625,
                                                      str(ROSTERS / "sample1000" / "synflow_cifar10.parquet"): 1000}


def small_roster(path: Path, metric: str, dataset: str, seed: int = 0, scores=(1.0, -math.inf)) -> None:
    rows = make_rows([(i, s, 0.5, "computed") for i, s in enumerate(scores)], NATS_TSS)
    write_roster(path, Roster(rows, {"metric": metric, "dataset": dataset, "seed": seed, "batch_size": None}))


def test_load_rosters_takes_files_folders_and_globs_each_file_once(tmp_path):
    small_roster(tmp_path / "synflow_cifar10.parquet", "synflow", "cifar10")
    (tmp_path / "sub").mkdir()
    small_roster(tmp_path / "sub" / "snip_cifar100.parquet", "snip", "cifar100", seed=3, scores=(2.0, 3.0, 4.0))
    small_roster(tmp_path / ".synflow_cifar10.parquet.host.1.tmp.parquet", "synflow", "cifar10")  # unfinished write
    by_folder = zcnas.load_rosters(tmp_path)
    assert len(by_folder) == 5 and by_folder.groupby("metric").size().to_dict() == {"snip": 3, "synflow": 2}
    assert by_folder.set_index("metric")["seed"].to_dict() == {"snip": 3, "synflow": 0}
    assert str(by_folder["seed"].dtype) == "Int64" and set(by_folder["space"]) == {"nats_tss"}
    assert by_folder.loc[by_folder["score"] == -math.inf, "finite"].tolist() == [False]
    both = zcnas.load_rosters([tmp_path / "synflow_cifar10.parquet", str(tmp_path / "*.parquet"), tmp_path / "sub"])
    assert len(both) == 5
    assert len(pd.read_parquet(tmp_path)) == len(by_folder)  # pandas skips the hidden file too


def test_load_rosters_refuses_what_is_not_a_roster_in_one_line(tmp_path):
    with pytest.raises(DataError, match="roster not found"):
        zcnas.load_rosters(tmp_path / "missing.parquet")
    with pytest.raises(DataError, match="no roster files"):
        zcnas.load_rosters(tmp_path)
    pd.DataFrame({"score": [1.0]}).to_parquet(tmp_path / "foreign.parquet")
    with pytest.raises(DataError, match="no zcnas metadata"):
        zcnas.load_rosters(tmp_path)


def test_importing_zcnas_for_load_rosters_does_not_import_torch():
    code = "import sys, zcnas; zcnas.load_rosters; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- strict result.json ---------------------------------------------------------------------------

def test_non_finite_numbers_are_null_and_spelled_beside_them(tmp_path):
    record = {"best": {"score": -math.inf, "arch": "|x|"},
              "trace": {"score": [math.nan, 1.0, math.inf], "grid": [[1.0, -math.inf], 2.0]},
              "jobs": [{"rho": math.nan}], "n": 3}
    write_json(tmp_path / "r.json", record)
    data = strict_loads((tmp_path / "r.json").read_text())
    assert data["best"] == {"score": None, "arch": "|x|", "score_non_finite": "-inf"}
    assert data["trace"]["score"] == [None, 1.0, None]
    assert data["trace"]["score_non_finite"] == ["nan", None, "inf"]
    assert data["trace"]["grid_non_finite"] == [[None, "-inf"], None]
    assert data["jobs"] == [{"rho": None, "rho_non_finite": "nan"}]
    back = read_json(tmp_path / "r.json")
    assert back["best"] == {"score": -math.inf, "arch": "|x|"} and back["n"] == 3
    assert back["trace"]["score"][1:] == [1.0, math.inf] and math.isnan(back["trace"]["score"][0])
    assert back["trace"]["grid"] == [[1.0, -math.inf], 2.0] and math.isnan(back["jobs"][0]["rho"])
    assert "score_non_finite" not in back["trace"]


def test_finite_records_are_written_as_they_are(tmp_path):
    record = {"best": {"score": 1.5, "arch": "|x|"}, "trace": [1.0, 2.0], "none": None}
    write_json(tmp_path / "r.json", record)
    assert strict_loads((tmp_path / "r.json").read_text()) == record


def test_files_of_older_versions_still_read(tmp_path):
    old = {"best": {"score": "-inf", "arch": "|x|", "test_accuracy": "nan"}, "trace": {"score": ["inf", 2.0]}}
    (tmp_path / "r.json").write_text(json.dumps(old))
    back = read_json(tmp_path / "r.json")
    assert back["best"]["score"] == -math.inf and math.isnan(back["best"]["test_accuracy"])
    assert back["trace"]["score"] == [math.inf, 2.0]


def test_a_key_in_the_way_of_the_spelling_is_refused(tmp_path):
    with pytest.raises(ValueError, match="score_non_finite"):
        write_json(tmp_path / "r.json", {"score": math.nan, "score_non_finite": 1})
    with pytest.raises(ValueError, match="inside a mapping"):
        write_json(tmp_path / "r.json", [math.nan])
    assert not (tmp_path / "r.json").exists()


@pytest.mark.integration
def test_a_search_whose_best_score_is_minus_inf_writes_strict_json_that_pandas_reads(tmp_path):
    """Every cell scores -inf on identical images (NASWOT's kernel is singular)."""
    import numpy as np

    from shared_data import shared_data_dir

    with np.load(shared_data_dir() / "samples" / "cifar10_sample.npz") as data:
        np.savez(tmp_path / "same.npz", x=np.repeat(data["x"][:1], 16, axis=0), y=data["y"][:16])
    args = ["metric=hook_logdet", "benchmark=none", "search.n=3", "batch_size=8", "hardware.threads=1",
            f"dataset.data_path={tmp_path / 'same.npz'}"]
    first = run_cli(tmp_path, *args)
    assert "score -inf" in first.stdout
    (path,) = (tmp_path / "outputs").rglob("result.json")
    text = path.read_text()
    data = strict_loads(text)
    assert data["best"]["score"] is None and data["best"]["score_non_finite"] == "-inf"
    trace = pd.DataFrame(data["trace"])
    assert trace["score"].isna().all() and pd.to_numeric(trace["score"]).dtype == "float64"
    assert set(trace["score_non_finite"]) == {"-inf"}
    assert pd.read_json(path, typ="series")["best"]["score_non_finite"] == "-inf"
    assert read_json(path)["best"]["score"] == -math.inf
    again = run_cli(tmp_path, *args)  # the finished result is read back: -inf, not NaN
    assert "already done" in again.stdout and "score -inf" in again.stdout
