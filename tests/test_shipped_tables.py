"""The benchmark tables shipped in benchmarks/: the same values as ../shared/data, read by the same
readers and checks, rebuilt byte for byte by scripts/pack_tables.py, and enough for a public clone
(no ../shared beside it) to search with accuracies."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from cli import run_cli
from shared_data import shared_data_dir
from zcnas import plugins
from zcnas.benchmark import TableBenchmark
from zcnas.benchmark.base import DATASETS
from zcnas.spaces.nats_tss.hw_costs import COLUMNS as HW_COLUMNS
from zcnas.spaces.nats_tss.hw_costs import csv_path, read_hw_costs
from zcnas.benchmark.space_table import SpaceTableBenchmark, table_flags, table_settings
from zcnas.benchmark.table import read_table
from zcnas.errors import BenchmarkError, DataError
from zcnas.spaces import make_space

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "benchmarks"
HW_DATASETS = ("cifar10", "cifar100", "ImageNet16-120")


def load_pack_tables():
    spec = importlib.util.spec_from_file_location("pack_tables", ROOT / "scripts" / "pack_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pack_tables = load_pack_tables()


@pytest.fixture(scope="module")
def shared():
    return shared_data_dir()


def space_table(space_name: str, compose_cfg, path: Path) -> SpaceTableBenchmark:
    """The space's table at ``path``, read with the settings of conf/space/<space_name>.yaml."""
    node = compose_cfg(f"space={space_name}").space.table
    arch, accuracy, label = table_settings(node)
    return SpaceTableBenchmark(make_space(space_name), path, arch, accuracy, label, **table_flags(node))


def test_every_shipped_file_is_one_of_the_packed_tables():
    shipped = sorted(str(p.relative_to(SHIPPED)) for p in SHIPPED.rglob("*.parquet"))
    assert shipped == sorted(dst for _, dst in pack_tables.TABLES)
    assert (SHIPPED / "README.md").is_file()


@pytest.mark.parametrize("src,dst", pack_tables.TABLES, ids=[dst for _, dst in pack_tables.TABLES])
def test_the_shipped_copy_gives_back_every_cell_of_the_csv(shared, src, dst):
    text = pd.read_csv(shared / src, dtype=str, keep_default_na=False)
    back = pd.read_parquet(SHIPPED / dst).astype(str)
    assert list(back.columns) == list(text.columns) and len(back) == len(text)
    for column in text.columns:
        differ = np.flatnonzero(back[column].to_numpy() != text[column].to_numpy())
        assert not differ.size, f"{dst}, column {column}, data row {differ[:1] + 1}: {back[column].iloc[differ[0]]!r}"


def test_the_nats_table_reads_the_same_from_the_shipped_copy(shared):
    csv, parquet = shared / "nats_tss/nats_tss_benchmark.csv", SHIPPED / "nats_tss/nats_tss_benchmark.parquet"
    pd.testing.assert_frame_equal(read_table(parquet), read_table(csv), check_dtype=False, check_exact=True)
    a, b = TableBenchmark(csv), TableBenchmark(parquet)
    for ds in DATASETS:
        assert np.array_equal(b.all_test_accuracies(ds), a.all_test_accuracies(ds))
        for got, want in zip(b.all_val12(ds), a.all_val12(ds)):
            assert np.array_equal(got, want)
        assert len(a.all_test_accuracies(ds)) == 15625
    assert b.test_accuracy(13714, "cifar10") == 94.56


@pytest.mark.parametrize("dataset", HW_DATASETS)
def test_the_hw_costs_read_the_same_from_the_shipped_copy(shared, dataset):
    folder = SHIPPED / "nats_tss_hw"
    assert csv_path(folder, dataset) == folder / f"hw_nas_bench_{dataset}.parquet"
    a = read_hw_costs(shared / "spaces/nats_tss_hw", dataset)
    b = read_hw_costs(folder, dataset)
    for name in HW_COLUMNS:
        assert np.array_equal(b.array(name), a.array(name), equal_nan=True), name
    assert np.isnan(b.array("edgetpu_latency")).sum() == np.isnan(a.array("edgetpu_latency")).sum() > 0


@pytest.mark.parametrize("space_name,src,dst", [
    ("nas_bench_macro", "spaces/nas_bench_macro/nas_bench_macro_cifar10.csv",
     "nas_bench_macro/nas_bench_macro_cifar10.parquet"),
    ("nas_bench_101", "spaces/nas_bench_101/nb101_sample500_cifar10.csv",
     "nas_bench_101/nb101_sample500_cifar10.parquet"),
])
def test_the_space_tables_read_the_same_from_the_shipped_copy(shared, compose_cfg, space_name, src, dst):
    a = space_table(space_name, compose_cfg, shared / src)
    b = space_table(space_name, compose_cfg, SHIPPED / dst)
    assert b.archs == a.archs and b.complete == a.complete and b.note == a.note
    for ds in a.datasets:
        assert np.array_equal(b.table(ds)[1], a.table(ds)[1])


