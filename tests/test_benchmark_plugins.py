"""The benchmark group is declared like every plug-in: each option's ``_target_`` names its backend,
which takes exactly the option's settings; what ``auto`` reads, and what a job records of it, is
chosen in the same order; only the user's config names the code imported."""

from __future__ import annotations

import inspect
import json
import shutil
from pathlib import Path

import pytest

from cli import one_line_error, run_cli
from test_benchmark_nats_api import RECORDS, write_tiny_nats_tss
from zcnas import plugins
from zcnas.benchmark import NoBenchmark, TableBenchmark
from zcnas.benchmark.base import SPACE_TABLE_USES
from zcnas.benchmark.identity import benchmark_source
from zcnas.benchmark.nats_api import NatsBenchBenchmark
from zcnas.build import build_benchmark
from zcnas.errors import BenchmarkError, ConfigError

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "benchmarks" / "nats_tss" / "nats_tss_benchmark.parquet"
FAST = ("metric=params", "search=random", "search.n=3", "hardware.threads=1")


@pytest.mark.parametrize("name", plugins.names("benchmark"))
def test_every_benchmark_option_names_a_backend_taking_exactly_its_settings(name, compose_cfg):
    node = compose_cfg(f"benchmark={name}").benchmark
    settings = {str(k) for k in node if k != "_target_"}
    target = plugins.load("benchmark", name)
    assert node["_target_"] == plugins.target("benchmark", name)
    for call in (target, target.source):  # building it and finding what it reads take the same settings
        parameters = inspect.signature(call).parameters
        assert set(parameters) == settings, (name, call)
        # the option states every default; the backend repeats none
        assert all(p.default is inspect.Parameter.empty for p in parameters.values()), (name, call)
    assert target.space_table in SPACE_TABLE_USES, name


def test_no_benchmark_option_sets_a_kind(compose_cfg):
    for name in plugins.names("benchmark"):
        assert "kind" not in compose_cfg(f"benchmark={name}").benchmark, name


def test_a_benchmark_kind_typed_by_the_user_is_one_line_naming_the_target(tmp_path):
    for given in ("benchmark.kind=table", "+benchmark.kind=table"):
        line = one_line_error(run_cli(tmp_path, *FAST, "benchmark=none", given, check=False))
        assert "benchmark.kind" in line and "_target_" in line, line
        if not given.startswith("+"):
            assert "benchmark._target_" in line and "benchmark=table" in line, line


