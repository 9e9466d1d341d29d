"""The straightforward implementations: the oracle of equality tests and the baseline of ``make bench``.

Not part of the package: it is test code, here beside the tests that import it; the bench
scripts put tests/ on their path to import it too.

Each follows the original description without any of the engine's shortcuts:

* the network is the NATS-Bench reference-style ``TinyNetwork`` in fp32 with
  the full forward pass (``prune=False``): every edge is computed, ``none``
  edges as ``x * 0``, and zero branches are convolved like any other;
* hook_logdet (Mellor et al.'s NASWOT code): a hook on every ``nn.ReLU``
  turns its input into a 0/1 code matrix C (B×N_l) and adds the two products
  C Cᵀ + (1−C)(1−C)ᵀ to K, accumulated in numpy (float64); score =
  log|det K| (computed with ``torch.linalg.slogdet`` on the same K as the
  engine, so equal kernels give equal scores);
* snip (Abdelfattah et al.'s zero-cost-proxy code): a copy of the network gets
  a multiplicative mask of ones on every conv and linear weight (the weight
  itself frozen), cross-entropy on the batch in training mode, backward, and
  the score is the sum of |∂L/∂mask|;
* synflow (Abdelfattah et al.'s code): a copy of the network with BatchNorm
  removed, every parameter made absolute, cast to double, one all-ones input,
  backward of the summed output, sum of |θ ⊙ ∂R/∂θ| over conv and linear
  weights.

Our own code, written from those descriptions; every function works on any
``nn.Module``.  ``reference_score(name, cell, ...)`` scores one cell the way
the metric classes do, on the same seeded weights as ``build_network``.
"""

from __future__ import annotations

import copy
import math
import types

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zcnas.spaces.nats_tss.network import build_network
from zcnas.spaces.nats_tss.cells import Cell


def reference_network(cell: Cell | str | int, num_classes: int, seed: int) -> nn.Module:
    """``build_network(cell, num_classes, seed)`` (same weights) with the full, unpruned forward pass."""
    return build_network(cell, num_classes, seed=seed, prune=False)


# --- hook_logdet ----------------------------------------------------------------

def reference_naswot_kernel(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """K_H accumulated in numpy: per ReLU, C Cᵀ + (1−C)(1−C)ᵀ with C = (input > 0)."""
    batch = x.shape[0]
    kernel = np.zeros((batch, batch), dtype=np.float64)

    def hook(module, inputs, output):
        c = (inputs[0].detach().reshape(batch, -1) > 0).float()
        # float32 products of 0/1 matrices are exact below 2**24 units per layer
        kernel[...] += (c @ c.T).cpu().numpy() + ((1.0 - c) @ (1.0 - c).T).cpu().numpy()

    model = copy.deepcopy(model)
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.ReLU)]
    try:
        model.train()
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return kernel


def reference_hook_logdet(model: nn.Module, x: torch.Tensor) -> float:
    sign, logabsdet = torch.linalg.slogdet(torch.from_numpy(reference_naswot_kernel(model, x)))
    if sign.item() == 0 or not math.isfinite(logabsdet.item()):
        return -math.inf
    return float(logabsdet.item())


# --- snip -----------------------------------------------------------------------

def _masked_conv2d(self, x):
    return F.conv2d(x, self.weight * self.weight_mask, self.bias, self.stride, self.padding, self.dilation,
                    self.groups)


def _masked_linear(self, x):
    return F.linear(x, self.weight * self.weight_mask, self.bias)


def reference_snip(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    net = copy.deepcopy(model)
    masks = []
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.weight_mask = nn.Parameter(torch.ones_like(m.weight))
            m.weight.requires_grad_(False)
            m.forward = types.MethodType(_masked_conv2d if isinstance(m, nn.Conv2d) else _masked_linear, m)
            masks.append(m.weight_mask)
    net.train()
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()
    total = 0.0
    for mask in masks:
        if mask.grad is not None:
            total += float(mask.grad.abs().sum(dtype=torch.float64))
    return total


# --- synflow --------------------------------------------------------------------

def _remove_batchnorm(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(module, name, nn.Identity())
        else:
            _remove_batchnorm(child)


def reference_synflow(model: nn.Module, input_shape: tuple[int, ...], device: str | torch.device = "cpu") -> float:
    net = copy.deepcopy(model)
    _remove_batchnorm(net)
    net = net.to(device=device, dtype=torch.float64)
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad()
    net(torch.ones((1, *input_shape), dtype=torch.float64, device=device)).sum().backward()
    total = torch.zeros((), dtype=torch.float64, device=device)
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)) and m.weight.grad is not None:
            total += (m.weight * m.weight.grad).abs().sum()
    return float(total.detach())


# --- one cell, as the metric classes score it -------------------------------------

def reference_score(name: str, cell: Cell, num_classes: int, seed: int = 0, batch=None,
                    input_shape: tuple[int, int, int] = (3, 32, 32), device: str = "cpu") -> float:
    """The straightforward score of ``cell`` for metric ``name`` (synflow, hook_logdet, snip)."""
    net = reference_network(cell, num_classes, seed)
    if name == "synflow":
        return reference_synflow(net, input_shape, device)
    net = net.to(device)
    if name == "hook_logdet":
        return reference_hook_logdet(net, batch[0])
    if name == "snip":
        return reference_snip(net, batch[0], batch[1])
    raise ValueError(f"no reference implementation of {name!r}")
