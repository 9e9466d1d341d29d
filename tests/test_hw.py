"""HW-NAS-Bench costs (Li et al., ICLR 2021), Pareto fronts and task=hw_study."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pandas as pd
import pytest

from cli import run_cli
from shared_data import shared_data_dir
from zcnas.errors import ConfigError, DataError
from zcnas.roster import Roster, make_rows, write_roster
from zcnas.spaces.nats_tss.hw_costs import COLUMNS, COSTS, DEVICES, ENERGIES, LATENCIES, check_cost_name, read_hw_costs
from zcnas.spaces.nats_tss.space import NATS_TSS
from zcnas.studies.hardware.statistics import best_under, front_gap, pareto_front

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")


@pytest.fixture(scope="module")
def hw_dir():
    return shared_data_dir() / "spaces" / "nats_tss_hw"


@pytest.fixture(scope="module")
def real(hw_dir):
    return {ds: read_hw_costs(hw_dir, ds) for ds in DATASETS}


@pytest.fixture(scope="module")
def lines(hw_dir):
    """cifar10's file as lists of cells, to damage copies of."""
    with open(hw_dir / "hw_nas_bench_cifar10.csv", newline="") as f:
        return list(csv.reader(f))


def write(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def one_line_error(path, match):
    with pytest.raises(DataError, match=match) as exc:
        read_hw_costs(path, "cifar10")
    assert "\n" not in str(exc.value)
    return str(exc.value)


# --- the real files --------------------------------------------------------------------------

def test_names():
    assert COSTS == ("edgegpu_latency", "edgegpu_energy", "raspi4_latency", "edgetpu_latency", "pixel3_latency",
                     "eyeriss_latency", "eyeriss_energy", "fpga_latency", "fpga_energy")
    assert set(COLUMNS) - set(COSTS) == {"eyeriss_arithmetic_intensity"}
    assert DEVICES == ("edgegpu", "raspi4", "edgetpu", "pixel3", "eyeriss", "fpga")
    assert set(LATENCIES) | set(ENERGIES) == set(COSTS)


@pytest.mark.slow
def test_real_files_parse(real, lines):
    for ds, hw in real.items():
        assert hw.dataset == ds
        for name in COLUMNS:
            values = hw.array(name)
            assert values.shape == (15625,) and values.dtype == float
            # only the Edge TPU has cells it did not measure (-1 in the file)
            assert np.isnan(values).sum() == (4699 if name == "edgetpu_latency" else 0), (ds, name)
            assert np.nanmin(values) > 0
    # values land at their NATS-Bench index, -1 becomes NaN
    header = lines[0]
    for row in lines[1:200]:
        i = int(row[0])
        for name in COSTS:
            raw = float(row[header.index(name)])
            got = real["cifar10"].cost(name, i)
            assert (math.isnan(got) and raw == -1) or got == raw


def test_feasible_and_cost(real, lines):
    hw = real["cifar10"]
    header = lines[0]
    unmeasured = next(int(r[0]) for r in lines[1:] if float(r[header.index("edgetpu_latency")]) == -1)
    assert math.isnan(hw.cost("edgetpu_latency", unmeasured))
    ok = hw.feasible("edgetpu_latency", 1e9)
    assert not ok(unmeasured)  # not measured: never feasible, however large the budget
    lat = hw.array("edgegpu_latency")
    limit = float(np.median(lat))
    ok = hw.feasible("edgegpu_latency", limit)
    from zcnas.spaces.nats_tss.cells import arch_from_index

    for i in (0, 1, 2, int(np.argmin(lat)), int(np.argmax(lat))):
        assert ok(i) == (lat[i] <= limit) == ok(arch_from_index(i))  # an index or a Cell
    with pytest.raises(ValueError):
        hw.array("edgegpu_latency")[0] = 1.0  # shared arrays are read-only


def test_unknown_cost_name(real):
    for bad in ("foo_latency", "eyeriss_arithmetic_intensity"):
        with pytest.raises(ConfigError, match=f"search.max_cost.{bad}: unknown HW-NAS-Bench cost") as exc:
            check_cost_name(bad)
        assert "\n" not in str(exc.value) and "edgegpu_latency" in str(exc.value)
    with pytest.raises(ConfigError, match="devices"):
        real["cifar10"].check_cost_name("tpu_latency", "devices")
    assert real["cifar10"].check_cost_name("fpga_energy") == "fpga_energy"
    with pytest.raises(ConfigError):
        real["cifar10"].feasible("foo_latency", 1.0)


# --- damaged files ---------------------------------------------------------------------------

def test_missing_file(tmp_path):
    message = one_line_error(tmp_path, "HW-NAS-Bench costs not found")
    assert "hw_nas_bench_cifar10.csv" in message and "hw_costs=" in message
    with pytest.raises(DataError, match="set hw_data="):
        read_hw_costs(tmp_path / "none.csv", "cifar10", key="hw_data")


def test_missing_column_and_rows(tmp_path, lines):
    drop = lines[0].index("fpga_energy")
    write(tmp_path / "a.csv", [r[:drop] + r[drop + 1:] for r in lines[:4]])
    one_line_error(tmp_path / "a.csv", "lacks columns fpga_energy")
    write(tmp_path / "b.csv", lines[:4])
    one_line_error(tmp_path / "b.csv", "has 3 rows")


def test_duplicated_index(tmp_path, lines):
    rows = [list(r) for r in lines]
    rows[6][0] = rows[5][0]
    one_line_error(write(tmp_path / "c.csv", rows), f"lists index {rows[5][0]} twice \\(lines 6 and 7\\)")


def test_bad_number(tmp_path, lines):
    rows = [list(r) for r in lines]
    rows[10][lines[0].index("raspi4_latency")] = "12,5"
    one_line_error(write(tmp_path / "d.csv", rows), "line 11, column 'raspi4_latency': '12,5' is not a number")
    rows[10][lines[0].index("raspi4_latency")] = "-3"  # negative, but not the -1 of "not measured"
    one_line_error(write(tmp_path / "e.csv", rows), "line 11, column 'raspi4_latency'.*negative")


def test_wrong_arch(tmp_path, lines):
    rows = [list(r) for r in lines]
    rows[3][1], rows[4][1] = rows[4][1], rows[3][1]
    one_line_error(write(tmp_path / "f.csv", rows), "line 4, column 'arch'.*not NATS-Bench's architecture")


# --- Pareto fronts ---------------------------------------------------------------------------

def test_pareto_front():
    cost = [1, 2, 2, 3, np.nan, 4, 1, 5]
    acc = [50, 60, 55, 60, 99, 70, 50, np.nan]
    # 2 and 3 are dominated by 1; 4 and 7 are not measured; 6 ties 0 exactly (the lower index stays)
    assert pareto_front(cost, acc).tolist() == [0, 1, 5]
    assert pareto_front([3, 2, 1], [3, 2, 1]).tolist() == [2, 1, 0]  # ordered by cost
    assert pareto_front([], []).tolist() == []
    with pytest.raises(ValueError):
        pareto_front([1, 2], [1])


def test_best_under_and_gap():
    cost = [1, 2, 2, 3, np.nan, 4]
    acc = [50, 60, 55, 60, 99, 70]
    assert best_under(cost, acc, 2.5) == (1, 60.0)
    assert best_under(cost, acc, 3) == (1, 60.0)  # 3 is as accurate but costlier
    assert best_under(cost, acc, 100) == (5, 70.0)  # the NaN-cost 99 is never a candidate
    index, value = best_under(cost, acc, 0.5)
    assert index is None and math.isnan(value)
    assert best_under([2, 1, 1], [80, 80, 80], 5) == (1, 80.0)  # ties: cheaper, then lower index
    assert front_gap(cost, acc, 2) == 5.0 and front_gap(cost, acc, 5) == 0.0
    assert math.isnan(front_gap(cost, acc, 4))


# --- the study through the command line ------------------------------------------------------

@pytest.mark.slow
@pytest.mark.integration
def test_hw_study_cli(tmp_path, benchmark_csv, table_benchmark, hw_dir):
    acc = table_benchmark.all_test_accuracies("cifar100")
    scores = {i: float(a) for i, a in enumerate(acc + np.random.default_rng(0).normal(0, 3, acc.size))}
    write_roster(tmp_path / "r.parquet", Roster(make_rows(((i, s, 0.0, "computed") for i, s in scores.items()), NATS_TSS),
                                                {"metric": "synflow", "dataset": "cifar100"}))
    report = tmp_path / "hw"
    # edgetpu: the device with unmeasured cells, which must never be found
    proc = run_cli(tmp_path, "task=hw_study", "datasets=[cifar100]", "devices=[edgetpu]", "repeats=2",
                   "budgets=[0.1,0.5]", "searches.random.n=100", "searches.aging_warmup.m=150",
                   f"rosters={{cifar100: {tmp_path / 'r.parquet'}}}", "hw_metric=synflow", f"report_dir={report}",
                   "benchmark=table", f"benchmark.path={benchmark_csv}", f"hw_data={hw_dir}")
    assert "hw_study" in proc.stdout and "cifar100 edgetpu" in proc.stdout
    for name in ("hw_study.md", "hw_study.csv", "pareto_cifar100.png"):
        assert (report / name).is_file(), name
    assert (report / "pareto_cifar100.png").read_bytes()[:4] == b"\x89PNG"
    runs = pd.read_csv(report / "hw_study.csv")
    assert len(runs) == 2 * 2 * 2  # budgets x searches x repeats
    assert set(runs["search"]) == {"random", "aging_warmup"}
    lat = read_hw_costs(hw_dir, "cifar100").array("edgetpu_latency")
    found = runs["index"].to_numpy()
    assert (lat[found] <= runs["budget_ms"].to_numpy()).all()  # NaN (not measured) fails this too
    assert (runs["test_acc"] <= runs["front_best_acc"] + 1e-9).all()
    assert (runs["metric_best_acc"] <= runs["front_best_acc"] + 1e-9).all()
    assert (runs["test_acc"].to_numpy() == acc[found]).all()
    assert np.allclose(runs["budget_ms"].unique(), np.quantile(lat[~np.isnan(lat)], [0.1, 0.5]))
    md = (report / "hw_study.md").read_text()
    assert "## CIFAR-100" in md and "| edgetpu | 0.1 |" in md
    result = json.loads(next((tmp_path / "outputs").rglob("result.json")).read_text())
    assert result["status"] == "ok" and len(result["summary"]) == 2
    assert len(json.dumps(result)) < 50_000  # no per-cell arrays


@pytest.mark.integration
def test_hw_study_bad_device(tmp_path):
    proc = run_cli(tmp_path, "task=hw_study", "devices=[tpu]", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "devices must be a non-empty list of edgegpu" in proc.stderr
