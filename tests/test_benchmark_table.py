"""The table backend of the benchmark lookup, against the shared NATS-Bench table."""

import pandas as pd
import pytest

from zcnas import plugins
from zcnas.benchmark import NoBenchmark, TableBenchmark
from zcnas.errors import BenchmarkError

#: benchmark=auto's backend, as its option declares it
auto = plugins.load("benchmark", "auto")


def test_known_best_cells(table_benchmark):
    assert table_benchmark.test_accuracy(13714, "cifar10") == 94.56
    assert table_benchmark.test_accuracy(9930, "cifar100") == 74.18
    assert table_benchmark.test_accuracy(3888, "ImageNet16-120") == pytest.approx(47.67, abs=0.005)
    for ds, best in (("cifar10", 13714), ("cifar100", 9930), ("ImageNet16-120", 3888)):
        assert table_benchmark.all_test_accuracies(ds).argmax() == best


def test_val12_matches_the_csv(table_benchmark, benchmark_csv):
    row = pd.read_csv(benchmark_csv).iloc[1]
    assert table_benchmark.val12(1, "cifar100") == (row["cifar100_val12_acc"], row["cifar100_val12_time"])


def test_parquet_works_too(benchmark_csv, tmp_path):
    path = tmp_path / "bench.parquet"
    pd.read_csv(benchmark_csv).to_parquet(path)
    assert TableBenchmark(path).test_accuracy(0, "cifar10") == 86.18


def test_errors(benchmark_csv, tmp_path, table_benchmark):
    with pytest.raises(BenchmarkError, match="not found: .*missing.csv"):
        TableBenchmark(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    pd.read_csv(benchmark_csv).drop(columns=["cifar100_test_acc"]).to_csv(bad, index=False)
    with pytest.raises(BenchmarkError, match="lacks columns"):
        TableBenchmark(bad)
    short = tmp_path / "short.csv"
    pd.read_csv(benchmark_csv).head(100).to_csv(short, index=False)
    with pytest.raises(BenchmarkError, match="one row per index"):
        TableBenchmark(short)
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"not parquet at all")
    with pytest.raises(BenchmarkError, match="could not be read"):
        TableBenchmark(garbage)
    with pytest.raises(BenchmarkError, match="unknown dataset 'mnist'"):
        table_benchmark.test_accuracy(0, "mnist")


def test_auto_falls_back_to_none(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    bench = auto(path=None, table_path=str(tmp_path / "absent.csv"), shipped_path=None)
    assert isinstance(bench, NoBenchmark) and not bench.available
    with pytest.raises(BenchmarkError, match="unavailable"):
        bench.test_accuracy(0, "cifar10")


@pytest.fixture(scope="module")
def frame(benchmark_csv):
    return pd.read_csv(benchmark_csv)


def test_a_string_in_a_numeric_column_names_file_column_and_row(frame, tmp_path):
    bad = tmp_path / "typo.csv"
    typo = frame.astype({"cifar100_val12_time": object})
    typo.loc[7, "cifar100_val12_time"] = "12.5s"
    typo.to_csv(bad, index=False)
    with pytest.raises(BenchmarkError) as err:
        TableBenchmark(bad)
    message = str(err.value)
    assert f"{bad}: column cifar100_val12_time holds '12.5s' in data row 8 (index 7)" in message
    assert "\n" not in message


def test_a_string_in_a_numeric_column_through_the_cli(frame, tmp_path):
    from cli import run_cli

    bad = tmp_path / "typo.csv"
    typo = frame.astype({"cifar10_test_acc": object})
    typo.loc[15624, "cifar10_test_acc"] = "n.a."
    typo.to_csv(bad, index=False)
    proc = run_cli(tmp_path, "benchmark=table", f"benchmark.path={bad}", "metric=val12", check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "column cifar10_test_acc holds 'n.a.' in data row 15625" in lines[0], proc.stderr


def test_empty_cells_are_missing_records(frame, tmp_path):
    holes = tmp_path / "holes.parquet"
    gap = frame.copy()
    gap.loc[3, "cifar10_test_acc"] = None
    gap.to_parquet(holes)
    bench = TableBenchmark(holes)
    assert bench.test_accuracy(4, "cifar10") == frame.loc[4, "cifar10_test_acc"]
    assert bench.val12(3, "cifar10") == (frame.loc[3, "cifar10_val12_acc"], frame.loc[3, "cifar10_val12_time"])
    with pytest.raises(BenchmarkError, match="no cifar10_test_acc for architecture 3 "):
        bench.test_accuracy(3, "cifar10")
    with pytest.raises(BenchmarkError, match="no cifar10_test_acc for 1 architectures"):
        bench.all_test_accuracies("cifar10")
    assert bench.all_val12("cifar10")[0].shape == (15625,)


def test_bad_indices(table_benchmark):
    with pytest.raises(BenchmarkError, match="out of range"):
        table_benchmark.test_accuracy(-1, "cifar10")  # not numpy's last element
    with pytest.raises(BenchmarkError, match="must be an integer"):
        table_benchmark.val12(1.5, "cifar10")


def test_auto_takes_an_explicit_path(frame, benchmark_csv, tmp_path):
    from test_benchmark_nats_api import RECORDS, write_tiny_nats_tss

    from zcnas.benchmark.nats_api import NatsBenchBenchmark

    mine = tmp_path / "mine.parquet"
    frame.to_parquet(mine)
    bench = auto(path=str(mine), table_path=str(benchmark_csv), shipped_path=None)  # the path wins over table_path
    assert isinstance(bench, TableBenchmark) and bench.path == mine
    official = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    write_tiny_nats_tss(str(official), {0: RECORDS[0]})
    bench = auto(path=str(official), table_path=str(benchmark_csv), shipped_path=None)
    assert isinstance(bench, NatsBenchBenchmark) and bench.test_accuracy(0, "cifar10") == RECORDS[0]["cifar10"][0]
    with pytest.raises(BenchmarkError, match="benchmark.path .*nowhere.csv does not exist") as err:
        auto(path=str(tmp_path / "nowhere.csv"), table_path=str(benchmark_csv), shipped_path=None)
    assert "\n" not in str(err.value)
