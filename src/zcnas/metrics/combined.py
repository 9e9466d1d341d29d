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
"""

from __future__ import annotations

import math
import random

import numpy as np

from zcnas.errors import ConfigError
from zcnas.metrics.base import Metric
from zcnas.space import Cell, sample_cell

NORMALIZATIONS = ("minmax", "log_minmax", "rank")


def _clean(values: np.ndarray, metric: str, normalization: str) -> np.ndarray:
    """Map raw scores to the values normalized: -inf hook_logdet -> 0 (paper), log10 synflow if asked."""
    v = np.asarray(values, dtype=float).copy()
    if metric == "hook_logdet":
        v[~np.isfinite(v)] = 0.0
    if metric == "synflow" and normalization == "log_minmax":
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.log10(v)
    return v


class Normalizer:
    """Maps a metric's raw scores to [0, 1] using statistics of a reference set."""

    def __init__(self, reference: np.ndarray, metric: str, normalization: str):
        if normalization not in NORMALIZATIONS:
            raise ConfigError(f"unknown normalization {normalization!r}; valid: {', '.join(NORMALIZATIONS)}")
        self.metric, self.normalization = metric, normalization
        ref = _clean(reference, metric, normalization)
        ref = ref[np.isfinite(ref)]
        if ref.size == 0:
            raise ConfigError(f"no finite {metric} scores in the reference set: cannot normalize")
        self.sorted = np.sort(ref)
        self.low, self.high = float(self.sorted[0]), float(self.sorted[-1])

    def __call__(self, values) -> np.ndarray:
        v = _clean(np.atleast_1d(values), self.metric, self.normalization)
        if self.normalization == "rank":
            out = np.searchsorted(self.sorted, v, side="right") / self.sorted.size
        else:
            span = self.high - self.low
            out = (v - self.low) / span if span > 0 else np.zeros_like(v)
        return np.where(np.isfinite(v), out, 0.0)  # non-finite (NaN synflow, log of 0) count as lowest

    def stats(self) -> dict:
        return {"min": self.low, "max": self.high, "n": int(self.sorted.size)}


def combine(hook: np.ndarray, syn: np.ndarray, alpha: float, hook_norm: Normalizer, syn_norm: Normalizer) -> np.ndarray:
    return alpha * hook_norm(hook) + (1.0 - alpha) * syn_norm(syn)


def check_alpha(alpha, key: str = "metric.alpha") -> float:
    """``alpha`` as a float in [0, 1]; the error names ``key``, the setting it came from."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= float(alpha) <= 1.0:
        raise ConfigError(f"{key} must be a number in [0, 1] (weight of hook_logdet), got {alpha!r}")
    return float(alpha)


class Combined(Metric):
    name = "combined"
    needs_data = True

    def __init__(self, context, alpha: float = 0.6, normalization: str = "minmax",
                 hook_roster: str | None = None, synflow_roster: str | None = None,
                 reference_sample: int = 100, reference_seed: int = 0):
        super().__init__(context)
        from zcnas.metrics import make_metric
        from zcnas.metrics.from_roster import RosterScores

        self.alpha = check_alpha(alpha)
        if normalization not in NORMALIZATIONS:
            raise ConfigError(f"metric.normalization must be one of {', '.join(NORMALIZATIONS)}, got {normalization!r}")
        self.normalization = normalization
        self.hook = make_metric("hook_logdet", context)
        self.syn = make_metric("synflow", context)
        self.rosters = (hook_roster, synflow_roster)
        if (hook_roster is None) != (synflow_roster is None):
            raise ConfigError("metric.hook_roster and metric.synflow_roster must be given together (or neither)")
        if hook_roster is not None:
            ds = context.dataset
            self.hook = RosterScores(type(self.hook), context, hook_roster, {"metric": "hook_logdet", "dataset": ds})
            self.syn = RosterScores(type(self.syn), context, synflow_roster, {"metric": "synflow", "dataset": ds})
            ref_h = np.array(list(self.hook._scores.values()))
            ref_s = np.array(list(self.syn._scores.values()))
            self.reference = f"rosters ({len(ref_h)} / {len(ref_s)} cells)"
        else:
            if isinstance(reference_sample, bool) or not isinstance(reference_sample, int) or reference_sample < 2:
                raise ConfigError(f"metric.reference_sample must be an integer >= 2, got {reference_sample!r}")
            rng = random.Random(reference_seed)
            cells = [sample_cell(rng) for _ in range(reference_sample)]
            ref_h = np.array([self.hook.score_cell(c) for c in cells])
            ref_s = np.array([self.syn.score_cell(c) for c in cells])
            self.reference = f"random sample of {reference_sample} cells (seed {reference_seed})"
        self.hook_norm = Normalizer(ref_h, "hook_logdet", normalization)
        self.syn_norm = Normalizer(ref_s, "synflow", normalization)

    def score_cell(self, cell: Cell) -> float:
        h, s = self.hook.score_cell(cell), self.syn.score_cell(cell)
        value = float(combine(np.array([h]), np.array([s]), self.alpha, self.hook_norm, self.syn_norm)[0])
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
