"""The NATS-Bench topology space: strings, index mapping, neighbours, isomorphism."""

import random
from collections import Counter

import pandas as pd
import pytest

from zcnas.errors import ArchError
from zcnas.spaces.nats_tss.cells import (
    NUM_CELLS, OPS, Cell, all_cells, arch_from_index, format_arch, is_disconnected, isomorphism_key,
    neighbours, parse_arch, random_neighbour, reachable_from_input, sample_cell, to_cell,
)

INDEX_0 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"


def test_mapping_matches_the_benchmark_table_for_all_cells(benchmark_csv):
    table = pd.read_csv(benchmark_csv, usecols=["index", "arch"])
    assert len(table) == NUM_CELLS
    ours = [format_arch(arch_from_index(int(i))) for i in table["index"]]
    assert ours == list(table["arch"])
    assert all(parse_arch(a).index == i for i, a in zip(table["index"], table["arch"]))


def test_known_indices():
    assert str(arch_from_index(0)) == INDEX_0
    assert str(arch_from_index(9)) == "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    assert parse_arch(INDEX_0).index == 0


def test_parse_format_round_trip_and_order_of_edges():
    cell = parse_arch("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|")
    assert cell.ops == ("nor_conv_3x3", "none", "skip_connect", "avg_pool_3x3", "nor_conv_1x1", "none")
    assert cell.edge(3, 1) == "nor_conv_1x1"
    assert parse_arch(str(cell)) == cell
    # edges within a node may be listed in any order
    assert parse_arch("|nor_conv_3x3~0|+|skip_connect~1|none~0|+|none~2|avg_pool_3x3~0|nor_conv_1x1~1|") == cell


@pytest.mark.parametrize("bad, fragment", [
    ("|nor_conv_3x3~0|+|none~0|none~1|", "node groups"),
    ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown operation 'conv'"),
    ("|none~0|+|none~0|+|none~0|none~1|none~2|", "has 1 edges, expected 2"),
    ("|none~0|+|none~0|none~2|+|none~0|none~1|none~2|", "must be < 2"),
    ("|none0|+|none~0|none~1|+|none~0|none~1|none~2|", "op~input"),
    ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "start and end"),
    ("|none~0|+|none~0|none~0|+|none~0|none~1|none~2|", "two edges from input 0"),
])
def test_malformed_strings_say_what_is_wrong(bad, fragment):
    with pytest.raises(ArchError, match=fragment.replace("(", r"\(").replace("|", r"\|")) as err:
        parse_arch(bad)
    assert "\n" not in str(err.value)


def test_bad_indices():
    for bad in (-1, NUM_CELLS, 1.5, "3", True):
        with pytest.raises(ArchError):
            arch_from_index(bad)
    assert to_cell(5) == arch_from_index(5) and to_cell(INDEX_0).index == 0


def test_uniform_sampling_covers_operations_evenly():
    rng = random.Random(0)
    counts = Counter(op for _ in range(5000) for op in sample_cell(rng).ops)
    assert set(counts) == set(OPS)
    assert all(abs(c / 30000 - 0.2) < 0.02 for c in counts.values())
    assert [sample_cell(random.Random(3)) for _ in range(2)] == [sample_cell(random.Random(3))] * 2


def test_neighbours_are_the_24_one_edit_cells():
    for cell in (arch_from_index(0), arch_from_index(123)):
        ns = neighbours(cell)
        assert len(ns) == 24 == len(set(ns))
        assert all(sum(a != b for a, b in zip(n.ops, cell.ops)) == 1 for n in ns)
        assert random_neighbour(cell, random.Random(1)) in ns


def test_isomorphism_classes_number_6466():
    cells = all_cells()
    assert len({isomorphism_key(c) for c in cells}) == 6466


def test_isomorphism_identifies_equal_functions():
    # a skip connection makes node 1 a copy of the input: the two edges into node 2 commute
    a = parse_arch("|skip_connect~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|none~0|none~1|skip_connect~2|")
    b = parse_arch("|skip_connect~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|none~0|none~1|skip_connect~2|")
    assert a != b and isomorphism_key(a) == isomorphism_key(b)
    # anything behind a dead node is zero whatever its operation
    c = parse_arch("|none~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|skip_connect~2|")
    d = parse_arch("|none~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|none~1|skip_connect~2|")
    assert isomorphism_key(c) == isomorphism_key(d)
    # different operations on a live path differ
    e = parse_arch("|none~0|+|nor_conv_1x1~0|none~1|+|none~0|none~1|skip_connect~2|")
    assert isomorphism_key(c) != isomorphism_key(e)


def test_disconnected_cells():
    dead = parse_arch("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|none~2|")
    assert is_disconnected(dead)
    cut = parse_arch("|none~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|skip_connect~2|")
    assert is_disconnected(cut) and reachable_from_input(cut) == {0}
    assert not is_disconnected(parse_arch(INDEX_0))
    # reference: evaluate each cell symbolically, dropping zero terms; dead cells have no term left
    def output_terms(cell):
        terms = {0: ["x"]}
        for node in (1, 2, 3):
            terms[node] = [f"{cell.edge(node, i)}({t})" for i in range(node)
                           if cell.edge(node, i) != "none" for t in terms[i]]
        return terms[3]
    dead_cells = [c for c in all_cells() if not output_terms(c)]
    assert [is_disconnected(c) for c in all_cells()].count(True) == len(dead_cells) == 341
    assert all(is_disconnected(c) for c in dead_cells)


def test_cell_rejects_bad_ops():
    with pytest.raises(ArchError):
        Cell(("none",) * 5)
    with pytest.raises(ArchError):
        Cell(("none",) * 5 + ("conv",))
