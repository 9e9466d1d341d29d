"""The NAS-Bench-101 space: strings, pruning, the graph hash, sampling, neighbours, networks."""

import csv
import itertools
import random
import subprocess
import sys
from collections import defaultdict

import pytest
import torch

from shared_data import shared_data_dir
from zcnas.errors import ArchError
from zcnas.spaces import make_space
from zcnas.spaces.nas_bench_101.space import OPS, NasBench101, from_benchmark, graph_hash, make_cell

SPACE = NasBench101()
# The first cell of the NAS-Bench-101 dataset: its hash and trainable-parameter count (10 classes)
# as the public dataset records them.
OFFICIAL_MATRIX = [[0, 1, 0, 0, 1, 1, 0], [0, 0, 1, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0, 1], [0, 0, 0, 0, 0, 1, 0],
                   [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0]]
OFFICIAL_OPS = ["input", "conv3x3-bn-relu", "maxpool3x3", "conv3x3-bn-relu", "conv3x3-bn-relu", "conv1x1-bn-relu",
                "output"]
OFFICIAL_HASH = "00005c142e6f48ac74fdcf73e3439874"
OFFICIAL_PARAMS = 8_555_530
# the sample's first row: vertex 5 feeds nothing, so it is pruned
ROW0 = ("0111101000001100000010000110000001100000000000000:"
        "input,maxpool3x3,maxpool3x3,conv3x3-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu,output")
ROW0_PRUNED = "011111000001000001000010000001000000:input,maxpool3x3,maxpool3x3,conv3x3-bn-relu,conv3x3-bn-relu,output"


@pytest.fixture(scope="module")
def sample_rows():
    path = shared_data_dir() / "spaces" / "nas_bench_101" / "nb101_sample500_cifar10.csv"
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 500
    return [(from_benchmark(r["matrix"], r["ops"]), r) for r in rows]


def n_params(arch) -> int:
    with torch.device("meta"):  # shapes only: no memory, no initialisation time
        return sum(p.numel() for p in SPACE.build_network(arch, 10).parameters())


# --- strings and pruning ---------------------------------------------------------------------
def test_parse_prunes_and_round_trips():
    cell = SPACE.parse(ROW0)
    assert SPACE.format(cell) == ROW0_PRUNED and cell.num_vertices == 6
    assert SPACE.parse(ROW0_PRUNED) == cell and SPACE.canonical(ROW0) == ROW0_PRUNED
    assert SPACE.canonical(SPACE.example) == SPACE.example  # nothing to prune: 49 digits kept
    assert SPACE.parse(SPACE.example) == make_cell(OFFICIAL_MATRIX, OFFICIAL_OPS)
    assert SPACE.format(SPACE.parse(" 0100:input,output ")) == "0100:input,output"
    # a vertex not reached from the input is pruned too, down to input -> output
    assert SPACE.canonical("001001000:input,maxpool3x3,output") == "0100:input,output"
    assert SPACE.to_arch(ROW0) == cell and SPACE.to_arch(cell) is cell and str(cell) == ROW0_PRUNED
    assert make_space("nas_bench_101").canonical(ROW0) == ROW0_PRUNED


ELEVEN_EDGES = "".join(["0111111", *("0000001",) * 5, "0000000"])


@pytest.mark.parametrize("bad, fragment", [
    ("01010:input,output", "5 matrix digits"),
    ("0100", "no ':'"),
    ("0200:input,output", "must be 0 or 1"),
    ("0110:input,output", "upper triangular"),
    ("0100:input,maxpool3x3,output", "2 vertices but 3 ops"),
    ("0100:output,input", "first op must be input"),
    ("011001000:input,conv5x5,output", "unknown op 'conv5x5'; valid interior ops: conv3x3-bn-relu, conv1x1-bn-relu"),
    (f"{ELEVEN_EDGES}:input,{','.join(['maxpool3x3'] * 5)},output", "11 edges after pruning, at most 9"),
    ("010000000:input,conv3x3-bn-relu,output", "no path connects the input to the output"),
    ("0000:input,output", "no path"),
    ("1:input", "1 matrix digits"),
])
def test_bad_strings_say_what_is_wrong(bad, fragment):
    with pytest.raises(ArchError, match=fragment) as err:
        SPACE.parse(bad)
    assert "\n" not in str(err.value)


def test_edges_are_counted_after_pruning():
    # 12 edges drawn, but vertex 5 reaches nothing: 9 edges remain
    cell = SPACE.parse("".join(["0111111", "0000011", "0000011", "0000011", "0000011", "0000000", "0000000"])
                       + ":input," + ",".join(["conv1x1-bn-relu"] * 5) + ",output")
    assert cell.num_vertices == 6 and cell.num_edges == 9


# --- the graph hash ---------------------------------------------------------------------------
def test_hash_equals_the_official_one():
    assert SPACE.identity_key(make_cell(OFFICIAL_MATRIX, OFFICIAL_OPS)) == OFFICIAL_HASH


