"""The names the studies and reports share: how datasets are shown, and the paper's orders.

Plain Python, no imports: the studies' statistics, their reports and the tasks all read these.
The datasets themselves (``cifar10``, ...) are the benchmark's (``zcnas.benchmark.base.DATASETS``).
"""

from __future__ import annotations

from collections.abc import Iterable

#: how a dataset is written in tables and figures
DATASET_NAMES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "ImageNet16-120": "ImageNet16-120"}
#: the paper's metrics in the paper's order (table columns and rows); other metrics follow alphabetically.
#: An order for display, not a registry: the metrics are the options of conf/metric/ (zcnas.plugins)
PAPER_METRICS = ("val12", "hook_logdet", "synflow", "snip", "combined")
#: the paper's searches, in its order, and their titles in Tables III-V.  An order for display, not a
#: registry: the searches are the options of conf/search/ (zcnas.plugins), and a search
#: not named here is shown after these, by its name (``ordered``)
SEARCHES = ("random", "aging", "aging_warmup")
SEARCH_TITLES = {"random": "Random Search", "aging": "Aging Evolutionary", "aging_warmup": "AE with Warmup"}


def order_key(name, order: tuple[str, ...] = PAPER_METRICS) -> tuple[int, str]:
    """Sort key: the names of ``order`` in that order, then every other name alphabetically."""
    return (order.index(name), "") if name in order else (len(order), str(name))


def ordered(names: Iterable, order: tuple[str, ...] = PAPER_METRICS) -> list:
    """``names`` once each, in ``order`` first, the others after it alphabetically."""
    return sorted(dict.fromkeys(names), key=lambda name: order_key(name, order))
