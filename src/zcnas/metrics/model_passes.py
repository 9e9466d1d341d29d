"""The passes through a network that the metrics share: running a caller's model
without changing it, the loss gradients of its conv and linear weights, and the
metric classes that score an architecture's seeded network with the job's batch.

Model level (any ``nn.Module``): a score must leave the model exactly as it
was, so ``scratch_train_mode`` puts back modes and buffers, ``trainable``
re-freezes weights it had to unfreeze, ``hooked`` removes its hooks, and
gradients are taken with ``torch.autograd.grad`` (which never writes
``.grad``).

Architecture level: ``EngineMetric`` scores the network the space builds
(``Metric.score_cell``) with the metric's declared model-level function and
the job's batch, so a job and ``zcnas.score`` run the same code.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from zcnas.errors import ConfigError, MetricError
from zcnas.metrics.base import Metric, ScoringContext

# --- leaving the caller's model as it was -------------------------------------------


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


@contextmanager
def hooked(modules: Iterable[nn.Module], hook: Callable) -> Iterator[None]:
    """``hook`` as a forward hook on each of ``modules`` for the duration (removed even on an error)."""
    handles = [m.register_forward_hook(hook) for m in modules]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def observe(model: nn.Module, x: torch.Tensor, modules: Iterable[nn.Module], hook: Callable) -> None:
    """One training-mode forward pass of ``x`` without gradients, ``hook`` watching ``modules``."""
    with hooked(modules, hook), scratch_train_mode(model), torch.no_grad():
        model(x)


# --- loss gradients of the conv and linear weights ------------------------------------


def conv_linear_weights(model: nn.Module, metric: str, each_module: bool = False) -> list[nn.Parameter]:
    """The weights of every ``nn.Conv2d``/``nn.Linear`` of ``model``, each shared weight once.

    ``each_module``: a weight shared by several modules is listed once per
    module (snip counts it so; its committed scores depend on it).
    """
    weights: list[nn.Parameter] = []
    seen: set[int] = set()
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)) and (each_module or id(module.weight) not in seen):
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


def gradient_term_sum(pairs: Iterable[tuple[torch.Tensor, torch.Tensor | None]],
                      term: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], device) -> float:
    """Σ ``term(W, ∂L/∂W)`` over the (weight, gradient) ``pairs`` in float64; no gradient adds 0."""
    total = torch.zeros((), dtype=torch.float64, device=device)
    for w, g in pairs:
        if g is not None:
            total += term(w.detach(), g)
    return float(total)


def weight_gradient_sum(model: nn.Module, x: torch.Tensor, y: torch.Tensor, metric: str,
                        term: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                        each_module: bool = False) -> float:
    """Σ over conv/linear weights W of ``term(W, ∂L/∂W)`` in float64; weights without a gradient add 0."""
    y = check_labels(x, y, metric)
    weights = conv_linear_weights(model, metric, each_module)
    return gradient_term_sum(zip(weights, loss_gradients(model, x, y, weights)), term, x.device)


# --- the gradient of the summed outputs with respect to the input ------------------------------


def check_jacobian_input(x: torch.Tensor, metric: str) -> None:
    """The batch an input Jacobian is correlated over: floating point, at least 2 images (else one line)."""
    if not torch.is_floating_point(x):
        raise MetricError(f"{metric} differentiates the network with respect to its input, which must be "
                          f"floating point, got {x.dtype}")
    if x.shape[0] < 2:
        raise MetricError(f"{metric} correlates the Jacobians of a batch: it needs at least 2 images, got {x.shape[0]}")


def check_jacobian_output(out, model: nn.Module, metric: str) -> None:
    """The output an input gradient is taken of: one tensor that depends on the input (else one line)."""
    if not isinstance(out, torch.Tensor):
        raise MetricError(f"{metric} needs a model that returns one tensor, and {type(model).__name__} "
                          f"returned {type(out).__name__}")
    if not out.requires_grad:
        raise MetricError(f"{metric} needs a model whose output depends on its input, and the output "
                          f"of {type(model).__name__} does not")


# --- the job's batch on an architecture's network ------------------------------------------

#: memory layouts of the engine's network and batch: "contiguous" (NCHW, the default) gives the
#: straightforward computation's arithmetic exactly; "channels_last" is faster on CPUs (measured
#: 1.25x for hook_logdet, 1.4x for snip), but BatchNorm's statistics are then summed in another
#: order: scores move by up to ~2e-7 (hook_logdet) and ~1e-3 (snip) relative, Spearman 1.0 on the
#: ablation sample (results/bench/ablations.csv).  Opt in with +metric.layout=channels_last (the key is
#: not in conf/metric/*.yaml, whose owners may add it).
LAYOUTS = ("contiguous", "channels_last")


def check_layout(layout: str) -> str:
    if layout not in LAYOUTS:
        raise ConfigError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    return layout


class EngineMetric(Metric):
    """A batch metric: its declared model-level function on the architecture's seeded network and the job's batch.

    ``prune``: the space's pruned forward pass (NATS-Bench TSS's skips work that
    only feeds ``none`` edges or zero nodes; tests/test_fast_paths.py checks that
    the scores equal the full computation's).  Metrics that hook or read every
    module (fisher, meco) set it to False.
    """

    prune = True
    layout = "contiguous"

    def __init__(self, context: ScoringContext):
        super().__init__(context)
        self.settings: dict = {}  # the metric's own parameters: passed to its function, recorded by describe

    def score_network(self, net: nn.Module) -> float:
        x, y = self.context.batch
        if self.layout == "channels_last":
            net, x = net.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
        return self.score_model(net, x, y, **self.settings)

    def describe(self) -> dict:
        return {"name": self.name, **self.settings}


class LayoutMetric(EngineMetric):
    """An engine metric with a choice of memory layout (hook_logdet and snip)."""

    def __init__(self, context: ScoringContext, layout: str = "contiguous"):
        super().__init__(context)
        self.layout = check_layout(layout)

    def describe(self) -> dict:
        d = super().describe()
        if self.layout != "contiguous":  # the default leaves the identity of existing rosters as it was
            d["layout"] = self.layout
        return d
