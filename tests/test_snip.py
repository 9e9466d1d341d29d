"""snip (Lee et al. 2019; Abdelfattah et al. 2021; paper section III-A): Σ over conv/linear weights of |θ ⊙ ∂L/∂θ|."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nats_samples import CONV_CELL, DISCONNECTED_CELL, POOL_CELL, cifar10_sample
from zcnas.errors import MetricError
from zcnas.metrics import ScoringContext, make_metric, metric_class
from zcnas.metrics.snip import snip_score
from zcnas.spaces.nats_tss.network import build_network
from zcnas.spaces.nats_tss.cells import to_cell


@pytest.fixture(scope="module")
def cifar_batch():
    return cifar10_sample()


W = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]])
B = np.array([0.1, -0.3])
X = np.array([[1.0, 2.0, -1.0], [0.5, -1.5, 3.0], [-2.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
Y = np.array([0, 1, 1, 0])


def linear_model(bias: bool) -> nn.Linear:
    layer = nn.Linear(3, 2, bias=bias).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(W))
        if bias:
            layer.bias.copy_(torch.from_numpy(B))
    return layer


def hand_snip(bias: bool) -> float:
    """Mean softmax cross-entropy: ∂L/∂W = (1/n) Σ_n (softmax(z_n) − onehot(y_n)) x_nᵀ."""
    z = X @ W.T + (B if bias else 0.0)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    grad = (p - np.eye(2)[Y]).T @ X / len(X)
    return float(np.abs(W * grad).sum())  # the bias is no connection weight: not scored


@pytest.mark.parametrize("bias", [False, True])
def test_linear_model_by_hand(bias):
    score = snip_score(linear_model(bias), torch.from_numpy(X), torch.from_numpy(Y))
    assert score == pytest.approx(hand_snip(bias), rel=1e-12)
    assert hand_snip(True) != pytest.approx(hand_snip(False))  # the bias does change the score


def test_loss_is_the_batch_mean():
    # Mean cross-entropy: repeating the batch leaves the score unchanged (a summed loss would double it).
    model = linear_model(True)
    x, y = torch.from_numpy(X), torch.from_numpy(Y)
    assert snip_score(model, torch.cat([x, x]), torch.cat([y, y])) == pytest.approx(snip_score(model, x, y), rel=1e-12)


def test_equals_mask_sensitivity():
    """SNIP's definition: |∂L/∂m| at m = 1 for a mask multiplying every conv and linear weight."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 5 * 5, 3))
    x, y = torch.randn(6, 3, 5, 5), torch.tensor([0, 1, 2, 0, 1, 2])
    conv, fc = model[0], model[3]
    masks = [torch.ones_like(conv.weight, requires_grad=True), torch.ones_like(fc.weight, requires_grad=True)]
    h = F.relu(F.conv2d(x, conv.weight.detach() * masks[0], conv.bias.detach(), padding=1))
    loss = F.cross_entropy(F.linear(h.flatten(1), fc.weight.detach() * masks[1], fc.bias.detach()), y)
    expected = sum(g.abs().sum().item() for g in torch.autograd.grad(loss, masks))
    assert snip_score(model, x, y) == pytest.approx(expected, rel=1e-5)


def test_callers_model_is_left_untouched():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    model.eval()
    model[3].weight.requires_grad_(False)  # a frozen weight is scored, and stays frozen
    before = {k: v.clone() for k, v in model.state_dict().items()}
    score = snip_score(model, torch.randn(8, 3), torch.randint(0, 2, (8,)))
    assert math.isfinite(score) and score > 0
    assert all(p.grad is None for p in model.parameters())
    assert not model[3].weight.requires_grad and model[0].weight.requires_grad
    assert not any(m.training for m in model.modules())
    for k, v in model.state_dict().items():  # BatchNorm's running stats are restored
        assert torch.equal(v, before[k]), k

    # Gradients the caller had accumulated are kept as they were.
    model[0].weight.grad = torch.full_like(model[0].weight, 7.0)
    snip_score(model, torch.randn(8, 3), torch.randint(0, 2, (8,)))
    assert torch.equal(model[0].weight.grad, torch.full_like(model[0].weight, 7.0))


def test_model_without_conv_or_linear_is_an_error():
    with pytest.raises(MetricError, match="snip needs nn.Conv2d or nn.Linear"):
        snip_score(nn.Sequential(nn.Flatten()), torch.randn(2, 3), torch.tensor([0, 1]))


def test_metric_on_nats_cells(cifar_batch):
    assert metric_class("snip").needs_data
    context = ScoringContext(dataset="cifar10", num_classes=10, input_size=32, seed=0, batch_loader=lambda: cifar_batch)
    metric = make_metric("snip", context)
    conv, pool = metric.score_cell(to_cell(CONV_CELL)), metric.score_cell(to_cell(POOL_CELL))
    assert math.isfinite(conv) and math.isfinite(pool) and conv > 0 and pool > 0
    assert metric.score_cell(to_cell(CONV_CELL)) == conv  # same seed, same network, same score
    # A disconnected cell outputs zeros: the logits are the classifier's bias whatever the
    # weights, so every weight gradient is 0 and snip is exactly 0 (lowest possible score).
    assert metric.score_cell(to_cell(DISCONNECTED_CELL)) == 0.0


def test_network_gradients_not_left_behind(cifar_batch):
    x, y = cifar_batch
    net = build_network(POOL_CELL, 10, seed=0)
    snip_score(net, x[:16], y[:16])
    assert all(p.grad is None for p in net.parameters())
