"""NAS-Bench-Macro space: strings, index order, neighbours, sampling, and networks whose parameter
counts and FLOPs equal the benchmark table (Su et al., CVPR 2021) for every architecture."""

import random
import subprocess
import sys
from collections import Counter

import pandas as pd
import pytest

from shared_data import shared_data_dir
from zcnas.errors import ArchError
from zcnas.spaces.nas_bench_macro.space import NUM_LAYERS, OPS, PLAN, NasBenchMacro, macro_flops

SPACE = NasBenchMacro()
RUNS = ["test_acc_1", "test_acc_2", "test_acc_3"]


@pytest.fixture(scope="module")
def table():
    path = shared_data_dir() / "spaces" / "nas_bench_macro" / "nas_bench_macro_cifar10.csv"
    return pd.read_csv(path, dtype={"arch": str}, usecols=["arch", *RUNS, "mean_acc", "params", "flops"])


def test_table_facts_and_index_order_equal_the_csv(table):
    assert len(table) == SPACE.size == 3 ** 8
    assert [SPACE.format(a) for a in SPACE.all_archs()] == list(table["arch"])
    assert round(table["mean_acc"].max(), 2) == 93.13


def test_round_trips_for_every_architecture():
    for i, arch in enumerate(SPACE.all_archs()):
        assert SPACE.index(arch) == i and SPACE.from_index(i) == arch
        assert SPACE.parse(SPACE.format(arch)) == arch and len(arch) == NUM_LAYERS
    assert SPACE.parse(" 01201120\n") == (0, 1, 2, 0, 1, 1, 2, 0)
    assert SPACE.to_arch(SPACE.size - 1) == (2,) * 8 and SPACE.to_arch("00000012") == SPACE.from_index(5)
    assert SPACE.canonical(SPACE.example) == SPACE.example


@pytest.mark.parametrize("bad, fragment", [
    ("", "has 0 layers"),
    ("0120", "has 4 layers"),
    ("012012003", "has 9 layers"),
    ("01201a20", "unknown layer code(s) 'a'"),
    ("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|", "NATS-Bench cell"),
])
def test_bad_strings_raise_one_line(bad, fragment):
    with pytest.raises(ArchError) as err:
        SPACE.parse(bad)
    message = str(err.value)
    assert fragment in message and "e.g. 01201120" in message and "\n" not in message


@pytest.mark.parametrize("bad", [12345678, -1, 6561, 1.5, True, "6"])
def test_bad_indices(bad):
    with pytest.raises(ArchError) as err:
        SPACE.to_arch(bad)
    assert "\n" not in str(err.value)
    if not isinstance(bad, str):
        with pytest.raises(ArchError):
            SPACE.from_index(bad)


def test_neighbours():
    arch = SPACE.parse("01201120")
    near = SPACE.neighbours(arch)
    assert len(near) == len(set(near)) == 16 and arch not in near
    assert all(sum(a != b for a, b in zip(arch, n)) == 1 for n in near)
    assert near[:2] == [(1, 1, 2, 0, 1, 1, 2, 0), (2, 1, 2, 0, 1, 1, 2, 0)]  # layer-major, ops ascending


def test_sample_is_uniform_and_seeded():
    draws = [SPACE.sample(random.Random(7)) for _ in range(2)]
    assert draws[0] == draws[1]
    rng = random.Random(0)
    archs = [SPACE.sample(rng) for _ in range(3000)]
    for layer in range(NUM_LAYERS):
        counts = Counter(a[layer] for a in archs)
        assert all(900 <= counts[op] <= 1100 for op in OPS), counts  # 1000 expected, sd ~26


def test_identity_key_matches_the_tables_duplicate_trainings(table):
    """Identities after a stage's first layer only drop a layer, so "01" and "10" there are one
    network; the table gives all architectures of a key the same accuracies, and no others."""
    keys = table["arch"].map(lambda a: SPACE.identity_key(SPACE.parse(a)))
    assert keys.nunique() == 3969 == len(table[RUNS].drop_duplicates())
    assert (table.groupby(keys)[RUNS].nunique() == 1).all().all()
    assert SPACE.identity_key((0,) * 7 + (1,)) == "00000010"
    assert SPACE.identity_key((0, 1) + (0,) * 6) != SPACE.identity_key((1,) + (0,) * 7)  # stride-2 identity is a conv


def test_flops_equal_the_table_for_every_architecture(table):
    assert [macro_flops(SPACE.parse(a)) for a in table["arch"]] == list(table["flops"])


def num_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def layer_params():
    """Parameter count of each (position, op) layer, and of stem + head for 10 classes: a
    network's count is their sum, since each layer's shape depends only on its position."""
    from zcnas.spaces.nas_bench_macro.network import make_layer

    per_layer = [[num_params(make_layer(op, *shape)) for op in OPS] for shape in PLAN]
    net = SPACE.build_network((0,) * 8, num_classes=10)
    fixed = num_params(net) - sum(num_params(layer) for layer in net.layers)
    return fixed, per_layer


def additive_params(arch, layer_params) -> int:
    fixed, per_layer = layer_params
    return fixed + sum(per_layer[i][op] for i, op in enumerate(arch))


def test_params_equal_the_table_for_every_architecture(table, layer_params):
    assert [additive_params(SPACE.parse(a), layer_params) for a in table["arch"]] == list(table["params"])
    assert (table["params"].min(), table["params"].max()) == (387_882, 2_932_586)


def test_full_networks_count_what_the_table_says(table, layer_params):
    params = dict(zip(table["arch"], table["params"]))
    rng = random.Random(2021)
    archs = [(0,) * 8, (1,) * 8, (2,) * 8, *(SPACE.sample(rng) for _ in range(30))]
    for arch in archs:
        count = num_params(SPACE.build_network(arch, num_classes=10))
        assert count == params[SPACE.format(arch)] == additive_params(arch, layer_params), SPACE.format(arch)


def test_forward_shapes_and_seeded_weights():
    import torch

    x = torch.randn(2, 3, 32, 32)
    for text in ("00000000", "01201120", "22222222"):
        net = SPACE.build_network(text, num_classes=10, seed=0)
        assert net(x).shape == (2, 10)
    assert SPACE.build_network("01201120", num_classes=100)(x).shape == (2, 100)
    assert SPACE.build_network("12121212", num_classes=120, input_size=16)(torch.randn(2, 3, 16, 16)).shape == (2, 120)
    a, b = (SPACE.build_network("01201120", 10, seed=3).state_dict() for _ in range(2))
    assert all(torch.equal(a[k], b[k]) for k in a)
    relus = [m for m in SPACE.build_network("10000000", 10).modules() if isinstance(m, torch.nn.ReLU)]
    assert len(relus) == 1 + 2 + 1  # stem, one inverted residual, head: plain nn.ReLU modules for hooks


def test_made_by_the_space_registry():
    from zcnas.spaces import make_space

    assert isinstance(make_space("nas_bench_macro"), NasBenchMacro)


def test_importing_the_space_does_not_load_torch():
    code = "import sys, zcnas.spaces.nas_bench_macro.space; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
