"""zen: the Zen-score (Lin, Wang, Sun, Chen, Sun, Qian, Li, Jin, "Zen-NAS: A
Zero-Shot NAS for High-Performance Image Recognition", ICCV 2021).

Paper, Algorithm 1, on a copy of the network:

1. re-initialize every conv and linear weight from N(0, 1) (biases 0) and
   every BatchNorm/GroupNorm affine to weight 1, bias 0 — so the score does
   not depend on the weights it is given;
2. draw x ~ N(0, 1) and ε ~ N(0, 1) of the input shape (a batch of
   ``batch_size`` images) and compute, in training mode (BatchNorm on the
   batch statistics), the pre-global-average-pooling feature maps f(x) and
   f(x + αε), α = 0.01;
3. Δ = E_n ‖f(x_n) − f(x_n + αε_n)‖_F (the mean over the batch of the
   per-image Frobenius norm);
4. for each BatchNorm layer i, σ_i = sqrt( (1/m) Σ_j σ_{i,j}² ), σ_{i,j} the
   standard deviation of channel j of the layer's input over the batch
   (biased, as BatchNorm normalizes with it) in the pass on x;
5. Zen = log Δ + Σ_i log σ_i.

Step 4 undoes the normalization of each BatchNorm, so the score measures the
expressivity (Gaussian complexity) of the network as if it had none.
``repeat`` > 1 averages the score over independent draws (steps 1–5).

Departures from the authors' code, which differs from the paper: their code
uses the mean absolute difference Σ|·| instead of the Frobenius norm
(``norm="l1"`` reproduces it), and reads σ_i from BatchNorm's *running*
variance after the two forward passes (momentum 0.1, unbiased), which adds
about 0.5·log 0.19 per BatchNorm layer instead of the paper's batch
statistics — that offset penalizes networks with more BatchNorm layers, so
the paper's definition is used here.

A BatchNorm whose input is constant in the pass on x (a dead branch: in a
NATS cell, a conv on an edge fed only by ``none`` edges sees zeros) normalizes
nothing and is left out of step 4, where its log σ would be −inf.  (The
authors' running-variance reading never sees a zero variance.)

Which feature map is "pre-GAP": the input of the last ``nn.AdaptiveAvgPool2d``
called in the forward pass (for NATS networks: the output of the final
BN + ReLU); a model without one is scored on its output.  A model without
BatchNorm simply has no σ terms.  The randomness comes from ``seed``
(weights first, in module order, then x, then ε), so a score is exactly
repeatable; the model passed in is not modified.  Higher is better; a zero Δ
gives −inf and an overflow +inf or NaN, returned as-is (searches and rosters
rank non-finite scores lowest).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from zcnas.errors import ConfigError, MetricError
from zcnas.metrics.base import NETWORK, SHAPE, Metric, declare

NORMS = ("fro", "l1")


def gaussian_init(model: nn.Module, generator: torch.Generator) -> None:
    """Zen-NAS's initialization: conv/linear weights N(0, 1), biases 0; norm affines 1 and 0."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=generator, dtype=torch.float32))
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm)):
                if m.weight is not None:
                    m.weight.fill_(1.0)
                if m.bias is not None:
                    m.bias.zero_()


def check_zen_params(alpha, repeat, norm) -> None:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not (math.isfinite(alpha) and alpha > 0):
        raise ConfigError(f"zen's alpha (perturbation size) must be a positive number, got {alpha!r}")
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ConfigError(f"zen's repeat must be a positive integer, got {repeat!r}")
    if norm not in NORMS:
        raise ConfigError(f"zen's norm must be one of {', '.join(NORMS)}, got {norm!r}")


