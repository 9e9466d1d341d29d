"""The proxy zoo: each proxy on a network with a hand-checkable property, then on NATS cells."""

from __future__ import annotations

import functools
import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nats_samples import CONV_CELL, POOL_CELL, cifar10_sample
from zcnas.errors import ConfigError, MetricError
from zcnas.metrics import ScoringContext, defaults, make_metric, metric_class
from zcnas.metrics.counts import flops_score, params_score
from zcnas.metrics.epe_nas import epe_nas_score
from zcnas.metrics.fisher import fisher_score
from zcnas.metrics.grad_norm import grad_norm_score
from zcnas.metrics.grasp import grasp_score
from zcnas.metrics.jacov import jacov_score
from zcnas.metrics.l2_norm import l2_norm_score
from zcnas.metrics.meco import meco_score
from zcnas.metrics.plain import plain_score
from zcnas.metrics.zen import zen_score
from zcnas.metrics.zico import zico_score
from zcnas.metrics.jacov import K
from zcnas.spaces.nats_tss.network import build_network
from zcnas.spaces.nats_tss.cells import sample_cell, to_cell

# the parameters' defaults, as conf/metric/ states them (the functions take no defaults)
MECO, ZICO = defaults("meco"), defaults("zico")
ZEN = {k: defaults("zen")[k] for k in ("alpha", "repeat", "norm")}


def zen(model, shape, **given) -> float:
    return zen_score(model, shape, **{**ZEN, "seed": 0, **given})


ZOO = ["grad_norm", "grasp", "fisher", "jacov", "l2_norm", "plain", "params", "flops", "zen", "epe_nas", "zico",
       "meco"]

# ---------------------------------------------------------------- a linear classifier, by hand

W = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]])
X = np.array([[1.0, 2.0, -1.0], [0.5, -1.5, 3.0], [-2.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
Y = np.array([0, 1, 1, 0])


def linear(weight: np.ndarray = W) -> nn.Linear:
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=False).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(weight))
    return layer


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def dlogits(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """∂L/∂z for the mean cross-entropy: (softmax(z) − onehot(y)) / n."""
    return (softmax(z) - np.eye(z.shape[1])[y]) / len(z)


def tx(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(a))


def test_declared_with_direction_and_data_needs():
    for name in ZOO:
        assert metric_class(name).higher_is_better, name
    needs = {n for n in ZOO if metric_class(n).needs_data}
    assert needs == {"grad_norm", "grasp", "fisher", "jacov", "plain", "epe_nas", "zico", "meco"}


# ---------------------------------------------------------------- grad_norm, plain, fisher, grasp


def test_grad_norm_is_the_sum_of_per_layer_norms():
    w1, w2 = W, np.array([[1.0, -2.0], [0.5, 3.0]])
    model = nn.Sequential(linear(w1), linear(w2))
    h = X @ w1.T
    dz = dlogits(h @ w2.T, Y)
    g2, g1 = dz.T @ h, (dz @ w2).T @ X
    expected = np.linalg.norm(g1) + np.linalg.norm(g2)
    assert grad_norm_score(model, tx(X), tx(Y)) == pytest.approx(expected, rel=1e-12)
    assert expected > np.sqrt(np.sum(g1**2) + np.sum(g2**2))  # not the norm of the concatenation


def test_plain_is_the_signed_sum_and_its_sign():
    g = dlogits(X @ W.T, Y).T @ X
    assert plain_score(linear(), tx(X), tx(Y)) == pytest.approx(float((W * g).sum()), rel=1e-12)
    # plain = d/dα L(α·W) at α = 1: negative when every image's true class has the top logit
    # (scaling the weights up lowers the loss), positive when it has the lowest.
    eye, x2 = np.eye(2), np.array([[2.0, 0.0], [0.0, 3.0], [1.0, 0.5]])
    assert plain_score(linear(eye), tx(x2), tx(np.array([0, 1, 0]))) < 0
    assert plain_score(linear(eye), tx(x2), tx(np.array([1, 0, 1]))) > 0


def test_fisher_on_a_linear_layer_by_hand():
    z = X @ W.T
    expected = 0.5 * ((z * dlogits(z, Y)) ** 2).mean(axis=0).sum()
    assert fisher_score(linear(), tx(X), tx(Y)) == pytest.approx(expected, rel=1e-12)


def test_fisher_on_conv_channels_survives_an_inplace_relu():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(3 * 16, 4))
    x, y = torch.randn(5, 2, 4, 4), torch.tensor([0, 1, 2, 3, 0])
    conv, fc = model[0], model[3]
    a = F.conv2d(x, conv.weight, conv.bias, padding=1)  # the conv's output, before the ReLU
    z1 = F.linear(F.relu(a).flatten(1), fc.weight, fc.bias)
    ga, gz = torch.autograd.grad(F.cross_entropy(z1, y), [a, z1])
    expected = (0.5 * ((a * ga).sum(dim=(2, 3)) ** 2).mean(0).sum() + 0.5 * ((z1 * gz) ** 2).mean(0).sum()).item()
    assert fisher_score(model, x, y) == pytest.approx(expected, rel=1e-5)
    assert all(p.grad is None for p in model.parameters())


def test_grasp_is_minus_theta_hessian_gradient():
    # L(W) = mean_n CE(W x_n): H acts on a direction V as (1/n) Σ_n (diag p_n − p_n p_nᵀ) V x_n x_nᵀ,
    # so θᵀHg = (1/n) Σ_n z_nᵀ (diag p_n − p_n p_nᵀ) G x_n with z = W x, G = ∂L/∂W.
    z = X @ W.T
    p, g = softmax(z), dlogits(z, Y).T @ X
    thg = np.mean([z[n] @ (np.diag(p[n]) - np.outer(p[n], p[n])) @ (g @ X[n]) for n in range(len(X))])
    assert grasp_score(linear(), tx(X), tx(Y)) == pytest.approx(-thg, rel=1e-10)


def test_gradient_proxies_need_labels_and_weights():
    for fn in (grad_norm_score, plain_score, fisher_score, grasp_score, functools.partial(zico_score, **ZICO)):
        with pytest.raises(MetricError, match="needs labels"):
            fn(linear(), tx(X), None)
        with pytest.raises(MetricError, match="needs nn.Conv2d or nn.Linear"):
            fn(nn.Flatten(), tx(X), tx(Y))


# ---------------------------------------------------------------- jacov, epe_nas

# f(x) = Σ relu(x): the Jacobian row of an image is its positivity pattern.
PATTERNS = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 0, 1]], dtype=float)


