"""Aging evolutionary search (paper Algorithm 2) on synthetic score functions."""

from __future__ import annotations

import math
import random

import pytest

from zcnas import plugins
from zcnas.errors import ConfigError
from zcnas.search import Evaluator, parameters, planned_visits, run_search
from zcnas.search.aging import AgingEvolution, aging_evolution
from zcnas.spaces.nats_tss.cells import Cell, neighbours
from zcnas.search.space_view import SpaceView
from zcnas.spaces.nats_tss.space import NATS_TSS


class SpyRandom(random.Random):
    """A Random that records each tournament (population and draw) and each random-move choice."""

    def __init__(self, seed):
        super().__init__(seed)
        self.tournaments: list[tuple[list, list]] = []  # (population before the step, drawn members)
        self.choices: list[list] = []

    def sample(self, population, k, **kw):
        drawn = super().sample(population, k, **kw)
        self.tournaments.append((list(population), drawn))
        return drawn

    def choice(self, seq):
        if len(seq) == 24:  # random_neighbour: the parent's neighbour list (sample_cell picks among 5 ops)
            self.choices.append(list(seq))
        return super().choice(seq)


#: search=aging's parameters (conf/search/aging.yaml), which each test overrides as it needs
AGING = parameters(plugins.option("search", "aging"))


def aging(evaluate, rng, on_visit=None, **params):
    """``aging_evolution`` with search=aging's defaults for the parameters a test leaves out."""
    return aging_evolution(evaluate, rng, on_visit, **{**AGING, **params})


def conv3(cell: Cell) -> float:
    return float(cell.ops.count("nor_conv_3x3"))


def by_index(cell: Cell) -> float:
    return float(cell.index)  # all scores distinct


def parent_of(neighbour_list: list[Cell]) -> Cell:
    """Recover the parent from its 24 neighbours: the op missing on each edge."""
    ops = []
    for e in range(6):
        seen = {n.ops[e] for n in neighbour_list}
        ops.append(next(op for op in seen if sum(n.ops[e] == op for n in neighbour_list) == 20))
    return Cell(tuple(ops))


def best_last(members):
    """The protocol's tie rule (docs/paper-protocol.md), written independently: the highest score, latest on ties."""
    key = lambda s: s if math.isfinite(s) else -math.inf  # noqa: E731
    top = max(key(s) for _, s in members)
    return [c for c, s in members if key(s) == top][-1]


# --- population ageing and tournaments --------------------------------------

def test_population_is_fifo_of_the_last_p_visited():
    rng = SpyRandom(1)
    result = aging(by_index, rng, p=5, t=3, m=40, space=SpaceView(NATS_TSS))
    assert len(rng.tournaments) == 40 - 5
    for step, (population, _) in enumerate(rng.tournaments):
        assert population == result.visited[step:step + 5]  # oldest leaves, newest joins


def test_tournament_draws_t_distinct_members_and_picks_the_best():
    rng = SpyRandom(2)
    aging(by_index, rng, p=8, t=8, m=60, zero_cost_move=False, space=SpaceView(NATS_TSS))
    assert len(rng.choices) == len(rng.tournaments) == 52
    for (population, drawn), nbrs in zip(rng.tournaments, rng.choices):
        # t == p and distinct scores: the draw is a permutation of the population
        assert sorted(drawn, key=lambda cs: cs[1]) == sorted(population, key=lambda cs: cs[1])
        assert parent_of(nbrs) == max(population, key=lambda cs: cs[1])[0]


def test_tournament_size_is_t():
    rng = SpyRandom(3)
    aging(by_index, rng, p=10, t=4, m=30, space=SpaceView(NATS_TSS))
    # distinct members, not distinct cells: a cell can live in the population twice
    assert all(len({id(member) for member in drawn}) == 4 for _, drawn in rng.tournaments)


