"""The benchmark interface: what an architecture achieves when trained.

A benchmark answers, for an architecture index of the NATS-Bench topology
space and a dataset (``cifar10``, ``cifar100``, ``ImageNet16-120``):

* ``test_accuracy``: test accuracy (%) after 200 epochs of training;
* ``val12``: validation accuracy (%) after 12 epochs and its simulated cost
  in seconds (the paper's "12val" proxy): 12 epochs of training plus one
  pass over the validation split, as NATS-Bench's ``simulate_train_eval``
  charges it.

Backends: ``TableBenchmark`` (a CSV/parquet table), ``NatsBenchBenchmark``
(the official ``nats_bench`` API), ``NoBenchmark`` (nothing available).
Their modules say exactly which number each source holds.

A job's backend is the ``_target_`` of its ``benchmark`` option (``conf/benchmark/<name>.yaml``),
built with that option's other keys as keyword arguments.  Besides building it, the job asks the
target two things without building it: ``source(**settings)``, the file or folder it would read
(recorded with its content's hash, ``zcnas.benchmark.identity``), and ``space_table``, how it
serves a space that takes its ground truth from its own table (``SearchSpace.benchmark_group``
false).
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from zcnas.errors import BenchmarkError

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")


def check_index(index) -> int:
    """A plain int in 0..15624 (numpy ints included), or a one-line error."""
    try:
        index = operator.index(index)
    except TypeError:
        raise BenchmarkError(f"architecture index must be an integer, got {index!r}") from None
    if not 0 <= index < 15625:
        raise BenchmarkError(f"architecture index {index} out of range 0..15624")
    return index


def check_dataset(dataset: str) -> str:
    if dataset not in DATASETS:
        raise BenchmarkError(
            f"unknown dataset {dataset!r} for the benchmark: NATS-Bench trained its networks on "
            f"{', '.join(DATASETS)} only, so metric=val12 and benchmark accuracies exist for those alone; on your "
            "own data use a zero-cost metric (e.g. metric=synflow) and train the network found (task=train)"
        )
    return dataset


def given_path(value) -> str | None:
    """A path as the command line gave it: ``benchmark.path=5`` reaches us as the number 5."""
    return None if value is None else str(value)


def existing_file(path) -> str | None:
    """``path`` with ``~`` expanded if it is a file, else None."""
    return str(Path(path).expanduser()) if path and Path(path).expanduser().is_file() else None


#: ``space_table``: for a space with its own ground-truth table, read that table where the space has one
#: (else no accuracies), require one, ignore it (no accuracies), or refuse the space (``refusal`` says why)
SPACE_TABLE_USES = ("read", "require", "skip", "refuse")


class Benchmark(ABC):
    """Accuracy lookup for the 15,625 cells of the NATS-Bench topology space."""

    #: Short human description, e.g. "table ../shared/data/nats_tss/nats_tss_benchmark.csv".
    description: str = ""

    available: bool = True

    #: how the backend serves a space with its own ground-truth table (one of ``SPACE_TABLE_USES``)
    space_table = "read"
    #: where ``space_table`` is "refuse": why, the start of a one-line error
    refusal = ""

    @classmethod
    def source(cls, **settings) -> str | None:
        """The file or official folder ``cls(**settings)`` reads, found without reading it; None: none."""
        return None

    @abstractmethod
    def test_accuracy(self, index: int, dataset: str) -> float:
        """Test accuracy (%) after 200 epochs."""

    @abstractmethod
    def val12(self, index: int, dataset: str) -> tuple[float, float]:
        """(validation accuracy % after 12 epochs, seconds of 12 training epochs + one validation pass)."""

    def all_test_accuracies(self, dataset: str) -> np.ndarray:
        """Test accuracies of all 15,625 cells, indexed by NATS-Bench index."""
        return np.array([self.test_accuracy(i, dataset) for i in range(15625)], dtype=float)

    # --- the interface every space's benchmark shares (zcnas.benchmark.space_table) ----------
    #: what the accuracy is, for reports
    accuracy_label = "test accuracy (200 epochs)"
    #: the table holds every architecture of the space (ranks are ranks in the space)
    complete = True

    def covers(self, dataset: str) -> bool:
        return dataset in DATASETS

    def accuracy_of(self, arch, dataset: str) -> float | None:
        """The accuracy of a NATS cell (``zcnas.spaces.nats_tss.cells.Cell``)."""
        return self.test_accuracy(arch.index, dataset)

    def table(self, dataset: str) -> tuple[list[str], np.ndarray]:
        """(architecture strings, accuracies) of every architecture the benchmark holds."""
        from zcnas.spaces.nats_tss.space import index_strings

        return list(index_strings()), self.all_test_accuracies(dataset)


class NoBenchmark(Benchmark):
    """Stands in when no benchmark is configured: searches run, accuracies are unknown."""

    available = False
    description = "none"
    space_table = "skip"

    @classmethod
    def source(cls) -> None:
        return None

    HOW_TO = (
        "accuracies are unavailable: no benchmark configured. Add one with "
        "benchmark=table benchmark.path=/path/to/nats_tss_benchmark.csv, or "
        "benchmark=nats_bench (official NATS-tss-v1_0-3ffb9-simple under $TORCH_HOME)"
    )

    def test_accuracy(self, index: int, dataset: str) -> float:
        raise BenchmarkError(self.HOW_TO)

    def val12(self, index: int, dataset: str) -> tuple[float, float]:
        raise BenchmarkError(self.HOW_TO)

    def covers(self, dataset: str) -> bool:
        return False


def ranked_accuracy(benchmark: Benchmark, space, dataset: str, accuracy: float) -> dict:
    """What a result says of a found architecture's accuracy: the accuracy, its rank among the
    table's architectures and the table's best; from a space's own table also what the accuracy is
    (``accuracy_label``), how many architectures the table ranks, and any note on its values."""
    import numpy as np

    table_acc = benchmark.table(dataset)[1]
    fields = {"test_accuracy": accuracy, "rank": int(1 + np.sum(table_acc > accuracy)),
              "best_in_space": float(table_acc.max())}
    if not space.benchmark_group:  # a space's own table: say what its accuracy is
        fields["accuracy_label"] = benchmark.accuracy_label
        fields["ranked_among"] = len(table_acc)  # the table's architectures (all, or a sample)
        if getattr(benchmark, "note", None):  # e.g. accuracies that are means of repeated runs
            fields["accuracy_note"] = benchmark.note
    return fields
