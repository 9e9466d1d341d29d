"""The table backend of the benchmark lookup, against the shared NATS-Bench table."""

import pandas as pd
import pytest

from zcnas.benchmark import NoBenchmark, TableBenchmark, make_benchmark
from zcnas.errors import BenchmarkError


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
    bench = make_benchmark("auto", None, str(tmp_path / "absent.csv"))
    assert isinstance(bench, NoBenchmark) and not bench.available
    with pytest.raises(BenchmarkError, match="unavailable"):
        bench.test_accuracy(0, "cifar10")
