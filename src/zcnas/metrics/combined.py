"""combined: the paper's convex combination of hook_logdet and synflow.

    combined = alpha * norm(hook_logdet) + (1 - alpha) * norm(synflow)      (paper, section III-A)

with alpha = 0.6 (the paper's choice from {0.2, 0.4, 0.5, 0.6, 0.8}).  The
paper normalizes each metric by min-max over all 15,625 scored cells of the
dataset, after replacing -inf hook_logdet by 0 ("minmax", the default here).
Raw synflow spans ~1e20..1e36, so min-max makes it nearly a step function;
two alternatives are offered: "log_minmax" (min-max of log10 synflow) and
"rank" (each score's empirical quantile in the reference set).

Normalization statistics come from a *reference set* of scores:
* ``hook_roster`` and ``synflow_roster`` given: every row of those rosters
  (the paper's exact setting when they cover the whole space), and the
  members' scores are read from them too;
* otherwise a seeded random sample of ``reference_sample`` cells
  (``reference_seed``) scored live when the metric is created, so the same
  settings always give the same statistics.

The normalization and the combination are ``zcnas.studies.normalization``'s
(``combined_normalizers``, ``combined_scores``): combined is a preset of the
ensemble rules there, the same code as ``metric=ensemble`` and the studies.
"""

from __future__ import annotations

import math
import random

import numpy as np

from zcnas.errors import ConfigError
from zcnas.metrics.base import DATA, Metric, declare, engine
from zcnas.spaces.nats_tss.cells import Cell
from zcnas.spaces.nats_tss.space import NatsTss
from zcnas.studies.normalization import check_alpha, check_normalization, combined_normalizers, combined_scores


@declare(needs=DATA, cells_only="it normalizes hook_logdet and synflow against a reference set of NATS-Bench "
                               "cells; score its members one by one instead "
                               "(see zcnas.metrics.ensemble.ensemble_scores)")
class Combined(Metric):
    def __init__(self, context, alpha: float, normalization: str, hook_roster: str | None, synflow_roster: str | None,
                 reference_sample: int, reference_seed: int):
        super().__init__(context)
        from zcnas.metrics import make_metric
        from zcnas.metrics.from_roster import RosterScores

        self.alpha = check_alpha(alpha)
        self.normalization = check_normalization(normalization)
        self.hook = make_metric("hook_logdet", context)
        self.syn = make_metric("synflow", context)
        self.rosters = (hook_roster, synflow_roster)
        if (hook_roster is None) != (synflow_roster is None):
            raise ConfigError("metric.hook_roster and metric.synflow_roster must be given together (or neither)")
        if hook_roster is not None:
            ds = context.dataset
            self.hook = RosterScores(type(self.hook), context, hook_roster, {"metric": "hook_logdet", "dataset": ds})
            self.syn = RosterScores(type(self.syn), context, synflow_roster, {"metric": "synflow", "dataset": ds})
            ref_h = np.array(list(self.hook.scores.values()))
            ref_s = np.array(list(self.syn.scores.values()))
            self.reference = f"rosters ({len(ref_h)} / {len(ref_s)} cells)"
        else:
            if isinstance(reference_sample, bool) or not isinstance(reference_sample, int) or reference_sample < 2:
                raise ConfigError(f"metric.reference_sample must be an integer >= 2, got {reference_sample!r}")
            rng = random.Random(reference_seed)
            cells = [context.space.sample(rng) for _ in range(reference_sample)]
            ref_h = np.array([self.hook.score_cell(c) for c in cells])
            ref_s = np.array([self.syn.score_cell(c) for c in cells])
            self.reference = f"random sample of {reference_sample} cells (seed {reference_seed})"
        self.norms = combined_normalizers(ref_h, ref_s, normalization)
        self.hook_norm, self.syn_norm = self.norms["hook_logdet"], self.norms["synflow"]

    @engine(NatsTss)  # the paper's normalization, against NATS-Bench cells
    def combine_cell(self, cell: Cell) -> float:
        h, s = self.hook.score_cell(cell), self.syn.score_cell(cell)
        value = float(combined_scores(np.array([h]), np.array([s]), self.alpha, self.norms)[0])
        return value if math.isfinite(value) else -math.inf

    def recorded_cost(self, cell: Cell) -> float | None:
        costs = [m.recorded_cost(cell) for m in (self.hook, self.syn)]
        return None if any(c is None for c in costs) else float(sum(costs))

    def describe(self) -> dict:
        out = {"name": self.name, "alpha": self.alpha, "normalization": self.normalization,
               "reference": self.reference, "hook_logdet": self.hook_norm.stats(), "synflow": self.syn_norm.stats()}
        if self.rosters[0] is not None:
            out["member_rosters"] = {m.name: m.describe() for m in (self.hook, self.syn)}
        return out
