"""Rank correlation of metric scores with trained test accuracy (the paper's Tables I and II).

Everything here is plain numpy/scipy: scores and accuracies in, statistics out.

Non-finite scores (hook_logdet gives -inf for a singular kernel, synflow may
overflow to NaN) are treated one of two ways, and the treatment is recorded
with every result:

* ``lowest`` (default): every non-finite score is ranked below every finite
  one (it is replaced by -inf, so they tie among themselves and share the
  average of the lowest ranks).  A search would never pick such a cell, and
  the architectures stay in the population the correlation describes.
* ``drop``: non-finite scores are left out of the correlation.

Top-fraction subset (Table II): the ``floor(top_fraction * n)`` architectures
the *metric* ranks highest (ties broken by position, i.e. ascending index in a
roster), not the most accurate ones; the paper reports |rho| there, we keep
the sign and let the table show the absolute value.

combined from rosters: ``alpha * norm(hook_logdet) + (1 - alpha) * norm(synflow)``
exactly as ``metric=combined`` computes it with ``hook_roster``/``synflow_roster``
(see ``zcnas.metrics.combined``), over the architectures both rosters contain,
with normalization statistics from every row of each roster.  The paper takes
them over the whole space; a roster that covers a sample gives statistics of
that sample.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats

from zcnas.errors import ConfigError
from zcnas.roster import Roster

NON_FINITE = ("lowest", "drop")
#: the paper's alpha sweep for combined
PAPER_ALPHAS = (0.2, 0.4, 0.5, 0.6, 0.8)


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


def _rho_tau(scores: np.ndarray, accuracy: np.ndarray) -> tuple[float, float]:
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
    rho, tau = _rho_tau(treated, acc_kept)

    top = top_positions(treated, fraction)
    top_rho, top_tau = _rho_tau(treated[top], acc_kept[top])
    return {
        "n": int(s.size), "n_nonfinite": int((~finite).sum()), "n_used": int(treated.size),
        "spearman": rho, "kendall": tau,
        "top_n": int(top.size), "top_nonfinite": int((~finite_kept[top]).sum()),
        "top_spearman": top_rho, "top_kendall": top_tau,
        "top_fraction": fraction, "non_finite": non_finite,
    }


def benchmark_val12(benchmark, dataset: str) -> np.ndarray:
    """12-epoch validation accuracy of every cell, by index."""
    if hasattr(benchmark, "all_val12"):
        return benchmark.all_val12(dataset)[0]
    return np.array([benchmark.val12(i, dataset)[0] for i in range(15625)])  # backends without a bulk lookup


def val12_correlations(benchmark, dataset: str, top_fraction: float = 0.1, non_finite: str = "lowest") -> dict:
    """12-epoch validation accuracy vs 200-epoch test accuracy over the benchmark's whole table."""
    return correlations(benchmark_val12(benchmark, dataset), benchmark.all_test_accuracies(dataset),
                        top_fraction, non_finite)


def check_pair(hook: Roster, syn: Roster) -> str:
    """The dataset of a (hook_logdet, synflow) roster pair; ConfigError if they do not belong together."""
    for roster, metric in ((hook, "hook_logdet"), (syn, "synflow")):
        if roster.meta.get("metric") != metric:
            raise ConfigError(f"combined needs a {metric} roster, got one of metric {roster.meta.get('metric')!r}")
    if hook.meta.get("dataset") != syn.meta.get("dataset"):
        raise ConfigError(f"combined needs hook_logdet and synflow rosters of one dataset, got "
                          f"{hook.meta.get('dataset')!r} and {syn.meta.get('dataset')!r}")
    return str(hook.meta["dataset"])


def combined_from_rosters(hook: Roster, syn: Roster, alpha: float = 0.6,
                          normalization: str = "minmax") -> dict:
    """combined scores over the architectures both rosters hold.

    Returns ``index`` (sorted), ``score`` (always finite), ``member_nonfinite``
    (True where the hook_logdet or synflow score is non-finite; the combination
    maps those as metric=combined does: -inf hook_logdet -> 0 before
    normalizing, other non-finite values -> normalized 0) and the
    normalization ``stats``.
    """
    # Imported here: zcnas.metrics pulls in torch, which the correlation statistics do not need.
    from zcnas.metrics.combined import Normalizer, check_alpha, combine

    check_pair(hook, syn)
    alpha = check_alpha(alpha)
    hook_norm = Normalizer(hook.rows["score"].to_numpy(dtype=float), "hook_logdet", normalization)
    syn_norm = Normalizer(syn.rows["score"].to_numpy(dtype=float), "synflow", normalization)
    index = np.array(sorted(hook.indices & syn.indices), dtype=int)
    h = hook.score_array()[index]
    s = syn.score_array()[index]
    return {
        "index": index,
        "score": combine(h, s, alpha, hook_norm, syn_norm),
        "member_nonfinite": ~(np.isfinite(h) & np.isfinite(s)),
        "stats": {"hook_logdet": hook_norm.stats(), "synflow": syn_norm.stats()},
    }