def patterned(rows: np.ndarray) -> torch.Tensor:
    return tx(np.where(rows > 0, 1.0, -1.0) * np.array([1.0, 2.0, 3.0, 4.0]))


def test_jacov_uncorrelated_jacobians_score_highest():
    # the centred patterns are orthogonal: Σ_J = I, every eigenvalue 1
    expected = -3 * (math.log(1 + K) + 1 / (1 + K))
    assert jacov_score(nn.ReLU(), patterned(PATTERNS)) == pytest.approx(expected, rel=1e-12)


def test_jacov_identical_jacobians_and_undefined_correlation():
    # a linear map has the same Jacobian row Wᵀ1 for every image: Σ_J = all-ones, eigenvalues {N, 0, ...}
    n = len(X)
    expected = -(math.log(n + K) + 1 / (n + K)) - (n - 1) * (math.log(K) + 1 / K)
    assert jacov_score(linear(), tx(X)) == pytest.approx(expected, rel=1e-6)
    assert jacov_score(linear(), tx(X)) < jacov_score(nn.ReLU(), patterned(PATTERNS))

    class Zero(nn.Module):
        def forward(self, x):
            return x.mul(0.0)

    assert math.isnan(jacov_score(Zero(), tx(X)))  # zero-variance rows: NaN, returned as-is
    with pytest.raises(MetricError, match="at least 2 images"):
        jacov_score(linear(), tx(X[:1]))


