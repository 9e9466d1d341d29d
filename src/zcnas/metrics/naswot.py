"""hook_logdet: the NASWOT score (Mellor et al., "Neural Architecture Search
without Training", ICML 2021).

Paper section III-A: each image i of the batch gets a binary code c_i with one
bit per rectified linear unit of the network, 1 where the unit is active (its
input is > 0).  With N_A units in total, the kernel is

    K_H[i, j] = N_A - d_H(c_i, c_j)          (d_H: Hamming distance)

and the score is s = log|det K_H|.  Codes that stay apart (a network that
tells the images apart at initialization) give a near-diagonal K_H and a
high score.  The untrained network is run once, in training mode (BatchNorm
uses the batch statistics), with a forward hook on every ``nn.ReLU``.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from zcnas.errors import MetricError
from zcnas.metrics.base import Metric
from zcnas.network import build_network
from zcnas.space import Cell

# float32 holds every integer up to 2**24 exactly, so a float32 product of
# 0/1 matrices is exact while a layer has at most this many units per image.
_FLOAT32_EXACT = 2**24


@contextmanager
def scratch_train_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Run ``model`` in training mode, then restore its mode and buffers.

    A training-mode forward pass updates BatchNorm's running statistics; a
    score must not change the caller's model, so every buffer is put back.
    """
    modes = {m: m.training for m in model.modules()}
    buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    model.train()
    try:
        yield model
    finally:
        for module, mode in modes.items():
            module.train(mode)
        with torch.no_grad():
            for name, b in model.named_buffers():
                if name in buffers:
                    b.copy_(buffers[name])


def naswot_kernel(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """K_H of ``model`` for the batch ``x``: a B×B float64 matrix of integer counts.

    Per ReLU layer l with codes C (B×N_l, 0/1), the layer adds
        C Cᵀ + (1−C)(1−C)ᵀ = N_l − s_i − s_j + 2·C Cᵀ,   s = row sums of C,
    i.e. N_l minus the Hamming distance of the layer's codes; summed over the
    layers this is N_A − d_H(c_i, c_j).  One matrix product per layer suffices.
    """
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    if not relus:
        raise MetricError(
            f"hook_logdet needs nn.ReLU modules to hook, and {type(model).__name__} has none "
            "(functional relu calls are invisible to hooks)"
        )
    batch = x.shape[0]
    kernel = torch.zeros((batch, batch), dtype=torch.float64, device=x.device)

    def accumulate(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        # inputs[0] > 0 is the unit's activity; for an in-place ReLU the
        # "input" already holds relu(x), which is > 0 exactly where x > 0.
        codes = inputs[0].detach().reshape(inputs[0].shape[0], -1) > 0
        units = codes.shape[1]
        dtype = torch.float32 if units <= _FLOAT32_EXACT else torch.float64
        c = codes.to(dtype)
        active = c.sum(dim=1, dtype=torch.float64)
        agree = (c @ c.T).to(torch.float64)
        kernel.add_(units - active[:, None] - active[None, :] + 2.0 * agree)

    handles = [m.register_forward_hook(accumulate) for m in relus]
    try:
        with scratch_train_mode(model), torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return kernel


def hook_logdet_score(model: nn.Module, x: torch.Tensor) -> float:
    """s = log|det K_H| in double precision; -inf when K_H is singular (never raises)."""
    sign, logabsdet = torch.linalg.slogdet(naswot_kernel(model, x))
    if sign.item() == 0 or not math.isfinite(logabsdet.item()):
        return -math.inf
    return float(logabsdet.item())


class HookLogdet(Metric):
    name = "hook_logdet"
    needs_data = True

    def score_cell(self, cell: Cell) -> float:
        ctx = self.context
        net = build_network(cell, ctx.num_classes, seed=ctx.seed).to(ctx.device)
        return hook_logdet_score(net, ctx.batch[0])
