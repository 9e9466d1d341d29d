"""val12: the benchmark's validation accuracy after 12 epochs of training.

The paper's trained upper reference ("12val"): nothing is trained here; the
score is read from the benchmark and each architecture is charged the
recorded seconds of those 12 epochs.
"""

from __future__ import annotations

from zcnas.errors import ConfigError
from zcnas.metrics.base import BENCHMARK, Metric, declare, engine
from zcnas.spaces.nats_tss.cells import Cell
from zcnas.spaces.nats_tss.space import NatsTss


@declare(needs=BENCHMARK, cells_only="it reads trained accuracies of NATS-Bench cells from the benchmark")
class Val12(Metric):
    def __init__(self, context):
        super().__init__(context)
        bench = context.benchmark
        if bench is None or not getattr(bench, "available", False):
            raise ConfigError(
                "metric val12 reads 12-epoch validation accuracies from a benchmark, and none is available: "
                "use benchmark=table benchmark.path=/path/to/nats_tss_benchmark.csv or benchmark=nats_bench"
            )

    @engine(NatsTss)  # NATS-Bench's trained accuracies, by cell index
    def read_cell(self, cell: Cell) -> float:
        return self.context.benchmark.val12(cell.index, self.context.dataset)[0]

    def recorded_cost(self, cell: Cell) -> float:
        return self.context.benchmark.val12(cell.index, self.context.dataset)[1]
