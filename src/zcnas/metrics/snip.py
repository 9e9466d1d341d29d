"""snip (Lee et al., "SNIP: Single-shot Network Pruning based on Connection
Sensitivity", ICLR 2019), as a NAS proxy by Abdelfattah et al. ("Zero-Cost
Proxies for Lightweight NAS", ICLR 2021).

Paper section III-A: S_p(θ) = |∂L/∂θ ⊙ θ|, summed over every conv and linear
weight, where L is the cross-entropy of the untrained network (training mode,
BatchNorm on batch statistics) on one labelled batch.  With a multiplicative
mask m of ones on a weight, ∂L/∂m = θ ⊙ ∂L/∂θ, so this is SNIP's connection
sensitivity |∂L/∂m| at m = 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zcnas.errors import MetricError
from zcnas.metrics.naswot import LayoutMetric, engine_inputs, scratch_train_mode
from zcnas.space import Cell


def snip_score(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Σ over conv and linear weights of |θ ⊙ ∂L/∂θ|, L = mean cross-entropy of (x, y)."""
    weights = [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if not weights:
        raise MetricError(f"snip needs nn.Conv2d or nn.Linear weights, and {type(model).__name__} has none")
    # torch.autograd.grad returns the gradients instead of writing .grad, so
    # the caller's model keeps whatever gradients it had (usually none).
    frozen = [w for w in weights if not w.requires_grad]
    for w in frozen:
        w.requires_grad_(True)
    try:
        with scratch_train_mode(model), torch.enable_grad():
            loss = F.cross_entropy(model(x), y)
            # allow_unused: a weight cut off from the output (an edge of a
            # disconnected cell) has no gradient, i.e. sensitivity 0.
            grads = torch.autograd.grad(loss, weights, allow_unused=True)
    finally:
        for w in frozen:
            w.requires_grad_(False)
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for w, g in zip(weights, grads):
        if g is not None:
            total += (w.detach() * g).abs().sum(dtype=torch.float64)
    return float(total)


class Snip(LayoutMetric):
    """Engine: the pruned network (zcnas.network); same score as the full computation (tests/test_engine.py)."""

    name = "snip"

    def score_cell(self, cell: Cell) -> float:
        net, x, y = engine_inputs(cell, self.context, self.layout)
        return snip_score(net, x, y)