def test_epe_nas_per_class_correlations_by_hand():
    rows = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 1, 1, 0]], dtype=float)
    labels = tx(np.array([0, 0, 1, 1, 2]))  # class 2 has one image: skipped
    # class 0: uncorrelated patterns, Σ = I; class 1: opposite patterns, Σ = [[1, -1], [-1, 1]]
    e0 = 2 * math.log(1 + K) + 2 * math.log(K)
    e1 = 4 * math.log(1 + K)
    assert epe_nas_score(nn.ReLU(), patterned(rows), labels, num_classes=10) == pytest.approx(abs(e0) + abs(e1))
    # above 100 classes: E_c divided by the matrix size, then Σ_i Σ_j |E_i − E_j| / C'
    assert epe_nas_score(nn.ReLU(), patterned(rows), labels, num_classes=120) == pytest.approx(
        2 * abs(e0 / 2 - e1 / 2) / 2)
    with pytest.raises(MetricError, match="no class has two images"):
        epe_nas_score(nn.ReLU(), patterned(rows[:3]), tx(np.array([0, 1, 2])))
    with pytest.raises(MetricError, match="needs labels"):
        epe_nas_score(nn.ReLU(), patterned(rows), None)


# ---------------------------------------------------------------- l2_norm, params, flops


def test_l2_norm_exact():
    model = nn.Sequential(nn.Conv2d(1, 1, 2), nn.BatchNorm2d(1), nn.Flatten(), nn.Linear(4, 2))
    with torch.no_grad():
        model[0].weight.fill_(1.0)  # ‖·‖ = 2
        model[3].weight.fill_(-1.5)  # ‖·‖ = 1.5·√8
        model[0].bias.fill_(100.0)  # biases and BatchNorm are not counted
        model[1].weight.fill_(100.0)
    assert l2_norm_score(model) == pytest.approx(2.0 + 1.5 * math.sqrt(8), rel=1e-12)


def test_params_and_flops_exact_on_a_tiny_model():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=2, bias=False),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))
    assert params_score(model) == (3 * 8 * 9 + 8) + 2 * 8 + (8 * 4 * 9) + (8 * 5 + 5)
    # conv1: 10·10 positions × 8 channels × 3·9; grouped stride-2 conv: 5·5 × 8 × (8/2)·9; linear 8·5
    assert flops_score(model, (3, 10, 10)) == 100 * 8 * 27 + 25 * 8 * 36 + 40
    model.train()
    flops_score(model, (3, 10, 10))
    assert all(m.training for m in model.modules())  # the mode is restored


CELL0_CONVS_PER_CELL = 2  # |avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|


def test_params_and_flops_of_nats_cell_0_by_hand():
    net = build_network(0, 10, seed=0)
    k = CELL0_CONVS_PER_CELL

    def conv_bn(cin, cout, ks):  # nor_conv: conv without bias + BatchNorm (2 per channel)
        return cin * cout * ks * ks + 2 * cout

    params = conv_bn(3, 16, 3)  # stem
    for c in (16, 32, 64):
        params += 5 * k * conv_bn(c, c, 1)  # 5 cells
    for cin in (16, 32):  # reduction blocks: 3x3 stride 2, 3x3, 1x1 shortcut conv
        params += conv_bn(cin, 2 * cin, 3) + conv_bn(2 * cin, 2 * cin, 3) + cin * 2 * cin
    params += 2 * 64 + 64 * 10 + 10  # final BN, classifier
    assert params_score(net) == params == 129_306

    macs = 32 * 32 * 16 * 3 * 9  # stem at 32x32
    for c, hw in ((16, 32), (32, 16), (64, 8)):
        macs += 5 * k * hw * hw * c * c  # 1x1 convs of the cells
    for cin, hw in ((16, 16), (32, 8)):  # reduction: output at hw x hw
        cout = 2 * cin
        macs += hw * hw * cout * (cin * 9 + cout * 9 + cin)
    macs += 64 * 10
    assert flops_score(net, (3, 32, 32)) == macs == 15_647_360


@pytest.mark.parametrize("classes, size", [(10, 32), (120, 16)])
def test_params_and_flops_metrics_sum_per_edge_counts_exactly(classes, size):
    # the metrics add per-operation counts instead of building each network: same integers
    context = ScoringContext(dataset="x", num_classes=classes, input_size=size)
    params, flops = make_metric("params", context), make_metric("flops", context)
    rng = random.Random(7)
    cells = [to_cell(0), to_cell(POOL_CELL)] + [sample_cell(rng) for _ in range(6)]
    for cell in cells:
        net = build_network(cell, classes, seed=1)
        assert params.score_cell(cell) == params_score(net), str(cell)
        assert flops.score_cell(cell) == flops_score(net, (3, size, size)), str(cell)