def test_hash_is_invariant_under_renumbering_and_sees_ops():
    base = make_cell(OFFICIAL_MATRIX, OFFICIAL_OPS)
    keys, strings = set(), set()
    for perm in itertools.permutations(range(1, 6)):
        order = [0, *perm, 6]  # new vertex i is old vertex order[i]
        matrix = [[OFFICIAL_MATRIX[a][b] for b in order] for a in order]
        if any(matrix[i][j] for i in range(7) for j in range(i + 1)):
            continue  # not a topological numbering
        cell = make_cell(matrix, [OFFICIAL_OPS[a] for a in order])
        keys.add(SPACE.identity_key(cell))
        strings.add(SPACE.format(cell))
    assert keys == {OFFICIAL_HASH} and len(strings) > 1
    other = make_cell(OFFICIAL_MATRIX, [*OFFICIAL_OPS[:5], "maxpool3x3", "output"])
    assert SPACE.identity_key(other) != OFFICIAL_HASH


def test_sample_cells_parse_and_hashes_group_repeats(sample_rows):
    """The sample was drawn by NAS-Bench-101's spec sampling, which repeats small cells (55 rows
    are input -> output): 292 distinct hashes.  Rows sharing a hash show at most 3 accuracies, the
    dataset's 3 training repeats (its query draws one), which our hash must group together."""
    groups = defaultdict(set)
    for arch, row in sample_rows:
        assert SPACE.parse(SPACE.format(arch)) == arch
        groups[SPACE.identity_key(arch)].add(row["val_accuracy"])
    assert len(groups) == 292
    assert max(len(accs) for accs in groups.values()) == 3
    assert sum(SPACE.format(arch) == "0100:input,output" for arch, _ in sample_rows) == 55


# --- networks ---------------------------------------------------------------------------------
def test_params_equal_the_sample_for_all_500(sample_rows):
    wrong = [(SPACE.format(arch), n_params(arch), int(row["params"])) for arch, row in sample_rows
             if n_params(arch) != int(row["params"])]
    assert not wrong, f"{len(wrong)} differ, e.g. {wrong[:3]}"
    assert n_params(SPACE.parse(SPACE.example)) == OFFICIAL_PARAMS


@pytest.mark.parametrize("text, size", [(SPACE.example, 32), (ROW0, 16), ("0100:input,output", 32),
                                        ("011001000:input,maxpool3x3,output", 16)])
def test_forward_shape(text, size):
    net = SPACE.build_network(text, 10, input_size=size, seed=0)
    assert any(isinstance(m, torch.nn.ReLU) for m in net.modules())
    with torch.no_grad():
        assert net(torch.randn(2, 3, size, size)).shape == (2, 10)


def test_seed_fixes_the_weights():
    a, b = (SPACE.build_network("011001000:input,conv1x1-bn-relu,output", 10, seed=3) for _ in range(2))
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))


def test_module_does_not_import_torch():
    code = "import sys, zcnas.spaces.nas_bench_101.space; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- sampling and neighbours ------------------------------------------------------------------
def test_sample_is_deterministic_and_valid():
    first = [SPACE.sample(random.Random(7)) for _ in range(2)]
    assert first[0] == first[1]
    rng, again = random.Random(1), random.Random(1)
    drawn = [SPACE.sample(rng) for _ in range(200)]
    assert drawn == [SPACE.sample(again) for _ in range(200)]
    assert all(SPACE.parse(SPACE.format(a)) == a and a.num_edges <= 9 for a in drawn)
    assert {a.num_vertices for a in drawn} >= {2, 3, 4, 5, 6}


def test_neighbours_of_a_full_cell_are_one_edit_away():
    arch = SPACE.parse(SPACE.example)
    near = SPACE.neighbours(arch)
    assert near == SPACE.neighbours(arch) and len(set(near)) == len(near) and arch not in near
    assert all(SPACE.parse(SPACE.format(b)) == b for b in near)
    for b in (b for b in near if b.num_vertices == 7):  # nothing pruned: exactly one entry differs
        flips = sum(x != y for r, s in zip(arch.matrix, b.matrix) for x, y in zip(r, s))
        assert flips + sum(x != y for x, y in zip(arch.ops, b.ops)) == 1
    assert sum(b.matrix == arch.matrix for b in near) == 5 * (len(OPS) - 1)  # every op change
    assert SPACE.random_neighbour(arch, random.Random(0)) in near


def test_neighbours_can_grow_a_pruned_cell():
    # input -> output: one edge out of a padding vertex adds it, with each op
    assert [SPACE.format(b) for b in SPACE.neighbours(SPACE.parse("0100:input,output"))] == [
        f"011001000:input,{op},output" for op in OPS]
    rng = random.Random(5)
    for _ in range(20):
        arch = SPACE.sample(rng)
        near = SPACE.neighbours(arch)
        assert near and arch not in near and len(set(near)) == len(near)
        # a padding vertex brings two edges (from the input, and the one added)
        grows = arch.num_vertices < 7 and arch.num_edges <= 7
        assert any(b.num_vertices > arch.num_vertices for b in near) == grows
