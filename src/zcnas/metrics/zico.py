"""zico: ZiCo (Li, Yang, Wang, Marculescu, "ZiCo: Zero-shot NAS via Inverse
Coefficient of Variation on Gradients", ICLR 2023).

The paper's score: for each layer l with weights θ_l, from the loss gradients of
the same untrained network on B ≥ 2 mini-batches,

    ZiCo = Σ_l log( Σ_{ω ∈ θ_l} E[|∂L/∂ω|] / sqrt(Var[∂L/∂ω]) ) ,

mean and variance taken over the B mini-batches.  As in the authors' code:
the layers are every ``nn.Conv2d`` and ``nn.Linear`` (weights only); the
variance is that of the signed gradient (population variance, ddof 0) and
the mean is that of its absolute value; weights whose gradient has zero
variance across the batches are left out of the inner sum, and a layer whose
inner sum is then 0 is left out of the outer one (a network with no such
layer scores 0).  L is the mean cross-entropy per mini-batch, in training
mode (BatchNorm on each mini-batch's statistics).

The mini-batches are made by splitting the one batch the metric gets into
``num_batches`` consecutive parts of (nearly) equal size (``torch.tensor_split``);
the paper uses 2 batches.  Higher is better: gradients large and consistent
across batches.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from zcnas.errors import ConfigError, MetricError
from zcnas.metrics.base import LABELS, NETWORK, declare
from zcnas.metrics.model_passes import EngineMetric, check_labels, conv_linear_weights, loss_gradients


def check_num_batches(num_batches) -> int:
    if isinstance(num_batches, bool) or not isinstance(num_batches, int) or num_batches < 2:
        raise ConfigError(f"zico's num_batches must be an integer >= 2 (ZiCo needs gradient statistics over "
                          f"several mini-batches), got {num_batches!r}")
    return num_batches


def zico_from_gradients(per_layer: list[torch.Tensor]) -> float:
    """ZiCo from per-layer gradient stacks, each B×P (mini-batch × weight)."""
    total = 0.0
    for g in per_layer:
        g = g.to(torch.float64)
        std = g.std(dim=0, unbiased=False)
        mean_abs = g.abs().mean(dim=0)
        nonzero = std > 0
        inner = float((mean_abs[nonzero] / std[nonzero]).sum())
        if inner > 0:
            total += math.log(inner)
    return total


def zico_score(model: nn.Module, x: torch.Tensor, y: torch.Tensor, num_batches: int) -> float:
    """ZiCo of ``model``, with (x, y) split into ``num_batches`` mini-batches; higher is better."""
    y = check_labels(x, y, "zico")
    check_num_batches(num_batches)
    if len(x) < num_batches:
        raise MetricError(f"zico splits the batch into {num_batches} mini-batches and needs at least that many "
                          f"images, got {len(x)}")
    weights = conv_linear_weights(model, "zico")
    stacks: list[list[torch.Tensor]] = [[] for _ in weights]
    for xs, ys in zip(torch.tensor_split(x, num_batches), torch.tensor_split(y, num_batches)):
        for stack, w, g in zip(stacks, weights, loss_gradients(model, xs, ys, weights)):
            stack.append((torch.zeros_like(w) if g is None else g.detach()).reshape(-1))
    return zico_from_gradients([torch.stack(s) for s in stacks])


@declare(needs=LABELS, model_score=zico_score, fusion=NETWORK)
class Zico(EngineMetric):
    def __init__(self, context, num_batches: int):
        super().__init__(context)
        self.settings["num_batches"] = check_num_batches(num_batches)
