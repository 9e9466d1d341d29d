"""Every dataset behind one interface: ``load_dataset(cfg.dataset) -> Dataset``.

A ``Dataset`` has ``name``, ``kind``, ``path``, ``fingerprint``, ``benchmark`` (the benchmark
dataset whose accuracies apply to it, or None for the user's own data), ``num_classes``,
``image_size`` (H, W), ``mean`` and ``std`` (per channel, 0-1 scale), ``train_arrays()`` and
``test_arrays()`` (uint8 N×H×W×3 and int64 labels) and ``scoring_batch(batch_size, seed)``.

Kinds (``dataset.kind``, set by the options of ``conf/dataset/``):

* ``benchmark``: cifar10, cifar100, ImageNet16-120.  Their facts are fixed
  (``zcnas.data.datasets``); their files are read by ``zcnas.data.readers`` and refused when their
  labels or shape contradict the dataset.  Only these carry benchmark accuracies.
* ``folder``, ``npz``, ``torchvision``: the user's data (``zcnas.data.images``).  The number of
  classes, the image size and the mean/std come from the data unless given (``dataset.num_classes``,
  ``dataset.resolution``, ``dataset.mean``/``std``).  They are computed once, over the training
  split, and cached as JSON under ``zcnas.data.fingerprint.cache_dir()`` keyed by the data's
  fingerprint.  The scoring batch is class-balanced.
"""

from __future__ import annotations

import math

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from zcnas.data.datasets import DATASETS, DatasetSpec, get_spec
from zcnas.data.fingerprint import cache_dir, fingerprint
from zcnas.data.readers import SPLITS
from zcnas.errors import ConfigError, DataError

KINDS = ("benchmark", "folder", "npz", "torchvision")
USER_KINDS = KINDS[1:]
#: the settings of the user's data; a benchmark dataset's are fixed
USER_SETTINGS = ("path", "val_fraction", "resolution", "num_classes", "mean", "std")
#: bounds past any image classification data: a larger value is a typo (or a label that is not a class
#: number) that would only end in running out of memory
MAX_RESOLUTION = 1024
MAX_CLASSES = 100_000
#: images decoded at a time while the mean and std are computed
CHUNK = 512


class Dataset:
    """What a job needs of its data (see the module docstring)."""

    name: str
    kind: str
    path: str | None
    fingerprint: str
    benchmark: str | None
    split: str  # the split the scoring batch is drawn from

    @property
    def num_classes(self) -> int:
        raise NotImplementedError

    @property
    def image_size(self) -> tuple[int, int]:
        raise NotImplementedError

    @property
    def mean(self) -> tuple[float, float, float]:
        raise NotImplementedError

    @property
    def std(self) -> tuple[float, float, float]:
        raise NotImplementedError

    class_names: tuple[str, ...] | None = None

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """All images of ``split`` (uint8 N×H×W×3) and their labels (int64)."""
        raise NotImplementedError

    def train_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self.arrays("train")

    def test_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self.arrays("test")

    def scoring_batch(self, batch_size: int = 128, seed: int = 0, split: str | None = None):
        """The normalized batch (float B×3×H×W, long B) the data-dependent metrics score on."""
        raise NotImplementedError

    @property
    def input_size(self) -> int:
        """The side of the square images the scoring networks take (a one-line error if not square)."""
        h, w = self.image_size
        if h != w:
            raise ConfigError(f"the images of {self.name} are {h}×{w}; scoring takes square images: "
                              "pass dataset.resolution=<pixels> to resize them")
        return h

    @property
    def spec(self) -> DatasetSpec:
        return DatasetSpec(self.name, self.num_classes, self.input_size, self.mean, self.std)

    def identity(self) -> dict:
        """What the job read: name, kind, path and fingerprint (no data is read for a benchmark dataset)."""
        return {"name": self.name, "kind": self.kind, "path": self.path, "fingerprint": self.fingerprint,
                "benchmark": self.benchmark}

    def facts(self) -> dict:
        """``identity()`` plus the classes, image size and normalization the job used."""
        return {**self.identity(), "num_classes": self.num_classes, "image_size": list(self.image_size),
                "mean": list(self.mean), "std": list(self.std)}


