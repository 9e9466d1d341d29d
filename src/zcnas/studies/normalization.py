"""Scores of several metrics on one scale, and their fixed combinations (numpy only).

This is the one implementation behind ``metric=ensemble``, ``metric=combined``,
``task=correlate``'s combined column and ``task=ensembles``.

A member's raw scores are put on a common scale by a ``Normalizer`` fitted on a
*reference set* of that member's scores.  First the paper's convention: every
non-finite hook_logdet score (−inf for a singular kernel) is 0.  Then a
transform (``none``; ``log10``; ``signed_log`` t(s) = sign(s)·log10(1 + |s|),
monotone on the whole real line) and a scale, with statistics of the finite
transformed reference scores:

``minmax``    (s − min)/(max − min) (0 when max = min);
``quantile``  F(s), the fraction of reference scores ≤ s;
``rank``      R/(n + 1) with R = 1 + #{reference scores ≤ s}, the rank s would have.

Any other non-finite score counts as the lowest: 0, or 1/(n + 1) on the ``rank`` scale.

The ensemble rules (``ensemble_scores``), with weights ŵ = w / Σw (equal when none are given;
nothing is fitted on accuracy):

``minmax``          Σ ŵ_m minmax(s_m)
``log``             Σ ŵ_m minmax(signed_log(s_m))
``rank``            Σ ŵ_m quantile(s_m)
``mean_rank``       the plain mean of rank(s_m) (weights must be null or equal)
``geometric_rank``  Π rank(s_m)^ŵ_m, the (weighted) geometric mean of the ranks (AZ-NAS)

``combined`` (the paper's α·norm(hook_logdet) + (1 − α)·norm(synflow)) is a
preset: members [hook_logdet, synflow], weights [α, 1 − α] (which sum to
exactly 1 in floating point, so ŵ = w) and a weighted sum, with the member
scales of its normalization: ``minmax`` is the minmax rule, ``rank`` the rank
rule, and ``log_minmax`` the minmax rule with log10 synflow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from zcnas.errors import ConfigError

TRANSFORMS = ("none", "log10", "signed_log")
SCALES = ("minmax", "quantile", "rank")


@dataclass(frozen=True)
class Scale:
    """How one member's scores are put on the common scale: a transform, then a scale."""

    transform: str = "none"
    scale: str = "minmax"


#: the ensemble rules: the scale each puts every member on
RULE_SCALES = {"minmax": Scale("none", "minmax"), "log": Scale("signed_log", "minmax"),
               "rank": Scale("none", "quantile"), "mean_rank": Scale("none", "rank"),
               "geometric_rank": Scale("none", "rank")}
RULES = tuple(RULE_SCALES)

#: combined's members, and its normalizations as member scales of the ensemble rules
COMBINED_MEMBERS = ("hook_logdet", "synflow")
COMBINED_SCALES = {
    "minmax": {"hook_logdet": RULE_SCALES["minmax"], "synflow": RULE_SCALES["minmax"]},
    "log_minmax": {"hook_logdet": RULE_SCALES["minmax"], "synflow": Scale("log10", "minmax")},
    "rank": {"hook_logdet": RULE_SCALES["rank"], "synflow": RULE_SCALES["rank"]},
}
NORMALIZATIONS = tuple(COMBINED_SCALES)


def check_rule(rule) -> str:
    if rule not in RULES:
        raise ConfigError(f"ensemble rule must be one of {', '.join(RULES)}, got {rule!r}")
    return rule


def check_normalization(normalization, key: str = "metric.normalization") -> str:
    """One of combined's normalizations; the error names ``key``, the setting it came from."""
    if normalization not in NORMALIZATIONS:
        raise ConfigError(f"{key} must be one of {', '.join(NORMALIZATIONS)}, got {normalization!r}")
    return normalization


def check_alpha(alpha, key: str = "metric.alpha") -> float:
    """``alpha`` as a float in [0, 1]; the error names ``key``, the setting it came from."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= float(alpha) <= 1.0:
        raise ConfigError(f"{key} must be a number in [0, 1] (weight of hook_logdet), got {alpha!r}")
    return float(alpha)


def signed_log(v: np.ndarray) -> np.ndarray:
    """sign(v)·log10(1 + |v|): monotone, defined for every real (non-finite stays non-finite)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.sign(v) * np.log10(1.0 + np.abs(v))


