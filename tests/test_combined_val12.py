"""combined (normalizations, alpha), val12, and scores read from rosters."""

import math

import numpy as np
import pytest

from zcnas.benchmark import NoBenchmark
from zcnas.errors import ConfigError, DataError
from zcnas.metrics import ScoringContext, make_metric
from zcnas.metrics.from_roster import RosterScores
from zcnas.roster import Roster, make_rows, read_roster, write_roster
from zcnas.spaces.nats_tss.cells import arch_from_index
from zcnas.spaces.nats_tss.space import NATS_TSS
from zcnas.studies.correlation.statistics import combined_from_rosters
from zcnas.studies.normalization import check_alpha, combined_normalizers, combined_scores, ensemble_scores


def ctx(benchmark=None, dataset="cifar10"):
    return ScoringContext(dataset=dataset, num_classes=10, input_size=32, seed=0, benchmark=benchmark)


def test_minmax_as_the_paper_with_minus_inf_hook_set_to_zero():
    hook = np.array([-np.inf, 10.0, 30.0])
    syn = np.array([1e20, 1e28, 1e36])
    norms = combined_normalizers(hook, syn, "minmax")
    assert list(norms["hook_logdet"](hook)) == [0.0, 10 / 30, 1.0]  # -inf -> 0 first, then min-max over [0, 30]
    s = norms["synflow"](syn)
    assert s[0] == 0.0 and s[2] == 1.0 and s[1] < 1e-7  # raw min-max: nearly a step function
    ls = combined_normalizers(hook, syn, "log_minmax")["synflow"](syn)
    assert ls == pytest.approx([0.0, 0.5, 1.0])
    rk = combined_normalizers(hook, syn, "rank")["synflow"](np.array([1e19, 1e28, 5e36]))
    assert list(rk) == [0.0, 2 / 3, 1.0]
    combined = combined_scores(hook, syn, 0.6, norms)
    assert combined == pytest.approx(0.6 * np.array([0, 1 / 3, 1]) + 0.4 * s)


def _paper_combined(hook, syn, alpha, normalization, ref_h, ref_s):
    """combined written out independently of zcnas.studies.normalization, to pin its scores."""
    def clean(values, metric):
        v = np.asarray(values, dtype=float).copy()
        if metric == "hook_logdet":
            v[~np.isfinite(v)] = 0.0
        if metric == "synflow" and normalization == "log_minmax":
            with np.errstate(divide="ignore", invalid="ignore"):
                v = np.log10(v)
        return v

    def norm(values, reference, metric):
        ref = clean(reference, metric)
        ref = np.sort(ref[np.isfinite(ref)])
        low, high = float(ref[0]), float(ref[-1])
        v = clean(np.atleast_1d(values), metric)
        if normalization == "rank":
            out = np.searchsorted(ref, v, side="right") / ref.size
        else:
            span = high - low
            out = (v - low) / span if span > 0 else np.zeros_like(v)
        return np.where(np.isfinite(v), out, 0.0)

    return alpha * norm(hook, ref_h, "hook_logdet") + (1.0 - alpha) * norm(syn, ref_s, "synflow")


@pytest.mark.parametrize("normalization", ["minmax", "log_minmax", "rank"])
def test_combined_scores_are_bit_identical_to_the_paper_formula(normalization):
    rng = np.random.default_rng(5)
    hook = rng.normal(1500, 200, 400)
    hook[rng.choice(400, 20, replace=False)] = -np.inf
    syn = 10.0 ** rng.uniform(15, 36, 400)
    syn[:5] = [0.0, np.nan, np.inf, -1.0, 1e-3]  # log of 0 or a negative, NaN: normalized 0
    ref_h, ref_s = hook[:300], syn[:300]  # statistics of another set than the scores
    norms = combined_normalizers(ref_h, ref_s, normalization)
    for alpha in (0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0, 0.1234567):
        got = combined_scores(hook, syn, alpha, norms)
        assert np.array_equal(got, _paper_combined(hook, syn, alpha, normalization, ref_h, ref_s))
        if normalization != "log_minmax":  # minmax and rank are the ensemble rules of that name
            ens = ensemble_scores({"hook_logdet": hook, "synflow": syn}, normalization, [alpha, 1 - alpha],
                                  {"hook_logdet": ref_h, "synflow": ref_s})
            assert np.array_equal(ens, got)


@pytest.mark.parametrize("alpha", [-0.1, 1.5, "x", True, math.nan])
def test_alpha_outside_unit_interval(alpha):
    with pytest.raises(ConfigError, match=r"alpha must be a number in \[0, 1\]"):
        check_alpha(alpha)


def write(tmp_path, name, metric, scores, dataset="cifar10"):
    path = tmp_path / f"{name}.parquet"
    write_roster(path, Roster(make_rows([(i, s, 0.5, "computed") for i, s in scores.items()], NATS_TSS),
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
    table = combined_from_rosters(read_roster(hook), read_roster(syn), alpha=0.5)  # task=correlate's combined
    assert [metric.score_cell(arch_from_index(int(i))) for i in table["index"]] == table["score"].tolist()
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
