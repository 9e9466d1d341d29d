"""ensemble: the combination rules on hand-made arrays, validation, and the metric over rosters."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zcnas.errors import ConfigError
from zcnas.metrics import ScoringContext, make_metric, metric_class
from zcnas.metrics.ensemble import ensemble_scores
from zcnas.roster import Roster, make_rows, write_roster
from zcnas.spaces.nats_tss.cells import arch_from_index
from zcnas.spaces.nats_tss.space import NATS_TSS
from zcnas.studies.normalization import combined_normalizers, combined_scores

HOOK = np.array([-np.inf, 10.0, 30.0, 20.0])
SYN = np.array([1e20, 1e28, 1e36, 1e24])


def test_minmax_is_the_papers_combined():
    got = ensemble_scores({"hook_logdet": HOOK, "synflow": SYN}, "minmax", [0.6, 0.4])
    expected = combined_scores(HOOK, SYN, 0.6, combined_normalizers(HOOK, SYN, "minmax"))
    assert np.array_equal(got, expected)  # the same computation: combined is a preset of the rules
    # -inf hook_logdet -> 0 first (the paper's convention), so it is the minimum of [0, 30]
    assert got[0] == pytest.approx(0.0) and got[2] == pytest.approx(1.0)


def test_weights_are_normalized_and_default_equal():
    a, b = np.array([0.0, 1.0, 2.0]), np.array([4.0, 2.0, 0.0])
    assert ensemble_scores({"a": a, "b": b}, "minmax", [3, 1]) == pytest.approx([0.25, 0.5, 0.75])
    assert ensemble_scores({"a": a, "b": b}, "minmax", None) == pytest.approx([0.5, 0.5, 0.5])
    assert ensemble_scores({"a": a, "b": b}, "minmax", [0, 2]) == pytest.approx([1.0, 0.5, 0.0])


def test_log_rule_handles_negative_scores():
    # t(s) = sign(s) log10(1 + |s|): -99 -> -2, 0 -> 0, 9 -> 1, 999 -> 3; then min-max over [-2, 3]
    s = np.array([-99.0, 0.0, 9.0, 999.0])
    assert ensemble_scores({"plain": s}, "log") == pytest.approx([0.0, 0.4, 0.6, 1.0])
    # synflow's 1e20..1e36 becomes log10 (the log_minmax normalization of combined); hook_logdet's
    # -inf is 0 first, then log10(1 + s) like every member
    got = ensemble_scores({"hook_logdet": HOOK, "synflow": SYN}, "log", [0.5, 0.5])
    th = np.log10(1 + np.array([0.0, 10.0, 30.0, 20.0]))
    log_syn = combined_normalizers(HOOK, SYN, "log_minmax")["synflow"](SYN)
    expected = 0.5 * (th - th.min()) / (th.max() - th.min()) + 0.5 * log_syn
    assert got == pytest.approx(expected, rel=1e-9)


def test_rank_rules_by_hand():
    a = np.array([3.0, 1.0, 2.0, 2.0])
    b = np.array([10.0, 40.0, 30.0, 20.0])
    # rank: fraction of reference scores <= s (ties count fully)
    fa, fb = np.array([1.0, 0.25, 0.75, 0.75]), np.array([0.25, 1.0, 0.75, 0.5])
    assert ensemble_scores({"a": a, "b": b}, "rank", [0.6, 0.4]) == pytest.approx(0.6 * fa + 0.4 * fb)
    # mean_rank / geometric_rank: R = 1 + #{reference <= s}, scaled by n + 1 = 5
    ra, rb = np.array([5, 2, 4, 4]) / 5, np.array([2, 5, 4, 3]) / 5
    assert ensemble_scores({"a": a, "b": b}, "mean_rank") == pytest.approx((ra + rb) / 2)
    assert ensemble_scores({"a": a, "b": b}, "geometric_rank") == pytest.approx(np.sqrt(ra * rb))
    assert ensemble_scores({"a": a, "b": b}, "geometric_rank", [3, 1]) == pytest.approx(ra**0.75 * rb**0.25)
    # a member that ranks an architecture last pulls the geometric mean down more than the arithmetic
    g = ensemble_scores({"a": np.array([1.0, 2.0]), "b": np.array([2.0, 1.5])}, "geometric_rank")
    m = ensemble_scores({"a": np.array([1.0, 2.0]), "b": np.array([2.0, 1.5])}, "mean_rank")
    assert m[0] == m[1] and g[0] == g[1]  # symmetric case: equal
    g = ensemble_scores({"a": np.array([1.0, 2.0, 3.0]), "b": np.array([3.0, 2.0, 1.0])}, "geometric_rank")
    assert g[1] > g[0] == pytest.approx(g[2])  # middle-of-the-road beats best-and-worst


def test_reference_set_and_non_finite_scores():
    ref = {"a": np.array([0.0, 10.0, np.nan, 5.0])}  # statistics from the finite reference scores
    s = {"a": np.array([5.0, 20.0, np.nan, -np.inf, np.inf])}
    assert ensemble_scores(s, "minmax", reference=ref) == pytest.approx([0.5, 2.0, 0.0, 0.0, 0.0])
    assert ensemble_scores(s, "rank", reference=ref) == pytest.approx([2 / 3, 1.0, 0.0, 0.0, 0.0])
    assert ensemble_scores(s, "mean_rank", reference=ref) == pytest.approx([3 / 4, 1.0, 1 / 4, 1 / 4, 1 / 4])
    with pytest.raises(ConfigError, match="no finite a scores"):
        ensemble_scores(s, "minmax", reference={"a": np.array([np.nan])})
    with pytest.raises(ConfigError, match="no reference scores for ensemble member"):
        ensemble_scores(s, "minmax", reference={"b": np.array([1.0])})


@pytest.mark.parametrize(("rule", "weights", "message"), [
    ("median", None, "rule must be one of"),
    ("minmax", [1.0], "one entry per member: 2 members, 1 weights"),
    ("minmax", [1.0, -0.5], "must be >= 0"),
    ("minmax", [0.0, 0.0], "sum to a positive number"),
    ("minmax", [1.0, math.nan], "finite numbers"),
    ("minmax", "0.5", "list of 2 numbers"),
    ("mean_rank", [0.6, 0.4], "mean_rank weighs every member the same"),
])
def test_bad_rules_and_weights(rule, weights, message):
    with pytest.raises(ConfigError, match=message):
        ensemble_scores({"a": np.array([1.0, 2.0]), "b": np.array([2.0, 1.0])}, rule, weights)


def test_members_must_score_the_same_architectures():
    with pytest.raises(ConfigError, match="same architectures"):
        ensemble_scores({"a": np.array([1.0, 2.0]), "b": np.array([1.0])}, "rank")
    with pytest.raises(ConfigError, match="at least one member"):
        ensemble_scores({}, "rank")


# ---------------------------------------------------------------- the metric


def ctx():
    return ScoringContext(dataset="cifar10", num_classes=10, input_size=32, seed=0)


def write(tmp_path, metric, scores):
    path = tmp_path / f"{metric}.parquet"
    write_roster(path, Roster(make_rows([(i, s, 0.5, "computed") for i, s in scores.items()], NATS_TSS),
                              {"metric": metric, "dataset": "cifar10", "seed": 0}))
    return str(path)


def test_metric_from_rosters_equals_combined(tmp_path):
    hook = write(tmp_path, "hook_logdet", {0: 100.0, 1: -math.inf, 2: 300.0})
    syn = write(tmp_path, "synflow", {0: 1e30, 1: 1e20, 2: 1e25})
    rosters = {"hook_logdet": hook, "synflow": syn}
    ens = make_metric("ensemble", ctx(), members=["hook_logdet", "synflow"], weights=[0.6, 0.4],
                      member_rosters=rosters)
    comb = make_metric("combined", ctx(), alpha=0.6, hook_roster=hook, synflow_roster=syn)
    assert not ens.needs_data  # every member is read from a roster
    for i in range(3):
        cell = arch_from_index(i)
        assert ens.score_cell(cell) == comb.score_cell(cell)  # bit for bit: one implementation
        assert ens.recorded_cost(cell) == 1.0  # the members' recorded seconds
    desc = ens.describe()
    assert desc["rule"] == "minmax" and desc["reference"]["synflow"]["n"] == 3
    assert desc["member_rosters"]["synflow"]["roster"] == str(rosters["synflow"])  # search tables name it
    geo = make_metric("ensemble", ctx(), members=["hook_logdet", "synflow"], weights=None, rule="geometric_rank",
                      member_rosters=rosters)
    # index 2: hook rank 4/4 (of 0, 100, 300), synflow 3/4 -> sqrt(3/4)
    assert geo.score_cell(arch_from_index(2)) == pytest.approx(math.sqrt(1.0 * 3 / 4))


def test_metric_with_a_live_reference_sample():
    metric = make_metric("ensemble", ctx(), members=["params", "l2_norm"], weights=[1, 1], rule="rank",
                         reference_sample=2, reference_seed=4)
    assert not metric.needs_data and metric.recorded_cost(arch_from_index(0)) is None
    ref = metric.reference
    assert set(ref) == {"params", "l2_norm"} and all(len(v) == 2 for v in ref.values())
    value = metric.score_cell(arch_from_index(0))
    members = metric.member_scores(arch_from_index(0))
    expected = ensemble_scores({k: np.array([v]) for k, v in members.items()}, "rank", [1, 1], ref)[0]
    assert value == expected and 0.0 <= value <= 1.0
    assert metric_class("ensemble") is type(metric)


@pytest.mark.parametrize(("params", "message"), [
    ({"members": ["hook_logdet", "nope"]}, "unknown ensemble member 'nope'"),
    ({"members": ["ensemble"]}, "unknown ensemble member 'ensemble'"),
    ({"members": []}, "at least one metric"),
    ({"members": "synflow"}, "must be a list of metric names"),
    ({"members": ["params", "params"], "weights": None}, "names a metric twice"),
    ({"members": ["params", "flops"], "weights": [1.0]}, "one entry per member"),
    ({"members": ["params", "flops"], "weights": [1.0, -1.0]}, "must be >= 0"),
    ({"members": ["params", "flops"], "weights": [0, 0]}, "sum to a positive number"),
    ({"members": ["params", "flops"], "rule": "vote"}, "rule must be one of"),
    ({"members": ["params"], "weights": None, "member_rosters": {"synflow": "x"}}, "not in metric.members"),
    ({"members": ["params"], "weights": None, "member_params": {"params": 3}}, "must be a mapping"),
    ({"members": ["params"], "weights": None, "reference_sample": 1}, "reference_sample must be an integer >= 2"),
    ({"members": ["params"], "weights": None, "alpha": 0.5}, "bad parameters for metric 'ensemble'"),
])
def test_config_errors_are_one_line(params, message):
    with pytest.raises(ConfigError, match=message) as info:
        make_metric("ensemble", ctx(), **params)
    assert "\n" not in str(info.value)


def test_member_params_reach_the_member(tmp_path):
    syn = write(tmp_path, "synflow", {0: 1.0, 1: 2.0})
    metric = make_metric("ensemble", ctx(), members=["synflow", "zen"], weights=None, rule="rank",
                         member_rosters={"synflow": syn}, member_params={"zen": {"batch_size": 2}},
                         reference_sample=2)
    assert metric.members["zen"].batch_size == 2
    assert metric.describe()["member_params"] == {"zen": {"batch_size": 2}}
    with pytest.raises(ConfigError, match="member_params.synflow has no effect: synflow is read from its roster"):
        make_metric("ensemble", ctx(), members=["synflow"], weights=None, member_rosters={"synflow": syn},
                    member_params={"synflow": {}})
    with pytest.raises(ConfigError, match="bad parameters for metric 'zen'"):
        make_metric("ensemble", ctx(), members=["zen"], weights=None, member_params={"zen": {"beta": 1}})