def corrupt(shared: Path, src: str, tmp_path: Path, column: str, row: int, value: str) -> tuple[Path, Path]:
    """A CSV with one cell replaced, and its parquet copy packed as the shipped ones are."""
    text = pd.read_csv(shared / src, dtype=str, keep_default_na=False)
    text.loc[row, column] = value
    folder = tmp_path / column
    folder.mkdir()
    csv = folder / Path(src).name
    text.to_csv(csv, index=False)
    parquet = csv.with_suffix(".parquet")
    parquet.write_bytes(pack_tables.pack(csv))
    return csv, parquet


def same_refusal(make, csv: Path, parquet: Path, error: type) -> str:
    messages = []
    for path in (csv, parquet):
        with pytest.raises(error) as caught:
            make(path)
        messages.append(str(caught.value).replace(str(path), "<table>"))
    assert messages[0] == messages[1]
    return messages[0]


def test_the_value_checks_refuse_a_bad_shipped_copy_as_they_refuse_the_csv(shared, compose_cfg, tmp_path):
    csv, parquet = corrupt(shared, "nats_tss/nats_tss_benchmark.csv", tmp_path, "cifar100_test_acc", 6, "120.5")
    assert "data row 7, column cifar100_test_acc holds" in same_refusal(TableBenchmark, csv, parquet, BenchmarkError)
    csv, parquet = corrupt(shared, "spaces/nats_tss_hw/hw_nas_bench_cifar10.csv", tmp_path, "raspi4_latency", 4, "-3.5")
    message = same_refusal(lambda p: read_hw_costs(p, "cifar10"), csv, parquet, DataError)
    assert "line 6, column 'raspi4_latency'" in message and "negative" in message
    csv, parquet = corrupt(shared, "spaces/nas_bench_macro/nas_bench_macro_cifar10.csv", tmp_path, "mean_acc", 2, "150")
    make = lambda p: space_table("nas_bench_macro", compose_cfg, p)  # noqa: E731
    assert "data row 3, column mean_acc holds '150'" in same_refusal(make, csv, parquet, BenchmarkError)
    text = pd.read_csv(shared / "spaces/nas_bench_macro/nas_bench_macro_cifar10.csv", dtype=str, keep_default_na=False)
    text["mean_acc"] = (text["mean_acc"].astype(float) / 100).astype(str)
    text.to_csv(csv, index=False)
    parquet.write_bytes(pack_tables.pack(csv))
    assert "holds fractions" in same_refusal(make, csv, parquet, BenchmarkError)


def test_packing_is_deterministic_and_the_shipped_files_are_a_fresh_pack(shared, tmp_path):
    for out in ("a", "b"):
        assert pack_tables.main(["--source", str(shared), "--out", str(tmp_path / out)]) == 0
    for _, dst in pack_tables.TABLES:
        fresh = (tmp_path / "a" / dst).read_bytes()
        assert fresh == (tmp_path / "b" / dst).read_bytes(), dst
        # the bytes hold the writing pyarrow's version: compare them only where it is this one
        if pq.ParquetFile(SHIPPED / dst).metadata.created_by == pq.ParquetFile(io.BytesIO(fresh)).metadata.created_by:
            assert (SHIPPED / dst).read_bytes() == fresh, f"{dst}: rerun python scripts/pack_tables.py"


def test_the_shared_table_comes_first_then_the_official_files_then_the_shipped_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    table, shipped = tmp_path / "shared.csv", str(SHIPPED / "nats_tss/nats_tss_benchmark.parquet")
    absent = str(tmp_path / "absent.csv")
    table.write_text("index\n")
    auto, table_option = plugins.load("benchmark", "auto"), plugins.load("benchmark", "table")

    def source(option, path, table_path):
        return option.source(path=path, table_path=table_path, shipped_path=shipped)

    assert source(auto, None, str(table)) == str(table)
    assert source(auto, None, absent) == shipped
    assert source(table_option, None, absent) == shipped
    assert source(auto, "/mine.csv", str(table)) == "/mine.csv"
    assert auto(path=None, table_path=absent, shipped_path=shipped).description == f"table {shipped}"
    official = tmp_path / "torch" / "NATS-tss-v1_0-3ffb9-simple"
    official.mkdir(parents=True)
    assert source(auto, None, absent) == str(official)
    assert source(auto, None, str(table)) == str(table)