def zen_score(model: nn.Module, input_shape: tuple[int, ...], alpha: float, repeat: int, seed: int, norm: str,
              device: str | torch.device | None = None) -> float:
    """Zen-score for Gaussian inputs of ``input_shape`` *including* the batch dimension (N, C, H, W)."""
    check_zen_params(alpha, repeat, norm)
    if len(input_shape) < 2 or input_shape[0] < 2:
        raise MetricError(f"zen needs an input shape (batch, ...) with a batch of at least 2, got {tuple(input_shape)}")
    if device is None:
        param = next(iter(model.parameters()), None)
        device = param.device if param is not None else "cpu"
    net = copy.deepcopy(model).float().to(device).train()
    generator = torch.Generator().manual_seed(int(seed))

    bn_vars: list[torch.Tensor] = []
    features: list[torch.Tensor] = []
    recording = [False]

    def bn_hook(module: nn.Module, inputs: tuple) -> None:
        if recording[0]:
            a = inputs[0].detach().to(torch.float64)
            dims = [d for d in range(a.dim()) if d != 1]
            bn_vars.append(a.var(dim=dims, unbiased=False).mean())

    def gap_hook(module: nn.Module, inputs: tuple) -> None:
        features.append(inputs[0])

    handles = [m.register_forward_pre_hook(bn_hook) for m in net.modules()
               if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    gaps = [m for m in net.modules() if isinstance(m, nn.AdaptiveAvgPool2d)]
    handles += [m.register_forward_pre_hook(gap_hook) for m in gaps]

    def pre_gap(inp: torch.Tensor) -> torch.Tensor:
        features.clear()
        out = net(inp)
        feat = features[-1] if gaps and features else out
        if not isinstance(feat, torch.Tensor):
            raise MetricError(f"zen needs a model that returns one tensor, and {type(model).__name__} "
                              f"returned {type(feat).__name__}")
        return feat.to(torch.float64)

    scores = []
    try:
        with torch.no_grad():
            for _ in range(repeat):
                gaussian_init(net, generator)
                x = torch.randn(tuple(input_shape), generator=generator).to(device)
                eps = torch.randn(tuple(input_shape), generator=generator).to(device)
                bn_vars.clear()
                recording[0] = True
                f1 = pre_gap(x)
                recording[0] = False
                f2 = pre_gap(x + alpha * eps)
                diff = (f1 - f2).reshape(f1.shape[0], -1)
                per_image = diff.abs().sum(dim=1) if norm == "l1" else torch.linalg.vector_norm(diff, dim=1)
                delta = float(per_image.mean())
                # a BatchNorm fed a constant (a dead branch) normalizes nothing: no σ term
                bn_term = float(sum(0.5 * torch.log(v) for v in bn_vars if v > 0))
                log_delta = math.log(delta) if delta > 0 else (-math.inf if delta == 0 else math.nan)
                scores.append(log_delta + bn_term)
    finally:
        for h in handles:
            h.remove()
    return float(sum(scores) / len(scores))


def zen_of_batch(model: nn.Module, x: torch.Tensor, alpha: float, repeat: int, norm: str, seed: int = 0) -> float:
    """zcnas.score's zen: Gaussian inputs of x's shape (batch included), on x's device.  ``seed`` is the
    job's seed in a job (conf/config.yaml); here it defaults to the same 0."""
    return zen_score(model, tuple(x.shape), alpha=alpha, repeat=repeat, seed=seed, norm=norm, device=x.device)


@declare(needs=SHAPE, model_score=zen_of_batch, fusion=NETWORK)
class Zen(Metric):
    def __init__(self, context, alpha: float, batch_size: int, repeat: int, norm: str):
        super().__init__(context)
        check_zen_params(alpha, repeat, norm)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 2:
            raise ConfigError(f"metric.batch_size (zen's Gaussian batch) must be an integer >= 2, got {batch_size!r}")
        self.alpha, self.batch_size, self.repeat, self.norm = float(alpha), batch_size, repeat, norm

    def score_network(self, net) -> float:
        ctx = self.context
        return zen_score(net, (self.batch_size, *ctx.input_shape), self.alpha, self.repeat, ctx.seed,
                         self.norm, ctx.device)

    def describe(self) -> dict:
        return {"name": self.name, "alpha": self.alpha, "batch_size": self.batch_size, "repeat": self.repeat,
                "norm": self.norm}