# ---------------------------------------------------------------- zen


def test_zen_linear_network_scales_with_alpha():
    # Without BatchNorm and nonlinearity f(x) − f(x + αε) = −α f(ε): log Δ moves by exactly log 10.
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.Conv2d(4, 2, 1, bias=False))
    for norm in ("fro", "l1"):
        a = zen(model, (4, 3, 6, 6), alpha=0.1, seed=3, norm=norm)
        b = zen(model, (4, 3, 6, 6), alpha=0.01, seed=3, norm=norm)
        assert a - b == pytest.approx(math.log(10), abs=1e-5)


def test_zen_batchnorm_term_by_hand():
    # One BatchNorm alone: the draws are x then ε (no weights to draw), BN on batch statistics,
    # σ² the mean over channels of the biased batch variance of its input.
    shape, alpha, seed = (8, 3, 4, 4), 0.01, 5
    g = torch.Generator().manual_seed(seed)
    x, eps = torch.randn(shape, generator=g).double(), torch.randn(shape, generator=g).double()

    def bn(t):
        return F.batch_norm(t, None, None, training=True, eps=1e-5)

    delta = torch.linalg.vector_norm((bn(x) - bn(x + alpha * eps)).reshape(8, -1), dim=1).mean()
    sigma2 = x.var(dim=(0, 2, 3), unbiased=False).mean()
    expected = math.log(delta.item()) + 0.5 * math.log(sigma2.item())
    assert zen(nn.BatchNorm2d(3), shape, alpha=alpha, seed=seed) == pytest.approx(expected, abs=1e-4)


def test_zen_ignores_the_given_weights_and_leaves_them_alone():
    a = build_network(100, 10, seed=0)
    b = build_network(100, 10, seed=1)
    with torch.no_grad():
        for m in b.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.mul_(7.0)  # BN affine scaling
                m.running_var.fill_(3.0)
    b.eval()
    before = {k: v.clone() for k, v in b.state_dict().items()}
    assert zen(a, (4, 3, 8, 8), seed=2) == zen(b, (4, 3, 8, 8), seed=2)
    assert zen(a, (4, 3, 8, 8), seed=2) != zen(a, (4, 3, 8, 8), seed=3)
    assert all(torch.equal(v, before[k]) for k, v in b.state_dict().items())
    assert not any(m.training for m in b.modules())
    with pytest.raises(ConfigError, match="alpha"):
        zen(a, (4, 3, 8, 8), alpha=0)


def test_zen_leaves_out_batchnorms_of_dead_branches():
    class DeadBranch(nn.Module):
        def __init__(self):
            super().__init__()
            self.main = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4))
            self.dead = nn.BatchNorm2d(4)  # fed zeros: variance 0, nothing to normalize

        def forward(self, x):
            y = self.main(x)
            return y + self.dead(y * 0.0)

    shape = (4, 3, 6, 6)
    assert zen(DeadBranch(), shape, seed=1) == zen(DeadBranch().main, shape, seed=1)
    # NATS cell 14405: its nor_conv_3x3~1 is fed only by a none edge
    assert math.isfinite(zen(build_network(14405, 10, seed=0), (4, 3, 16, 16)))


# ---------------------------------------------------------------- zico


def test_zico_opposite_gradients_give_log_of_the_weight_count():
    # W = 0: both halves see uniform softmax; the second half is the first with x negated, so its
    # gradient is exactly the negated first: E|g| / std(g) = 1 for every weight, ZiCo = log(#weights).
    x = np.concatenate([X, -X])
    y = np.concatenate([Y, Y])
    assert zico_score(linear(np.zeros((2, 3))), tx(x), tx(y), **ZICO) == pytest.approx(math.log(6), rel=1e-12)