def test_zero_cost_move_takes_best_neighbour_of_parent():
    rng = SpyRandom(4)
    result = aging(by_index, rng, p=6, t=3, m=50, random_move_prob=0.0, space=SpaceView(NATS_TSS))
    for step, (_, drawn) in enumerate(rng.tournaments):
        parent = best_last(drawn)
        child = result.visited[6 + step][0]
        assert child == max(neighbours(parent), key=by_index)


# --- move probability --------------------------------------------------------

def count_calls(score):
    calls = []

    def evaluate(cell):
        calls.append(cell)
        return score(cell)

    return evaluate, calls


@pytest.mark.parametrize("prob, expected_scoring_steps", [(0.0, 1.0), (1.0, 0.0)])
def test_move_probability_extremes(prob, expected_scoring_steps):
    evaluate, calls = count_calls(conv3)
    aging(evaluate, random.Random(5), p=10, t=3, m=210, random_move_prob=prob, space=SpaceView(NATS_TSS))
    steps = 200
    scoring_steps = (len(calls) - 10 - steps) / 24  # each step scores its child, plus 24 on a zero-cost move
    assert scoring_steps == expected_scoring_steps * steps


def test_move_probability_default_quarter_random():
    evaluate, calls = count_calls(conv3)
    rng = SpyRandom(6)
    steps = 3000
    aging(evaluate, rng, p=10, t=3, m=10 + steps, space=SpaceView(NATS_TSS))
    scoring_steps = (len(calls) - 10 - steps) // 24
    random_steps = steps - scoring_steps
    assert random_steps == len(rng.choices)  # a random move never scores neighbours
    assert abs(random_steps / steps - 0.25) < 0.04


def test_without_zero_cost_move_no_neighbour_is_scored():
    evaluate, calls = count_calls(conv3)
    rng = SpyRandom(7)
    aging(evaluate, rng, p=10, t=3, m=100, zero_cost_move=False, space=SpaceView(NATS_TSS))
    assert len(calls) == 100 and len(rng.choices) == 90


# --- warmup ------------------------------------------------------------------

def test_warmup_seeds_the_best_p_of_w_best_first():
    evaluate, calls = count_calls(by_index)
    result = aging(evaluate, random.Random(8), p=16, t=4, m=40, w=64, space=SpaceView(NATS_TSS))
    pool = calls[:64]
    top = sorted(pool, key=by_index, reverse=True)[:16]
    assert [c for c, _ in result.visited[:16]] == top
    assert calls[64:80] == top  # inserted members are scored again (pseudocode line 15)


def test_warmup_ties_prefer_later_draws():
    evaluate, calls = count_calls(lambda cell: 0.0)
    result = aging(evaluate, random.Random(9), p=4, t=2, m=4, w=10, space=SpaceView(NATS_TSS))
    # stable ascending sort keeps draw order; its last p enter best first
    assert [c for c, _ in result.visited] == calls[9:5:-1]


def test_warmup_only_when_w_exceeds_p():
    a = aging(conv3, random.Random(10), p=8, t=2, m=20, w=8, space=SpaceView(NATS_TSS))
    b = aging(conv3, random.Random(10), p=8, t=2, m=20, w=0, space=SpaceView(NATS_TSS))
    assert a.visited == b.visited


def test_warmup_non_finite_scores_rank_last():
    score = lambda cell: math.nan if cell.ops[0] == "none" else conv3(cell)  # noqa: E731
    evaluate, calls = count_calls(score)
    result = aging(evaluate, random.Random(11), p=8, t=2, m=8, w=40, space=SpaceView(NATS_TSS))
    finite_in_pool = sum(math.isfinite(score(c)) for c in calls[:40])
    assert finite_in_pool >= 8
    assert all(math.isfinite(s) for _, s in result.visited)


# --- budget accounting ---------------------------------------------------------

