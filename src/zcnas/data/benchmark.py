"""The benchmark datasets, cifar10, cifar100 and ImageNet16-120: ``BenchmarkDataset``.

Their classes, image size and normalization are facts (``zcnas.data.datasets``), not settings; their
files (a ``.npz`` sample or the official batches) are read by ``zcnas.data.readers``, which refuses
one whose labels or shape contradict the dataset.  Only this class carries a benchmark's accuracies.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from zcnas.data.dataset import Dataset, checked_fingerprint, checked_split
from zcnas.data.datasets import DatasetSpec, get_spec
from zcnas.errors import ConfigError


class BenchmarkDataset(Dataset):
    """cifar10, cifar100 or ImageNet16-120 (``conf/dataset/<name>.yaml``): facts from
    ``zcnas.data.datasets``, files from the readers."""

    kind = "benchmark"

    def __init__(self, *, name: str, data_path: str | None, split: str, download: bool, fingerprint: str | None):
        self.split = checked_split(split)
        self._spec, self.name, self.download = get_spec(name), str(name), bool(download)
        self.path = None if data_path is None else str(data_path)
        self.fingerprint = checked_fingerprint(fingerprint, data_path)
        self.benchmark = self._spec.name

    @classmethod
    def refusal(cls, key: str, value: object, settings: Mapping[str, Any]) -> str:
        return (f"dataset.{key} cannot be set for {settings.get('name')}: a benchmark dataset's classes, image size "
                "and normalization are fixed (zcnas.data.datasets); for your own data use dataset=folder, "
                "dataset=npz or dataset=torchvision")

    num_classes = property(lambda self: self._spec.num_classes)
    image_size = property(lambda self: (self._spec.input_size, self._spec.input_size))
    mean = property(lambda self: self._spec.mean)
    std = property(lambda self: self._spec.std)

    @property
    def one_split(self) -> bool:  # type: ignore[override]
        """A ``.npz`` sample is one split; the official files have both."""
        return str(self.path or "").lower().endswith(".npz")

    @property
    def spec(self) -> DatasetSpec:
        return self._spec

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        from zcnas.data.readers import load_images

        if self.path is None or str(self.path) == "":
            raise ConfigError(f"no data path for {self._spec.name}; pass dataset.data_path=/path/to/data")
        return load_images(self.name, os.path.expanduser(str(self.path)), split=split, download=self.download)

    def scoring_batch(self, batch_size: int = 128, seed: int = 0, split: str | None = None):
        from zcnas.data.batch import make_batch

        x, y = self.arrays(split or self.split)
        return make_batch(x, y, self._spec, batch_size=batch_size, seed=seed)
