"""Random search (paper Algorithm 1) and the evaluator's accounting, as plain Python."""

import math
import random

import pytest

from zcnas.errors import ConfigError
from zcnas.search import Evaluator, planned_visits, run_search
from zcnas.search.random_search import random_search
from zcnas.spaces.nats_tss.cells import sample_cell
from zcnas.search.space_view import SpaceView
from zcnas.spaces.nats_tss.space import NATS_TSS


def conv_count(cell):
    return sum(op == "nor_conv_3x3" for op in cell.ops) + 0.01 * sum(op == "nor_conv_1x1" for op in cell.ops)


def test_best_is_the_highest_score_seen():
    result = random_search(conv_count, 200, random.Random(0), space=SpaceView(NATS_TSS))
    assert len(result.visited) == 200
    assert result.best_score == max(s for _, s in result.visited)
    # the first of equal maxima wins (the best is replaced only by a strictly higher score)
    first = next(c for c, s in result.visited if s == result.best_score)
    assert result.best_cell == first


def test_samples_are_the_seeded_uniform_stream():
    result = random_search(conv_count, 20, random.Random(7), space=SpaceView(NATS_TSS))
    rng = random.Random(7)
    assert [c for c, _ in result.visited] == [sample_cell(rng) for _ in range(20)]
    again = random_search(conv_count, 20, random.Random(7), space=SpaceView(NATS_TSS))
    assert again.visited == result.visited
    assert random_search(conv_count, 20, random.Random(8), space=SpaceView(NATS_TSS)).visited != result.visited


def test_non_finite_scores_rank_lowest():
    def score(cell):
        return math.nan if cell.ops[0] == "none" else (-math.inf if cell.ops[0] == "skip_connect" else 1.0)
    result = random_search(score, 50, random.Random(1), space=SpaceView(NATS_TSS))
    assert result.best_score == 1.0


def test_all_non_finite_still_returns_the_first_cell():
    result = random_search(lambda c: math.nan, 5, random.Random(1), space=SpaceView(NATS_TSS))
    assert result.best_cell == result.visited[0][0]


def test_on_visit_is_called_in_order():
    seen = []
    random_search(conv_count, 5, random.Random(2), on_visit=lambda n, c, s: seen.append(n), space=SpaceView(NATS_TSS))
    assert seen == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_bad_n(n):
    with pytest.raises(ConfigError, match="search.n"):
        random_search(conv_count, n, random.Random(0), space=SpaceView(NATS_TSS))


def test_evaluator_scores_each_cell_once_and_charges_honestly():
    calls = []
    ev = Evaluator(lambda c: calls.append(c) or 1.0, recorded_cost=lambda c: 10.0)
    cell = sample_cell(random.Random(0))
    for _ in range(3):
        ev(cell)
    snap = ev.snapshot()
    assert len(calls) == 1 and snap.requests == 3 and snap.distinct == 1
    assert snap.recorded_seconds == 10.0 and snap.recorded_seconds_per_request == 30.0


def test_registry():
    assert planned_visits("random", n=17) == 17
    result = run_search("random", conv_count, random.Random(0), n=3, space=NATS_TSS)
    assert len(result.visited) == 3
    with pytest.raises(ConfigError, match="unknown search 'nope'"):
        run_search("nope", conv_count, random.Random(0), space=NATS_TSS)
    with pytest.raises(ConfigError, match="bad parameters"):
        run_search("random", conv_count, random.Random(0), n=3, bogus=1, space=NATS_TSS)
