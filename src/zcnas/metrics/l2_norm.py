"""l2_norm (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021).

A data-free baseline of the paper (section 3 / its reference code): the
Euclidean (Frobenius) norm of each layer's weight at initialization, summed
over the layers,

    l2_norm = Σ_l ‖W_l‖₂ ,

W_l the weight of every ``nn.Conv2d`` and ``nn.Linear`` (biases and BatchNorm
parameters are not counted; a weight shared by several layers counts once).
It needs no data and no gradients, and depends only on the weights as they
are (for an architecture: its network's seeded initialization).  Higher is better.
"""

from __future__ import annotations

import torch
from torch import nn

from zcnas.metrics.base import NETWORK, SHAPE, Metric, declare
from zcnas.metrics.model_passes import conv_linear_weights


def l2_norm_score(model: nn.Module) -> float:
    """Σ over conv/linear weights W_l of ‖W_l‖₂ (Frobenius), in double precision."""
    with torch.no_grad():
        return float(sum(torch.linalg.vector_norm(w.detach().to(torch.float64)).item()
                         for w in conv_linear_weights(model, "l2_norm")))


@declare(needs=SHAPE, model_score=lambda model, x: l2_norm_score(model),
         fusion=NETWORK)
class L2Norm(Metric):
    def score_network(self, net) -> float:
        return l2_norm_score(net)
