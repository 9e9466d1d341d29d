"""One pass, many proxies: score a set of metrics of one architecture from one network and one batch.

``FusedScorer(names, context, settings_by_metric).score_cell(arch)`` returns ``{metric: score}``,
each score equal to that metric's own ``make_metric(name, context, **settings).score_cell(arch)``
(tests/test_fused.py), while building the architecture's seeded network once and running as few
passes as the definitions allow:

* **the shared pass** (:func:`shared_scores`): one training-mode forward pass of the job's batch
  with every hook the members need -- the ReLU codes of ``hook_logdet``, the feature maps of
  ``meco``, the conv/linear activations of ``fisher`` -- then *one* cross-entropy backward pass
  that returns the weight gradients of ``snip``, ``grad_norm``, ``plain`` and ``grasp`` and the
  activation gradients of ``fisher`` together (with ``create_graph`` when ``grasp`` is a member,
  whose Hessian-vector product then follows on the same graph), then one backward pass of the
  summed outputs to the input for ``jacov`` and ``epe_nas``.  Without a gradient metric the
  forward pass runs without autograd, as ``hook_logdet`` and ``meco`` alone do.
* ``zico``: its own forward/backward passes on its mini-batches (its definition: BatchNorm on each
  mini-batch's statistics, so it cannot share the full batch's pass), on the same network.
* ``l2_norm`` reads the network's weights; ``zen`` (its own Gaussian weights and inputs) and
  ``synflow`` (absolute weights) work on a deep copy of the same network, as they do alone; a
  metric with an ``@engine`` for the job's space (NATS-Bench TSS: ``synflow``, ``params``,
  ``flops``) keeps its engine, which builds no network.
* anything else -- ``val12``, ``combined``, ``ensemble``, a metric read from a roster, or
  ``hook_logdet``/``snip`` with ``layout=channels_last`` -- is scored by its own metric object,
  exactly as a single-metric job would.

Which of these a metric takes is its class's declaration (``declare(..., fusion=...)`` in
``zcnas.metrics.base``): the part of the shared pass its score is derived from, ``network``, or
none.  How a member's score follows from the shared pass is its class's too
(``join_shared_pass``: the hooks, activation gradients and second-order step it asks for;
``from_shared_pass``: the score; ``zcnas.metrics.shared_pass``): this module runs the pass and
names no metric, so a new fusable metric is its own module and YAML option only.

No metric mutates the shared network: gradients are taken with ``torch.autograd.grad`` (no
``.grad``), ``scratch_train_mode`` puts BatchNorm's buffers back after each pass, ``trainable``
re-freezes, and the metrics that change weights (synflow, zen) change a copy.  So the one network
serves every member in turn, with the weights the space's ``build_network(arch, classes, size, seed)``
draws.

Pruned forward pass: the network is built with ``prune=True``, as ``hook_logdet``, ``snip`` and the
other batch metrics build it alone; a space's pruned pass must fall back to the full computation
when a hook watches more than its ReLUs, as NATS-Bench TSS's (zcnas.spaces.nats_tss.network) does
for ``meco`` and ``fisher``; then ``snip``, ``grad_norm``, ``plain``, ``grasp``, ``jacov`` and
``epe_nas`` take their gradients from the full pass where alone they would take them from the
pruned one.  Pruning only skips terms that are exactly zero, so the two passes agree up to the
order in which a few nonzero gradient terms are added: tests/test_fused.py checks bit-identity on
its cells (also tests/test_fast_paths.py for snip), but on some cells a gradient metric fused with
``meco`` or ``fisher`` differs from its single-metric value in the last digits (snip: 2 of 100
sample cells, relative ≤ 5e-8; results/correlation/README.md).  Fused without them, on the pruned
pass, it is bit-identical; ``hook_logdet``'s kernel is a matrix of integer counts, identical either way.

What stays expensive: the passes no other metric can use by definition -- grasp's
Hessian-vector product (a second-order backward pass), zico's forward/backward passes on its
mini-batches, zen's two forward passes of Gaussian images on Gaussian weights.  With all 15 proxies
they take most of a cell's time (bench/fused.py prints each metric's share).

Seconds (``seconds``, after each ``score_cell``): the cell's wall time ``cell_seconds`` split so
that the metrics' shares add up to it.  Work done for one metric alone (its post-processing, a
hook's own computation, a pass only it needs, a metric scored on its own) is charged to it; a
step shared by several (building the network, loading the batch on the first cell, the shared
forward pass, the cross-entropy backward pass) is split equally among the metrics that use it;
what no step measured (Python overhead between steps) is split equally among all members scored.
"""

