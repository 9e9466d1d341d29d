"""The user's own data: ``UserDataset`` and its ``FolderDataset``, ``NpzDataset``, ``TorchvisionDataset``.

A ``UserDataset`` reads its images through a source (``zcnas.data.images.Source``: the labels of each
split, the images of chosen indices) that its subclass's ``read()`` gives; all else is shared.  The
number of classes, the image size and the mean/std come from the data unless given
(``dataset.num_classes``, ``dataset.resolution``, ``dataset.mean``/``std``).  They are computed once,
over the training split, and cached as JSON under ``zcnas.data.fingerprint.cache_dir()`` keyed by
the data's fingerprint.  The scoring batch is class-balanced.  Such data never has a benchmark's
accuracies.

A class of the user's (docs/plugins.md) subclasses ``UserDataset`` and implements ``read()``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from zcnas.data.dataset import Dataset, checked_fingerprint, checked_split
from zcnas.data.datasets import DATASETS
from zcnas.data.fingerprint import cache_dir
from zcnas.data.images import Source
from zcnas.data.readers import SPLITS
from zcnas.errors import ConfigError, DataError

#: bounds past any image classification data: a larger value is a typo (or a label that is not a class
#: number) that would only end in running out of memory
MAX_RESOLUTION = 1024
MAX_CLASSES = 100_000
#: images decoded at a time while the mean and std are computed
CHUNK = 512


class UserDataset(Dataset):
    """The user's images: facts from the data (cached) unless given.

    A subclass implements ``read()`` and may set the class attributes below; its settings are this
    ``__init__``'s, read from its YAML option (``dataset.path`` and the others are ``self.path``,
    ``self.val_fraction``, ``self.resolution``, ``self.download``).
    """

    #: what ``dataset.path`` names, where the class needs it (a one-line error without it); None: optional
    path_is: str | None = None
    #: what to do for a test split where the data has none (said when a job reads that split)
    add_test_split = "check the dataset"
    #: the name chooses the data (a torchvision class): it keys the cached facts and may be any name
    name_selects_data = False
    #: read the source as the dataset is loaded (cheap), so that missing or malformed data is an error at once
    read_at_load = False

    def __init__(self, *, name: str, path: str | None, split: str, download: bool, val_fraction: float | None,
                 resolution: int | None, num_classes: int | None, mean: list[float] | None,
                 std: list[float] | None, fingerprint: str | None):
        self.name, self.split, self.download = str(name), checked_split(split), bool(download)
        self.val_fraction, self.resolution = checked_settings(val_fraction, resolution, num_classes, mean, std)
        self._given = {"num_classes": num_classes, "mean": mean, "std": std}
        if path is None or str(path) == "":
            if self.path_is is not None:
                raise ConfigError(f"dataset={self.kind} needs dataset.path={self.path_is}")
            self.path = None
        else:
            self.path = os.path.expanduser(str(path))
        if not self.name_selects_data and self.name.lower() in {d.lower() for d in DATASETS}:
            raise ConfigError(f"dataset.name={self.name} is a benchmark dataset's name; name your own data otherwise "
                              f"(e.g. dataset.name=mydata), or use dataset={self.name} dataset.data_path=... for "
                              f"{self.name} itself")
        self.fingerprint = checked_fingerprint(fingerprint, self.path)
        self._source: Source | None = None
        self._facts: dict | None = None
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if self.read_at_load:
            self.source  # noqa: B018 -- read now: a missing or malformed source is an error at once

    @classmethod
    def refusal(cls, key: str, value: object, settings: Mapping[str, Any]) -> str:
        if key == "data_path":
            return f"dataset={cls.kind} reads dataset.path, not dataset.data_path; pass dataset.path={value}"
        return super().refusal(key, value, settings)

    def read(self) -> Source:
        """The source of the data: its labels per split and the images of chosen indices
        (``zcnas.data.images.array_source`` makes one of arrays in memory)."""
        raise NotImplementedError(f"{type(self).__name__} must implement read() (see docs/plugins.md)")

    @property
    def source(self) -> Source:
        if self._source is None:
            self._source = self.read()
        return self._source

    @property
    def class_names(self) -> tuple[str, ...] | None:  # type: ignore[override]
        return self.source.class_names

    @property
    def num_classes(self) -> int:
        return self._data_facts()["num_classes"]

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self._data_facts()["image_size"])  # type: ignore[return-value]

    @property
    def mean(self) -> tuple[float, float, float]:
        return tuple(self._data_facts()["mean"])  # type: ignore[return-value]

    @property
    def std(self) -> tuple[float, float, float]:
        return tuple(self._data_facts()["std"])  # type: ignore[return-value]

    def facts(self) -> dict:
        facts = self._data_facts()
        return {**super().facts(), "counts": facts["counts"], "class_names": list(self.class_names or []) or None}

    # -- reading -------------------------------------------------------------------------

    def _decode(self, split: str, index: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
        x = self.source.images(split, index, self.resolution)
        if size is not None and len(x) and tuple(x.shape[1:3]) != tuple(size):
            raise DataError(f"the images of {self.path} differ in size ({size[0]}×{size[1]}, "
                            f"{x.shape[1]}×{x.shape[2]}, ...); pass dataset.resolution=<pixels> to resize "
                            "them all to one square size")
        return x

    def _labels(self, split: str) -> np.ndarray:
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
        labels = self.source.labels(split)
        if not len(labels):
            if split == "test":
                raise DataError(f"{self.name} ({self.path}) has no test split: {self.add_test_split}, or pass "
                                "dataset.val_fraction=<fraction> to hold out part of the training images")
            raise DataError(f"{self.name} ({self.path}) holds no {split} images")
        return labels

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        if split not in self._arrays:
            labels = self._labels(split)
            self._arrays[split] = (self._decode(split, np.arange(len(labels)), self.image_size), labels)
        return self._arrays[split]

    def scoring_batch(self, batch_size: int = 128, seed: int = 0, split: str | None = None):
        from zcnas.data.batch import balanced_choice, normalize_batch

        split = split or self.split
        labels = self._labels(split)
        if batch_size > len(labels):
            raise ConfigError(f"batch_size={batch_size} needs {batch_size} distinct images but {self.name} "
                              f"({self.path}) has {len(labels)} in its {split} split; add images or pass "
                              f"batch_size={len(labels)} or less")
        index = balanced_choice(labels, batch_size, seed)
        images = self._decode(split, index, self.image_size)
        return normalize_batch(images, labels[index], self.mean, self.std, self.name)

    # -- facts -----------------------------------------------------------------------------

    def _cache_path(self) -> Path:
        key = json.dumps([self.kind, self.name if self.name_selects_data else None, self.fingerprint,
                          self.resolution, self.val_fraction])
        return cache_dir() / "datasets" / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"

    def _data_facts(self) -> dict:
        if self._facts is None:
            facts = self._read_cache()
            if facts is None:
                facts = self._compute()
                self._write_cache(facts)
            self._facts = self._with_given(facts)
        return self._facts

    def _read_cache(self) -> dict | None:
        if self.fingerprint in ("none", "missing"):
            return None
        try:
            with open(self._cache_path(), encoding="utf-8") as f:
                facts = json.load(f)
        except (OSError, ValueError):
            return None
        keys = {"num_classes", "image_size", "mean", "std", "counts"}
        return facts if isinstance(facts, dict) and keys <= set(facts) else None

    def _write_cache(self, facts: dict) -> None:
        from zcnas.io import write_json

        try:
            write_json(self._cache_path(), facts)
        except OSError:
            pass  # a read-only cache only means computing the facts again next time

    def _compute(self) -> dict:
        """Classes, image size and per-channel mean/std of the training images (0-1 scale)."""
        source, resolution = self.source, self.resolution
        train = self._labels("train")
        test = source.labels("test")
        classes = len(source.class_names) if source.class_names else int(max(train.max(), test.max(initial=0))) + 1
        size = (resolution, resolution) if resolution is not None else tuple(source.first_size())
        total = np.zeros(3)
        squares = np.zeros(3)
        for start in range(0, len(train), CHUNK):
            x = self._decode("train", np.arange(start, min(start + CHUNK, len(train))), size)
            pixels = x.reshape(-1, 3).astype(np.float64) / 255
            total += pixels.sum(0)
            squares += (pixels * pixels).sum(0)
        n = len(train) * size[0] * size[1]
        mean = total / n
        std = np.sqrt(np.maximum(squares / n - mean * mean, 0))
        return {"num_classes": classes, "image_size": list(size), "mean": mean.tolist(), "std": std.tolist(),
                "counts": {"train": int(len(train)), "test": int(len(test))},
                "max_label": int(max(train.max(), test.max(initial=0)))}

    def _with_given(self, facts: dict) -> dict:
        """The data's facts with the ones the config gives in their place, checked against the data."""
        given, facts = self._given, dict(facts)
        if given["num_classes"] is not None:
            top = facts.get("max_label", facts["num_classes"] - 1)
            if given["num_classes"] <= top:
                raise ConfigError(f"dataset.num_classes={given['num_classes']} but {self.name} has labels up to "
                                  f"{top} ({top + 1} classes); drop dataset.num_classes or pass at least {top + 1}")
            facts["num_classes"] = given["num_classes"]
        if facts["num_classes"] < 2:
            raise DataError(f"{self.name} ({self.path}) has {facts['num_classes']} class; classifying needs at least "
                            "two (a class is a folder of images, or a label value)")
        if facts["num_classes"] > MAX_CLASSES:
            raise DataError(f"{self.name} ({self.path}) has labels up to {facts['num_classes'] - 1}: labels are class "
                            f"numbers 0..K-1 (at most {MAX_CLASSES} classes); renumber them")
        for key in ("mean", "std"):
            if given[key] is not None:
                facts[key] = list(given[key])
        if min(facts["std"]) <= 0:
            raise DataError(f"the images of {self.name} ({self.path}) have a channel of one value (std 0); "
                            "pass dataset.std=[r,g,b] (0-1 scale)")
        return facts