@pytest.mark.parametrize(
    "params, requests",
    [
        (dict(p=20, t=5, m=100, w=0, random_move_prob=0.0), 20 + 25 * 80),
        (dict(p=20, t=5, m=100, w=50, random_move_prob=0.0), 50 + 20 + 25 * 80),
        (dict(p=20, t=5, m=100, w=50, random_move_prob=1.0), 50 + 100),
        (dict(p=20, t=5, m=100, w=0, zero_cost_move=False), 100),
        (dict(p=20, t=5, m=20, w=50), 50 + 20),
    ],
)
def test_budget_exactly_m_visits_and_counted_requests(params, requests):
    evaluator = Evaluator(conv3)
    result = aging(evaluator, random.Random(12), **params, space=SpaceView(NATS_TSS))
    assert len(result.visited) == params["m"]
    assert evaluator.requests == requests
    assert evaluator.distinct <= evaluator.requests


def test_on_visit_called_once_per_visit_in_order():
    seen = []
    result = aging(conv3, random.Random(13), lambda n, c, s: seen.append((n, c, s)), p=5, t=2, m=30, space=SpaceView(NATS_TSS))
    assert seen == [(i + 1, c, s) for i, (c, s) in enumerate(result.visited)]


# --- determinism, ties, non-finite scores ------------------------------------------

def test_same_seed_same_run_different_seed_different_run():
    run = lambda seed: aging(conv3, random.Random(seed), p=10, t=3, m=80, w=20, space=SpaceView(NATS_TSS)).visited  # noqa: E731
    assert run(14) == run(14)
    assert run(14) != run(15)


def test_tie_rule_last_of_tied_maxima():
    rng = SpyRandom(16)
    result = aging(lambda cell: 1.0, rng, p=6, t=4, m=30, random_move_prob=0.0, space=SpaceView(NATS_TSS))
    for step, (_, drawn) in enumerate(rng.tournaments):
        parent = drawn[-1][0]  # all tied: the last drawn member is the parent
        assert result.visited[6 + step][0] == neighbours(parent)[-1]  # and the last neighbour
    assert result.best_cell == result.visited[0][0]  # best-so-far: first seen wins


def test_tie_rule_parent_among_partial_ties():
    rng = SpyRandom(17)
    aging(conv3, rng, p=10, t=6, m=200, zero_cost_move=False, space=SpaceView(NATS_TSS))
    for (_, drawn), nbrs in zip(rng.tournaments, rng.choices):
        assert parent_of(nbrs) == best_last(drawn)


def non_finite_score(cell: Cell) -> float:
    first = cell.ops[0]
    return {"none": math.nan, "skip_connect": -math.inf, "avg_pool_3x3": math.inf}.get(first, conv3(cell))


@pytest.mark.parametrize("prob", [0.0, 1.0])
def test_non_finite_scores_never_beat_finite_ones(prob):
    rng = SpyRandom(18)
    result = aging(non_finite_score, rng, p=12, t=4, m=150, random_move_prob=prob, space=SpaceView(NATS_TSS))
    for step, (_, drawn) in enumerate(rng.tournaments):
        parent = best_last(drawn)
        if any(math.isfinite(s) for _, s in drawn):
            assert math.isfinite(non_finite_score(parent))
        child, child_score = result.visited[12 + step]
        if prob == 0.0:  # the best neighbour is finite: one with a conv on edge 0 always exists
            assert child == best_last([(n, non_finite_score(n)) for n in neighbours(parent)])
            assert math.isfinite(child_score)
        else:
            assert parent_of(rng.choices[step]) == parent
    assert math.isfinite(result.best_score)


def test_best_score_ignores_non_finite():
    result = aging(non_finite_score, random.Random(19), p=10, t=3, m=60, space=SpaceView(NATS_TSS))
    finite = [s for _, s in result.visited if math.isfinite(s)]
    assert result.best_score == max(finite)


# --- finds the optimum of a synthetic landscape --------------------------------------