from __future__ import annotations

import time
from contextlib import ExitStack, contextmanager
from typing import Iterable, Iterator, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from zcnas.errors import ConfigError
from zcnas.metrics import defaults, metric_class, names as metric_names
from zcnas.metrics.base import (ACTIVATION_GRADIENTS, INPUT_GRADIENT, LABELS, NETWORK, SHARED_PASS, WEIGHT_GRADIENTS,
                                Metric, ScoringContext)
from zcnas.metrics.model_passes import (check_jacobian_input, check_jacobian_output, check_labels,
                                        conv_linear_weights, hooked, scratch_train_mode, trainable)
from zcnas.metrics.shared_pass import SharedPass


# --- seconds ---------------------------------------------------------------------------------


class Attribution:
    """Seconds per metric: each step's time charged to the metrics it served, split equally."""

    def __init__(self, names: Iterable[str]):
        self.share = dict.fromkeys(names, 0.0)

    def add(self, names: Sequence[str], seconds: float) -> None:
        names = [n for n in names if n in self.share]
        for n in names:
            self.share[n] += seconds / len(names)

    @contextmanager
    def span(self, names: Sequence[str]) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(names, time.perf_counter() - t0)

    def close(self, total: float) -> dict[str, float]:
        """The shares, with what no step measured split equally, so that they add up to ``total``."""
        rest = total - sum(self.share.values())
        n = len(self.share)
        return {k: v + rest / n for k, v in self.share.items()} if n else {}


# --- the shared pass (any nn.Module) ----------------------------------------------------------


def _member_classes(order: Sequence[str], classes: Mapping[str, type[Metric]] | None) -> dict[str, type[Metric] | None]:
    """Each member's metric class: given in ``classes``, else its option's; None for an unknown name."""
    known = metric_names()
    given = dict(classes or {})
    return {n: given.get(n) or (metric_class(n) if n in known else None) for n in order}