class BenchmarkDataset(Dataset):
    """cifar10, cifar100 or ImageNet16-120: facts from ``zcnas.data.datasets``, files from the readers."""

    def __init__(self, spec: DatasetSpec, name: str, data_path: str | None, split: str, download: bool, digest: str):
        self._spec, self.name, self.kind = spec, name, "benchmark"
        self.path, self.split, self.download, self.fingerprint = data_path, split, download, digest
        self.benchmark = spec.name

    num_classes = property(lambda self: self._spec.num_classes)
    image_size = property(lambda self: (self._spec.input_size, self._spec.input_size))
    mean = property(lambda self: self._spec.mean)
    std = property(lambda self: self._spec.std)

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


class UserDataset(Dataset):
    """The user's images: facts from the data (cached) unless given."""

    def __init__(self, kind: str, name: str, path: str, split: str, digest: str, settings: dict, source_factory):
        self.kind, self.name, self.path, self.split, self.fingerprint = kind, name, path, split, digest
        self.benchmark = None
        self._settings = settings
        self._factory = source_factory
        self._source = None
        self._facts: dict | None = None
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def source(self):
        if self._source is None:
            self._source = self._factory()
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
        x = self.source.images(split, index, self._settings["resolution"])
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
                how = ("add <path>/test/<class>/<image>" if self.kind == "folder" else
                       "add arrays x_test and y_test" if self.kind == "npz" else "check the dataset")
                raise DataError(f"{self.name} ({self.path}) has no test split: {how}, or pass "
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
        s = self._settings
        key = json.dumps([self.kind, self.name if self.kind == "torchvision" else None, self.fingerprint,
                          s["resolution"], s["val_fraction"]])
        return cache_dir() / "datasets" / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"

    def _data_facts(self) -> dict:
        if self._facts is None:
            facts = self._read_cache()
            if facts is None:
                facts = self._compute()
                self._write_cache(facts)
            self._facts = self._given(facts)
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
        source, resolution = self.source, self._settings["resolution"]
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

    def _given(self, facts: dict) -> dict:
        """The data's facts with the ones the config gives in their place, checked against the data."""
        s, facts = self._settings, dict(facts)
        if s["num_classes"] is not None:
            top = facts.get("max_label", facts["num_classes"] - 1)
            if s["num_classes"] <= top:
                raise ConfigError(f"dataset.num_classes={s['num_classes']} but {self.name} has labels up to {top} "
                                  f"({top + 1} classes); drop dataset.num_classes or pass at least {top + 1}")
            facts["num_classes"] = s["num_classes"]
        if facts["num_classes"] < 2:
            raise DataError(f"{self.name} ({self.path}) has {facts['num_classes']} class; classifying needs at least "
                            "two (a class is a folder of images, or a label value)")
        if facts["num_classes"] > MAX_CLASSES:
            raise DataError(f"{self.name} ({self.path}) has labels up to {facts['num_classes'] - 1}: labels are class "
                            f"numbers 0..K-1 (at most {MAX_CLASSES} classes); renumber them")
        for key in ("mean", "std"):
            if s[key] is not None:
                facts[key] = list(s[key])
        if min(facts["std"]) <= 0:
            raise DataError(f"the images of {self.name} ({self.path}) have a channel of one value (std 0); "
                            "pass dataset.std=[r,g,b] (0-1 scale)")
        return facts


# --- from the config ------------------------------------------------------------------------

_LOADED: dict[str, Dataset] = {}


def _plain(ds: Any) -> dict:
    if isinstance(ds, Mapping) and not hasattr(ds, "_get_node"):
        return dict(ds)
    from omegaconf import OmegaConf

    return OmegaConf.to_container(ds, resolve=True)  # type: ignore[return-value]


def _check(ds: dict) -> dict:
    """The dataset settings, checked: a one-line ``ConfigError`` naming the key and what it takes."""
    from zcnas.schema import SETTINGS

    for key in ds:
        if key not in SETTINGS:
            raise ConfigError(f"dataset.{key} cannot be set: the settings of dataset are {', '.join(SETTINGS)}")
    kind = ds.get("kind") or "benchmark"
    if kind not in KINDS:
        raise ConfigError(f"dataset.kind must be one of {', '.join(KINDS)}, got {kind!r}")
    split = ds.get("split") or "train"
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    s = {key: ds.get(key) for key in USER_SETTINGS}
    if s["val_fraction"] is not None and not (isinstance(s["val_fraction"], (int, float))
                                               and 0 < s["val_fraction"] < 1):
        raise ConfigError(f"dataset.val_fraction must be a number between 0 and 1, got {s['val_fraction']!r}")
    for key, most in (("resolution", MAX_RESOLUTION), ("num_classes", MAX_CLASSES)):
        value = s[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most):
            raise ConfigError(f"dataset.{key} must be an integer in 1..{most}, got {value!r}")
    for key in ("mean", "std"):
        value = s[key]
        if value is not None and (not isinstance(value, (list, tuple)) or len(value) != 3 or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                and (v > 0 if key == "std" else True)
                for v in value)):
            raise ConfigError(f"dataset.{key} must be three numbers (R, G, B on the 0-1 scale"
                              f"{', each > 0' if key == 'std' else ''}), got {value!r}")
    return {**s, "kind": kind, "split": split}


