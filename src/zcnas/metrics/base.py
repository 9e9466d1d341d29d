"""The metric interface: how a metric is declared, and how it scores an architecture.

A metric is an option of the ``metric`` config group, ``conf/metric/<name>.yaml``, whose
``_target_`` names its class and whose other keys are its parameters, their defaults stated
there only (``zcnas.plugins``).  The class states its facts with ``declare``: what it needs,
its model-level function (or why it scores only NATS cells) and how it joins a fused pass.
``zcnas.score``, the jobs and the fused scorer read these facts from the class of the metric
they were asked for; there is no registry.

A metric scores an architecture of any space the same way: it asks the
context's space for the seeded network (``SearchSpace.build_network``) and
scores that (``score_network``).  A faster way for one space -- NATS-Bench
TSS's network-free synflow, its analytic params and flops -- is a method
marked ``@engine(SpaceClass)``: it is chosen when the job's space is of that
class, and must give the same scores.

Every metric is "higher is better".  ``score_cell`` returns a float that may
be non-finite (e.g. a singular NASWOT kernel gives -inf); searches and rosters
rank non-finite scores lowest (see ``zcnas.search.evaluator.rank_value``).
"""

from __future__ import annotations

import inspect
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Callable

import torch

from zcnas.errors import MetricError


@dataclass
class ScoringContext:
    """What a metric may need besides the architecture: the job's space, dataset, seed, device, data and benchmark."""

    dataset: str
    num_classes: int
    input_size: int
    seed: int = 0
    device: str = "cpu"
    batch_loader: Callable[[], tuple[torch.Tensor, torch.Tensor]] | None = None
    benchmark: object | None = None  # zcnas.benchmark.Benchmark
    space: object | None = None  # zcnas.spaces.base.SearchSpace; not given: the default space
    _batch: tuple[torch.Tensor, torch.Tensor] | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.space is None:
            from zcnas.spaces import default_name, make_space

            self.space = make_space(default_name())

    @property
    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The job's image batch, loaded on first use (data-free metrics never load it)."""
        if self._batch is None:
            if self.batch_loader is None:
                raise RuntimeError("this job has no image batch configured")
            x, y = self.batch_loader()
            self._batch = (x.to(self.device), y.to(self.device))
        return self._batch

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (3, self.input_size, self.input_size)


def engine(space: type):
    """Method decorator: the metric's own way to score architectures of ``space`` (that class exactly: a
    subclass may build other networks), used in place of building the network; same scores required."""

    def mark(method: Callable) -> Callable:
        method.engine_for = space
        return method

    return mark


class Metric:
    """Scores architectures of the context's space."""

    #: the metric's name: its option in conf/metric/, set when the class is loaded by name
    name: str = ""
    # the facts ``declare`` sets (see there)
    needs: str = ""
    model_score: Callable[..., float] | None = None
    cells_only: str = ""
    fusion: str | None = None
    #: every consumer (searches, rosters, ensembles, the correlation study) ranks higher scores first
    higher_is_better = True
    needs_data: bool = False  # uses the image batch
    needs_benchmark: bool = False  # reads trained results instead of computing
    #: the ``@engine`` methods of the class and its bases: space class -> method
    engines: dict[type, Callable] = {}
    #: ask the space for its pruned forward pass (``build_network(..., prune=True)``), which skips work
    #: known to be zero where the space has one; it must give the full pass's scores
    prune: bool = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own = {m.engine_for: m for m in vars(cls).values() if hasattr(m, "engine_for")}
        cls.engines = {**cls.engines, **own}

    def __init__(self, context: ScoringContext):
        self.context = context

    @classmethod
    def can_score(cls, space) -> bool:
        """Whether the metric scores architectures of ``space``: any space's networks, or an engine for it."""
        return cls.score_network is not Metric.score_network or type(space) in cls.engines

    def score_cell(self, arch: Hashable) -> float:
        """The architecture's score (higher is better; may be non-finite): the space's engine where the
        metric has one, else the score of the network the space builds."""
        own = self.engines.get(type(self.context.space))
        if own is not None:
            return own(self, arch)
        return self.score_network(self.network(arch))

    def network(self, arch: Hashable):
        """The seeded network of ``arch`` that the space builds, on the job's device."""
        ctx = self.context
        return ctx.space.build_network(arch, ctx.num_classes, ctx.input_size, seed=ctx.seed,
                                       prune=self.prune).to(ctx.device)

    def score_network(self, net) -> float:
        """The score of a built network (``nn.Module``).  Metrics that score no network (val12, combined,
        ensemble: their ``@engine`` reads or combines scores of NATS cells) keep this default."""
        why = self.cells_only or "it scores no network"
        raise MetricError(f"metric {self.name} cannot score architectures of space {self.context.space.name}: {why}")

    def recorded_cost(self, arch: Hashable) -> float | None:
        """Seconds the score is charged from a record (benchmark, roster), or None when measured live."""
        return None

    def describe(self) -> dict:
        """Settings that identify how scores were produced (stored with rosters and results)."""
        return {"name": self.name}

    @classmethod
    def declared(cls) -> bool:
        """Whether the class itself states its facts (``declare``)."""
        return "needs" in vars(cls)

    @classmethod
    def score_model(cls, model, x, y=None, **params) -> float:
        """The model-level function on any ``nn.Module``: ``(model, x, y, **params)`` for a metric that
        needs labels, ``(model, x, **params)`` otherwise (a data-free one uses only x's shape and device)."""
        if cls.needs == LABELS:
            return cls.model_score(model, x, y, **params)
        return cls.model_score(model, x, **params)

    # --- the shared pass (``zcnas.metrics.shared_pass``): a metric declared with a ``fusion`` among
    # ``SHARED_PASS`` states here how it joins the one forward pass and its backward passes, and how its
    # score follows from them; the fused scorer names no metric.

    @classmethod
    def join_shared_pass(cls, shared, settings: dict):
        """Ask ``shared`` (a ``zcnas.metrics.shared_pass.SharedPass``, before its forward pass) for what the
        score needs beyond the pass's declared part -- forward hooks (``shared.hook``), loss gradients of
        tensors the hooks capture (``shared.loss_gradients``), a step on the graph of the loss gradients
        (``shared.on_loss_graph``) -- and return the state ``from_shared_pass`` reads; ``settings``: the
        metric's parameters.  By default nothing: the score needs only the pass itself."""
        return None

    @classmethod
    def from_shared_pass(cls, shared, state) -> float:
        """The score from the finished ``shared`` pass and this metric's ``state`` (``join_shared_pass``);
        it must equal ``model_score``'s on the same model and batch, bit for bit."""
        raise NotImplementedError(f"{cls.__name__} declares no derivation from the shared pass")

    @classmethod
    def param_names(cls) -> list[str]:
        """The names of the model-level function's own parameters (after the model and the batch)."""
        batch = 2 if cls.needs == LABELS else 1
        return list(inspect.signature(cls.model_score).parameters)[1 + batch:]


