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

This module also holds the helpers the other gradient-based proxies share
(``conv_linear_weights``, ``trainable``, ``loss_gradients``).  They never
write ``.grad`` (``torch.autograd.grad`` returns the gradients), restore the
model's modes and buffers, and re-freeze weights they had to unfreeze, so a
caller's model is left exactly as it was.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from zcnas.errors import MetricError
from zcnas.metrics.base import Metric
from zcnas.metrics.naswot import engine_inputs, scratch_train_mode
from zcnas.space import Cell


def conv_linear_weights(model: nn.Module, metric: str) -> list[nn.Parameter]:
    """The weights of every ``nn.Conv2d``/``nn.Linear`` of ``model`` (each shared weight once)."""
    weights: list[nn.Parameter] = []
    seen: set[int] = set()
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)) and id(module.weight) not in seen:
            seen.add(id(module.weight))
            weights.append(module.weight)
    if not weights:
        raise MetricError(f"{metric} needs nn.Conv2d or nn.Linear weights, and {type(model).__name__} has none")
    return weights


@contextmanager
def trainable(weights: Sequence[torch.Tensor]) -> Iterator[None]:
    """Let autograd see frozen weights for the duration; they are frozen again afterwards."""
    frozen = [w for w in weights if not w.requires_grad]
    for w in frozen:
        w.requires_grad_(True)
    try:
        yield
    finally:
        for w in frozen:
            w.requires_grad_(False)


def check_labels(x: torch.Tensor, y: torch.Tensor | None, metric: str) -> torch.Tensor:
    if y is None:
        raise MetricError(f"{metric} needs labels: pass the batch as (x, y) with y the class indices")
    if len(y) != len(x):
        raise MetricError(f"{metric} needs one label per image, got {len(y)} labels for {len(x)} images")
    return y


def loss_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   weights: Sequence[torch.Tensor]) -> tuple[torch.Tensor | None, ...]:
    """∂L/∂W for each weight, L = mean cross-entropy of ``model(x)`` against ``y`` in training mode.

    A weight cut off from the output (e.g. an edge of a disconnected cell) gets
    ``None``: its gradient is identically zero.
    """
    with trainable(weights), scratch_train_mode(model), torch.enable_grad():
        loss = F.cross_entropy(model(x), y)
        return torch.autograd.grad(loss, list(weights), allow_unused=True)


def grad_norm_score(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Σ over conv/linear weights W_l of ‖∂L/∂W_l‖₂ (Frobenius), L = mean cross-entropy of (x, y)."""
    y = check_labels(x, y, "grad_norm")
    weights = conv_linear_weights(model, "grad_norm")
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for g in loss_gradients(model, x, y, weights):
        if g is not None:
            total += torch.linalg.vector_norm(g.to(torch.float64))
    return float(total)


class GradNorm(Metric):
    name = "grad_norm"
    needs_data = True

    def score_cell(self, cell: Cell) -> float:
        # the pruned network: same score as the full one (tests/test_engine.py)
        net, x, y = engine_inputs(cell, self.context)
        return grad_norm_score(net, x, y)
