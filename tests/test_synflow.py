"""synflow on hand-checkable networks and on NATS-Bench cells."""

import math

import pytest
import torch
from torch import nn

from zcnas.metrics import ScoringContext, make_metric
from zcnas.metrics.synflow import synflow_score
from zcnas.spaces.nats_tss.network import build_network


def test_two_layer_linear_network_by_hand():
    # R = sum_k |w2_k| * sum_j |w1_kj| for an all-ones input; each layer's saliencies sum to R,
    # so the score is 2R (synflow's conservation law, Tanaka et al. 2020).
    w1 = torch.tensor([[1.0, -2.0, 0.5], [-1.5, 0.25, 3.0]])
    w2 = torch.tensor([[2.0, -4.0]])
    net = nn.Sequential(nn.Linear(3, 2, bias=False), nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(w1)
        net[1].weight.copy_(w2)
    r = float((w2.abs() @ w1.abs().sum(1, keepdim=True)).sum())
    assert synflow_score(net, (3,)) == pytest.approx(2 * r, rel=1e-12)
    # the caller's network is untouched: signs, dtype, no gradients
    assert torch.equal(net[0].weight, w1) and net[0].weight.dtype == torch.float32
    assert net[0].weight.grad is None


def test_batchnorm_is_ignored():
    lin = nn.Linear(4, 3, bias=False)
    with_bn = nn.Sequential(lin, nn.BatchNorm1d(3), nn.Linear(3, 2, bias=False))
    without = nn.Sequential(with_bn[0], nn.Identity(), with_bn[2])
    with torch.no_grad():
        with_bn[1].weight.fill_(7.0)
    assert synflow_score(with_bn, (4,)) == synflow_score(without, (4,))


def test_nats_cells_finite_deterministic_and_zero_when_disconnected():
    ctx = ScoringContext(dataset="cifar10", num_classes=10, input_size=32, seed=0)
    metric = make_metric("synflow", ctx)
    from zcnas.spaces.nats_tss.cells import arch_from_index, parse_arch
    a = metric.score_cell(arch_from_index(13714))
    assert math.isfinite(a) and a > 0
    assert metric.score_cell(arch_from_index(13714)) == a
    # a disconnected cell passes no signal, so every cell parameter gets zero gradient; only the
    # reduction blocks' shortcut convs and stem/classifier carry flow
    dead = parse_arch("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|none~2|")
    assert metric.score_cell(dead) < a


def test_score_depends_on_input_size_and_classes():
    net = build_network(100, 10, seed=0)
    assert synflow_score(net, (3, 32, 32)) != synflow_score(net, (3, 16, 16))
