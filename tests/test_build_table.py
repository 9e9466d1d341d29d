"""task=build_table: the accuracy table from official-format files, on the tiny fake release."""

from __future__ import annotations

import pytest

from test_benchmark_nats_api import RECORDS, write_tiny_nats_tss
from zcnas import plugins
from zcnas.benchmark import TableBenchmark
from zcnas.benchmark.base import DATASETS
from zcnas.benchmark.nats_api import BENCH_NAME, NatsBenchBenchmark
from zcnas.errors import BenchmarkError, ConfigError
from zcnas.tasks.build_table import TABLE_NAME, run_build_table_job, summarize_build_table


@pytest.fixture(scope="module")
def torch_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("torch_home")
    write_tiny_nats_tss(str(home / BENCH_NAME), RECORDS)
    return home


@pytest.fixture
def build(compose_cfg, tmp_path):
    def _build(*overrides: str) -> dict:
        cfg = compose_cfg("task=build_table", "progress=false", *overrides)
        return run_build_table_job(cfg, tmp_path / "job")

    return _build


def test_an_incomplete_directory_is_refused(build, torch_home):
    with pytest.raises(BenchmarkError, match=f"no file for {15625 - len(RECORDS)} of 15625 architectures "
                                             r"\(first: 1\).*table.allow_missing=true") as err:
        build(f"table.source={torch_home / BENCH_NAME}")
    assert "\n" not in str(err.value)


def test_table_holds_what_nats_bench_returns(build, torch_home, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(torch_home))  # the default source
    result = build("table.allow_missing=true")
    assert result["output"] == str(tmp_path / "job" / TABLE_NAME)
    assert (result["records"], result["missing"], result["first_missing"][:3]) == (3, 15622, [1, 2, 3])
    assert "benchmark=table benchmark.path=" in summarize_build_table(result)

    official = NatsBenchBenchmark(str(torch_home / BENCH_NAME))
    built = [plugins.load("benchmark", name)(path=result["output"], table_path=None, shipped_path=None)
             for name in ("table", "auto")]
    for table in built:
        assert isinstance(table, TableBenchmark)
        for index in RECORDS:
            for ds in DATASETS:
                assert table.test_accuracy(index, ds) == official.test_accuracy(index, ds)
                assert table.val12(index, ds) == official.val12(index, ds)
        # no record: an error in both backends, and no whole-space lookups
        with pytest.raises(BenchmarkError, match="no cifar100_val12_acc for architecture 5 "):
            table.val12(5, "cifar100")
        with pytest.raises(BenchmarkError, match="architecture 5 "):
            official.val12(5, "cifar100")
        with pytest.raises(BenchmarkError, match="no cifar10_test_acc for 15622 architectures"):
            table.all_test_accuracies("cifar10")


def test_csv_output_and_bad_suffix(build, torch_home, tmp_path):
    source = f"table.source={torch_home / BENCH_NAME}"
    out = tmp_path / "elsewhere" / "bench.csv"
    build(source, "table.allow_missing=true", f"table.output={out}")
    assert TableBenchmark(out).test_accuracy(15624, "ImageNet16-120") == RECORDS[15624]["ImageNet16-120"][0]
    with pytest.raises(ConfigError, match=r"\.parquet or \.csv"):
        build(source, f"table.output={tmp_path / 'bench.txt'}")


def test_a_foreign_order_is_refused(build, tmp_path):
    import bz2
    import pickle

    from test_benchmark_nats_api import nats_arch_strings

    directory = tmp_path / BENCH_NAME
    directory.mkdir()
    archs = nats_arch_strings()
    archs[0], archs[1] = archs[1], archs[0]
    with bz2.BZ2File(directory / "meta.pickle.pbz2", "wb") as f:
        pickle.dump({"meta_archs": archs}, f, protocol=4)
    with pytest.raises(BenchmarkError, match="as architecture 0, not NATS-Bench's"):
        build(f"table.source={directory}")
