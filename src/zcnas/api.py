"""The public Python API: score any ``torch.nn.Module`` with a zero-cost metric.

``zcnas.score`` runs the same implementations the NATS-Bench jobs use (the
model-level functions of ``zcnas.metrics``) on a model and batch you give.
Which metrics it takes, what each needs from the batch and its parameters
all come from the metrics' declarations (``zcnas.metrics.base.register``).
"""

from __future__ import annotations

import torch
from torch import nn

from zcnas.errors import ConfigError, MetricError
from zcnas.metrics import SPECS
from zcnas.metrics.base import LABELS

#: the metrics that score any model: those declared with a model-level function
MODEL_METRICS = {name: spec for name, spec in SPECS.items() if spec.model_score is not None}


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
    spec = MODEL_METRICS.get(metric)
    if spec is None:
        if metric in SPECS:
            raise ConfigError(f"metric {metric!r} cannot score an arbitrary model: {SPECS[metric].cells_only}")
        raise ConfigError(f"unknown metric {metric!r}; valid: {', '.join(sorted(MODEL_METRICS))}")
    unknown = sorted(set(params) - set(spec.param_names()))
    if unknown:
        raise ConfigError(f"unknown parameter(s) {', '.join(unknown)} for metric {metric!r}; "
                          f"valid: {', '.join(spec.param_names()) or 'none'}")
    x, y = _split_batch(batch)
    if spec.needs == LABELS and y is None:
        raise MetricError(f"metric {metric!r} needs labels: pass batch=(x, y) with y the class indices of x")

    # Every metric restores what it touches; this also puts back the modes
    # and requires_grad flags should a metric fail half-way.
    modes = {m: m.training for m in model.modules()}
    flags = {p: p.requires_grad for p in model.parameters()}
    try:
        return float(spec.score_model(model, x, y, **params))
    finally:
        for m, mode in modes.items():
            m.train(mode)
        for p, flag in flags.items():
            p.requires_grad_(flag)
