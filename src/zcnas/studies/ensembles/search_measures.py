"""What a search that ranks by a score would find: search-relevant measures of one candidate score.

Global ρ weighs every pair of architectures alike; a search only ever sees the top of the ranking
(the paper's Table II: ρ within the top 10 % is about 0.26).  Given a candidate's scores over a set
of cells (an array aligned to ``indices``, the cells' indices in the search space: ``space``, default
NATS-Bench TSS, any space of ``zcnas.spaces``) and those cells' test accuracies, this module measures
the top directly (plain numpy and ``zcnas.search``; no torch):

* **top-k means** (``top_k_means``): the mean test accuracy of the k top-scored cells, k = 1, 10,
  100.  Ties: the cells tied at the k-th score share the places left equally, i.e. the expected
  mean under a uniformly random tie-break (a tie for the top score gives top-1 = the tied cells'
  mean accuracy).  Non-finite scores (NaN, ±inf) rank lowest and tie among themselves, as
  everywhere in zcnas (``zcnas.search.rank_value``).  k above the number of cells: NaN.
* **random search** (paper Algorithm 1; ``random_search_accuracies``): N cells drawn uniformly
  *with replacement* from the cells that have scores; the search finds the best-scored cell drawn
  (the first drawn among tied best, as ``SearchResult`` keeps it).  Over ``repeats`` seeds:
  repeat r draws with ``numpy.random.default_rng(r)`` (the same draws for every candidate of a set,
  so candidates are compared on common draws).  On a sample (e.g. the 1,000 cells of
  ``results/rosters/sample1000``) this is a search **within the sample**: it can only find cells of
  the sample (with N=500 from 1,000 cells, the best-scored of about 390 distinct cells), not a cell of
  the space.  Where the cells are the whole space the search is ``run_search("random", ...)`` with
  ``random.Random(r)``, exactly what ``task=search search=random seed=r`` runs from rosters.
* **aging evolution with warmup** (paper Algorithm 2 with the parameters of
  ``conf/search/aging_warmup.yaml``; ``search_accuracies``): ``run_search`` with ``evaluate`` a
  lookup of the scores and ``random.Random(r)`` for repeat r -- exactly ``task=search
  search=aging_warmup seed=r`` from rosters (``run_search(..., space=space)``, in any space with an
  index).  Only where the scores cover the **whole space**: mutation reaches any cell, so a sample
  cannot stand in for it, and a space without an index (NAS-Bench-101) has no roster that covers it.
  Restricting the search to a 1,000-cell sample (``run_search(..., feasible=in_sample)``) would
  degenerate: in NATS-Bench, on average 24 × 1,000/15,625 ≈ 1.5 of a cell's 24 neighbours lie in
  the sample (NAS-Bench-Macro: 16 × 1,000/6,561 ≈ 2.4 of 16), so the zero-cost move would rank
  one or two neighbours (or none, and redraw at random).  ``measures`` reports it as not available
  there (NaN and a note); ``search_accuracies`` refuses (``DataError``).

Means and standard deviations over repeats are population ones (ddof=0), as in the search tables
(``results/search/*/tables.md``).  Accuracies must be finite.
"""

from __future__ import annotations

import math
import random
from typing import Iterable

import numpy as np

from zcnas.errors import ConfigError, DataError
from zcnas.plugins import option
from zcnas.search import run_search

#: the k of the top-k means
TOP_K = (1, 10, 100)
#: the paper's AE with warmup as conf/search/aging_warmup.yaml states it (without its name)
AGING_WARMUP = {k: v for k, v in option("search", "aging_warmup").items() if k != "name"}
#: random search's N, as conf/search/random.yaml states it
RANDOM_N = option("search", "random")["n"]
#: the note for a set of cells that is not the whole space
NOT_WHOLE_SPACE = ("aging evolution needs scores of every cell of the space (mutation reaches any cell); "
                   "these scores cover {n:,} of {size:,} cells, so it is not available")
#: the note for a space without an index (it cannot be enumerated, so nothing covers it)
NO_INDEX = ("aging evolution needs scores of every cell of the space (mutation reaches any cell); space {name} "
            "has no index, so no set of scores covers it ({n:,} cells here) and it is not available")


def rank_values(scores) -> np.ndarray:
    """Scores as compared by the searches: non-finite (NaN, ±inf) -> -inf, the lowest."""
    s = np.asarray(scores, dtype=float).reshape(-1)
    return np.where(np.isfinite(s), s, -np.inf)


def _check(scores, accuracy) -> tuple[np.ndarray, np.ndarray]:
    v = rank_values(scores)
    acc = np.asarray(accuracy, dtype=float).reshape(-1)
    if v.shape != acc.shape:
        raise ValueError(f"scores and accuracies must be aligned (the same cells), got {v.size} and {acc.size}")
    if v.size == 0:
        raise ValueError("no cells: scores are empty")
    if not np.isfinite(acc).all():
        raise ValueError("accuracies must be finite everywhere")
    return v, acc


def top_k_means(scores, accuracy, ks: Iterable[int] = TOP_K) -> dict[int, float]:
    """{k: mean test accuracy of the k top-scored cells}; ties at the k-th score share the places left."""
    v, acc = _check(scores, accuracy)
    order = np.argsort(-v, kind="stable")
    sv, sa = v[order], acc[order]
    out = {}
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ConfigError(f"top-k sizes must be integers >= 1, got {k!r}")
        k = int(k)
        if k > sv.size:
            out[k] = math.nan
            continue
        threshold = sv[k - 1]
        above = int(np.count_nonzero(sv > threshold))  # the first `above` in sorted order
        tied = sa[sv == threshold]
        out[k] = float((sa[:above].sum() + (k - above) * tied.mean()) / k)
    return out