def test_without_shared_data_the_config_names_the_shipped_copies(shared, compose_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("ZCNAS_SHARED_DATA", str(tmp_path / "absent"))
    cfg = compose_cfg()
    assert Path(cfg.hw_costs) == SHIPPED / "nats_tss_hw"
    assert Path(cfg.benchmark.shipped_path) == SHIPPED / "nats_tss/nats_tss_benchmark.parquet"
    assert Path(compose_cfg("space=nas_bench_macro").space.table.path) == \
        SHIPPED / "nas_bench_macro/nas_bench_macro_cifar10.parquet"
    assert Path(compose_cfg("space=nas_bench_101").space.table.path) == \
        SHIPPED / "nas_bench_101/nb101_sample500_cifar10.parquet"
    monkeypatch.setenv("ZCNAS_SHARED_DATA", str(shared))
    assert Path(compose_cfg().hw_costs) == shared / "spaces/nats_tss_hw"


@pytest.mark.integration
def test_a_path_the_user_gives_is_never_replaced_by_a_shipped_copy(tmp_path):
    missing = tmp_path / "mine.csv"
    for override in (f"space.table.path={missing}", f"benchmark.path={missing}"):
        proc = run_cli(tmp_path, "space=nas_bench_macro", "search.n=3", "hardware.threads=1", override, check=False)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and str(missing) in lines[0], proc.stderr
    proc = run_cli(tmp_path, "search.n=3", "hardware.threads=1", f"hw_costs={tmp_path}",
                   "search.max_cost.edgegpu_latency=5", check=False)
    assert proc.returncode == 2 and "hw_nas_bench_cifar10.csv" in proc.stderr, proc.stderr


# --- a public clone ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """The repository's files (tracked, and new ones not ignored) copied where no ../shared is beside them."""
    base = tmp_path_factory.mktemp("public")
    target = base / "clone"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not in a clone either
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    assert not (base / "shared").exists()
    return target


def clone_env(clone: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("ZCNAS_SHARED_DATA", "ZCNAS_ROOT", "PYTHONPATH")}
    # a make of its own: not a sub-make of `make test` (which would print its directories)
    env = {k: v for k, v in env.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    return {**env, "PYTHONPATH": str(clone / "src"), "HYDRA_FULL_ERROR": "0", "TORCH_HOME": str(clone / "no_torch")}


def run_in_clone(clone: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "run.py", "search=random", "search.n=20", "progress=false", "hardware.threads=1",
           f"paths.output_dir={out}", *args]
    proc = subprocess.run(cmd, cwd=clone, capture_output=True, text=True, timeout=600, env=clone_env(clone))
    assert proc.returncode == 0, f"{' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def make_run_in_clone(clone: Path, out: Path) -> subprocess.CompletedProcess:
    """``make run`` in the clone, with this checkout's venv standing in for the clone's own install."""
    if shutil.which("make") is None:  # the command make runs
        return run_in_clone(clone, out, "metric=synflow")
    stamp = out / "installed"
    stamp.touch()  # newer than the copied setup.cfg and pyproject.toml: make must not install anything
    cmd = ["make", "--no-print-directory", "run", f"PY={sys.executable}", f"STAMP={stamp}",
           f"ARGS=search.n=20 progress=false hardware.threads=1 paths.output_dir={out}"]
    dry = subprocess.run([*cmd, "-n"], cwd=clone, capture_output=True, text=True, env=clone_env(clone), check=True)
    assert "pip install" not in dry.stdout and dry.stdout.count("\n") == 1, dry.stdout
    proc = subprocess.run(cmd, cwd=clone, capture_output=True, text=True, timeout=600, env=clone_env(clone))
    assert proc.returncode == 0, f"make run:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.integration
def test_a_public_clone_searches_with_accuracies_from_the_shipped_tables(clone, tmp_path):
    where = subprocess.run([sys.executable, "-c", "import zcnas; print(zcnas.__file__)"], cwd=clone,
                           capture_output=True, text=True, env=clone_env(clone), check=True).stdout
    assert where.startswith(str(clone)), where  # the clone's code, not this checkout's
    proc = make_run_in_clone(clone, tmp_path)
    assert re.search(r"test accuracy \(200 epochs\): \d+\.\d+%, rank \d+ of 15625 \(best 94\.56\)", proc.stdout), proc.stdout
    proc = run_in_clone(clone, tmp_path, "metric=val12")
    assert re.search(r"metric val12.*\n.*\n\s+index \d+, score \d+\.\d+", proc.stdout), proc.stdout
    assert "recorded cost" in proc.stdout and "rank" in proc.stdout
    proc = run_in_clone(clone, tmp_path, "metric=synflow", "search.max_cost.edgegpu_latency=5")
    assert re.search(r"cost: edgegpu_latency \d+\.\d+ \(budget 5\)", proc.stdout), proc.stdout
    proc = run_in_clone(clone, tmp_path, "metric=synflow", "space=nas_bench_macro")
    assert re.search(r"mean of 3 trainings: \d+\.\d+%, rank \d+ of \d+ \(best 93\.13\)", proc.stdout), proc.stdout
    results = [json.loads(p.read_text()) for p in tmp_path.rglob("result.json")]
    assert len(results) == 4
    for result in results:  # what each job read: the shipped copies
        read = [result["benchmark"], *(part["path"] for part in result["ground_truth"].values())]
        assert all(str(clone / "benchmarks") in text for text in read), read
    assert sum("hw_costs" in r["ground_truth"] for r in results) == 1
