"""The scoring engine gives the straightforward implementations' scores (tests/reference_metrics.py).

Same weights, same batch: synflow and the hook_logdet kernel K are bit-identical
(the arithmetic that reaches them is the same); snip is checked to a tight
relative tolerance (its backward pass accumulates the same terms, and is
bit-identical in practice).  The sample covers disconnected cells, ``none``
edges, zero nodes feeding convolutions and nodes whose output only feeds
``none`` edges.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from torch import nn

from nats_samples import cifar10_sample
from reference_metrics import (
    reference_hook_logdet,
    reference_naswot_kernel,
    reference_network,
    reference_snip,
    reference_synflow,
)
from zcnas.metrics import ScoringContext, make_metric
from zcnas.metrics.naswot import hook_logdet_score, naswot_kernel
from zcnas.metrics.synflow import synflow_cell, synflow_score
from zcnas.metrics.epe_nas import epe_nas_score
from zcnas.metrics.grad_norm import grad_norm_score
from zcnas.metrics.grasp import grasp_score
from zcnas.metrics.jacov import jacov_score
from zcnas.metrics.plain import plain_score
from zcnas.metrics.zico import zico_score
from zcnas.spaces.nats_tss.network import avg_pool_channels_last, build_network, cell_plan, draw_weights
from zcnas.spaces.nats_tss.cells import EDGES, is_disconnected, parse_arch, sample_cell

SPECIAL = [
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|",
    "|avg_pool_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|",
    # disconnected, with a conv on a live edge (1<-0 is none, so node 1 is zero; 2<-0 conv is live)
    "|none~0|+|nor_conv_1x1~0|none~1|+|none~0|avg_pool_3x3~1|none~2|",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|none~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    # node 1 is zero and feeds a conv into node 2
    "|none~0|+|skip_connect~0|nor_conv_3x3~1|+|nor_conv_1x1~0|none~1|skip_connect~2|",
    # node 2 only feeds a none edge: its incoming conv is unused for the output, but its ReLU is hooked
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|nor_conv_1x1~0|avg_pool_3x3~1|none~2|",
]


def sample(k: int, seed: int) -> list:
    rng = random.Random(seed)
    return [parse_arch(a) for a in SPECIAL] + [sample_cell(rng) for _ in range(k)]


@pytest.fixture(scope="module")
def batch():
    x, y = cifar10_sample()
    return x[:32], y[:32]


def test_sample_covers_the_special_cases():
    cells = sample(0, 0)
    assert sum(is_disconnected(c) for c in cells) == 3
    assert any(not cell_plan(c.ops).live[1] and "nor_conv" in c.ops[2] for c in cells)
    # a conv from a live node into an unused node: its ReLU is called for the hooks, the conv skipped
    observed = [cell_plan(c.ops, True, True) for c in cells]
    assert any(p.live[EDGES[e][1]] for p in observed for e in p.relu_only)


@pytest.mark.parametrize("classes", [10, 120])
def test_draw_weights_equals_build_network(classes):
    for cell in sample(4, 1):
        params = dict(build_network(cell, classes, seed=3).named_parameters())
        drawn = draw_weights(cell, classes, 3)
        convs = {n for n in params if n.endswith(".weight") and params[n].dim() == 4}
        assert set(drawn) == convs | {"classifier.weight", "classifier.bias"}
        for name, tensor in drawn.items():
            assert torch.equal(tensor, params[name]), name


def test_pruning_does_not_change_the_weights():
    a = build_network(sample(1, 2)[-1], 10, seed=5, prune=True)
    b = reference_network(sample(1, 2)[-1], 10, 5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize("input_size, classes", [(32, 10), (16, 120)])
def test_synflow_engine_equals_the_full_computation(input_size, classes):
    # the engine computes d/dt R((1+t)θ) in the forward pass instead of Σ |θ ⊙ dR/dθ| from a
    # backward pass: the same products summed otherwise, so equal up to float64 rounding
    # (measured at most 6.3e-16 relative)
    shape = (3, input_size, input_size)
    for cell in sample(6, 3):
        expected = reference_synflow(reference_network(cell, classes, 0), shape)
        got = synflow_cell(cell, classes, shape, 0)
        assert got == pytest.approx(expected, rel=1e-13, abs=0.0), str(cell)
        if is_disconnected(cell):
            assert expected == 0.0 and got == 0.0
    # the metric class is the engine; the public function on a pruned network is the full computation
    cell = sample(1, 4)[-1]
    metric = make_metric("synflow", ScoringContext(dataset="x", num_classes=classes, input_size=input_size))
    expected = reference_synflow(reference_network(cell, classes, 0), shape)
    assert metric.score_cell(cell) == synflow_cell(cell, classes, shape, 0)
    assert metric.score_cell(cell) == pytest.approx(expected, rel=1e-13, abs=0.0)
    assert synflow_score(build_network(cell, classes, seed=0, prune=True), shape) == expected


def test_synflow_engine_on_cells_of_every_shape():
    # every operation in every position, the reduction cells' shortcut and the classifier:
    # one cell per operation on all six edges, and cells where edges feed nothing
    shape = (3, 32, 32)
    for arch in ["|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
                 "|nor_conv_1x1~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_1x1~1|nor_conv_1x1~2|",
                 "|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|avg_pool_3x3~2|",
                 "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",
                 "|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|none~0|none~1|nor_conv_3x3~2|",
                 "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|none~2|"]:
        expected = reference_synflow(reference_network(arch, 10, 1), shape)
        assert expected > 0
        assert synflow_cell(parse_arch(arch), 10, shape, 1) == pytest.approx(expected, rel=1e-13, abs=0.0), arch


def test_hook_logdet_kernel_is_bit_identical(batch):
    x, _ = batch
    ctx = ScoringContext(dataset="cifar10", num_classes=10, input_size=32, seed=0, batch_loader=lambda: batch)
    metric = make_metric("hook_logdet", ctx)
    for cell in sample(1, 5):
        expected = reference_naswot_kernel(reference_network(cell, 10, 0), x)
        np.testing.assert_array_equal(naswot_kernel(build_network(cell, 10, seed=0, prune=True), x).numpy(), expected)
        score = metric.score_cell(cell)
        ref = reference_hook_logdet(reference_network(cell, 10, 0), x)
        assert score == ref or (math.isinf(score) and score == ref), str(cell)
    # the public function on the default (unpruned) network gives the same score
    cell = parse_arch(SPECIAL[5])
    assert hook_logdet_score(build_network(cell, 10, seed=0), x) == metric.score_cell(cell)


def test_snip_matches_within_tight_tolerance(batch):
    x, y = batch
    ctx = ScoringContext(dataset="cifar10", num_classes=10, input_size=32, seed=0, batch_loader=lambda: batch)
    metric = make_metric("snip", ctx)
    for cell in sample(1, 6):
        expected = reference_snip(reference_network(cell, 10, 0), x, y)
        assert metric.score_cell(cell) == pytest.approx(expected, rel=1e-6, abs=0.0), str(cell)
        if is_disconnected(cell):
            assert expected == 0.0 and metric.score_cell(cell) == 0.0


def test_pruned_forward_output_is_exact_and_observed_modules_fall_back():
    x = torch.randn(4, 3, 32, 32)
    for cell in sample(2, 7):
        full = reference_network(cell, 10, 1).train()
        pruned = build_network(cell, 10, seed=1, prune=True).train()
        with torch.no_grad():
            assert torch.equal(pruned(x), full(x)), str(cell)
    # a hook on a conv sees every conv call, as with the full pass
    cell = parse_arch(SPECIAL[6])
    calls = {"pruned": 0, "full": 0}
    for name, net in (("pruned", build_network(cell, 10, seed=1, prune=True)), ("full", reference_network(cell, 10, 1))):
        def count(module, inputs, output, name=name):
            calls[name] += 1
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                m.register_forward_hook(count)
        with torch.no_grad():
            net(x)
    assert calls["pruned"] == calls["full"]


def test_pruning_falls_back_when_zero_is_not_preserved():
    # A BatchNorm with a bias maps an all-zero node to a non-zero value: pruning would be wrong.
    cell = parse_arch(SPECIAL[5])
    x = torch.randn(4, 3, 32, 32)
    full, pruned = reference_network(cell, 10, 2), build_network(cell, 10, seed=2, prune=True)
    for net in (full, pruned):
        with torch.no_grad():
            for m in net.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.bias.fill_(0.5)
    with torch.no_grad():
        assert torch.equal(pruned(x), full(x))


def test_channels_last_pool_is_bit_identical_forward_and_backward():
    pool = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    for shape in [(8, 16, 32, 32), (5, 64, 8, 8)]:
        x = torch.randn(shape)
        a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
        g = torch.randn(shape)
        out_a, out_b = pool(a), avg_pool_channels_last(pool, b)
        assert torch.equal(out_a, out_b) and out_b.is_contiguous()
        out_a.backward(g)
        out_b.backward(g)
        assert torch.equal(a.grad, b.grad) and b.grad.is_contiguous()


def test_kernel_shortcuts_are_exact():
    """A batch-broadcast input adds N_l everywhere; one tensor seen by two ReLUs is counted twice."""
    torch.manual_seed(0)
    x = torch.randn(6, 5)

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.ReLU(), nn.ReLU()

        def forward(self, x):
            return self.a(x) + self.b(x)

    class Broadcast(nn.Module):
        def __init__(self):
            super().__init__()
            self.r, self.s = nn.ReLU(), nn.ReLU()

        def forward(self, x):
            return self.r(x) + self.s(x[:1].expand(x.shape[0], -1)).sum()

    single = naswot_kernel(nn.Sequential(nn.ReLU()), x)
    torch.testing.assert_close(naswot_kernel(Twice(), x), 2 * single, rtol=0, atol=0)
    torch.testing.assert_close(naswot_kernel(Broadcast(), x), single + x.shape[1], rtol=0, atol=0)
    np.testing.assert_array_equal(naswot_kernel(Twice(), x).numpy(), reference_naswot_kernel(Twice(), x))
    np.testing.assert_array_equal(naswot_kernel(Broadcast(), x).numpy(), reference_naswot_kernel(Broadcast(), x))


# The zoo's gradient and Jacobian proxies run on the pruned network too.  The
# skipped weights have an identically zero gradient in the full pass, which
# contributes nothing to any of these sums, so the scores must agree.
PRUNED_ZOO = {
    "grad_norm": lambda net, x, y: grad_norm_score(net, x, y),
    "plain": lambda net, x, y: plain_score(net, x, y),
    "grasp": lambda net, x, y: grasp_score(net, x, y),
    "zico": lambda net, x, y: zico_score(net, x, y, 2),
    "jacov": lambda net, x, y: jacov_score(net, x),
    "epe_nas": lambda net, x, y: epe_nas_score(net, x, y, 10),
}


@pytest.mark.parametrize("name", sorted(PRUNED_ZOO))
def test_zoo_proxies_on_the_pruned_network_equal_the_full_computation(name, batch):
    x, y = batch
    ctx = ScoringContext(dataset="cifar10", num_classes=10, input_size=32, seed=0, batch_loader=lambda: batch)
    metric = make_metric(name, ctx)
    # a disconnected cell with a live conv, a zero node feeding a conv, a conv feeding only none, a random cell
    cells = [parse_arch(SPECIAL[i]) for i in (2, 5, 6)] + sample(1, 8)[-1:]
    for cell in cells:
        expected = PRUNED_ZOO[name](reference_network(cell, 10, 0), x, y)
        got = metric.score_cell(cell)
        if math.isnan(expected):
            assert math.isnan(got), str(cell)
        else:
            assert got == pytest.approx(expected, rel=1e-6, abs=1e-12), str(cell)
