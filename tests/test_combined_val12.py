"""combined (normalizations, alpha), val12, and scores read from rosters."""

import math

import numpy as np
import pytest

from zcnas.benchmark import NoBenchmark
from zcnas.errors import ConfigError, DataError
from zcnas.metrics import ScoringContext, make_metric
from zcnas.metrics.combined import Normalizer, check_alpha, combine
from zcnas.metrics.from_roster import RosterScores
from zcnas.roster import Roster, make_rows, write_roster
from zcnas.space import arch_from_index


def ctx(benchmark=None, dataset="cifar10"):
    return ScoringContext(dataset=dataset, num_classes=10, input_size=32, seed=0, benchmark=benchmark)


def test_minmax_as_the_paper_with_minus_inf_hook_set_to_zero():
    hook = np.array([-np.inf, 10.0, 30.0])
    norm = Normalizer(hook, "hook_logdet", "minmax")
    assert list(norm(hook)) == [0.0, 10 / 30, 1.0]  # -inf -> 0 first, then min-max over [0, 30]
    syn = np.array([1e20, 1e28, 1e36])
    s = Normalizer(syn, "synflow", "minmax")(syn)
    assert s[0] == 0.0 and s[2] == 1.0 and s[1] < 1e-7  # raw min-max: nearly a step function
    ls = Normalizer(syn, "synflow", "log_minmax")(syn)
    assert ls == pytest.approx([0.0, 0.5, 1.0])
    rk = Normalizer(syn, "synflow", "rank")(np.array([1e19, 1e28, 5e36]))
    assert list(rk) == [0.0, 2 / 3, 1.0]
    combined = combine(hook, syn, 0.6, norm, Normalizer(syn, "synflow", "minmax"))
    assert combined == pytest.approx(0.6 * np.array([0, 1 / 3, 1]) + 0.4 * s)


@pytest.mark.parametrize("alpha", [-0.1, 1.5, "x", True, math.nan])
def test_alpha_outside_unit_interval(alpha):
    with pytest.raises(ConfigError, match=r"alpha must be a number in \[0, 1\]"):
        check_alpha(alpha)


def write(tmp_path, name, metric, scores, dataset="cifar10"):
    path = tmp_path / f"{name}.parquet"
    write_roster(path, Roster(make_rows([(i, s, 0.5, "computed") for i, s in scores.items()]),
                              {"metric": metric, "dataset": dataset, "seed": 0}))
    return str(path)


def test_combined_from_rosters_matches_hand_computation(tmp_path):
    hook = write(tmp_path, "h", "hook_logdet", {0: 100.0, 1: -math.inf, 2: 300.0})
    syn = write(tmp_path, "s", "synflow", {0: 1e30, 1: 1e20, 2: 1e25})
    metric = make_metric("combined", ctx(), alpha=0.5, hook_roster=hook, synflow_roster=syn)
    expected = {0: 0.5 * (100 / 300) + 0.5 * 1.0, 1: 0.0, 2: 0.5 * 1.0 + 0.5 * (1e25 - 1e20) / (1e30 - 1e20)}
    for i, value in expected.items():
        assert metric.score_cell(arch_from_index(i)) == pytest.approx(value)
        assert metric.recorded_cost(arch_from_index(i)) == 1.0  # both members' recorded seconds
    with pytest.raises(ConfigError, match="given together"):
        make_metric("combined", ctx(), hook_roster=hook)
    with pytest.raises(ConfigError, match="bad parameters for metric 'combined'"):
        make_metric("combined", ctx(), beta=1)


def test_roster_scores_check_dataset_and_missing_cells(tmp_path):
    path = write(tmp_path, "s100", "synflow", {0: 1.0}, dataset="cifar100")
    from zcnas.metrics.synflow import Synflow
    with pytest.raises(ConfigError, match="dataset='cifar100'"):
        RosterScores(Synflow, ctx(), path, {"metric": "synflow", "dataset": "cifar10"})
    ok = RosterScores(Synflow, ctx(), write(tmp_path, "s10", "synflow", {0: 1.0}), {"metric": "synflow", "dataset": "cifar10"})
    assert ok.describe()["roster_seed"] == 0
    assert ok.score_cell(arch_from_index(0)) == 1.0 and ok.recorded_cost(arch_from_index(0)) == 0.5
    with pytest.raises(DataError, match="no score for architecture 5"):
        ok.score_cell(arch_from_index(5))


def test_val12_reads_the_benchmark(table_benchmark):
    metric = make_metric("val12", ctx(table_benchmark, "cifar100"))
    cell = arch_from_index(1)
    acc, secs = table_benchmark.val12(1, "cifar100")
    assert metric.score_cell(cell) == acc and metric.recorded_cost(cell) == secs
    with pytest.raises(ConfigError, match="val12 reads 12-epoch"):
        make_metric("val12", ctx(NoBenchmark()))
