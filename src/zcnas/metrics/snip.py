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
from torch import nn

from zcnas.metrics.base import LABELS, WEIGHT_GRADIENTS, declare
from zcnas.metrics.model_passes import LayoutMetric, conv_linear_weights, weight_gradient_sum


def snip_term(w: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """|θ ⊙ ∂L/∂θ| of one weight, summed in float64."""
    return (w * g).abs().sum(dtype=torch.float64)


def snip_score(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Σ over conv and linear weights of |θ ⊙ ∂L/∂θ|, L = mean cross-entropy of (x, y)."""
    # each_module: a weight shared by several modules counts once per module, as in snip's committed rosters
    return weight_gradient_sum(model, x, y, "snip", snip_term, each_module=True)


@declare(needs=LABELS, model_score=snip_score, fusion=WEIGHT_GRADIENTS)
class Snip(LayoutMetric):
    """The space's pruned network (NATS-Bench TSS's: zcnas.spaces.nats_tss.network); same score as the full
    computation (tests/test_fast_paths.py)."""

    @classmethod
    def join_shared_pass(cls, shared, settings: dict) -> list[torch.Tensor]:
        """Its weights, listed as ``snip_score`` lists them: a shared weight once per module."""
        return conv_linear_weights(shared.model, "snip", each_module=True)

    @classmethod
    def from_shared_pass(cls, shared, weights: list[torch.Tensor]) -> float:
        return shared.weight_sum(weights, snip_term)
