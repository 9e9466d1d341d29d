"""The NATS-Bench TSS network: parameter counts, shapes, cell semantics."""

import pytest
import torch

from zcnas.spaces.nats_tss.network import TinyNetwork, build_network, count_parameters
from zcnas.spaces.nats_tss.cells import parse_arch

# NATS-Bench's parameter counts for 10 / 100 / 120 classes (NATS-Bench's published table)
PARAMS = {
    0: (129306, 135156, 136456),
    9: (316346, 322196, 323496),
    123: (344346, 350196, 351496),
    9930: (1288506, 1294356, 1295656),
    13714: (1073466, 1079316, 1080616),
    3888: (858426, 864276, 865576),
}


@pytest.mark.parametrize("index", sorted(PARAMS))
def test_parameter_counts_equal_nats_bench(index):
    assert tuple(count_parameters(TinyNetwork(index, k)) for k in (10, 100, 120)) == PARAMS[index]


@pytest.mark.parametrize("classes, size", [(10, 32), (120, 16)])
def test_output_shape(classes, size):
    net = build_network(13714, classes, seed=0)
    assert net(torch.randn(2, 3, size, size)).shape == (2, classes)


def test_seeded_initialization_is_reproducible():
    a, b = build_network(5, 10, seed=3), build_network(5, 10, seed=3)
    c = build_network(5, 10, seed=4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))


def test_cell_computes_sum_of_edges():
    # node1 = x, node2 = x + node1, node3 = node2 (skip) -> output 2x
    cell = parse_arch("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|none~0|none~1|skip_connect~2|")
    module = build_network(cell, 10, seed=0).cells[0]
    x = torch.randn(2, 16, 8, 8)
    assert torch.allclose(module(x), 2 * x)


def test_disconnected_cell_outputs_zeros():
    cell = parse_arch("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|none~2|")
    module = build_network(cell, 10, seed=0).cells[0]
    assert torch.count_nonzero(module(torch.randn(2, 16, 8, 8))) == 0


def test_avg_pool_does_not_count_padding():
    cell = parse_arch("|avg_pool_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|")
    module = build_network(cell, 10, seed=0).cells[0]
    out = module(torch.ones(1, 16, 4, 4))
    assert torch.allclose(out, torch.ones_like(out))  # corners average 4 ones, not 4/9