def test_zico_by_hand_on_two_halves():
    x2 = np.array([[0.3, -1.0, 2.0], [1.0, 0.5, 0.5], [2.0, -1.0, 0.0], [-0.5, 1.5, 1.0]])
    xs, ys = np.concatenate([X, x2]), np.concatenate([Y, [1, 0, 0, 1]])
    g = np.stack([(dlogits(xs[s] @ W.T, ys[s]).T @ xs[s]).ravel() for s in (slice(0, 4), slice(4, 8))])
    expected = math.log(np.sum(np.abs(g).mean(axis=0) / g.std(axis=0)))
    assert zico_score(linear(), tx(xs), tx(ys), **ZICO) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(MetricError, match="at least that many images"):
        zico_score(linear(), tx(X[:2]), tx(Y[:2]), num_batches=3)
    with pytest.raises(ConfigError, match="num_batches must be an integer >= 2"):
        zico_score(linear(), tx(xs), tx(ys), num_batches=1)


# ---------------------------------------------------------------- meco


def image(*channels) -> torch.Tensor:
    """A batch of 2: the first image has the given channels (each 2x2), the second is noise."""
    first = torch.tensor(channels, dtype=torch.float64).reshape(1, len(channels), 2, 2)
    return torch.cat([first, torch.randn(1, len(channels), 2, 2, dtype=torch.float64)])


def test_meco_minimum_eigenvalue_by_hand():
    # a = u, b = u + w with u ⟂ w centred, |u| = |w|: ρ = 1/√2, eigenvalues 1 ± ρ
    u, w = [1, 1, -1, -1], [1, -1, 1, -1]
    x = image(u, [a + b for a, b in zip(u, w)])
    lam = 1 - 1 / math.sqrt(2)
    assert meco_score(nn.Identity(), x, **MECO) == pytest.approx(lam, rel=1e-12)
    x2 = x.clone()
    x2[1] = 5.0
    assert meco_score(nn.Identity(), x2, **MECO) == meco_score(nn.Identity(), x, **MECO)  # only the first image
    # every module counts (the authors' code): the container and its two children; "leaves": the two children
    twice = nn.Sequential(nn.Identity(), nn.Identity())
    assert meco_score(twice, x, **MECO) == pytest.approx(3 * lam, rel=1e-12)
    assert meco_score(twice, x, layers="leaves") == pytest.approx(2 * lam, rel=1e-12)
    assert meco_score(nn.Identity(), image(u, w), **MECO) == pytest.approx(1.0)  # uncorrelated channels
    assert meco_score(nn.Identity(), image(u, [3, 3, 3, 3]), **MECO) == 0.0  # a constant channel: NaN row -> 0


def test_meco_dependent_channels_and_models_without_feature_maps():
    conv = nn.Conv2d(1, 2, 1, bias=False).double()
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, -2.0]).reshape(2, 1, 1, 1))
    x = torch.randn(2, 1, 3, 3, dtype=torch.float64)
    assert meco_score(conv, x, **MECO) == pytest.approx(0.0, abs=1e-12)  # channel 2 = −2 × channel 1
    with pytest.raises(MetricError, match="meco needs convolutional feature maps"):
        meco_score(linear(), tx(X), **MECO)
    with pytest.raises(ConfigError, match="layers"):
        meco_score(conv, x, layers="convs")


# ---------------------------------------------------------------- every proxy on NATS cells


@pytest.fixture(scope="module")
def cifar_batch():
    x, y = cifar10_sample(32)
    # 16 real images keep the test light on a shared CPU; epe_nas needs a class seen twice,
    # which 16 images of 10 classes always have
    return x[:16], y[:16]


@pytest.mark.slow
@pytest.mark.parametrize("name", ZOO)
def test_finite_and_deterministic_on_nats_cells(name, cifar_batch):
    params = {"batch_size": 8} if name == "zen" else {}
    context = ScoringContext(dataset="cifar10", num_classes=10, input_size=32, seed=0,
                             batch_loader=lambda: cifar_batch)
    metric = make_metric(name, context, **params)
    conv, pool = metric.score_cell(to_cell(CONV_CELL)), metric.score_cell(to_cell(POOL_CELL))
    assert math.isfinite(conv) and math.isfinite(pool), (conv, pool)
    assert conv != pool
    # a fresh metric rebuilds the seeded network: the same score (the cheaper cell is rescored)
    assert make_metric(name, context, **params).score_cell(to_cell(POOL_CELL)) == pool
    assert metric.describe()["name"] == name