def _log10(v: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):  # log of 0 or of a negative: non-finite, so lowest
        return np.log10(v)


_TRANSFORM = {"none": lambda v: v, "log10": _log10, "signed_log": signed_log}


class Normalizer:
    """Maps one member's raw scores to the common scale, with statistics of its reference scores."""

    def __init__(self, reference, member: str, scale: Scale):
        if scale.transform not in TRANSFORMS or scale.scale not in SCALES:
            raise ValueError(f"unknown scale {scale!r}")
        self.member, self.scale = member, scale
        ref = self.prepare(reference)
        ref = np.sort(ref[np.isfinite(ref)])
        if ref.size == 0:
            raise ConfigError(f"no finite {member} scores in the reference set: cannot normalize")
        self.sorted = ref

    def prepare(self, values) -> np.ndarray:
        """Raw scores -> the values scaled: hook_logdet's non-finite -> 0 (the paper's), then the transform."""
        v = np.array(values, dtype=float, copy=True).reshape(-1)
        if self.member == "hook_logdet":
            v[~np.isfinite(v)] = 0.0
        return _TRANSFORM[self.scale.transform](v)

    def __call__(self, values) -> np.ndarray:
        ref = self.sorted
        v = self.prepare(values)
        finite = np.isfinite(v)
        safe = np.where(finite, v, 0.0)
        if self.scale.scale == "minmax":
            span = ref[-1] - ref[0]
            out = (safe - ref[0]) / span if span > 0 else np.zeros_like(safe)
            return np.where(finite, out, 0.0)
        below = np.searchsorted(ref, safe, side="right")
        if self.scale.scale == "quantile":
            return np.where(finite, below / ref.size, 0.0)
        return np.where(finite, below + 1.0, 1.0) / (ref.size + 1.0)  # rank

    def stats(self) -> dict:
        return {"min": float(self.sorted[0]), "max": float(self.sorted[-1]), "n": int(self.sorted.size)}


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


def combine(member_scores: dict[str, np.ndarray], normalizers: dict[str, Normalizer], weights: np.ndarray,
            geometric: bool = False) -> np.ndarray:
    """Σ ŵ_m norm_m(s_m), or Π norm_m(s_m)^ŵ_m when ``geometric``; ``weights`` follow the dict's order."""
    parts = [normalizers[m](s) for m, s in member_scores.items()]
    if geometric:
        return np.exp(sum(wi * np.log(p) for wi, p in zip(weights, parts)))
    return sum(wi * p for wi, p in zip(weights, parts))


def rule_normalizers(reference: dict[str, np.ndarray], rule: str) -> dict[str, Normalizer]:
    """Each member's normalizer under an ensemble rule, fitted on its reference scores."""
    return {m: Normalizer(ref, m, RULE_SCALES[check_rule(rule)]) for m, ref in reference.items()}


def ensemble_scores(member_scores: dict[str, np.ndarray], rule: str = "minmax", weights=None,
                    reference: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """The ensemble of several members' scores for the same architectures.

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
    return combine(arrays, rule_normalizers({m: reference[m] for m in names}, rule), w, rule == "geometric_rank")


# ---------------------------------------------------------------- combined: a preset of the rules

def combined_normalizers(hook_reference, synflow_reference, normalization: str = "minmax") -> dict[str, Normalizer]:
    """combined's two normalizers, fitted on the members' reference scores."""
    scales = COMBINED_SCALES[check_normalization(normalization)]
    return {"hook_logdet": Normalizer(hook_reference, "hook_logdet", scales["hook_logdet"]),
            "synflow": Normalizer(synflow_reference, "synflow", scales["synflow"])}


def combined_scores(hook, synflow, alpha: float, normalizers: dict[str, Normalizer]) -> np.ndarray:
    """alpha·norm(hook_logdet) + (1 − alpha)·norm(synflow): the ensemble of the two, weights [alpha, 1 − alpha]."""
    weights = normalized_weights([alpha, 1.0 - alpha], 2)
    return combine({"hook_logdet": hook, "synflow": synflow}, normalizers, weights)
