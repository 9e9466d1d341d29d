"""plain (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021).

Section 3 of the paper: the "plain" saliency θ ⊙ ∂L/∂θ (Mozer & Smolensky's
first-order Taylor term, the signed counterpart of snip), summed over every
weight of every ``nn.Conv2d`` and ``nn.Linear``:

    plain = Σ_l Σ_i  θ_{l,i} · ∂L/∂θ_{l,i} ,

with L the mean cross-entropy of the untrained network on one labelled batch
in training mode (BatchNorm on the batch statistics).  The sum is *signed*
(no absolute value, unlike snip) and used as-is, higher is better, as in the
paper's code.  Equivalently plain = d/dα L(α·W)|_{α=1}, the slope of the loss
when every conv/linear weight is scaled together: for a bias-free linear
classifier that classifies every image correctly it is ≤ 0 (scaling up lowers
the loss), and ≥ 0 when every image's true class has the lowest logit.
"""

from __future__ import annotations

import torch
from torch import nn

from zcnas.metrics.base import LABELS, WEIGHT_GRADIENTS, declare
from zcnas.metrics.model_passes import EngineMetric, weight_gradient_sum


def plain_term(w: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """θ · ∂L/∂θ of one weight, summed in float64."""
    return (w * g).sum(dtype=torch.float64)


def plain_score(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Σ over conv/linear weights of θ · ∂L/∂θ (signed), L = mean cross-entropy of (x, y)."""
    return weight_gradient_sum(model, x, y, "plain", plain_term)


@declare(needs=LABELS, model_score=plain_score, fusion=WEIGHT_GRADIENTS)
class Plain(EngineMetric):
    @classmethod
    def from_shared_pass(cls, shared, state) -> float:
        return shared.weight_sum(shared.weights, plain_term)
