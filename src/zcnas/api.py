"""The public Python API: score any ``torch.nn.Module`` with a zero-cost metric.

``zcnas.score`` runs the same implementations the NATS-Bench jobs use (the
model-level functions of ``zcnas.metrics``) on a model and batch you give.
"""

from __future__ import annotations

import inspect
from typing import Callable

import torch
from torch import nn

from zcnas.errors import ConfigError, MetricError
from zcnas.metrics.counts import flops_score, params_score
from zcnas.metrics.epe_nas import epe_nas_score
from zcnas.metrics.fisher import fisher_score
from zcnas.metrics.grad_norm import grad_norm_score
from zcnas.metrics.grasp import grasp_score
from zcnas.metrics.jacov import jacov_score
from zcnas.metrics.l2_norm import l2_norm_score
from zcnas.metrics.meco import meco_score
from zcnas.metrics.naswot import hook_logdet_score
from zcnas.metrics.plain import plain_score
from zcnas.metrics.snip import snip_score
from zcnas.metrics.synflow import synflow_score
from zcnas.metrics.zen import zen_score
from zcnas.metrics.zico import zico_score

# What each metric needs from the batch: "labels" (x and y), "data" (x), or
# "shape" (data-free: only x's shape and device are used).  Each adapter
# takes (model, x, y) and the metric's own keyword parameters.
NEEDS: dict[str, str] = {}
_ADAPTERS: dict[str, Callable[..., float]] = {}


def _register(name: str, needs: str):
    def wrap(fn):
        NEEDS[name], _ADAPTERS[name] = needs, fn
        return fn
    return wrap


@_register("hook_logdet", "data")
def _hook_logdet(model, x, y):
    return hook_logdet_score(model, x)


@_register("synflow", "shape")
def _synflow(model, x, y):
    return synflow_score(model, tuple(x.shape[1:]), x.device)


@_register("snip", "labels")
def _snip(model, x, y):
    return snip_score(model, x, y)


@_register("grad_norm", "labels")
def _grad_norm(model, x, y):
    return grad_norm_score(model, x, y)


@_register("grasp", "labels")
def _grasp(model, x, y):
    return grasp_score(model, x, y)


@_register("fisher", "labels")
def _fisher(model, x, y):
    return fisher_score(model, x, y)


@_register("jacov", "data")
def _jacov(model, x, y):
    return jacov_score(model, x)


@_register("l2_norm", "shape")
def _l2_norm(model, x, y):
    return l2_norm_score(model)


@_register("plain", "labels")
def _plain(model, x, y):
    return plain_score(model, x, y)


@_register("params", "shape")
def _params(model, x, y):
    return params_score(model)


@_register("flops", "shape")
def _flops(model, x, y):
    return flops_score(model, tuple(x.shape[1:]), x.device)


@_register("zen", "shape")
def _zen(model, x, y, alpha: float = 0.01, repeat: int = 1, seed: int = 0, norm: str = "fro"):
    return zen_score(model, tuple(x.shape), alpha=alpha, repeat=repeat, seed=seed, norm=norm, device=x.device)


@_register("epe_nas", "labels")
def _epe_nas(model, x, y, num_classes: int | None = None):
    return epe_nas_score(model, x, y, num_classes)


@_register("zico", "labels")
def _zico(model, x, y, num_batches: int = 2):
    return zico_score(model, x, y, num_batches)


@_register("meco", "data")
def _meco(model, x, y, layers: str = "modules"):
    return meco_score(model, x, layers)


_NOT_FOR_MODELS = {
    "combined": "normalizes hook_logdet and synflow against a reference set of NATS-Bench cells",
    "ensemble": "normalizes its members against a reference set of NATS-Bench cells",
    "val12": "reads trained accuracies of NATS-Bench cells from the benchmark",
}


def _split_batch(batch) -> tuple[torch.Tensor, torch.Tensor | None]:
    if isinstance(batch, torch.Tensor):
        return batch, None
    if isinstance(batch, (tuple, list)) and len(batch) == 2 and isinstance(batch[0], torch.Tensor):
        x, y = batch
        if y is not None and not isinstance(y, torch.Tensor):
            raise TypeError(f"the labels of batch=(x, y) must be a tensor of class indices, got {type(y).__name__}")
        return x, y
    raise TypeError(f"batch must be a tensor x or a pair (x, y) of tensors, got {type(batch).__name__}")


def score(model: nn.Module, batch, metric: str = "hook_logdet", **params) -> float:
    """Score ``model`` with a zero-cost ``metric``; higher is better.

    ``model``: any ``torch.nn.Module`` taking the batch's images and returning
    logits (one tensor, shape (N, classes)).  ``batch``: a tensor x (N, ...) or
    a pair (x, y) with y the class indices.  Metrics that need labels (snip,
    grad_norm, grasp, fisher, plain, epe_nas, zico) raise ``MetricError`` when y
    is missing; data-free metrics (synflow, zen, params, flops, l2_norm) use
    only x's shape (and device).  ``params``: the metric's own settings, e.g.
    ``zen``: alpha, repeat, seed, norm; ``zico``: num_batches; ``epe_nas``:
    num_classes; ``meco``: layers.  The score may be non-finite (e.g.
    hook_logdet's -inf for a singular kernel); rank those lowest.

    The model is left as it was: weights, buffers (BatchNorm running
    statistics), train/eval modes, ``requires_grad`` flags and any ``.grad``.
    A model a metric cannot handle gives a one-line ``MetricError`` (e.g.
    hook_logdet on a model without ``nn.ReLU`` modules); an unknown metric or
    parameter a one-line ``ConfigError``.

    Example (runs as is; no torchvision needed)::

        import torch
        from torch import nn

        import zcnas

        torch.manual_seed(0)
        model = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
        )
        x, y = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))

        print(zcnas.score(model, x))                        # hook_logdet (NASWOT): images only
        print(zcnas.score(model, x, metric="synflow"))      # data-free: uses x's shape only
        print(zcnas.score(model, (x, y), metric="snip"))    # needs labels
        print(zcnas.score(model, x, metric="zen", seed=1))  # a metric's own parameters
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if metric in _NOT_FOR_MODELS:
        raise ConfigError(f"metric {metric!r} cannot score an arbitrary model: it {_NOT_FOR_MODELS[metric]}; "
                          "score its members one by one instead (see zcnas.metrics.ensemble.ensemble_scores)")
    if metric not in _ADAPTERS:
        raise ConfigError(f"unknown metric {metric!r}; valid: {', '.join(sorted(_ADAPTERS))}")
    adapter = _ADAPTERS[metric]
    try:
        inspect.signature(adapter).bind(model, None, None, **params)
    except TypeError:
        allowed = [p for p in inspect.signature(adapter).parameters if p not in ("model", "x", "y")]
        raise ConfigError(f"unknown parameter(s) {', '.join(sorted(params))} for metric {metric!r}; "
                          f"valid: {', '.join(allowed) or 'none'}") from None
    x, y = _split_batch(batch)
    if NEEDS[metric] == "labels" and y is None:
        raise MetricError(f"metric {metric!r} needs labels: pass batch=(x, y) with y the class indices of x")

    # Every metric restores what it touches; this also puts back the modes
    # and requires_grad flags should a metric fail half-way.
    modes = {m: m.training for m in model.modules()}
    flags = {p: p.requires_grad for p in model.parameters()}
    try:
        return float(adapter(model, x, y, **params))
    finally:
        for m, mode in modes.items():
            m.train(mode)
        for p, flag in flags.items():
            p.requires_grad_(flag)