def random_draws(size: int, n: int = RANDOM_N, repeats: int = 30) -> np.ndarray:
    """(repeats, n) positions drawn uniformly with replacement from ``size`` cells; row r from default_rng(r)."""
    _check_count(n, "random search's n")
    _check_count(repeats, "repeats")
    return np.stack([np.random.default_rng(r).integers(0, size, n) for r in range(repeats)])


def random_search_positions(scores, draws: np.ndarray) -> np.ndarray:
    """Per row of ``draws``: the position found, the best-scored drawn cell (first drawn among ties)."""
    v = rank_values(scores)
    best = np.argmax(v[draws], axis=1)  # argmax returns the first of the tied maxima
    return draws[np.arange(draws.shape[0]), best]


def covers_space(indices, space) -> bool:
    """Whether ``indices`` name every cell of the space (each once)."""
    idx = np.asarray(indices).reshape(-1)
    return space.size is not None and idx.size == space.size and np.array_equal(np.sort(idx), np.arange(space.size))


def check_whole_space(indices, space) -> None:
    """DataError unless ``indices`` are the whole space (what a search that mutates needs)."""
    if not covers_space(indices, space):
        n = len(np.unique(np.asarray(indices).reshape(-1)))
        if not space.indexed:
            raise DataError(NO_INDEX.format(name=space.name, n=n))
        raise DataError(NOT_WHOLE_SPACE.format(n=n, size=space.size)
                        + "; score the whole space (python run.py task=score ...) for a search")


def search_accuracies(name: str, scores, accuracy, indices, repeats: int, space, **params) -> np.ndarray:
    """Test accuracy of the cell each of ``repeats`` searches finds: ``run_search(name, ...)`` with
    ``random.Random(r)`` and ``evaluate`` = a lookup of ``scores`` (the whole space only)."""
    check_whole_space(indices, space)
    _check_count(repeats, "repeats")
    v, acc = _check(scores, accuracy)
    by_index = np.empty(space.size)
    by_index[np.asarray(indices)] = v
    lookup = by_index.tolist()  # plain floats: a search looks them up thousands of times
    acc_by_index = np.empty(space.size)
    acc_by_index[np.asarray(indices)] = acc
    evaluate = lambda arch: lookup[space.index(arch)]  # noqa: E731
    found = [run_search(name, evaluate, random.Random(r), space=space, **params).best_cell for r in range(repeats)]
    return acc_by_index[[space.index(a) for a in found]]


def random_search_accuracies(scores, accuracy, indices=None, n: int = RANDOM_N, repeats: int = 30,
                             draws: np.ndarray | None = None, space=None) -> np.ndarray:
    """Test accuracy found by ``repeats`` random searches of ``n`` draws (see the module docstring):
    ``task=search``'s own search on the whole space, numpy draws (``draws`` if given) on any other set.
    ``space``: the space ``indices`` are of (needed with ``indices`` only)."""
    v, acc = _check(scores, accuracy)
    if indices is not None and covers_space(indices, space):
        return search_accuracies("random", v, acc, indices, repeats, space, n=n)
    if draws is None:
        draws = random_draws(v.size, n, repeats)
    return acc[random_search_positions(v, draws)]


def measures(scores, accuracy, indices=None, *, ks: Iterable[int] = TOP_K, repeats: int = 30,
             random_n: int = RANDOM_N, aging: dict | None = None, draws: np.ndarray | None = None,
             space) -> dict:
    """Every measure of one candidate on one set of cells (``indices``: their indices; None: not the space).

    Keys: ``top<k>`` per k; ``random_mean``/``random_std`` and ``random_within`` ("space" or
    "sample"); ``aging_mean``/``aging_std`` (NaN where the cells are not the whole space, with the
    reason in ``note``; ``aging=None`` skips it: NaN, note "not run").
    """
    v, acc = _check(scores, accuracy)
    whole = indices is not None and covers_space(indices, space)
    out: dict = {f"top{k}": m for k, m in top_k_means(v, acc, ks).items()}
    found = random_search_accuracies(v, acc, indices if whole else None, random_n, repeats, draws, space)
    out.update(random_mean=float(found.mean()), random_std=float(found.std()),
               random_within="space" if whole else "sample")
    out.update(aging_mean=math.nan, aging_std=math.nan, note="")
    if aging is None:
        out["note"] = "aging evolution not run"
    elif not whole:
        out["note"] = (NOT_WHOLE_SPACE.format(n=v.size, size=space.size) if space.indexed
                       else NO_INDEX.format(name=space.name, n=v.size))
    else:
        got = search_accuracies("aging_warmup", v, acc, indices, repeats, space, **aging)
        out.update(aging_mean=float(got.mean()), aging_std=float(got.std()))
    return out


def search_params(params: dict | None, default: dict) -> dict:
    """A search's parameters from a config mapping (conf/search/<name>.yaml): ``name`` dropped, no budget."""
    params = dict(default if params is None else params)
    params.pop("name", None)
    if any(v is not None for v in (params.pop("max_cost", None) or {}).values()):
        raise ConfigError("the ensemble study's searches run without a budget: leave max_cost unset")
    return params


def _check_count(value, key: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{key} must be an integer >= 1, got {value!r}")


