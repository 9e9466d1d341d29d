"""jacov: Jacobian covariance (Mellor, Turner, Storkey, Crowley, "Neural
Architecture Search without Training", arXiv:2006.04647 **v1**, 2020; the
score that the ICML 2021 version replaced with hook_logdet).

For each image x_n of a batch of N, the input Jacobian row
J_n = ∂(Σ_k f_k(x_n)) / ∂x_n (the gradient of the sum of the network's
outputs with respect to the input, flattened: one backward pass of a ones
vector), computed on the untrained network in training mode, as in the
paper's code.  Σ_J is the N×N correlation matrix of the rows J_n (Pearson:
each row centred over the input dimensions) with eigenvalues λ_1..λ_N, and

    jacov = − Σ_i [ log(λ_i + k) + 1/(λ_i + k) ] ,     k = 1e-5

Each term is smallest at λ_i = 1, so the score is highest
(≈ −N) when the Jacobians of different images are uncorrelated (Σ_J = I),
and very negative when they are collinear.  Higher is better.

Non-finite values are returned as they come: a Jacobian row with zero
variance (e.g. a network whose output does not depend on its input) makes
the correlation undefined and the score NaN, as in the paper's code; searches
and rosters rank it lowest.  In training mode BatchNorm couples the images of
the batch, so, exactly as in the paper's code, J_n also carries the terms of
the other images' outputs through the batch statistics.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from zcnas.metrics.base import DATA, INPUT_GRADIENT, declare
from zcnas.metrics.model_passes import (EngineMetric, check_jacobian_input, check_jacobian_output,
                                        scratch_train_mode)

K = 1e-5


def input_jacobian(model: nn.Module, x: torch.Tensor, metric: str = "jacov") -> tuple[torch.Tensor, torch.Tensor]:
    """(J, outputs): J is N×D, row n = ∂(Σ outputs)/∂x_n; the caller's x and model are not modified."""
    check_jacobian_input(x, metric)
    inp = x.detach().clone().requires_grad_(True)
    with scratch_train_mode(model), torch.enable_grad():
        out = model(inp)
        check_jacobian_output(out, model, metric)
        (jac,) = torch.autograd.grad(out.sum(), inp, allow_unused=True)
    if jac is None:
        jac = torch.zeros_like(inp)
    return jac.reshape(x.shape[0], -1), out.detach()


def correlation(rows: np.ndarray) -> np.ndarray:
    """Pearson correlation of the rows (NaN where a row has zero variance), without warnings."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.atleast_2d(np.corrcoef(rows))


def jacov_from_jacobian(jac: np.ndarray) -> float:
    """−Σ_i [log(λ_i + k) + 1/(λ_i + k)] over the eigenvalues λ of the rows' correlation matrix."""
    corr = correlation(np.asarray(jac, dtype=np.float64))
    if not np.isfinite(corr).all():
        return math.nan
    eig = np.linalg.eigvalsh(corr)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(-np.sum(np.log(eig + K) + 1.0 / (eig + K)))


def jacov_of(jac: torch.Tensor) -> float:
    """``jacov_from_jacobian`` of an N×D Jacobian tensor, taken to float64 on the CPU."""
    return jacov_from_jacobian(jac.to(torch.float64).cpu().numpy())


def jacov_score(model: nn.Module, x: torch.Tensor) -> float:
    """Jacobian covariance score of ``model`` on the batch ``x`` (higher is better; NaN when undefined)."""
    jac, _ = input_jacobian(model, x, "jacov")
    return jacov_of(jac)


@declare(needs=DATA, model_score=jacov_score, fusion=INPUT_GRADIENT)
class Jacov(EngineMetric):
    @classmethod
    def from_shared_pass(cls, shared, state) -> float:
        return jacov_of(shared.jacobian)