def load_dataset(ds: Any) -> Dataset:
    """The dataset ``cfg.dataset`` (a DictConfig or a dict) describes; the same object for the same settings."""
    plain = _plain(ds)
    key = json.dumps(plain, sort_keys=True, default=str)
    if key not in _LOADED:
        _LOADED[key] = _make(plain)
    return _LOADED[key]


def _make(ds: dict) -> Dataset:
    s = _check(ds)
    kind, name, split = s["kind"], str(ds.get("name")), s["split"]
    if kind == "benchmark":
        for key in USER_SETTINGS:
            if s[key] is not None:
                raise ConfigError(
                    f"dataset.{key} cannot be set for {name}: a benchmark dataset's classes, image size and "
                    "normalization are fixed (zcnas.data.datasets); for your own data use dataset=folder, "
                    "dataset=npz or dataset=torchvision")
        spec = get_spec(name)
        data_path = ds.get("data_path")
        digest = _fingerprint(ds, data_path)
        return BenchmarkDataset(spec, name, None if data_path is None else str(data_path), split,
                                bool(ds.get("download")), digest)

    path = s["path"]
    if ds.get("data_path") is not None:
        raise ConfigError(f"dataset={kind} reads dataset.path, not dataset.data_path; "
                          f"pass dataset.path={ds['data_path']}")
    if path is None or str(path) == "":
        what = {"folder": "<folder of images>", "npz": "<file>.npz", "torchvision": "<folder to keep it in>"}[kind]
        raise ConfigError(f"dataset={kind} needs dataset.path={what}")
    if kind != "torchvision" and name.lower() in {d.lower() for d in DATASETS}:
        raise ConfigError(f"dataset.name={name} is a benchmark dataset's name; name your own data otherwise "
                          f"(e.g. dataset.name=mydata), or use dataset={name} dataset.data_path=... for {name} itself")
    path = os.path.expanduser(str(path))
    digest = _fingerprint(ds, path)
    resolution, fraction, download = s["resolution"], s["val_fraction"], bool(ds.get("download"))

    def source():
        from zcnas.data import images

        if kind == "folder":
            return images.FolderSource.scan(path, fraction)
        if kind == "npz":
            return images.npz_source(path, fraction)
        source = images.torchvision_source(name, path, download, resolution)
        if fraction is not None:
            raise ConfigError("dataset.val_fraction does not apply to dataset=torchvision (it has a test split)")
        return source

    data = UserDataset(kind, name, path, split, digest, s, source)
    if kind != "torchvision":
        data.source  # listed now (cheap): a missing or malformed source is an error at once
    return data


def _fingerprint(ds: dict, path: str | None) -> str:
    computed = fingerprint(path)
    given = ds.get("fingerprint")
    # the option's resolver computes the same value (remembered per path); anything else was typed
    if given is not None and str(given) not in (computed, "missing", "none") and computed != "missing":
        raise ConfigError("dataset.fingerprint is computed from the data (it makes the data part of the job's "
                          "identity); do not set it")
    return computed


def dataset_identity(cfg: Any) -> dict:
    """What a job's data is, for its ``result.json``: name, kind, path, fingerprint and the benchmark
    whose accuracies apply (None for the user's data), plus, for the user's data, the classes, image
    size, mean/std and image counts it used (computed once, cached).  Reads no images of a benchmark
    dataset."""
    data = load_dataset(cfg.dataset if hasattr(cfg, "dataset") else cfg["dataset"])
    return data.facts() if data.benchmark is None else data.identity()
