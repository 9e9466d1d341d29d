"""grad_norm (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021).

Section 3 of the paper (and its reference implementation): the Euclidean norm
of the loss gradient of each layer's weight, summed over the layers,

    grad_norm = Σ_l ‖∂L/∂W_l‖₂ ,

where W_l runs over the weights of every ``nn.Conv2d`` and ``nn.Linear``
(biases and BatchNorm parameters are not scored), ‖·‖₂ is the Frobenius
norm of the whole weight tensor, and L is the mean cross-entropy of the
untrained network on one labelled batch, in training mode (BatchNorm on the
batch statistics).  Note the sum of per-layer norms, not the norm of the
concatenated gradient.  Higher is better (no sign convention).
"""

from __future__ import annotations

import torch
from torch import nn

from zcnas.metrics.base import LABELS, WEIGHT_GRADIENTS, declare
from zcnas.metrics.model_passes import EngineMetric, weight_gradient_sum


def grad_norm_term(w: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """‖∂L/∂W‖₂ of one weight, in float64."""
    return torch.linalg.vector_norm(g.to(torch.float64))


def grad_norm_score(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Σ over conv/linear weights W_l of ‖∂L/∂W_l‖₂ (Frobenius), L = mean cross-entropy of (x, y)."""
    return weight_gradient_sum(model, x, y, "grad_norm", grad_norm_term)


@declare(needs=LABELS, model_score=grad_norm_score, fusion=WEIGHT_GRADIENTS)
class GradNorm(EngineMetric):
    @classmethod
    def from_shared_pass(cls, shared, state) -> float:
        return shared.weight_sum(shared.weights, grad_norm_term)
