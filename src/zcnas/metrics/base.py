"""The metric interface: how a metric is declared, and how it scores a cell.

Each metric is declared once, with ``register`` on its cell-level class:
its name, what it needs, its direction and its model-level function.  The
registry (``zcnas.metrics.METRICS``) and ``zcnas.score`` are derived from
these declarations.

Every metric is "higher is better".  ``score_cell`` returns a float that may
be non-finite (e.g. a singular NASWOT kernel gives -inf); searches and rosters
rank non-finite scores lowest (see ``zcnas.search.evaluator.rank_value``).
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable

import torch

from zcnas.errors import MetricError
from zcnas.space import Cell


@dataclass
class ScoringContext:
    """What a metric may need besides the cell: the job's dataset, seed, device, data and benchmark."""

    dataset: str
    num_classes: int
    input_size: int
    seed: int = 0
    device: str = "cpu"
    batch_loader: Callable[[], tuple[torch.Tensor, torch.Tensor]] | None = None
    benchmark: object | None = None  # zcnas.benchmark.Benchmark
    space: object | None = None  # zcnas.spaces.base.SearchSpace (None: NATS-Bench TSS)
    _batch: tuple[torch.Tensor, torch.Tensor] | None = field(default=None, repr=False)

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
    def via_networks(self) -> bool:
        """Whether metrics score the space's built networks (``score_network``) rather than its
        architectures with their own engines (``SearchSpace.cell_engines``; no space: NATS cells)."""
        return self.space is not None and not getattr(self.space, "cell_engines", False)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (3, self.input_size, self.input_size)


class Metric(ABC):
    """Scores cells of the NATS-Bench topology space."""

    # set by ``register`` from the declaration
    name: str = ""
    needs_data: bool = False  # uses the image batch
    needs_benchmark: bool = False  # reads trained results instead of computing
    spec: MetricSpec | None = None

    def __init__(self, context: ScoringContext):
        self.context = context

    @abstractmethod
    def score_cell(self, cell: Cell) -> float:
        """The cell's score (higher is better; may be non-finite)."""

    def score_network(self, net) -> float:
        """The score of a built network (``nn.Module``): how the metric scores architectures of spaces
        other than NATS-Bench TSS (``zcnas.metrics.model_passes.SpaceNetworkMetric``).  Metrics that only
        make sense on NATS cells (val12, combined, ensemble, rosters) keep this default."""
        why = self.spec.cells_only if self.spec and self.spec.cells_only else "it scores NATS-Bench cells only"
        raise MetricError(f"metric {self.name} cannot score architectures of space {self.context.space.name}: {why}")

    def recorded_cost(self, cell: Cell) -> float | None:
        """Seconds the score is charged from a record (benchmark, roster), or None when measured live."""
        return None

    def describe(self) -> dict:
        """Settings that identify how scores were produced (stored with rosters and results)."""
        return {"name": self.name}


# What a metric needs: ``SHAPE`` data-free (only the input's shape and device),
# ``DATA`` images, ``LABELS`` images and labels, ``BENCHMARK`` trained results
# of NATS cells, ``MEMBERS`` whatever its member metrics need.
SHAPE, DATA, LABELS, BENCHMARK, MEMBERS = "shape", "data", "labels", "benchmark", "members"
NEEDS = (SHAPE, DATA, LABELS, BENCHMARK, MEMBERS)


@dataclass(frozen=True)
class MetricSpec:
    """One metric's declaration.

    ``model_score`` scores any ``nn.Module`` (``zcnas.score``) and is called
    as ``(model, x, y, **params)`` for a metric that needs labels and
    ``(model, x, **params)`` otherwise (a data-free one uses only x's shape
    and device).  A metric that only makes sense on NATS cells has none and
    says why in ``cells_only``.
    """

    name: str
    needs: str
    higher_is_better: bool
    metric: type[Metric]  # scores NATS cells (the jobs)
    model_score: Callable[..., float] | None = None
    cells_only: str = ""

    def score_model(self, model, x, y=None, **params) -> float:
        if self.needs == LABELS:
            return self.model_score(model, x, y, **params)
        return self.model_score(model, x, **params)

    def param_names(self) -> list[str]:
        """The names of the model-level function's own parameters (after the model and the batch)."""
        batch = 2 if self.needs == LABELS else 1
        return list(inspect.signature(self.model_score).parameters)[1 + batch:]


SPECS: dict[str, MetricSpec] = {}  # filled by ``register`` as zcnas.metrics imports the metric modules


def register(name: str, *, needs: str, higher_is_better: bool, model_score: Callable[..., float] | None = None,
             cells_only: str = ""):
    """Class decorator: declare a metric; sets the class's ``name``, ``needs_*`` and ``spec``."""
    if needs not in NEEDS:
        raise ValueError(f"metric {name!r}: needs must be one of {', '.join(NEEDS)}, got {needs!r}")
    if not higher_is_better:
        # searches, rosters, ensembles and the correlation study all rank higher scores first
        raise ValueError(f"metric {name!r}: every consumer ranks higher scores first; negate the score instead")
    if (model_score is None) == (not cells_only):
        raise ValueError(f"metric {name!r}: give either model_score or cells_only (why it scores only NATS cells)")
    if name in SPECS:
        raise ValueError(f"metric {name!r} is registered twice")

    def declare(cls: type[Metric]) -> type[Metric]:
        spec = MetricSpec(name, needs, higher_is_better, cls, model_score, cells_only)
        derived = {"name": name, "needs_data": needs in (DATA, LABELS), "needs_benchmark": needs == BENCHMARK}
        for attr, value in derived.items():
            # a class that states these itself (combined, ensemble) must agree with its declaration
            if attr in vars(cls) and vars(cls)[attr] != value:
                raise ValueError(f"{cls.__name__}.{attr} = {vars(cls)[attr]!r}, but its declaration gives {value!r}")
            setattr(cls, attr, value)
        cls.spec = spec
        SPECS[name] = spec
        return cls

    return declare
