"""Rank correlation of scores with accuracy: Spearman ρ, Kendall τ, overall and in the top fraction.

Plain numpy/scipy: scores and accuracies in, statistics out.

Non-finite scores (hook_logdet gives -inf for a singular kernel, synflow may
overflow to NaN) are treated one of two ways, and the treatment is recorded
with every result:

* ``lowest`` (default): every non-finite score is ranked below every finite
  one (it is replaced by -inf, so they tie among themselves and share the
  average of the lowest ranks).  A search would never pick such a cell, and
  the architectures stay in the population the correlation describes.
* ``drop``: non-finite scores are left out of the correlation.

Top-fraction subset (the paper's Table II): the ``floor(top_fraction * n)``
architectures the *metric* ranks highest (ties broken by position, i.e.
ascending index in a roster), not the most accurate ones; the paper reports
|rho| there, we keep the sign and let the table show the absolute value.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats

from zcnas.errors import ConfigError

NON_FINITE = ("lowest", "drop")


def check_non_finite(treatment: str) -> str:
    if treatment not in NON_FINITE:
        raise ConfigError(f"non_finite must be one of {', '.join(NON_FINITE)}, got {treatment!r}")
    return treatment


def check_top_fraction(fraction) -> float:
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 < float(fraction) <= 1.0:
        raise ConfigError(f"top_fraction must be a number in (0, 1], got {fraction!r}")
    return float(fraction)


def top_count(n: int, fraction: float) -> int:
    """floor(fraction * n), at least 1; the epsilon keeps 0.1 * 40 from flooring to 3."""
    return max(1, int(math.floor(fraction * n + 1e-9))) if n else 0


def top_positions(scores: np.ndarray, fraction: float) -> np.ndarray:
    """Positions of the top ``fraction`` by score, highest first; ties keep their order, -inf goes last."""
    return np.argsort(-np.asarray(scores, dtype=float), kind="stable")[:top_count(len(scores), fraction)]


def subset_label(fraction: float) -> str:
    """``top10`` for 0.1."""
    return f"top{100 * fraction:g}"


def rho_tau(scores: np.ndarray, accuracy: np.ndarray) -> tuple[float, float]:
    """Spearman rho and Kendall tau-b; NaN when undefined (fewer than 2 points or a constant)."""
    if scores.size < 2 or np.all(scores == scores[0]) or np.all(accuracy == accuracy[0]):
        return math.nan, math.nan
    # Rank first: -inf then ties like any other value, and both statistics depend only on ranks.
    ranks = stats.rankdata(scores)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho = stats.spearmanr(ranks, accuracy).statistic
        tau = stats.kendalltau(ranks, accuracy).statistic
    return float(rho), float(tau)


def spearman_many(candidates, accuracy: np.ndarray) -> np.ndarray:
    """Spearman rho of each score array in ``candidates`` with ``accuracy`` (NaN for a constant).

    Rho only, fast: the Pearson correlation of the ranks, ties averaged, as scipy computes it;
    accuracy is ranked once.
    """
    acc_ranks = stats.rankdata(accuracy)
    rho = []
    for s in candidates:
        rho.append(np.corrcoef(stats.rankdata(s), acc_ranks)[0, 1] if not np.all(s == s[0]) else math.nan)
    return np.array(rho, dtype=float)


def treat_non_finite(scores, non_finite: str = "lowest") -> tuple[np.ndarray, np.ndarray]:
    """(kept mask, treated scores of the kept entries) under the given treatment."""
    s = np.asarray(scores, dtype=float)
    finite = np.isfinite(s)
    if check_non_finite(non_finite) == "drop":
        return finite, s[finite]
    return np.ones_like(finite), np.where(finite, s, -np.inf)


def correlations(scores: np.ndarray, accuracy: np.ndarray, top_fraction: float = 0.1,
                 non_finite: str = "lowest") -> dict:
    """Spearman rho and Kendall tau of scores with accuracy, overall and in the metric's top fraction.

    Keys: ``n`` (architectures given), ``n_nonfinite`` (non-finite scores among
    them), ``n_used`` (entering the statistics), ``spearman``, ``kendall``;
    ``top_n``, ``top_nonfinite``, ``top_spearman``, ``top_kendall`` for the
    subset; ``top_fraction`` and ``non_finite`` (the treatment).
    """
    s = np.asarray(scores, dtype=float)
    acc = np.asarray(accuracy, dtype=float)
    if s.ndim != 1 or s.shape != acc.shape:
        raise ValueError(f"scores and accuracy must be 1-D of equal length, got {s.shape} and {acc.shape}")
    if not np.isfinite(acc).all():
        raise ValueError("accuracy must be finite everywhere")
    fraction = check_top_fraction(top_fraction)
    finite = np.isfinite(s)
    kept, treated = treat_non_finite(s, non_finite)
    acc_kept, finite_kept = acc[kept], finite[kept]
    rho, tau = rho_tau(treated, acc_kept)

    top = top_positions(treated, fraction)
    top_rho, top_tau = rho_tau(treated[top], acc_kept[top])
    return {
        "n": int(s.size), "n_nonfinite": int((~finite).sum()), "n_used": int(treated.size),
        "spearman": rho, "kendall": tau,
        "top_n": int(top.size), "top_nonfinite": int((~finite_kept[top]).sum()),
        "top_spearman": top_rho, "top_kendall": top_tau,
        "top_fraction": fraction, "non_finite": non_finite,
    }
