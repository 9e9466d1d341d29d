"""ensemble: any list of metrics combined by a fixed rule.

Each member's raw scores are first mapped to a common scale using the
statistics of a *reference set* of that member's scores, then combined with
the weights ŵ_m = w_m / Σ w (config values; equal when ``weights`` is null;
nothing is fitted on accuracy).  Rules:

``minmax``   Σ ŵ_m (s_m − min_m)/(max_m − min_m): the paper's convex
             combination of min–max scores (``combined`` is this rule with
             members [hook_logdet, synflow] and weights [α, 1 − α]).
``log``      the same after the signed log-magnitude t(s) = sign(s)·log10(1 + |s|):
             monotone on the whole real line, so negative scores (plain,
             grasp, jacov, zen) keep their order and 0 maps to 0; for large
             positive scores (synflow's 1e20..1e36) it is log10(s).
``rank``     Σ ŵ_m F_m(s_m), F_m the empirical quantile in the reference
             set: the fraction of reference scores ≤ s_m (in [0, 1]).
``mean_rank``  the plain mean of the members' ranks R_m/(n_m + 1), where
             R_m = 1 + #{reference scores ≤ s_m} is the rank s_m would have
             among the reference scores; every member weighs the same (use
             ``rank`` for a weighted combination), so weights must be null
             or equal.
``geometric_rank``  Π_m (R_m/(n_m + 1))^ŵ_m: the (weighted) geometric mean of
             the ranks, as in AZ-NAS (Lee & Ham, CVPR 2024, which sums the
             log-ranks); one member ranking an architecture last pulls it
             down more than in the arithmetic mean.

Non-finite member scores: hook_logdet's −inf (a singular kernel) is set to 0
before anything else, as the paper does for ``combined``; any other
non-finite member score (NaN, ±inf) counts as the lowest: 0 after min–max /
log / quantile normalization, rank 1 (R/(n+1) = 1/(n+1)) for the rank
rules.  The reference statistics use the finite reference scores only.

Reference set, per member: the member's roster (``member_rosters:
{name: path}``; every row, and the member's scores are then read from it as
well), else a seeded random sample of ``reference_sample`` cells
(``reference_seed``) scored live when the metric is created, so the same
settings give the same statistics.  ``ensemble_scores`` is the same
computation on arrays (numpy only), for rosters already scored.
"""

from __future__ import annotations

import math
import random

import numpy as np

from zcnas.errors import ConfigError
from zcnas.metrics.base import Metric
from zcnas.metrics.from_roster import RosterScores
from zcnas.space import Cell, sample_cell

RULES = ("minmax", "log", "rank", "mean_rank", "geometric_rank")


def check_rule(rule) -> str:
    if rule not in RULES:
        raise ConfigError(f"ensemble rule must be one of {', '.join(RULES)}, got {rule!r}")
    return rule


def normalized_weights(weights, n: int, rule: str = "minmax") -> np.ndarray:
    """ŵ = w / Σw after checking the weights (None: equal weights)."""
    if weights is None:
        return np.full(n, 1.0 / n)
    if isinstance(weights, (str, bytes)) or not hasattr(weights, "__len__"):
        raise ConfigError(f"ensemble weights must be a list of {n} numbers (one per member), got {weights!r}")
    if len(weights) != n:
        raise ConfigError(f"ensemble weights must have one entry per member: {n} members, {len(weights)} weights "
                          "(metric.weights=null weighs them equally)")
    for w in weights:
        if isinstance(w, bool) or not isinstance(w, (int, float, np.integer, np.floating)) or not math.isfinite(w):
            raise ConfigError(f"ensemble weights must be finite numbers, got {list(weights)!r}")
        if w < 0:
            raise ConfigError(f"ensemble weights must be >= 0, got {list(weights)!r}")
    w = np.asarray(weights, dtype=float)
    if not w.sum() > 0:
        raise ConfigError(f"ensemble weights must sum to a positive number, got {list(weights)!r}")
    if rule == "mean_rank" and not np.allclose(w, w[0]):
        raise ConfigError("ensemble rule mean_rank weighs every member the same: set metric.weights=null "
                          "(or use rule=rank for a weighted combination of ranks)")
    return w / w.sum()


