"""Benchmark backend reading the official NATS-Bench data through ``nats_bench``.

It opens the user's ``NATS-tss-v1_0-3ffb9-simple`` directory (the topology
search space, one small file per architecture) with
``nats_bench.create(path, "tss", fast_mode=True, verbose=False)``, so only the
architectures actually queried are read from disk.  nats_bench unpickles those
files; every call into it runs under ``safe_pickle.restricted_loading()``, so
a crafted file is refused instead of running code.

What the numbers are (``api.get_more_info(..., is_random=False)``: the mean
over the architecture's training seeds):

* test accuracy: ``hp="200"``, ``test-accuracy`` of the dataset itself
  (``cifar10``: the CIFAR-10 test set after training on train+valid;
  ``cifar100``/``ImageNet16-120``: their ``x-test`` split);
* val12 accuracy: ``hp="12"``, ``valid-accuracy`` (the ``x-valid`` split
  after the 12th epoch).  CIFAR-10's validation split only exists in
  ``cifar10-valid`` (trained on the train split alone), so cifar10 reads that;
* val12 cost: ``train-all-time + valid-per-time`` of the same record, i.e.
  12 epochs of training and one pass over the validation split: what
  ``api.simulate_train_eval(arch, dataset, hp="12")`` charges (it also reads
  ``cifar10-valid`` for cifar10).  Unlike it we average the accuracy over
  seeds instead of drawing one; NATS-Bench's times are the same for every seed.

Everything ``nats_bench`` raises for a missing, corrupt or foreign directory
(``ValueError``, ``AssertionError``, ``OSError``, unpickling errors, ...) is
turned into a one-line ``BenchmarkError`` that says where we looked and how
to get the data.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from zcnas.benchmark.base import DATASETS, Benchmark, check_dataset, check_index, given_path
from zcnas.benchmark.safe_pickle import UnsafePickleError, restricted_loading
from zcnas.errors import BenchmarkError

BENCH_NAME = "NATS-tss-v1_0-3ffb9-simple"
NUM_ARCHS = 15625

HOW_TO_GET = (
    f"download {BENCH_NAME}.tar from the NATS-Bench project "
    "(https://github.com/D-X-Y/NATS-Bench) and extract it under $TORCH_HOME, "
    f"or pass benchmark.path=/path/to/{BENCH_NAME}"
)


def default_path() -> str:
    """``$TORCH_HOME/NATS-tss-v1_0-3ffb9-simple``, with TORCH_HOME resolved as nats_bench does."""
    # nats_bench.api_utils.get_torch_home: $TORCH_HOME, else $HOME/.torch.
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(os.path.expanduser("~"), ".torch")
    return os.path.join(torch_home, BENCH_NAME)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "no details"
    return f"{type(exc).__name__}: {text}"


@contextlib.contextmanager
def _guarded(failure: str):
    """Run nats_bench with restricted unpickling; its errors become one-line BenchmarkErrors."""
    try:
        with restricted_loading():
            yield
    except UnsafePickleError as e:  # a crafted file: say so, never a generic "cannot open"
        raise BenchmarkError(str(e)) from None
    except Exception as e:  # nats_bench fails in many ways on a bad directory or file
        raise BenchmarkError(f"{failure} ({_one_line(e)}); {HOW_TO_GET}") from e


class NatsBenchBenchmark(Benchmark):
    """Accuracies from the official NATS-Bench topology benchmark (see the module docstring): the
    directory ``path``, or ``$TORCH_HOME``'s where it is None (``benchmark=nats_bench``)."""

    space_table = "refuse"
    refusal = "benchmark=nats_bench reads NATS-Bench's files"

    def __init__(self, path: str | None):
        path = given_path(path)
        self.path = os.path.abspath(os.path.expanduser(path or default_path()))
        self.description = f"nats_bench {self.path}"
        self._cache: dict[tuple[int, str], tuple[float, float, float]] = {}
        if not os.path.isdir(self.path):
            raise BenchmarkError(
                f"nats_bench benchmark directory not found: {self.path}; {HOW_TO_GET}"
            )
        try:
            import nats_bench
        except ImportError as e:
            raise BenchmarkError(
                f"the nats_bench package is not installed ({e}); pip install nats_bench"
            ) from e
        with _guarded(f"cannot open nats_bench benchmark {self.path}"):
            self._api = nats_bench.create(self.path, "tss", fast_mode=True, verbose=False)
            size = len(self._api)
        # A directory of the size space (32,768 archs) also loads as 'tss': reject it.
        if size != NUM_ARCHS:
            raise BenchmarkError(
                f"nats_bench benchmark {self.path} lists {size} architectures, not the "
                f"{NUM_ARCHS} of the topology space; {HOW_TO_GET}"
            )

    @classmethod
    def source(cls, *, path) -> str:
        path = given_path(path)
        return str(Path(path).expanduser()) if path else str(Path(default_path()))

    def arch(self, index: int) -> str:
        """The architecture string the directory's meta file gives for ``index``."""
        return self._api.arch(index)

    def has_record(self, index: int) -> bool:
        """Whether the directory holds the file of architecture ``index`` (both names nats_bench reads)."""
        names = (f"{index:06d}.pickle.pbz2", f"{index}.pickle.pbz2")
        return any(os.path.isfile(os.path.join(self.path, n)) for n in names)

    def test_accuracy(self, index: int, dataset: str) -> float:
        return self.record(index, dataset)[0]

    def val12(self, index: int, dataset: str) -> tuple[float, float]:
        _, acc, seconds = self.record(index, dataset)
        return acc, seconds

    def all_test_accuracies(self, dataset: str) -> np.ndarray:
        """Opens every architecture's file once (minutes for the full release).

        Whole-space lookups are what a table is for: build one with
        ``task=build_table`` and use ``benchmark=table benchmark.path=<it>``.
        """
        return np.array([self.record(i, dataset)[0] for i in range(NUM_ARCHS)], dtype=float)

    def record(self, index: int, dataset: str) -> tuple[float, float, float]:
        """(200-epoch test acc, 12-epoch valid acc, val12 seconds), memoized."""
        check_dataset(dataset)
        # nats_bench only accepts a plain int as an index (numpy ints are not)
        index = check_index(index)
        if (index, dataset) not in self._cache:
            self._read(index)
        return self._cache[(index, dataset)]

    def _read(self, index: int) -> None:
        """Memoize the numbers of ``index`` on every dataset: its file is read once."""
        try:
            with _guarded(f"nats_bench benchmark {self.path} has no usable results for architecture {index}"):
                for ds in DATASETS:
                    full = self._api.get_more_info(index, ds, hp="200", is_random=False)
                    valid_ds = "cifar10-valid" if ds == "cifar10" else ds
                    short = self._api.get_more_info(index, valid_ds, hp="12", is_random=False)
                    self._cache[(index, ds)] = (
                        float(full["test-accuracy"]),
                        float(short["valid-accuracy"]),
                        float(short["train-all-time"]) + float(short["valid-per-time"]),
                    )
        finally:
            # nats_bench keeps every file it has read in memory; we keep just these numbers
            self._api.arch2infos_dict.pop(index, None)
