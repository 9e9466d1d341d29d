"""hook_logdet (NASWOT, Mellor et al. 2021; paper section III-A): K_H[i, j] = N_A - d_H(c_i, c_j), s = log|det K_H|."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from torch import nn

from nats_samples import CONV_CELL, DISCONNECTED_CELL, EMPTY_CELL, POOL_CELL, cifar10_sample
from zcnas.errors import MetricError
from zcnas.metrics import ScoringContext, make_metric, metric_class
from zcnas.metrics.naswot import hook_logdet_score, naswot_kernel
from zcnas.spaces.nats_tss.network import build_network
from zcnas.spaces.nats_tss.cells import is_disconnected, sample_cell, to_cell


@pytest.fixture(scope="module")
def cifar_batch():
    return cifar10_sample()


def fixed_linear(weight, bias=None) -> nn.Linear:
    weight = torch.tensor(weight, dtype=torch.float32)
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(torch.tensor(bias, dtype=torch.float32))
    return layer


# Three inputs whose ReLU codes are known: through an identity layer they are
# a = [1,0,1], b = [1,1,0], c = [0,0,0] (an input of exactly 0 is inactive).
X3 = torch.tensor([[1.0, -1.0, 2.0], [1.0, 1.0, 0.0], [-1.0, -2.0, -3.0]])


def test_kernel_one_layer_by_hand():
    model = nn.Sequential(fixed_linear(np.eye(3)), nn.ReLU())
    # N_A = 3 and every pair of codes differs in 2 places: K = 3 - d_H.
    expected = np.array([[3, 1, 1], [1, 3, 1], [1, 1, 3]], dtype=float)
    kernel = naswot_kernel(model, X3)
    assert kernel.dtype == torch.float64 and kernel.shape == (3, 3)
    np.testing.assert_array_equal(kernel.numpy(), expected)
    assert hook_logdet_score(model, X3) == pytest.approx(math.log(20.0), abs=1e-12)  # det = 20


def test_kernel_two_layers_accumulate():
    # Layer 2 sees h = relu(x) = [1,0,2], [1,1,0], [0,0,0]; its inputs are
    # (h0 - 0.5, h1 - h0) = (0.5, -1), (0.5, 0), (-0.5, 0): codes [1,0], [1,0], [0,0].
    model = nn.Sequential(
        fixed_linear(np.eye(3)), nn.ReLU(), fixed_linear([[1, 0, 0], [-1, 1, 0]], bias=[-0.5, 0.0]), nn.ReLU()
    )
    layer1 = np.array([[3, 1, 1], [1, 3, 1], [1, 1, 3]])
    layer2 = np.array([[2, 2, 1], [2, 2, 1], [1, 1, 2]])  # N = 2; d_H(a,b) = 0, d_H(a,c) = d_H(b,c) = 1
    expected = (layer1 + layer2).astype(float)
    np.testing.assert_array_equal(naswot_kernel(model, X3).numpy(), expected)
    sign, logdet = np.linalg.slogdet(expected)
    assert sign == 1 and round(np.linalg.det(expected)) == 64
    assert hook_logdet_score(model, X3) == pytest.approx(logdet, abs=1e-12)


def test_inplace_relu_gives_the_same_codes():
    # The hook sees relu(x) as its "input" then; relu(x) > 0 exactly where x > 0.
    plain = nn.Sequential(fixed_linear(np.eye(3)), nn.ReLU())
    inplace = nn.Sequential(fixed_linear(np.eye(3)), nn.ReLU(inplace=True))
    torch.testing.assert_close(naswot_kernel(inplace, X3), naswot_kernel(plain, X3), rtol=0, atol=0)


def test_kernel_matches_two_product_form_on_a_nats_network(cifar_batch):
    """K = sum over ReLUs of C Cᵀ + (1-C)(1-C)ᵀ, computed independently in numpy from the same forward pass."""
    x, _ = cifar_batch
    net = build_network(to_cell(CONV_CELL).index, 10, seed=0)
    reference = np.zeros((len(x), len(x)))
    units = 0

    def collect(module, inputs, output):
        nonlocal reference, units
        c = (inputs[0].reshape(len(x), -1) > 0).numpy().astype(np.float64)  # exact: sums < 2**53
        reference += c @ c.T + (1 - c) @ (1 - c).T
        units += c.shape[1]

    handles = [m.register_forward_hook(collect) for m in net.modules() if isinstance(m, nn.ReLU)]
    try:
        kernel = naswot_kernel(net, x).numpy()  # the forward pass also feeds `collect`
    finally:
        for h in handles:
            h.remove()
    np.testing.assert_array_equal(kernel, reference)
    assert (np.diag(kernel) == units).all()  # d_H(c_i, c_i) = 0: the diagonal is N_A
    assert kernel.min() >= 0 and np.array_equal(kernel, kernel.T)


def test_repeated_image_gives_minus_inf(cifar_batch):
    x = cifar_batch[0][:16].clone()
    x[5] = x[2]  # identical images get identical codes: two equal rows of K
    net = build_network(CONV_CELL, 10, seed=0)
    assert hook_logdet_score(net, x) == -math.inf
    # Small model: the rows of a and a repeated a coincide.
    model = nn.Sequential(fixed_linear(np.eye(3)), nn.ReLU())
    assert hook_logdet_score(model, torch.cat([X3, X3[:1]])) == -math.inf


def test_all_zero_input_gives_minus_inf():
    # Every ReLU input is 0 (bias-free convs, BatchNorm of a constant is 0): all codes are 0, K = N_A · ones.
    net = build_network(CONV_CELL, 10, seed=0)
    zeros = torch.zeros(4, 3, 32, 32)
    kernel = naswot_kernel(net, zeros)
    assert torch.equal(kernel, torch.full_like(kernel, kernel[0, 0].item()))
    assert hook_logdet_score(net, zeros) == -math.inf


def test_model_without_relu_is_an_error():
    class FunctionalRelu(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            return torch.relu(self.fc(x))  # not an nn.ReLU module: nothing to hook

    for model in (nn.Sequential(nn.Linear(3, 3)), FunctionalRelu()):
        with pytest.raises(MetricError, match="hook_logdet needs nn.ReLU modules"):
            hook_logdet_score(model, X3)


def test_model_mode_buffers_and_hooks_are_restored():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU())
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    hook_logdet_score(model, torch.randn(5, 3))
    assert not any(m.training for m in model.modules())
    for k, v in model.state_dict().items():  # the training-mode pass must not move BatchNorm's running stats
        assert torch.equal(v, before[k]), k
    assert all(not m._forward_hooks for m in model.modules())

    model.train()
    with pytest.raises(RuntimeError):
        naswot_kernel(model, torch.randn(5, 7))  # wrong width: the forward pass fails
    assert all(m.training for m in model.modules())
    assert all(not m._forward_hooks for m in model.modules())


def test_batchnorm_uses_batch_statistics():
    # In eval mode a fresh BatchNorm is the identity and the codes would be those of the raw
    # inputs; training mode centres each unit over the batch, which flips the code of X3's row b.
    model = nn.Sequential(fixed_linear(np.eye(3)), nn.BatchNorm1d(3), nn.ReLU())
    model.eval()
    centred = X3 - X3.mean(dim=0)
    reference = nn.Sequential(fixed_linear(np.eye(3)), nn.ReLU())
    kernel = naswot_kernel(model, X3)
    torch.testing.assert_close(kernel, naswot_kernel(reference, centred), rtol=0, atol=0)
    assert not torch.equal(kernel, naswot_kernel(reference, X3))
    assert not model.training


def test_metric_on_nats_cells(cifar_batch):
    assert metric_class("hook_logdet").needs_data
    context = ScoringContext(dataset="cifar10", num_classes=10, input_size=32, seed=0, batch_loader=lambda: cifar_batch)
    metric = make_metric("hook_logdet", context)
    scores = {arch: metric.score_cell(to_cell(arch)) for arch in (CONV_CELL, POOL_CELL, DISCONNECTED_CELL, EMPTY_CELL)}
    assert math.isfinite(scores[CONV_CELL]) and math.isfinite(scores[POOL_CELL])
    assert metric.score_cell(to_cell(CONV_CELL)) == scores[CONV_CELL]  # same seed, same network, same score
    # A disconnected cell's network outputs a constant, yet hook_logdet stays finite while some
    # ReLU (here the conv on edge 1<-0 of the first cell) sees the stem output; it scores
    # below both connected cells.  With no live ReLU at all (every edge none) every code is
    # 0 and K is singular: -inf.
    assert is_disconnected(to_cell(DISCONNECTED_CELL)) and is_disconnected(to_cell(EMPTY_CELL))
    assert math.isfinite(scores[DISCONNECTED_CELL])
    assert scores[DISCONNECTED_CELL] < min(scores[CONV_CELL], scores[POOL_CELL])
    assert scores[EMPTY_CELL] == -math.inf


@pytest.mark.slow
def test_correlates_with_cifar10_test_accuracy(cifar_batch, table_benchmark):
    """Measured: Spearman rho 0.68 on these 40 cells (the paper: 0.79 over all 15,625).

    A batch of 64 keeps the test near 15 s on 2 CPU cores (128 gives 0.70 at ~3x the time).
    """
    x = cifar_batch[0][:64]
    rng = random.Random(0)
    cells = [sample_cell(rng) for _ in range(40)]
    scores = [hook_logdet_score(build_network(c, 10, seed=0), x) for c in cells]
    accuracy = [table_benchmark.test_accuracy(c.index, "cifar10") for c in cells]
    rho = spearmanr(scores, accuracy)[0]
    assert rho > 0.5, rho


# --- the C Cᵀ kernel (zcnas.metrics.naswot_kernels): int8 or float32, chosen by measuring; both exact ----------


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (7, 13), (128, 16384), (33, 1000), (128, 4097), (9, 8)])
def test_both_kernels_give_identical_exact_counts(shape):
    from zcnas.metrics.naswot_kernels import code_product, int8_available

    codes = torch.rand(shape, generator=torch.Generator().manual_seed(sum(shape))) > 0.5
    c = codes.numpy().astype(np.int64)
    expected = c @ c.T  # exact integer counts
    f32 = code_product(codes, kernel="float32")
    assert f32.dtype == torch.float64
    np.testing.assert_array_equal(f32.numpy(), expected)
    if int8_available():
        i8 = code_product(codes, kernel="int8")
        assert i8.dtype == torch.float64 and torch.equal(i8, f32)
    chosen = code_product(codes)  # the process's measured choice
    assert torch.equal(chosen, f32)


def test_kernels_agree_on_all_ones_and_all_zeros():
    from zcnas.metrics.naswot_kernels import code_product, int8_available

    for codes in (torch.ones((5, 300), dtype=torch.bool), torch.zeros((5, 300), dtype=torch.bool)):
        expected = code_product(codes, kernel="float32")
        assert (expected == float(codes[0].sum())).all()
        if int8_available():
            assert torch.equal(code_product(codes, kernel="int8"), expected)


def test_the_choice_is_a_valid_kernel_measured_once(monkeypatch):
    from zcnas.metrics import naswot_kernels as kernels

    monkeypatch.delenv(kernels.ENV, raising=False)
    kernels.reset_choice()
    try:
        chosen = kernels.choose_kernel()
        assert chosen in kernels.KERNELS
        if kernels.int8_available():
            info = dict(kernels.choice_info)
            assert info["how"] == "measured" and info["int8"] > 0 and info["float32"] > 0
            assert chosen == min(kernels.KERNELS, key=lambda k: info[k])
        monkeypatch.setattr(kernels, "measure", lambda *a, **k: pytest.fail("measured twice"))
        assert kernels.choose_kernel() == chosen  # cached for the process
    finally:
        kernels.reset_choice()


@pytest.mark.parametrize("value", ["float32", "int8", "FLOAT32", "auto", "bogus"])
def test_the_environment_fixes_the_kernel(monkeypatch, value):
    from zcnas.metrics import naswot_kernels as kernels
    from zcnas.errors import ConfigError

    monkeypatch.setenv(kernels.ENV, value)
    kernels.reset_choice()
    try:
        if value == "bogus":
            with pytest.raises(ConfigError, match=kernels.ENV):
                kernels.choose_kernel()
        elif value == "int8" and not kernels.int8_available():
            with pytest.raises(ConfigError, match="no CPU int8"):
                kernels.choose_kernel()
        elif value == "auto":
            assert kernels.choose_kernel() in kernels.KERNELS
        else:
            assert kernels.choose_kernel() == value.lower()
            assert kernels.choice_info["how"] == value.lower()
    finally:
        kernels.reset_choice()


def test_hook_logdet_kernel_is_the_same_with_either_kernel(cifar_batch, monkeypatch):
    from zcnas.metrics import naswot_kernels as kernels

    x = cifar_batch[0][:32]
    net = build_network(to_cell(CONV_CELL).index, 10, seed=0)
    results = []
    for kernel in kernels.KERNELS if kernels.int8_available() else ("float32",):
        monkeypatch.setenv(kernels.ENV, kernel)
        kernels.reset_choice()
        results.append(naswot_kernel(net, x))
    kernels.reset_choice()
    assert all(torch.equal(k, results[0]) for k in results)