def _prepare(values, member: str) -> np.ndarray:
    """hook_logdet's non-finite scores -> 0 (the paper's convention); others unchanged."""
    v = np.array(values, dtype=float, copy=True).reshape(-1)
    if member == "hook_logdet":
        v[~np.isfinite(v)] = 0.0
    return v


def signed_log(v: np.ndarray) -> np.ndarray:
    """sign(v)·log10(1 + |v|): monotone, defined for every real (non-finite stays non-finite)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.sign(v) * np.log10(1.0 + np.abs(v))


def _finite_sorted(reference, member: str, rule: str) -> np.ndarray:
    ref = _prepare(reference, member)
    if rule == "log":
        ref = signed_log(ref)
    ref = np.sort(ref[np.isfinite(ref)])
    if ref.size == 0:
        raise ConfigError(f"no finite {member} scores in the ensemble's reference set: cannot normalize")
    return ref


def member_transform(values, reference, member: str, rule: str) -> np.ndarray:
    """A member's scores on the rule's common scale, from the statistics of its reference scores."""
    ref = _finite_sorted(reference, member, rule)
    v = _prepare(values, member)
    if rule == "log":
        v = signed_log(v)
    finite = np.isfinite(v)
    safe = np.where(finite, v, 0.0)
    if rule in ("minmax", "log"):
        span = ref[-1] - ref[0]
        out = (safe - ref[0]) / span if span > 0 else np.zeros_like(safe)
        return np.where(finite, out, 0.0)
    below = np.searchsorted(ref, safe, side="right")
    if rule == "rank":
        return np.where(finite, below / ref.size, 0.0)
    return np.where(finite, below + 1.0, 1.0) / (ref.size + 1.0)  # mean_rank, geometric_rank


def ensemble_scores(member_scores: dict[str, np.ndarray], rule: str = "minmax", weights=None,
                    reference: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """The ensemble of several members' scores for the same architectures (numpy only).

    ``member_scores`` maps a member name to its scores (one per architecture,
    all arrays of the same length); ``weights`` follow the dict's order (None:
    equal).  Normalization statistics come from ``reference`` (same keys),
    or, when it is None, from ``member_scores`` themselves (e.g. whole
    rosters).  Higher is better.
    """
    check_rule(rule)
    if not member_scores:
        raise ConfigError("an ensemble needs at least one member")
    names = list(member_scores)
    w = normalized_weights(weights, len(names), rule)
    arrays = {m: np.asarray(member_scores[m], dtype=float).reshape(-1) for m in names}
    lengths = {len(a) for a in arrays.values()}
    if len(lengths) != 1:
        raise ConfigError(f"ensemble members must score the same architectures, got lengths "
                          f"{ {m: len(a) for m, a in arrays.items()} }")
    if reference is None:
        reference = arrays
    missing = [m for m in names if m not in reference]
    if missing:
        raise ConfigError(f"no reference scores for ensemble member(s) {', '.join(missing)}")
    parts = [member_transform(arrays[m], reference[m], m, rule) for m in names]
    if rule == "geometric_rank":
        return np.exp(sum(wi * np.log(p) for wi, p in zip(w, parts)))
    return sum(wi * p for wi, p in zip(w, parts))


class Ensemble(Metric):
    name = "ensemble"

    def __init__(self, context, members=("hook_logdet", "synflow"), weights=(0.6, 0.4), rule: str = "minmax",
                 member_rosters: dict | None = None, member_params: dict | None = None,
                 reference_sample: int = 100, reference_seed: int = 0):
        super().__init__(context)
        from zcnas.metrics import METRICS, make_metric

        members = self._check_members(members, METRICS)
        self.rule = check_rule(rule)
        self.weights = [float(x) for x in normalized_weights(weights, len(members), self.rule)]
        self.raw_weights = None if weights is None else [float(x) for x in weights]
        self.member_names = members
        member_rosters = self._check_member_dict(member_rosters, members, "member_rosters")
        member_params = self._check_member_dict(member_params, members, "member_params")
        for name, params in member_params.items():
            if not isinstance(params, dict):
                raise ConfigError(f"metric.member_params.{name} must be a mapping of {name}'s parameters, "
                                  f"got {params!r}")
        self.member_params = {m: dict(p) for m, p in member_params.items()}

        both = [m for m in members if m in member_rosters and m in self.member_params]
        if both:
            raise ConfigError(f"metric.member_params.{both[0]} has no effect: {both[0]} is read from its roster "
                              "(metric.member_rosters)")
        self.members: dict[str, Metric] = {}
        for name in members:
            if name in member_rosters:  # the member itself is never built (it may be costly)
                self.members[name] = RosterScores(METRICS[name], context, str(member_rosters[name]),
                                                  {"metric": name, "dataset": context.dataset})
            else:
                self.members[name] = make_metric(name, context, **self.member_params.get(name, {}))
        self.needs_data = any(m.needs_data for m in self.members.values())
        self.needs_benchmark = any(m.needs_benchmark for m in self.members.values())

        self.reference: dict[str, np.ndarray] = {}
        self.sources: dict[str, str] = {}
        for name in members:
            if name in member_rosters:
                self.reference[name] = np.array(list(self.members[name]._scores.values()), dtype=float)
                self.sources[name] = f"roster {member_rosters[name]} ({len(self.reference[name])} cells)"
        live_members = [m for m in members if m not in member_rosters]
        if live_members:
            if isinstance(reference_sample, bool) or not isinstance(reference_sample, int) or reference_sample < 2:
                raise ConfigError(f"metric.reference_sample must be an integer >= 2, got {reference_sample!r}")
            rng = random.Random(reference_seed)
            cells = [sample_cell(rng) for _ in range(reference_sample)]
            for name in live_members:
                self.reference[name] = np.array([self.members[name].score_cell(c) for c in cells], dtype=float)
                self.sources[name] = f"random sample of {reference_sample} cells (seed {reference_seed})"
        for name in members:
            _finite_sorted(self.reference[name], name, self.rule)  # fails early when nothing is finite

    @staticmethod
    def _check_members(members, registry) -> list[str]:
        if isinstance(members, str) or not hasattr(members, "__iter__"):
            raise ConfigError(f"metric.members must be a list of metric names, got {members!r}")
        members = list(members)
        if not members:
            raise ConfigError("metric.members must name at least one metric")
        for name in members:
            if not isinstance(name, str) or name not in registry or name == "ensemble":
                valid = ", ".join(sorted(n for n in registry if n != "ensemble"))
                raise ConfigError(f"unknown ensemble member {name!r} in metric.members; valid: {valid}")
        if len(set(members)) != len(members):
            raise ConfigError(f"metric.members names a metric twice: {members}")
        return members

    @staticmethod
    def _check_member_dict(value, members: list[str], key: str) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(f"metric.{key} must be a mapping from member name to a value, got {value!r}")
        extra = [k for k in value if k not in members]
        if extra:
            raise ConfigError(f"metric.{key} names {', '.join(map(repr, extra))}, which "
                              f"{'is' if len(extra) == 1 else 'are'} not in metric.members ({', '.join(members)})")
        return dict(value)

    def member_scores(self, cell: Cell) -> dict[str, float]:
        return {name: float(m.score_cell(cell)) for name, m in self.members.items()}

    def score_cell(self, cell: Cell) -> float:
        scores = {name: np.array([s]) for name, s in self.member_scores(cell).items()}
        value = float(ensemble_scores(scores, self.rule, self.weights, self.reference)[0])
        return value if math.isfinite(value) else -math.inf

    def recorded_cost(self, cell: Cell) -> float | None:
        costs = [m.recorded_cost(cell) for m in self.members.values()]
        return None if any(c is None for c in costs) else float(sum(costs))

    def describe(self) -> dict:
        stats = {}
        for name in self.member_names:
            ref = _finite_sorted(self.reference[name], name, self.rule)
            stats[name] = {"min": float(ref[0]), "max": float(ref[-1]), "n": int(ref.size),
                           "reference": self.sources[name]}
        out = {"name": self.name, "members": list(self.member_names), "weights": self.raw_weights,
               "rule": self.rule, "reference": stats}
        if self.member_params:
            out["member_params"] = self.member_params
        read = {n: m.describe() for n, m in self.members.items() if isinstance(m, RosterScores)}
        if read:
            out["member_rosters"] = read
        return out
