"""meco: MeCo (Jiang, Wang, Bie, "MeCo: Zero-Shot NAS with One Data and
Single Forward Pass via Minimum Eigenvalue of Correlation", NeurIPS 2023).

The paper's score: with f^i(X) the feature map of layer i for one input X,
reshaped to C_i × (H_i·W_i) (channels × spatial positions), and P(·) its
C_i × C_i Pearson correlation matrix (channels as variables, positions as
observations),

    MeCo = Σ_i λ_min( P(f^i(X)) ) .

λ_min(P) ∈ [0, 1]: it is 1 when the channels are uncorrelated and 0 when some
channels are linearly dependent.  Higher is better.

As in the authors' code: one forward pass of the untrained network in
training mode (BatchNorm on the batch statistics of the batch given), with a
forward hook on **every module** (``model.modules()``: containers and the
whole model included, so a container's output counts again next to its last
child's); the feature map used is that of the batch's first image; NaN
entries of P (a channel constant over the positions, e.g. all zero) are set
to 0 before the eigenvalues are taken, which makes that layer's λ_min 0.
Outputs without spatial positions (a linear layer's, or a globally pooled
map: a row of one value has no correlation) contribute 0, exactly as in that
code; a model with no feature map of ≥ 2 positions is an error.
``layers="leaves"`` hooks only modules without children (no double counting
of containers); ``"modules"`` (the default of conf/metric/meco.yaml) follows the authors.
"""

from __future__ import annotations

import torch
from torch import nn

from zcnas.errors import ConfigError, MetricError
from zcnas.metrics.base import DATA, FEATURE_MAPS, declare
from zcnas.metrics.model_passes import EngineMetric, observe

LAYERS = ("modules", "leaves")


def min_eigen_correlation(feature: torch.Tensor) -> float:
    """λ_min of the channel correlation matrix of one image's feature map (C, *spatial); NaN entries -> 0."""
    f = feature.detach().to(torch.float64).reshape(feature.shape[0], -1)
    corr = torch.corrcoef(f)
    corr = torch.where(torch.isfinite(corr), corr, torch.zeros_like(corr))
    return float(torch.linalg.eigvalsh(corr).min())


def check_layers(layers) -> str:
    if layers not in LAYERS:
        raise ConfigError(f"meco's layers must be one of {', '.join(LAYERS)}, got {layers!r}")
    return layers


def hooked_modules(model: nn.Module, layers: str) -> list[nn.Module]:
    """The modules whose outputs are read: every module, or (``leaves``) those without children."""
    return [m for m in model.modules() if layers == "modules" or not any(True for _ in m.children())]


def feature_hook(values: list[float]):
    """The forward hook that appends λ_min of the first image's feature map of a module's output to ``values``."""

    def hook(module: nn.Module, inputs: tuple, output) -> None:
        if isinstance(output, torch.Tensor) and output.dim() >= 3 and output[0, 0].numel() >= 2:
            values.append(min_eigen_correlation(output[0]))

    return hook


def meco_total(values: list[float], model: nn.Module) -> float:
    """The sum of the hooked modules' λ_min; a model that gave none is an error."""
    if not values:
        raise MetricError(f"meco needs convolutional feature maps (outputs with channels and at least 2 spatial "
                          f"positions), and {type(model).__name__} produces none")
    return float(sum(values))


def meco_score(model: nn.Module, x: torch.Tensor, layers: str) -> float:
    """Σ over hooked modules of λ_min of the channel correlation of the first image's feature map."""
    check_layers(layers)
    values: list[float] = []
    observe(model, x, hooked_modules(model, layers), feature_hook(values))
    return meco_total(values, model)


@declare(needs=DATA, model_score=meco_score, fusion=FEATURE_MAPS)
class Meco(EngineMetric):
    prune = False  # it hooks every module: the full forward pass

    def __init__(self, context, layers: str):
        super().__init__(context)
        self.settings["layers"] = check_layers(layers)

    @classmethod
    def join_shared_pass(cls, shared, settings: dict) -> list[float]:
        """λ_min of the feature maps of the shared forward pass, hooked as ``meco_score`` hooks them."""
        layers = check_layers(settings["layers"])
        values: list[float] = []
        shared.hook(hooked_modules(shared.model, layers), feature_hook(values))
        return values

    @classmethod
    def from_shared_pass(cls, shared, values: list[float]) -> float:
        return meco_total(values, shared.model)