# What a metric needs: ``SHAPE`` data-free (only the input's shape and device),
# ``DATA`` images, ``LABELS`` images and labels, ``BENCHMARK`` trained results
# of NATS cells, ``MEMBERS`` whatever its member metrics need.
SHAPE, DATA, LABELS, BENCHMARK, MEMBERS = "shape", "data", "labels", "benchmark", "members"
NEEDS = (SHAPE, DATA, LABELS, BENCHMARK, MEMBERS)

# How a metric joins a fused scorer (``zcnas.metrics.fused``), declared with ``fusion``: the part of the
# shared forward/backward pass its score is derived from -- ``RELU_CODES`` (a hook on the ReLUs),
# ``FEATURE_MAPS`` (a hook on every module), ``ACTIVATION_GRADIENTS`` and ``WEIGHT_GRADIENTS`` (of the
# cross-entropy backward pass), ``INPUT_GRADIENT`` (of the summed outputs) -- or ``NETWORK`` (its own
# ``score_network`` on the shared network).  None: scored on its own, as a single-metric job.  A metric of
# the shared pass also defines how its score follows from the pass (``Metric.from_shared_pass``; what it
# needs beyond its part, ``Metric.join_shared_pass``), so the fused scorer runs the pass for any member.
RELU_CODES, FEATURE_MAPS = "relu_codes", "feature_maps"
ACTIVATION_GRADIENTS, WEIGHT_GRADIENTS, INPUT_GRADIENT = "activation_gradients", "weight_gradients", "input_gradient"
NETWORK = "network"
SHARED_PASS = (RELU_CODES, FEATURE_MAPS, ACTIVATION_GRADIENTS, WEIGHT_GRADIENTS, INPUT_GRADIENT)
FUSIONS = (*SHARED_PASS, NETWORK)
#: ``Metric.from_shared_pass`` itself: a class that joins the shared pass must replace it
_NO_DERIVATION = Metric.from_shared_pass.__func__


def declare(*, needs: str, model_score: Callable[..., float] | None = None, cells_only: str = "",
            fusion: str | None = None):
    """Class decorator: check a metric's facts and set them as its class attributes.

    ``needs``: one of ``NEEDS``.  ``model_score`` scores any ``nn.Module`` (``zcnas.score``), called
    as ``Metric.score_model`` says; a metric that only makes sense on NATS cells has none and says
    why in ``cells_only``.  ``fusion``: its part in a fused pass (one of ``FUSIONS``), or None; one among
    ``SHARED_PASS`` requires the class's ``from_shared_pass``.
    """
    where = "metric declaration"
    if needs not in NEEDS:
        raise ValueError(f"{where}: needs must be one of {', '.join(NEEDS)}, got {needs!r}")
    if fusion is not None and (fusion not in FUSIONS or model_score is None):
        raise ValueError(f"{where}: fusion must be one of {', '.join(FUSIONS)} (or None), for a metric "
                         f"with a model_score; got {fusion!r}")
    if (model_score is None) == (not cells_only):
        raise ValueError(f"{where}: give either model_score or cells_only (why it scores only NATS cells)")

    def set_facts(cls: type[Metric]) -> type[Metric]:
        if fusion in SHARED_PASS and getattr(cls.from_shared_pass, "__func__", None) is _NO_DERIVATION:
            raise ValueError(f"{where}: {cls.__name__} joins the shared pass (fusion={fusion!r}), so it must "
                             f"define from_shared_pass, how its score follows from the pass")
        derived = {"needs_data": needs in (DATA, LABELS), "needs_benchmark": needs == BENCHMARK}
        for attr, value in derived.items():
            # a class that states these itself (combined) must agree with its declaration
            if attr in vars(cls) and vars(cls)[attr] != value:
                raise ValueError(f"{cls.__name__}.{attr} = {vars(cls)[attr]!r}, but its declaration gives {value!r}")
            setattr(cls, attr, value)
        cls.needs, cls.cells_only, cls.fusion = needs, cells_only, fusion
        cls.model_score = None if model_score is None else staticmethod(model_score)
        return cls

    return set_facts
