"""grasp (Wang et al., "Picking Winning Tickets Before Training by Preserving
Gradient Flow", ICLR 2020), as a NAS proxy by Abdelfattah et al. ("Zero-Cost
Proxies for Lightweight NAS", ICLR 2021).

GraSP's saliency of a weight is S(−θ) = −θ ⊙ H g, with g = ∂L/∂θ and H the
Hessian of L: the first-order change of the gradient norm gᵀg when the weight
is removed.  Abdelfattah et al. sum it over every weight of every
``nn.Conv2d`` and ``nn.Linear``:

    grasp = Σ_l Σ_i  −θ_{l,i} · (H g)_{l,i} ,

L the mean cross-entropy of the untrained network on one labelled batch in
training mode (BatchNorm on the batch statistics), temperature 1.

Sign convention: GraSP prunes the weights with the *largest* −θ ⊙ Hg (their
removal reduces the gradient flow least); Abdelfattah et al. sum the same
quantity −θ ⊙ Hg and, having found it correlates positively with accuracy,
use it as "higher is better".  This module returns that sum unchanged, so
higher is better, as in Abdelfattah et al.'s tables.

H g is a Hessian-vector product: with g computed keeping its graph,
H g = ∂(ḡ · g)/∂θ where ḡ is g detached.  The reference code computes ḡ in
a separate forward/backward pass on the same batch; in training mode both
passes see the same batch statistics, so one forward pass with a
graph-keeping backward gives the same ḡ at a lower cost.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zcnas.metrics.base import LABELS, WEIGHT_GRADIENTS, declare
from zcnas.metrics.model_passes import EngineMetric, check_labels, conv_linear_weights, scratch_train_mode, trainable


def hessian_gradient_product(weights, grads, retain_graph: bool = False):
    """``(used, H g)`` for the weights with a gradient (``used``: their (weight, gradient) pairs, the
    gradients with their graph), or None when H g = 0: no weight has a gradient, or none depends on the
    weights.  ``retain_graph``: keep the graph for a later backward pass."""
    used = [(w, g) for w, g in zip(weights, grads) if g is not None]
    if not used:
        return None
    z = sum((g.detach() * g).sum() for _, g in used)
    if not z.requires_grad:  # the gradient does not depend on the weights: H = 0
        return None
    return used, torch.autograd.grad(z, [w for w, _ in used], allow_unused=True, retain_graph=retain_graph)


def grasp_total(product, device) -> float:
    """Σ −θ · (H g) over ``hessian_gradient_product``'s weights in float64; 0 where H g = 0."""
    if product is None:
        return 0.0
    total = torch.zeros((), dtype=torch.float64, device=device)
    for (w, _), h in zip(*product):
        if h is not None:
            total -= (w.detach() * h).sum(dtype=torch.float64)
    return float(total)


def grasp_score(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Σ over conv/linear weights of −θ · (H g), L = mean cross-entropy of (x, y); higher is better."""
    y = check_labels(x, y, "grasp")
    weights = conv_linear_weights(model, "grasp")
    with trainable(weights), scratch_train_mode(model), torch.enable_grad():
        loss = F.cross_entropy(model(x), y)
        grads = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
        product = hessian_gradient_product(weights, grads)
    return grasp_total(product, x.device)


@declare(needs=LABELS, model_score=grasp_score, fusion=WEIGHT_GRADIENTS)
class Grasp(EngineMetric):
    @classmethod
    def join_shared_pass(cls, shared, settings: dict) -> list:
        """H g on the graph of the shared cross-entropy gradients (kept for it: second order)."""
        product: list = []

        def step() -> None:
            product.append(hessian_gradient_product(shared.weights, shared.weight_grads, shared.retain_graph))

        shared.on_loss_graph(step, second_order=True)
        return product

    @classmethod
    def from_shared_pass(cls, shared, product: list) -> float:
        return grasp_total(product[0], shared.device)
