"""Accuracy-cost Pareto fronts (lower cost and higher accuracy are better).  numpy only.

Points with a NaN cost (not measured) or a NaN accuracy are left out everywhere.  Ties are broken
by index: of several points with the same cost and accuracy only the lowest index is on the front,
and ``best_under`` prefers, among equally accurate points, the cheaper one, then the lower index.
"""

from __future__ import annotations

import math

import numpy as np


def _valid(cost, accuracy) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cost, accuracy = np.asarray(cost, dtype=float), np.asarray(accuracy, dtype=float)
    if cost.shape != accuracy.shape or cost.ndim != 1:
        raise ValueError(f"cost and accuracy must be 1-D arrays of one length, got {cost.shape} and {accuracy.shape}")
    return cost, accuracy, np.flatnonzero(~np.isnan(cost) & ~np.isnan(accuracy))


def pareto_front(cost, accuracy) -> np.ndarray:
    """Indices of the non-dominated points, by increasing cost (and so increasing accuracy)."""
    cost, accuracy, idx = _valid(cost, accuracy)
    # cheapest first; at equal cost the most accurate, then the lowest index: a sweep then keeps
    # exactly the points more accurate than every cheaper-or-equal point before them
    order = idx[np.lexsort((idx, -accuracy[idx], cost[idx]))]
    best_so_far = np.maximum.accumulate(accuracy[order])
    keep = np.ones(order.size, dtype=bool)
    keep[1:] = accuracy[order][1:] > best_so_far[:-1]
    return order[keep]


def best_under(cost, accuracy, limit: float) -> tuple[int | None, float]:
    """(index, accuracy) of the most accurate point with cost <= limit; (None, nan) if there is none."""
    cost, accuracy, idx = _valid(cost, accuracy)
    idx = idx[cost[idx] <= limit]
    if idx.size == 0:
        return None, math.nan
    best = idx[np.lexsort((idx, cost[idx], -accuracy[idx]))[0]]
    return int(best), float(accuracy[best])


def front_gap(cost, accuracy, index: int) -> float:
    """How far (accuracy points) ``index`` lies below the front at its own cost: the best accuracy of
    any point no costlier, minus its own; 0 on the front, NaN if its cost is not measured."""
    cost = np.asarray(cost, dtype=float)
    if np.isnan(cost[index]):
        return math.nan
    return best_under(cost, accuracy, cost[index])[1] - float(np.asarray(accuracy, dtype=float)[index])