def checked_settings(val_fraction: object, resolution: object, num_classes: object, mean: object,
                     std: object) -> tuple[float | None, int | None]:
    """The settings of the user's data, checked: a one-line ``ConfigError`` naming the key and what it takes."""
    if val_fraction is not None and not (isinstance(val_fraction, (int, float)) and 0 < val_fraction < 1):
        raise ConfigError(f"dataset.val_fraction must be a number between 0 and 1, got {val_fraction!r}")
    for key, value, most in (("resolution", resolution, MAX_RESOLUTION), ("num_classes", num_classes, MAX_CLASSES)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most):
            raise ConfigError(f"dataset.{key} must be an integer in 1..{most}, got {value!r}")
    for key, value in (("mean", mean), ("std", std)):
        if value is not None and (not isinstance(value, (list, tuple)) or len(value) != 3 or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                and (v > 0 if key == "std" else True)
                for v in value)):
            raise ConfigError(f"dataset.{key} must be three numbers (R, G, B on the 0-1 scale"
                              f"{', each > 0' if key == 'std' else ''}), got {value!r}")
    return val_fraction, resolution  # type: ignore[return-value]


class FolderDataset(UserDataset):
    """Images in the ImageFolder layout: ``<path>/train/<class>/<image>`` (and ``test/``), or
    ``<path>/<class>/<image>`` (``zcnas.data.images.FolderSource``)."""

    kind = "folder"
    path_is = "<folder of images>"
    add_test_split = "add <path>/test/<class>/<image>"
    read_at_load = True  # listing the files reads no image

    def read(self) -> Source:
        from zcnas.data.images import FolderSource

        return FolderSource.scan(self.path, self.val_fraction)


class NpzDataset(UserDataset):
    """Arrays in an ``.npz``: ``x``, ``y`` and optionally ``x_test``, ``y_test``."""

    kind = "npz"
    path_is = "<file>.npz"
    add_test_split = "add arrays x_test and y_test"
    read_at_load = True

    def read(self) -> Source:
        from zcnas.data.images import npz_source

        return npz_source(self.path, self.val_fraction)


class TorchvisionDataset(UserDataset):
    """A class of ``torchvision.datasets`` by its name (``dataset.name=FashionMNIST``), both its splits."""

    kind = "torchvision"
    path_is = "<folder to keep it in>"
    name_selects_data = True
    # read when a job needs the data or facts not yet cached: reading converts the whole dataset

    def read(self) -> Source:
        from zcnas.data.images import torchvision_source

        source = torchvision_source(self.name, self.path, self.download, self.resolution)
        if self.val_fraction is not None:
            raise ConfigError("dataset.val_fraction does not apply to dataset=torchvision (it has a test split)")
        return source
