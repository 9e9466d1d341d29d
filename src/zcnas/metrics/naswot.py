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
import weakref

import torch
from torch import nn

from zcnas.errors import MetricError
from zcnas.metrics.naswot_kernels import code_product
from zcnas.metrics.base import DATA, RELU_CODES, declare
from zcnas.metrics.model_passes import LayoutMetric, observe


# C Cᵀ on the CPU: an int8 product (int32 accumulation, exact below 2**31 units) or a
# float32 BLAS product (exact up to 2**24 units, float64 above), whichever this machine
# runs faster, measured once per process (zcnas.metrics.naswot_kernels: the CPU's flags do not predict
# it); both give the same integers, so the choice never changes K.
def _agreement(codes: torch.Tensor) -> torch.Tensor:
    """C Cᵀ (float64, exact) for a B×N boolean code matrix C, with this process's faster kernel."""
    return code_product(codes)


class KernelAccumulator:
    """Sums the per-ReLU-layer terms of K_H = Σ_l (N_l − s_i − s_j + 2·C_l C_lᵀ).

    Keeps N = Σ N_l, s = Σ s_l and G = Σ C_l C_lᵀ apart (all integers, exact in
    float64) and forms K once at the end; the diagonal of C Cᵀ is s, so no
    separate row sums are needed.  Two shortcuts, both exact:

    * an input that is the same for every image (stride 0 along the batch
      dimension, e.g. the broadcast zeros of a pruned network) gives every
      image the same code: d_H = 0, the layer adds N_l to every entry;
    * the same tensor (same object, unmodified) seen by several ReLUs -- the
      ReLUs of all conv edges leaving one cell node -- gives the same codes:
      its G and s are computed once and added again.
    """

    def __init__(self, batch: int, device: torch.device):
        self.units = 0
        self.active = torch.zeros(batch, dtype=torch.float64, device=device)
        self.agree = torch.zeros((batch, batch), dtype=torch.float64, device=device)
        self._seen: dict[int, tuple[weakref.ref, int, torch.Tensor]] = {}

    def add(self, inp: torch.Tensor) -> None:
        batch = inp.shape[0]
        units = inp.numel() // batch if batch else 0
        self.units += units
        if batch and inp.stride(0) == 0:  # identical rows: G = s = (code sum), the layer adds N_l
            return self._add_constant(inp.detach(), units)
        # inference tensors keep no version counter: no reuse for them (an in-place op could change them)
        version = None if inp.is_inference() else inp._version
        seen = self._seen.get(id(inp))
        if seen is not None and version is not None and seen[0]() is inp and seen[1] == version:
            agree = seen[2]
        else:
            flat = inp.detach()
            if flat.dim() == 4 and not flat.is_contiguous() and flat.is_contiguous(memory_format=torch.channels_last):
                flat = flat.permute(0, 2, 3, 1)  # a free view; C Cᵀ does not depend on the order of units
            agree = _agreement(flat.reshape(batch, -1) > 0)
            if version is not None:
                self._seen[id(inp)] = (weakref.ref(inp), version, agree)
        self.agree += agree
        self.active += agree.diagonal()

    def _add_constant(self, inp: torch.Tensor, units: int) -> None:
        # every image has the code of image 0 with a active units: G = a, s = a, term = N_l
        active = float((inp[0] > 0).sum())
        self.agree += active
        self.active += active

    def kernel(self) -> torch.Tensor:
        return self.units - self.active[:, None] - self.active[None, :] + 2.0 * self.agree


def naswot_kernel(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """K_H of ``model`` for the batch ``x``: a B×B float64 matrix of integer counts.

    Per ReLU layer l with codes C (B×N_l, 0/1), the layer adds
        C Cᵀ + (1−C)(1−C)ᵀ = N_l − s_i − s_j + 2·C Cᵀ,   s = row sums of C,
    i.e. N_l minus the Hamming distance of the layer's codes; summed over the
    layers this is N_A − d_H(c_i, c_j).  One matrix product per layer suffices
    (int8 or float32, whichever is faster here; both exact), accumulated on the batch's device.
    """
    relus = relu_modules(model)
    acc = KernelAccumulator(x.shape[0], x.device)
    observe(model, x, relus, code_hook(acc))
    return acc.kernel()


def code_hook(acc: KernelAccumulator):
    """The forward hook on a ReLU that adds its codes to ``acc``."""

    def accumulate(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        # inputs[0] > 0 is the unit's activity; for an in-place ReLU the
        # "input" already holds relu(x), which is > 0 exactly where x > 0
        # (its version has changed, so the shortcut above never reuses stale codes).
        acc.add(inputs[0])

    return accumulate


def relu_modules(model: nn.Module) -> list[nn.Module]:
    """The ``nn.ReLU`` modules hook_logdet hooks; a one-line MetricError when there are none."""
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    if not relus:
        raise MetricError(
            f"hook_logdet needs nn.ReLU modules to hook, and {type(model).__name__} has none "
            "(functional relu calls are invisible to hooks)"
        )
    return relus


def kernel_logdet(kernel: torch.Tensor) -> float:
    """log|det K| in double precision; -inf when K is singular (never raises)."""
    sign, logabsdet = torch.linalg.slogdet(kernel)
    if sign.item() == 0 or not math.isfinite(logabsdet.item()):
        return -math.inf
    return float(logabsdet.item())


def hook_logdet_score(model: nn.Module, x: torch.Tensor) -> float:
    """s = log|det K_H| in double precision; -inf when K_H is singular (never raises)."""
    return kernel_logdet(naswot_kernel(model, x))


@declare(needs=DATA, model_score=hook_logdet_score, fusion=RELU_CODES)
class HookLogdet(LayoutMetric):
    """The space's pruned network (NATS-Bench TSS's: zcnas.spaces.nats_tss.network) and the kernel above;
    K equals the full computation's."""

    @classmethod
    def join_shared_pass(cls, shared, settings: dict) -> KernelAccumulator:
        """The codes of the shared forward pass's ReLUs, accumulated as ``naswot_kernel`` does."""
        acc = KernelAccumulator(shared.x.shape[0], shared.x.device)
        shared.hook(relu_modules(shared.model), code_hook(acc))
        return acc

    @classmethod
    def from_shared_pass(cls, shared, acc: KernelAccumulator) -> float:
        return kernel_logdet(acc.kernel())