@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("w", [0, 128])
def test_reaches_global_maximum(seed, w):
    result = aging(conv3, random.Random(seed), p=64, t=10, m=500, w=w, space=SpaceView(NATS_TSS))
    assert result.best_cell == Cell(("nor_conv_3x3",) * 6)
    assert result.best_score == 6.0


# --- configuration errors --------------------------------------------------------

@pytest.mark.parametrize(
    "params, message",
    [
        (dict(p=0, t=1, m=10), "search.p"),
        (dict(p=5, t=0, m=10), "search.t (tournament size) must be >= 1"),
        (dict(p=5, t=6, m=10), "search.t (tournament size) must be <= search.p"),
        (dict(p=5, t=2, m=4), "search.m must be >= search.p: the initial population counts as visited models"),
        (dict(p=5, t=2, m=10, w=-1), "search.w"),
        (dict(p=5, t=2, m=10, random_move_prob=-0.1), "search.random_move_prob"),
        (dict(p=5, t=2, m=10, random_move_prob=1.5), "search.random_move_prob"),
        (dict(p=5, t=2, m=10, random_move_prob=math.nan), "search.random_move_prob"),
        (dict(p=5, t=2, m=10, random_move_prob="0.25"), "search.random_move_prob"),
        (dict(p=5, t=2, m=10, random_move_prob=True), "search.random_move_prob"),
        (dict(p=5.0, t=2, m=10), "search.p must be an integer"),
        (dict(p=5, t=2.5, m=10), "search.t must be an integer"),
        (dict(p=5, t=2, m="10"), "search.m must be an integer"),
        (dict(p=5, t=2, m=10, w=None), "search.w must be an integer"),
        (dict(p=True, t=1, m=10), "search.p must be an integer"),
        (dict(p=5, t=2, m=10, zero_cost_move="yes"), "search.zero_cost_move"),
    ],
)
def test_config_errors(params, message):
    with pytest.raises(ConfigError) as info:
        aging(conv3, random.Random(0), **params, space=SpaceView(NATS_TSS))
    text = str(info.value)
    assert message in text and "\n" not in text


def test_valid_edge_parameters():
    result = aging(conv3, random.Random(0), p=1, t=1, m=1, random_move_prob=1, space=SpaceView(NATS_TSS))
    assert len(result.visited) == 1


# --- registry -------------------------------------------------------------------

@pytest.mark.parametrize("name, w", [("aging", 0), ("aging_warmup", 128)])
def test_run_search_and_planned_visits(name, w):
    params = dict(p=64, t=10, m=500, w=w, zero_cost_move=True, random_move_prob=0.25)
    evaluator = Evaluator(conv3)
    result = run_search(name, evaluator, random.Random(20), None, **params, space=NATS_TSS)
    assert len(result.visited) == planned_visits(name, **params) == 500
    assert result.best_score == 6.0
    direct = aging(Evaluator(conv3), random.Random(20), **params, space=SpaceView(NATS_TSS))
    assert direct.visited == result.visited


def test_registry_defaults_and_bad_keys():
    assert planned_visits("aging") == 500
    assert planned_visits("aging_warmup", m=300) == 300
    with pytest.raises(ConfigError, match="bad parameters for search 'aging'"):
        run_search("aging", conv3, random.Random(0), None, n=500, space=NATS_TSS)


def test_each_option_declares_the_strategy_and_all_its_parameters():
    import inspect

    signature = inspect.signature(AgingEvolution)
    for name, w in (("aging", 0), ("aging_warmup", 128)):
        assert plugins.load("search", name) is AgingEvolution
        params = parameters(plugins.option("search", name))
        assert params == dict(p=64, t=10, m=500, w=w, zero_cost_move=True, random_move_prob=0.25)
        # the class takes exactly these, each without a default of its own: the option's is the only one
        assert set(signature.parameters) == set(params)
        assert all(p.default is inspect.Parameter.empty for p in signature.parameters.values())
        assert planned_visits(name) == 500
