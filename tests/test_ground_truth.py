"""Ground truth is checked before it is believed: every table reader refuses non-finite, out-of-range
and fractional accuracies, a whole-space table must be whole, conflicting duplicate rows are an
error unless the space declares repeated runs, and a finished job notices a changed table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli import run_cli
from shared_data import shared_data_dir

NATS = shared_data_dir() / "nats_tss" / "nats_tss_benchmark.csv"
MACRO = shared_data_dir() / "spaces" / "nas_bench_macro" / "nas_bench_macro_cifar10.csv"
NB101 = shared_data_dir() / "spaces" / "nas_bench_101" / "nb101_sample500_cifar10.csv"
HW = shared_data_dir() / "spaces" / "nats_tss_hw" / "hw_nas_bench_cifar10.csv"

pytestmark = pytest.mark.skipif(not NATS.is_file(), reason="needs ../shared/data")


def nats_frame() -> pd.DataFrame:
    return pd.read_csv(NATS, dtype=str, keep_default_na=False)


def one_error_line(proc, *needles: str) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def nats_search(tmp_path, table: Path, *extra: str):
    return run_cli(tmp_path, "metric=params", "search=random", "search.n=3", "benchmark=table",
                   f"benchmark.path={table}", *extra, check=False)


@pytest.mark.parametrize("value, needle", [("inf", "not an accuracy in percent"), ("nan", "not a number"),
                                           ("500", "not an accuracy in percent"), ("-3", "not an accuracy")])
def test_a_bad_accuracy_in_the_nats_table_is_refused_naming_file_row_and_column(tmp_path, value, needle):
    frame = nats_frame()
    frame.loc[6, "cifar100_test_acc"] = value
    path = tmp_path / "nats.csv"
    frame.to_csv(path, index=False)
    one_error_line(nats_search(tmp_path, path), str(path), "data row 7", "cifar100_test_acc", needle)


def test_an_infinite_val12_time_in_the_nats_table_is_refused(tmp_path):
    frame = nats_frame()
    frame.loc[0, "cifar10_val12_time"] = "inf"
    path = tmp_path / "nats.csv"
    frame.to_csv(path, index=False)
    one_error_line(nats_search(tmp_path, path), "data row 1", "cifar10_val12_time", "duration")


def test_fractions_where_percents_are_meant_are_refused(tmp_path):
    frame = nats_frame()
    frame["cifar10_test_acc"] = (frame["cifar10_test_acc"].astype(float) / 100).map(repr)
    path = tmp_path / "nats.csv"
    frame.to_csv(path, index=False)
    one_error_line(nats_search(tmp_path, path), str(path), "cifar10_test_acc", "fractions")


def test_an_infinite_hw_cost_is_refused(tmp_path):
    frame = pd.read_csv(HW, dtype=str, keep_default_na=False)
    frame.loc[4, "edgegpu_latency"] = "inf"
    folder = tmp_path / "hw"
    folder.mkdir()
    frame.to_csv(folder / HW.name, index=False)
    proc = run_cli(tmp_path, "metric=params", "search=random", "search.n=3", f"hw_costs={folder}",
                   "search.max_cost.edgegpu_latency=5", check=False)
    one_error_line(proc, "line 6", "edgegpu_latency")


def macro_search(tmp_path, table: Path, *extra: str):
    return run_cli(tmp_path, "space=nas_bench_macro", "metric=params", "search=random", "search.n=3",
                   f"space.table.path={table}", *extra, check=False)


@pytest.mark.parametrize("value, needle", [("inf", "not an accuracy in percent"), ("nan", "not a number"),
                                           ("500", "not an accuracy in percent")])
def test_a_bad_accuracy_in_a_space_table_is_refused(tmp_path, value, needle):
    frame = pd.read_csv(MACRO, dtype=str, keep_default_na=False)
    frame.loc[2, "mean_acc"] = value
    path = tmp_path / "macro.csv"
    frame.to_csv(path, index=False)
    one_error_line(macro_search(tmp_path, path), str(path), "data row 3", "mean_acc", needle)


def test_a_whole_space_table_with_rows_missing_is_refused_not_taken_for_a_sample(tmp_path):
    frame = pd.read_csv(MACRO, dtype=str, keep_default_na=False)
    path = tmp_path / "macro.csv"
    frame.drop(index=range(1000, 1100)).to_csv(path, index=False)
    one_error_line(macro_search(tmp_path, path), str(path), "lacks", "of the 6,561 architectures",
                   "space.table.sample=true")
    # declared a sample, it is one
    proc = macro_search(tmp_path, path, "space.table.sample=true")
    assert proc.returncode == 0, proc.stderr


def test_conflicting_duplicate_rows_are_refused(tmp_path):
    frame = pd.read_csv(MACRO, dtype=str, keep_default_na=False)
    copy = frame.iloc[[5]].copy()
    copy["mean_acc"] = "12.5"
    path = tmp_path / "macro.csv"
    pd.concat([frame, copy]).to_csv(path, index=False)
    one_error_line(macro_search(tmp_path, path), str(path), "data rows 6 and 6562", "mean_acc",
                   "repeated_runs=true")


def test_agreeing_duplicates_of_one_network_are_accepted(tmp_path):
    # the committed macro table lists networks whose identity layers commute on several rows
    proc = macro_search(tmp_path, MACRO)
    assert proc.returncode == 0, proc.stderr


def test_the_nb101_sample_stays_a_sample_with_repeated_runs_said(tmp_path):
    from zcnas.benchmark.space_table import SpaceTableBenchmark
    from zcnas.spaces import make_space

    bench = SpaceTableBenchmark(make_space("nas_bench_101"), NB101, "{matrix}:{ops}", {"cifar10": "val_accuracy"},
                                sample=True, repeated_runs=True)
    assert not bench.complete and "repeated training runs" in bench.note
    proc = run_cli(tmp_path, "space=nas_bench_101", "metric=params", "search=random", "search.n=2", check=False)
    assert proc.returncode == 0, proc.stderr
    # without the declaration its repeated rows are conflicts
    proc = run_cli(tmp_path, "space=nas_bench_101", "metric=params", "search=random", "search.n=2", "force=true",
                   "space.table.repeated_runs=false", check=False)
    one_error_line(proc, NB101.name, "val_accuracy", "repeated_runs=true")


def result_of(tmp_path) -> dict:
    (path,) = (tmp_path / "outputs" / "search").glob("*/result.json")
    return json.loads(path.read_text())


def test_a_val12_search_reruns_when_its_table_changes(tmp_path):
    a = tmp_path / "a.csv"
    b = tmp_path / "b.csv"
    frame = nats_frame()
    frame.to_csv(a, index=False)
    # b ranks cells by val12 the other way round
    flipped = frame.copy()
    flipped["cifar10_val12_acc"] = (100 - flipped["cifar10_val12_acc"].astype(float)).map(repr)
    flipped.to_csv(b, index=False)
    args = ("metric=val12", "search=random", "search.n=30", "benchmark=table")
    run_cli(tmp_path, *args, f"benchmark.path={a}")
    first = result_of(tmp_path)
    proc = run_cli(tmp_path, *args, f"benchmark.path={b}")
    assert "job already done" not in proc.stdout
    second = result_of(tmp_path)
    visited = sorted(set(second["trace"]["index"]))
    val12 = flipped["cifar10_val12_acc"].astype(float).to_numpy()
    assert second["best"]["index"] == visited[int(np.argmax(val12[visited]))]
    assert second["best"]["index"] != first["best"]["index"]
    assert second["ground_truth"]["benchmark"]["path"] == str(b)
    # the same table again (a copy elsewhere would differ by path): done
    proc = run_cli(tmp_path, *args, f"benchmark.path={b}")
    assert "job already done" in proc.stdout


def test_a_changed_table_refreshes_the_accuracies_a_finished_search_reports(tmp_path):
    a = tmp_path / "a.csv"
    frame = nats_frame()
    frame.to_csv(a, index=False)
    args = ("metric=params", "search=random", "search.n=5", "benchmark=table", f"benchmark.path={a}")
    run_cli(tmp_path, *args)
    first = result_of(tmp_path)
    best = first["best"]["index"]
    frame.loc[frame["index"].astype(int) == best, "cifar10_test_acc"] = "12.25"
    frame.to_csv(a, index=False)
    proc = run_cli(tmp_path, *args)
    assert "job already done" in proc.stdout and "re-read" in proc.stdout
    assert "12.25%" in proc.stdout
    second = result_of(tmp_path)
    assert second["best"]["test_accuracy"] == 12.25 and second["best"]["index"] == best
    assert second["best"]["rank"] > first["best"]["rank"]
    assert second["trace"]["best_test_accuracy"][-1] == 12.25
    assert second["wall_seconds"] == first["wall_seconds"]  # not searched again


def test_an_old_result_without_a_ground_truth_record_is_still_done_for_a_data_free_metric(tmp_path):
    args = ("metric=params", "search=random", "search.n=3", "benchmark=table", f"benchmark.path={NATS}")
    run_cli(tmp_path, *args)
    (path,) = (tmp_path / "outputs" / "search").glob("*/result.json")
    old = json.loads(path.read_text())
    del old["ground_truth"]
    path.write_text(json.dumps(old))
    proc = run_cli(tmp_path, *args)
    assert "job already done" in proc.stdout
