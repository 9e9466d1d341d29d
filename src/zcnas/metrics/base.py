"""The metric interface: a score of an untrained (or benchmark-trained) cell.

Every metric is "higher is better".  ``score_cell`` returns a float that may
be non-finite (e.g. a singular NASWOT kernel gives -inf); searches and rosters
rank non-finite scores lowest (see ``zcnas.scores.rank_key``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable

import torch

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
    def input_shape(self) -> tuple[int, int, int]:
        return (3, self.input_size, self.input_size)


class Metric(ABC):
    """Scores cells of the NATS-Bench topology space."""

    name: str = ""
    needs_data: bool = False  # uses the image batch
    needs_benchmark: bool = False  # reads trained results instead of computing

    def __init__(self, context: ScoringContext):
        self.context = context

    @abstractmethod
    def score_cell(self, cell: Cell) -> float:
        """The cell's score (higher is better; may be non-finite)."""

    def recorded_cost(self, cell: Cell) -> float | None:
        """Seconds the score is charged from a record (benchmark, roster), or None when measured live."""
        return None

    def describe(self) -> dict:
        """Settings that identify how scores were produced (stored with rosters and results)."""
        return {"name": self.name}
