"""Search-relevant measures (zcnas.studies.ensembles.search_measures) on small synthetic arrays: no network is scored."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from zcnas import plugins
from zcnas.errors import ConfigError, DataError
from zcnas.search import run_search
from zcnas.spaces.nats_tss.cells import NUM_CELLS
from zcnas.studies.ensembles.search_measures import (AGING_WARMUP, RANDOM_N, check_whole_space, covers_space, measures,
                                                     random_draws, random_search_accuracies, search_accuracies,
                                                     search_params, top_k_means)
from zcnas.spaces.nats_tss.space import NATS_TSS

def test_top_k_means_of_the_top_scored_cells_with_ties_shared_and_non_finite_lowest():
    scores = np.array([5.0, 1.0, 4.0, 3.0, 2.0])
    acc = np.array([90.0, 10.0, 80.0, 70.0, 60.0])
    assert top_k_means(scores, acc, (1, 2, 5, 6)) == {1: 90.0, 2: 85.0, 5: 62.0, 6: pytest.approx(math.nan, nan_ok=True)}
    # a tie at the k-th score: the tied cells share the places left (expected mean under a random tie-break)
    tied = np.array([3.0, 3.0, 3.0, 1.0])
    acc = np.array([90.0, 60.0, 30.0, 0.0])
    means = top_k_means(tied, acc, (1, 2, 3, 4))
    assert means[1] == pytest.approx(60.0)
    assert means[2] == pytest.approx(60.0)
    assert means[4] == pytest.approx(45.0)
    # one cell above the tie: it counts whole, the tie fills the rest
    assert top_k_means(np.array([9.0, 3.0, 3.0]), np.array([10.0, 20.0, 40.0]), (2,))[2] == pytest.approx(20.0)
    # NaN and +-inf rank lowest (below any finite score), tied among themselves
    weird = np.array([np.nan, np.inf, -1.0, -np.inf])
    acc = np.array([100.0, 90.0, 50.0, 10.0])
    means = top_k_means(weird, acc, (1, 2))
    assert means[1] == 50.0
    assert means[2] == pytest.approx((50.0 + (100.0 + 90.0 + 10.0) / 3) / 2)
    with pytest.raises(ConfigError, match="top-k sizes must be integers >= 1"):
        top_k_means(scores[:2], acc[:2], (0,))
    with pytest.raises(ValueError, match="aligned"):
        top_k_means(scores, acc[:3])


def test_random_search_on_a_tiny_set_finds_the_best_scored_cell_with_enough_draws():
    scores = np.array([0.1, 0.7, 0.3, 0.9, 0.5])
    acc = np.array([10.0, 70.0, 30.0, 50.0, 90.0])  # the best-scored cell (index 3) is not the most accurate
    found = random_search_accuracies(scores, acc, n=200, repeats=10)
    assert found.shape == (10,) and np.all(found == 50.0)
    # few draws do not always find it; the found accuracy is then another cell's
    few = random_search_accuracies(scores, acc, n=1, repeats=50)
    assert set(few) <= set(acc) and len(set(few)) > 1
    # ties: the first drawn of the tied best is found (SearchResult's rule)
    draws = np.array([[0, 2, 1, 2], [1, 0, 2, 2]])
    got = random_search_accuracies(np.array([1.0, 2.0, 2.0]), np.array([10.0, 20.0, 30.0]), draws=draws)
    assert got.tolist() == [30.0, 20.0]
    # non-finite scores never beat a finite one
    assert random_search_accuracies(np.array([np.nan, np.inf, 0.0]), np.array([1.0, 2.0, 3.0]), n=100,
                                    repeats=3).tolist() == [3.0, 3.0, 3.0]


def test_repeats_are_determined_by_their_seed():
    rng = np.random.default_rng(7)
    scores, acc = rng.normal(size=300), rng.normal(size=300)
    a = random_search_accuracies(scores, acc, n=20, repeats=6)
    b = random_search_accuracies(scores, acc, n=20, repeats=6)
    np.testing.assert_array_equal(a, b)
    # repeat r draws with default_rng(r): the first repeats do not depend on how many there are
    np.testing.assert_array_equal(random_search_accuracies(scores, acc, n=20, repeats=3), a[:3])
    np.testing.assert_array_equal(random_draws(300, 20, 2)[1], np.random.default_rng(1).integers(0, 300, 20))
    m1 = measures(scores, acc, repeats=4, random_n=20, space=NATS_TSS)
    m2 = measures(scores, acc, repeats=4, random_n=20, space=NATS_TSS)
    assert m1 == m2 and m1["random_within"] == "sample"
    assert m1["random_mean"] == pytest.approx(a[:4].mean()) and m1["random_std"] == pytest.approx(a[:4].std())
    with pytest.raises(ConfigError, match="repeats must be an integer >= 1"):
        random_draws(10, 5, 0)


def test_aging_needs_the_whole_space_and_says_so():
    sample = np.arange(0, NUM_CELLS, 16)
    assert not covers_space(sample, space=NATS_TSS) and covers_space(np.arange(NUM_CELLS)[::-1], space=NATS_TSS)
    with pytest.raises(DataError, match=r"aging evolution needs scores of every cell of the space .* "
                                        r"these scores cover 977 of 15,625 cells.*score the whole space"):
        check_whole_space(sample, space=NATS_TSS)
    with pytest.raises(DataError, match="cover 977 of 15,625"):
        search_accuracies("aging_warmup", np.ones(sample.size), np.ones(sample.size), sample, 2, **AGING_WARMUP, space=NATS_TSS)
    m = measures(np.arange(sample.size, dtype=float), np.arange(sample.size, dtype=float), sample, repeats=2,
                 aging=AGING_WARMUP, space=NATS_TSS)
    assert math.isnan(m["aging_mean"]) and math.isnan(m["aging_std"])
    assert "cover 977 of 15,625 cells, so it is not available" in m["note"]
    assert m["random_within"] == "sample" and m["top1"] == sample.size - 1


def test_on_the_whole_space_the_searches_are_task_search_from_rosters():
    """Whole-space measures run run_search with random.Random(r): the searches task=search runs."""
    rng = np.random.default_rng(0)
    acc = rng.uniform(0, 100, NUM_CELLS)
    scores = acc + rng.normal(0, 20, NUM_CELLS)
    scores[:50] = np.nan
    idx = np.arange(NUM_CELLS)
    lookup = scores.tolist()
    aging = dict(AGING_WARMUP, m=120, w=80)
    m = measures(scores, acc, idx, repeats=3, random_n=50, aging=aging, space=NATS_TSS)
    assert m["random_within"] == "space" and m["note"] == ""
    for name, params, key in (("random", {"n": 50}, "random"), ("aging_warmup", aging, "aging")):
        found = [acc[run_search(name, lambda c: lookup[c.index], random.Random(r), **params, space=NATS_TSS).best_cell.index]
                 for r in range(3)]
        assert m[f"{key}_mean"] == pytest.approx(np.mean(found)) and m[f"{key}_std"] == pytest.approx(np.std(found))
    # scores given in another order of the cells are the same candidate
    perm = rng.permutation(NUM_CELLS)
    m2 = measures(scores[perm], acc[perm], idx[perm], repeats=3, random_n=50, aging=aging, space=NATS_TSS)
    for key, value in m.items():
        assert m2[key] == (pytest.approx(value) if isinstance(value, float) else value), key


def test_defaults_are_the_search_configs():
    assert search_params(plugins.option("search", "aging_warmup"), {}) == AGING_WARMUP
    assert search_params(plugins.option("search", "random"), {}) == {"n": RANDOM_N}
    with pytest.raises(ConfigError, match="without a budget"):
        search_params({"name": "random", "n": 5, "max_cost": {"edgegpu_latency": 3.0}}, {})
