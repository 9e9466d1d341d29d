"""ensemble: any list of metrics combined by a fixed rule.

Each member's raw scores are first mapped to a common scale using the
statistics of a *reference set* of that member's scores, then combined with
the weights ŵ_m = w_m / Σ w (config values; equal when ``weights`` is null;
nothing is fitted on accuracy).  The rules (``minmax``, ``log``, ``rank``,
``mean_rank``, ``geometric_rank``), the scales and the treatment of
non-finite member scores are ``zcnas.studies.normalization``'s, the one
implementation that ``combined`` (this metric's ``minmax`` rule with members
[hook_logdet, synflow] and weights [α, 1 − α]) and the studies use too.

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
from zcnas.metrics.base import MEMBERS, Metric, declare, engine
from zcnas.metrics.from_roster import RosterScores
from zcnas.spaces.nats_tss.cells import Cell
from zcnas.spaces.nats_tss.space import NatsTss
from zcnas.studies.normalization import (RULE_SCALES, Normalizer, check_rule, combine, ensemble_scores,
                                         normalized_weights)

__all__ = ["Ensemble", "ensemble_scores"]


@declare(needs=MEMBERS, cells_only="it normalizes its members against a reference set of NATS-Bench cells; score "
                                  "its members one by one instead (see zcnas.metrics.ensemble.ensemble_scores)")
class Ensemble(Metric):
    def __init__(self, context, members: list, weights: list | None, rule: str, member_rosters: dict | None,
                 member_params: dict | None, reference_sample: int, reference_seed: int):
        super().__init__(context)
        from zcnas.metrics import make_metric, metric_class, names

        members = self._check_members(members, names())
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
                self.members[name] = RosterScores(metric_class(name), context, str(member_rosters[name]),
                                                  {"metric": name, "dataset": context.dataset})
            else:
                self.members[name] = make_metric(name, context, **self.member_params.get(name, {}))
        self.needs_data = any(m.needs_data for m in self.members.values())
        self.needs_benchmark = any(m.needs_benchmark for m in self.members.values())

        self.reference: dict[str, np.ndarray] = {}
        self.sources: dict[str, str] = {}
        for name in members:
            if name in member_rosters:
                self.reference[name] = np.array(list(self.members[name].scores.values()), dtype=float)
                self.sources[name] = f"roster {member_rosters[name]} ({len(self.reference[name])} cells)"
        live_members = [m for m in members if m not in member_rosters]
        if live_members:
            if isinstance(reference_sample, bool) or not isinstance(reference_sample, int) or reference_sample < 2:
                raise ConfigError(f"metric.reference_sample must be an integer >= 2, got {reference_sample!r}")
            rng = random.Random(reference_seed)
            cells = [context.space.sample(rng) for _ in range(reference_sample)]
            for name in live_members:
                self.reference[name] = np.array([self.members[name].score_cell(c) for c in cells], dtype=float)
                self.sources[name] = f"random sample of {reference_sample} cells (seed {reference_seed})"
        # fitted once (fails early when a member has no finite reference score)
        self.normalizers = {m: Normalizer(self.reference[m], m, RULE_SCALES[self.rule]) for m in members}

    @staticmethod
    def _check_members(members, known) -> list[str]:
        if isinstance(members, str) or not hasattr(members, "__iter__"):
            raise ConfigError(f"metric.members must be a list of metric names, got {members!r}")
        members = list(members)
        if not members:
            raise ConfigError("metric.members must name at least one metric")
        for name in members:
            if not isinstance(name, str) or name not in known or name == "ensemble":
                valid = ", ".join(sorted(n for n in known if n != "ensemble"))
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

    @engine(NatsTss)  # members normalized against NATS-Bench cells
    def combine_cell(self, cell: Cell) -> float:
        scores = {name: np.array([s], dtype=float) for name, s in self.member_scores(cell).items()}
        weights = normalized_weights(self.weights, len(scores), self.rule)
        value = float(combine(scores, self.normalizers, weights, self.rule == "geometric_rank")[0])
        return value if math.isfinite(value) else -math.inf

    def recorded_cost(self, cell: Cell) -> float | None:
        costs = [m.recorded_cost(cell) for m in self.members.values()]
        return None if any(c is None for c in costs) else float(sum(costs))

    def describe(self) -> dict:
        stats = {}
        for name in self.member_names:
            stats[name] = {**self.normalizers[name].stats(), "reference": self.sources[name]}
        out = {"name": self.name, "members": list(self.member_names), "weights": self.raw_weights,
               "rule": self.rule, "reference": stats}
        if self.member_params:
            out["member_params"] = self.member_params
        read = {n: m.describe() for n, m in self.members.items() if isinstance(m, RosterScores)}
        if read:
            out["member_rosters"] = read
        return out