def shared_scores(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None, names: Iterable[str],
                  settings: Mapping[str, Mapping] | None = None,
                  attribution: Attribution | None = None,
                  classes: Mapping[str, type[Metric]] | None = None) -> dict[str, float]:
    """The scores of ``names`` (metrics of the shared pass) from one forward pass of ``(x, y)`` and its backward passes.

    Each equals the metric's model-level function (``hook_logdet_score(model, x)``,
    ``snip_score(model, x, y)``, ...; ``settings``: a metric's own parameters, e.g.
    ``{"meco": {"layers": "leaves"}}``); ``model`` is left as it was.  ``classes``: the members'
    metric classes where they are not their options' (a class a job's ``_target_`` named).
    Each member's class states what it needs of the pass and how its score follows from it
    (``Metric.join_shared_pass``, ``Metric.from_shared_pass``; ``zcnas.metrics.shared_pass``).
    """
    order = list(dict.fromkeys(names))
    member = _member_classes(order, classes)
    kind = {n: member[n].fusion if member[n] is not None else None for n in order}
    unknown = [n for n in order if kind[n] not in SHARED_PASS]
    if unknown:
        raise ValueError(f"not metrics of the shared pass: {unknown}; those declare a fusion among "
                         f"{', '.join(SHARED_PASS)}")
    # each metric's parameters: its option's defaults, ``settings`` overriding them
    known = metric_names()
    settings = {n: {**(defaults(n) if n in known else {}), **dict((settings or {}).get(n) or {})} for n in order}
    attr = attribution or Attribution(order)
    ce = [n for n in order if kind[n] in (ACTIVATION_GRADIENTS, WEIGHT_GRADIENTS)]  # cross-entropy backward
    wgrad = any(kind[n] == WEIGHT_GRADIENTS for n in order)
    jac_names = [n for n in order if kind[n] == INPUT_GRADIENT]
    grad = bool(ce or jac_names)

    # the single metrics' checks, in the order they would meet them
    labelled = [n for n in order if member[n].needs == LABELS]
    if labelled:
        y = check_labels(x, y, labelled[0])
    if jac_names:
        check_jacobian_input(x, jac_names[0])
    shared = SharedPass(model, x, y, conv_linear_weights(model, ce[0]) if ce else [])
    # the members join in the order of the pass's parts (hooks register in that order)
    state = {n: shared.join(n, member[n], settings[n]) for n in sorted(order, key=lambda n: SHARED_PASS.index(kind[n]))}

    with ExitStack() as stack:
        for modules, hook in shared.hooks:
            stack.enter_context(hooked(modules, hook))
        if ce:
            stack.enter_context(trainable(shared.weights))
        stack.enter_context(scratch_train_mode(model))
        stack.enter_context(torch.enable_grad() if grad else torch.no_grad())
        inp = x.detach().clone().requires_grad_(True) if jac_names else x

        t0 = time.perf_counter()
        out = model(inp)
        forward = time.perf_counter() - t0
        for n, s in shared.spent.items():
            attr.add([n], s)
        attr.add(order, forward - sum(shared.spent.values()))
        shared.output = out

        if jac_names:
            check_jacobian_output(out, model, jac_names[0])
        if ce:
            second = shared.second_order
            with attr.span(ce):
                loss = F.cross_entropy(out, y)
                grads = torch.autograd.grad(loss, shared.loss_targets(wgrad), allow_unused=True, create_graph=second,
                                            retain_graph=bool(jac_names) or second)
            shared.take_loss_gradients(grads, wgrad)
            for i, (n, step) in enumerate(shared.steps):
                shared.retain_graph = bool(jac_names) or i < len(shared.steps) - 1
                with attr.span([n]):
                    step()
        if jac_names:
            with attr.span(jac_names):
                (jac,) = torch.autograd.grad(out.sum(), inp, allow_unused=True)
                if jac is None:
                    jac = torch.zeros_like(inp)
                shared.jacobian = jac.reshape(x.shape[0], -1)
                shared.output = out.detach()

    shared.finish()
    scores: dict[str, float] = {}
    for n in order:
        with attr.span([n]):
            scores[n] = member[n].from_shared_pass(shared, state[n])
    return scores


# --- the cell-level scorer --------------------------------------------------------------------


def build_member(name: str, context: ScoringContext, settings: Mapping | None = None) -> Metric:
    """The metric ``name`` with ``settings`` as a single-metric job builds it (``zcnas.build.build_metric``):
    ``roster`` reads its scores from a roster, any other key is a parameter of the metric."""
    from omegaconf import OmegaConf

    from zcnas.build import build_metric

    params = dict(settings or {})
    if "name" in params and params.pop("name") != name:
        raise ConfigError(f"the settings of metric {name} name another metric")
    return build_metric(OmegaConf.create({"metric": {"name": name, **params}}), context)


def _route(metric: Metric) -> str:
    """How a member is scored (its declared ``fusion``): ``shared`` (the shared pass), ``network`` (on the
    shared network, or its ``@engine`` for the space), ``own``."""
    if not type(metric).declared():  # e.g. scores read from a roster
        return "own"
    if getattr(metric, "layout", "contiguous") != "contiguous":  # channels_last rounds otherwise
        return "own"
    if metric.fusion in SHARED_PASS:
        return "shared"
    if metric.fusion == NETWORK:
        return "network"
    return "own"