def test_auto_chooses_the_table_then_the_official_files_then_the_shipped_copy_then_none(
        compose_cfg, tmp_path, monkeypatch):
    """What the job builds and what it records as its ground truth are the same file, in each case."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    table = tmp_path / "dev.parquet"
    table.write_bytes(SHIPPED.read_bytes())
    official = tmp_path / "torch" / "NATS-tss-v1_0-3ffb9-simple"

    def chosen(*overrides):
        cfg = compose_cfg("benchmark=auto", *overrides)
        return build_benchmark(cfg), benchmark_source(cfg)

    bench, source = chosen(f"benchmark.table_path={table}", f"benchmark.shipped_path={SHIPPED}")
    assert isinstance(bench, TableBenchmark) and source == str(table) and bench.path == table
    write_tiny_nats_tss(str(official), {0: RECORDS[0]})  # after the table, before the shipped copy
    assert chosen(f"benchmark.table_path={table}", f"benchmark.shipped_path={SHIPPED}")[1] == str(table)
    bench, source = chosen(f"benchmark.table_path={tmp_path / 'absent.csv'}", f"benchmark.shipped_path={SHIPPED}")
    assert isinstance(bench, NatsBenchBenchmark) and source == str(official)
    assert bench.test_accuracy(0, "cifar10") == RECORDS[0]["cifar10"][0]
    shutil.rmtree(official)
    bench, source = chosen(f"benchmark.table_path={tmp_path / 'absent.csv'}", f"benchmark.shipped_path={SHIPPED}")
    assert isinstance(bench, TableBenchmark) and source == str(SHIPPED) and bench.description == f"table {SHIPPED}"
    bench, source = chosen(f"benchmark.table_path={tmp_path / 'absent.csv'}", "benchmark.shipped_path=null")
    assert isinstance(bench, NoBenchmark) and source is None
    mine = tmp_path / "mine.parquet"
    mine.write_bytes(SHIPPED.read_bytes())
    bench, source = chosen(f"benchmark.path={mine}", f"benchmark.table_path={table}")  # the user's path wins
    assert bench.path == mine and source == str(mine)


def test_the_table_option_reads_the_shipped_copy_and_needs_a_table(compose_cfg, tmp_path):
    absent = f"benchmark.table_path={tmp_path / 'absent.csv'}"
    cfg = compose_cfg("benchmark=table", absent, f"benchmark.shipped_path={SHIPPED}")
    assert build_benchmark(cfg).path == SHIPPED and benchmark_source(cfg) == str(SHIPPED)
    cfg = compose_cfg("benchmark=table", "benchmark.table_path=null", "benchmark.shipped_path=null")
    with pytest.raises(BenchmarkError, match="^benchmark=table needs benchmark.path="):
        build_benchmark(cfg)
    assert benchmark_source(cfg) is None
    cfg = compose_cfg("benchmark=nats_bench", f"benchmark.path={tmp_path}")
    assert benchmark_source(cfg) == str(tmp_path)


def test_each_option_serves_a_space_with_its_own_table_as_before(compose_cfg, tmp_path):
    macro = ("space=nas_bench_macro", "dataset=cifar10")
    cfg = compose_cfg(*macro, "benchmark=auto")
    assert build_benchmark(cfg).available and benchmark_source(cfg) == str(cfg.space.table.path)
    cfg = compose_cfg(*macro, "benchmark=none")
    assert isinstance(build_benchmark(cfg), NoBenchmark) and benchmark_source(cfg) is None
    cfg = compose_cfg(*macro, "benchmark=nats_bench")
    with pytest.raises(ConfigError, match="^benchmark=nats_bench reads NATS-Bench's files; space nas_bench_macro"):
        build_benchmark(cfg)
    assert benchmark_source(cfg) is None
    cfg = compose_cfg(*macro, "benchmark=table", "space.table=null")
    with pytest.raises(ConfigError, match="^space nas_bench_macro has no ground-truth table"):
        build_benchmark(cfg)
    cfg = compose_cfg(*macro, "benchmark=auto", "space.table=null")
    assert isinstance(build_benchmark(cfg), NoBenchmark) and benchmark_source(cfg) is None


def test_a_table_option_without_a_table_is_one_line(tmp_path):
    proc = run_cli(tmp_path, *FAST, "benchmark=table", "benchmark.table_path=null", "benchmark.shipped_path=null",
                   check=False)
    assert "benchmark=table needs benchmark.path=" in one_line_error(proc)


def result_path(tmp_path) -> Path:
    (path,) = (tmp_path / "outputs" / "search").glob("*/result.json")
    return path


def test_a_finished_job_recorded_with_a_benchmark_kind_is_still_done(tmp_path):
    args = (*FAST, "benchmark=table", f"benchmark.path={SHIPPED}")
    run_cli(tmp_path, *args)
    path = result_path(tmp_path)
    old = json.loads(path.read_text())
    assert old["config"]["benchmark"]["_target_"] == "zcnas.benchmark.table.ConfiguredTable"
    # as a job written before the options named their backends recorded it
    old["config"]["benchmark"] = {"kind": "table", **{k: v for k, v in old["config"]["benchmark"].items()
                                                     if k != "_target_"}}
    path.write_text(json.dumps(old))
    proc = run_cli(tmp_path, *args)
    assert "job already done" in proc.stdout
    assert json.loads(path.read_text())["ground_truth"] == old["ground_truth"]


def test_a_backend_named_by_a_result_file_is_never_imported(tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    (tmp_path / "planted_backend.py").write_text(
        "from zcnas.benchmark.base import NoBenchmark\n"
        f"open({str(marker)!r}, 'w').close()\nclass Backend(NoBenchmark):\n    pass\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    args = (*FAST, "benchmark=table", f"benchmark.path={SHIPPED}")
    run_cli(tmp_path, *args)
    path = result_path(tmp_path)
    old = json.loads(path.read_text())
    old["config"]["benchmark"]["_target_"] = "planted_backend.Backend"
    path.write_text(json.dumps(old))
    proc = run_cli(tmp_path, *args)
    # the job's own config names the backend; the file's is data (the benchmark is no part of a job's identity)
    assert "job already done" in proc.stdout and not marker.exists()
    # named by the user's own command line, the same class is imported and built
    run_cli(tmp_path, *FAST, "seed=1", "benchmark=none", "benchmark._target_=planted_backend.Backend")
    assert marker.exists()
