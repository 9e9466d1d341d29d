"""Benchmark backend reading the official NATS-Bench data through ``nats_bench``.

It opens the user's ``NATS-tss-v1_0-3ffb9-simple`` directory (the topology
search space, one small file per architecture) with
``nats_bench.create(path, "tss", fast_mode=True, verbose=False)``, so only the
architectures actually queried are read from disk.

Everything ``nats_bench`` raises for a missing, corrupt or foreign directory
(``ValueError``, ``AssertionError``, ``OSError``, unpickling errors, ...) is
turned into a one-line ``BenchmarkError`` that says where we looked and how
to get the data.
"""

from __future__ import annotations

import operator
import os

from zcnas.benchmark.base import Benchmark, check_dataset
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


class NatsBenchBenchmark(Benchmark):
    """Accuracies from the official NATS-Bench topology benchmark (``nats_bench`` API).

    Numbers come from ``api.get_more_info(index, key, hp=..., is_random=False)``,
    i.e. averaged over the training seeds of the architecture:

    * ``test_accuracy``: ``hp="200"``, field ``test-accuracy`` of the dataset
      itself (``cifar10``: the CIFAR-10 test set after training on train+valid;
      ``cifar100``/``ImageNet16-120``: their ``x-test`` split).
    * ``val12``: ``hp="12"``, fields ``valid-accuracy`` (accuracy on the
      ``x-valid`` split after the 12th epoch) and ``train-all-time`` (summed
      training seconds of the 12 epochs).  CIFAR-10's validation split only
      exists in the ``cifar10-valid`` dataset (trained on the train split
      alone), so cifar10 reads ``cifar10-valid``; the others read themselves.
      This is the dataset choice of ``api.simulate_train_eval``; unlike it we
      leave out the time of one validation pass, as we report training time.
    """

    def __init__(self, path: str | None = None):
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
        try:
            self._api = nats_bench.create(self.path, "tss", fast_mode=True, verbose=False)
            size = len(self._api)
        except Exception as e:  # nats_bench fails in many ways on a bad directory
            raise BenchmarkError(
                f"cannot open nats_bench benchmark {self.path} ({_one_line(e)}); {HOW_TO_GET}"
            ) from e
        # A directory of the size space (32,768 archs) also loads as 'tss': reject it.
        if size != NUM_ARCHS:
            raise BenchmarkError(
                f"nats_bench benchmark {self.path} lists {size} architectures, not the "
                f"{NUM_ARCHS} of the topology space; {HOW_TO_GET}"
            )

    def test_accuracy(self, index: int, dataset: str) -> float:
        return self._lookup(index, dataset)[0]

    def val12(self, index: int, dataset: str) -> tuple[float, float]:
        _, acc, seconds = self._lookup(index, dataset)
        return acc, seconds

    def _lookup(self, index: int, dataset: str) -> tuple[float, float, float]:
        """(200-epoch test acc, 12-epoch valid acc, 12-epoch train seconds), memoized."""
        check_dataset(dataset)
        try:
            # nats_bench only accepts a plain int as an index (numpy ints are not).
            index = operator.index(index)
        except TypeError:
            raise BenchmarkError(f"architecture index must be an integer, got {index!r}") from None
        if not 0 <= index < NUM_ARCHS:
            raise BenchmarkError(f"architecture index {index} out of range 0..{NUM_ARCHS - 1}")
        key = (index, dataset)
        if key not in self._cache:
            try:
                full = self._api.get_more_info(index, dataset, hp="200", is_random=False)
                valid_key = "cifar10-valid" if dataset == "cifar10" else dataset
                short = self._api.get_more_info(index, valid_key, hp="12", is_random=False)
                self._cache[key] = (
                    float(full["test-accuracy"]),
                    float(short["valid-accuracy"]),
                    float(short["train-all-time"]),
                )
            except Exception as e:  # a missing or corrupt per-architecture file
                raise BenchmarkError(
                    f"nats_bench benchmark {self.path} has no usable results for architecture "
                    f"{index} on {dataset} ({_one_line(e)}); {HOW_TO_GET}"
                ) from e
        return self._cache[key]