class FusedScorer:
    """Scores ``names`` of one architecture at a time with shared work (module docstring).

    ``settings_by_metric``: ``{metric: {param: value}}``, each metric's parameters as its YAML in
    conf/metric/ gives them (``roster`` included); a metric without an entry takes its defaults.
    ``metrics``: the members, built as single-metric jobs build them (their ``describe()`` is what
    their rosters record).  After each ``score_cell``, ``seconds`` holds each member's share of the
    cell's wall time ``cell_seconds`` (module docstring).
    """

    def __init__(self, names: Sequence[str], context: ScoringContext,
                 settings_by_metric: Mapping[str, Mapping] | None = None):
        names = list(names)
        if not names:
            raise ConfigError("FusedScorer needs at least one metric")
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ConfigError(f"metrics lists {', '.join(doubled)} more than once")
        settings_by_metric = dict(settings_by_metric or {})
        stray = sorted(set(settings_by_metric) - set(names))
        if stray:
            raise ConfigError(f"settings given for {', '.join(stray)}, which is not among the metrics "
                              f"({', '.join(names)})")
        self.names = names
        self.context = context
        self.metrics: dict[str, Metric] = {n: build_member(n, context, settings_by_metric.get(n)) for n in names}
        self.routes = {n: _route(m) for n, m in self.metrics.items()}
        self.seconds: dict[str, float] = {}
        self.cell_seconds = 0.0

    def _settings(self, name: str) -> dict:
        return dict(getattr(self.metrics[name], "settings", {}) or {})

    def _needs_network(self, name: str) -> bool:
        route = self.routes[name]
        if route == "shared":
            return True
        if route == "network":  # unless its engine for this space builds none
            return type(self.context.space) not in type(self.metrics[name]).engines
        return False

    def _build(self, arch) -> nn.Module:
        ctx = self.context
        # as the batch metrics build it alone (contiguous layout); the weights do not depend on prune
        return ctx.space.build_network(arch, ctx.num_classes, ctx.input_size, seed=ctx.seed,
                                       prune=True).to(ctx.device)

    def score_cell(self, arch, only: Iterable[str] | None = None) -> dict[str, float]:
        """``{metric: score}`` for ``arch`` (a NATS cell or an architecture of ``context.space``);
        ``only``: score just these members (the others are left out of the result)."""
        t_start = time.perf_counter()
        wanted = set(self.names if only is None else only)
        names = [n for n in self.names if n in wanted]
        attr = Attribution(names)
        scores: dict[str, float] = {}

        for n in names:
            if not self._needs_network(n):  # its own metric object, or its engine for this space
                with attr.span([n]):
                    scores[n] = self.metrics[n].score_cell(arch)

        on_net = [n for n in names if self._needs_network(n)]
        if on_net:
            with attr.span(on_net):
                net = self._build(arch)
            shared = [n for n in on_net if self.routes[n] == "shared"]
            network = [n for n in on_net if self.routes[n] == "network"]
            for n in network:  # data-free ones first: they never wait for the batch
                if not self.metrics[n].needs_data:
                    with attr.span([n]):
                        scores[n] = self.metrics[n].score_network(net)
            with_data = shared + [n for n in network if self.metrics[n].needs_data]
            if with_data:
                with attr.span(with_data):
                    x, y = self.context.batch  # loaded once per job (the first cell's share)
            if shared:
                settings = {n: self._settings(n) for n in shared}
                classes = {n: type(self.metrics[n]) for n in shared}
                scores.update(shared_scores(net, x, y, shared, settings, attr, classes))
            for n in network:
                if self.metrics[n].needs_data:
                    with attr.span([n]):
                        scores[n] = self.metrics[n].score_network(net)
            del net

        self.cell_seconds = time.perf_counter() - t_start
        self.seconds = attr.close(self.cell_seconds)
        return {n: scores[n] for n in names}

    def recorded_cost(self, name: str, arch) -> float | None:
        """The member's recorded seconds for ``arch`` (val12, roster-backed metrics), or None."""
        return self.metrics[name].recorded_cost(arch)

    def describe(self) -> dict:
        return {n: m.describe() for n, m in self.metrics.items()}
