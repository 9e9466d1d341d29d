"""epe_nas (Lopes, Alirezazadeh, Alexandre, "EPE-NAS: Efficient Performance
Estimation Without Training for Neural Architecture Search", ICANN 2021).

EPE-NAS extends jacov (Mellor et al. 2020 v1) to the classes of the batch.
With the input Jacobian rows J_n = ∂(Σ_k f_k(x_n))/∂x_n (as in
``zcnas.metrics.jacov``), for each class c present in the batch Σ_c is the
correlation matrix of the rows of the images labelled c, and

    E_c = Σ_{i,j} log(|Σ_c(i, j)| + k) ,     k = 1e-5

The score (paper and code) depends on the number of classes C of
the task:

    C ≤ 100:   epe_nas = Σ_c |E_c|
    C > 100:   E_c is first divided by the size of Σ_c, then
               epe_nas = (1/C') Σ_i Σ_j |E_i − E_j|   (C' classes in the batch)

Higher is better: images of a class whose Jacobians are decorrelated give
log|Σ_c(i,j)| ≪ 0 and a large |E_c|.  Classes with a single image in the
batch are skipped (their Σ_c is the 1×1 matrix [1], E_c = log(1 + k) ≈ 1e-5);
a batch with no class seen twice is an error.  A Jacobian row with zero
variance makes Σ_c undefined and the score NaN (returned as-is, ranked
lowest), as in the paper's code.  ``num_classes`` defaults to the width of
the network's output.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from zcnas.errors import MetricError
from zcnas.metrics.base import INPUT_GRADIENT, LABELS, declare
from zcnas.metrics.model_passes import EngineMetric, check_labels
from zcnas.metrics.jacov import K, correlation, input_jacobian


def epe_nas_from_jacobian(jac: np.ndarray, labels: np.ndarray, num_classes: int) -> float:
    jac = np.asarray(jac, dtype=np.float64)
    labels = np.asarray(labels)
    per_class = []
    for c in np.unique(labels):
        rows = jac[labels == c]
        if len(rows) < 2:
            continue
        corr = correlation(rows)
        e = float(np.sum(np.log(np.abs(corr) + K)))
        if num_classes > 100:
            e /= len(corr)
        per_class.append(e)
    if not per_class:
        raise MetricError("epe_nas correlates the Jacobians of images of the same class, and no class has "
                          "two images in this batch: use a larger batch")
    e = np.array(per_class)
    if not np.isfinite(e).all():
        return math.nan
    if num_classes <= 100:
        return float(np.abs(e).sum())
    return float(np.abs(e[:, None] - e[None, :]).sum() / len(e))


def epe_nas_of(jac: torch.Tensor, y: torch.Tensor, out: torch.Tensor, num_classes: int | None) -> float:
    """``epe_nas_from_jacobian`` of an N×D Jacobian tensor and labels; ``num_classes`` None: the width of
    the output ``out``."""
    if num_classes is None:
        num_classes = int(out.shape[-1]) if out.dim() >= 2 else 1
    return epe_nas_from_jacobian(jac.to(torch.float64).cpu().numpy(), y.detach().cpu().numpy(), num_classes)


def epe_nas_score(model: nn.Module, x: torch.Tensor, y: torch.Tensor, num_classes: int | None = None) -> float:
    """EPE-NAS score of ``model`` on the labelled batch (x, y); higher is better, NaN when undefined."""
    y = check_labels(x, y, "epe_nas")
    jac, out = input_jacobian(model, x, "epe_nas")
    return epe_nas_of(jac, y, out, num_classes)


@declare(needs=LABELS, model_score=epe_nas_score, fusion=INPUT_GRADIENT)
class EpeNas(EngineMetric):
    """num_classes is epe_nas_score's default, the width of the network's output: the dataset's classes."""

    @classmethod
    def join_shared_pass(cls, shared, settings: dict) -> int | None:
        return settings.get("num_classes")

    @classmethod
    def from_shared_pass(cls, shared, num_classes: int | None) -> float:
        return epe_nas_of(shared.jacobian, shared.y, shared.output, num_classes)
