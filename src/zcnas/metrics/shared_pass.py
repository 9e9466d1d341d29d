"""The shared pass: what one training-mode forward pass and its backward passes computed, for its members.

A metric declared with a ``fusion`` among ``zcnas.metrics.base.SHARED_PASS`` takes its score from
this pass instead of running its own (``zcnas.metrics.fused.shared_scores`` runs it).  The parts
the declarations name are the pass's own: the forward pass of the batch, one cross-entropy
backward pass giving the conv/linear weights' gradients (``WEIGHT_GRADIENTS``), one backward pass
of the summed outputs giving the input Jacobian (``INPUT_GRADIENT``).  What a member needs beyond
them it asks for in its class's ``join_shared_pass(shared, settings)``, before the forward pass:

* ``shared.hook(modules, hook)``: a forward hook during the forward pass (its seconds are the
  member's);
* ``shared.loss_gradients(targets)``: the cross-entropy gradients of the tensors ``targets()``
  returns after the forward pass (e.g. the activations its hooks captured), from the same backward
  pass as the weights';
* ``shared.on_loss_graph(step, second_order=...)``: ``step()`` right after that backward pass,
  while its graph lives (``second_order``: the gradients keep their own graph, to be
  differentiated again, as a Hessian-vector product does).

Its class's ``from_shared_pass(shared, state)`` then reads the finished pass: ``grad(w)`` of a
weight, ``weight_sum(weights, term)``, ``jacobian``, ``output``, ``x``, ``y``, ``model``.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import torch
from torch import nn

from zcnas.metrics.model_passes import gradient_term_sum


def _timed(hook: Callable, name: str, spent: dict[str, float]) -> Callable:
    """``hook`` with its own seconds added to ``spent[name]`` (they are the metric's, not the pass's)."""

    def wrapper(module, inputs, output):
        t0 = time.perf_counter()
        try:
            return hook(module, inputs, output)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - t0

    return wrapper


class SharedPass:
    """One forward pass of ``(x, y)`` through ``model`` and its backward passes, as its members asked.

    ``weights``: the conv/linear weights (each shared one once) whose cross-entropy gradients the
    pass takes when a member needs them (``WEIGHT_GRADIENTS``); ``output``: the model's output
    (detached once the input gradient is taken); ``jacobian``: N×D, row n = ∂(Σ outputs)/∂x_n, or
    None without an ``INPUT_GRADIENT`` member; ``weight_grads``: the weights' gradients as the
    backward pass returned them (with their graph under ``second_order``; for ``on_loss_graph``
    steps); ``retain_graph``: whether a later backward pass still needs the graph (a step that
    differentiates it passes this on).
    """

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor | None, weights: Sequence[nn.Parameter]):
        self.model, self.x, self.y = model, x, y
        self.device = x.device
        self.weights = list(weights)
        self.output = None
        self.jacobian: torch.Tensor | None = None
        self.weight_grads: tuple = ()
        self.retain_graph = False
        self.second_order = False
        #: (modules, hook) pairs for the forward pass, each hook timed for the member that asked
        self.hooks: list[tuple[Sequence[nn.Module], Callable]] = []
        #: seconds of the hooks' own work, per member
        self.spent: dict[str, float] = {}
        #: (member, step) pairs to run on the loss graph, in the order asked
        self.steps: list[tuple[str, Callable[[], None]]] = []
        self._targets: list[tuple[Callable[[], list[torch.Tensor]], list]] = []
        self._counts: list[list[torch.Tensor]] = []  # each member's targets, as the backward pass took them
        self._grad_of: dict[int, torch.Tensor | None] = {}
        self._member = ""

    # --- what a member asks for (its class's ``join_shared_pass``) --------------------------------

    def join(self, name: str, cls, settings: dict):
        """Member ``name`` (metric class ``cls``) joins the pass; returns its state."""
        self._member = name
        try:
            return cls.join_shared_pass(self, settings)
        finally:
            self._member = ""

    def hook(self, modules: Sequence[nn.Module], hook: Callable) -> None:
        """``hook`` as a forward hook on ``modules`` during the forward pass; its seconds are the member's."""
        self.hooks.append((modules, _timed(hook, self._member, self.spent)))

    def loss_gradients(self, targets: Callable[[], list[torch.Tensor]]) -> list:
        """A list that the cross-entropy backward pass fills with ∂L/∂t for each tensor t of ``targets()``
        (called after the forward pass), in that order; None for a tensor the loss does not depend on."""
        filled: list = []
        self._targets.append((targets, filled))
        return filled

    def on_loss_graph(self, step: Callable[[], None], second_order: bool = False) -> None:
        """``step()`` right after the cross-entropy backward pass, its graph alive; its seconds are the
        member's.  ``second_order``: the weights' gradients keep their graph (``weight_grads``)."""
        self.steps.append((self._member, step))
        self.second_order = self.second_order or second_order

    # --- what the pass runs (``zcnas.metrics.fused.shared_scores``) --------------------------------

    def loss_targets(self, with_weights: bool) -> list[torch.Tensor]:
        """The tensors the cross-entropy backward pass differentiates: the weights (``with_weights``),
        then each member's ``loss_gradients`` targets."""
        self._counts = [list(targets()) for targets, _ in self._targets]
        return (list(self.weights) if with_weights else []) + [t for ts in self._counts for t in ts]

    def take_loss_gradients(self, grads: Sequence, with_weights: bool) -> None:
        """Hand out the backward pass's ``grads`` (in ``loss_targets``' order)."""
        start = len(self.weights) if with_weights else 0
        self.weight_grads = tuple(grads[:start])
        for ts, (_, filled) in zip(self._counts, self._targets):
            filled.extend(grads[start:start + len(ts)])
            start += len(ts)

    def finish(self) -> None:
        """After the passes: the weights' gradients, detached, for ``grad``."""
        self._grad_of = {id(w): g.detach() if g is not None else None for w, g in zip(self.weights, self.weight_grads)}

    # --- what a member reads (its class's ``from_shared_pass``) -------------------------------------

    def grad(self, weight: torch.Tensor) -> torch.Tensor | None:
        """∂L/∂W of a conv/linear weight (detached), None where the loss does not depend on it."""
        return self._grad_of[id(weight)]

    def weight_sum(self, weights: Sequence[torch.Tensor],
                   term: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> float:
        """Σ ``term(W, ∂L/∂W)`` over ``weights`` in float64, summed as ``model_passes.weight_gradient_sum`` sums."""
        return gradient_term_sum(((w, self.grad(w)) for w in weights), term, self.device)
