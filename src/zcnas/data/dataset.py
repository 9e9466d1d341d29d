"""Every dataset behind one interface: ``load_dataset(cfg.dataset) -> Dataset``.

A dataset is a plug-in (docs/plugins.md): each option of ``conf/dataset/`` names its class by
``_target_``, states the class's settings with their defaults, and ``load_dataset`` imports that
class only and builds it with them.  The classes:

* ``zcnas.data.benchmark.BenchmarkDataset``: cifar10, cifar100, ImageNet16-120.  Their facts are
  fixed (``zcnas.data.datasets``); their files are read by ``zcnas.data.readers`` and refused when
  their labels or shape contradict the dataset.  Only these carry benchmark accuracies.
* ``zcnas.data.user``: the user's data, ``FolderDataset``, ``NpzDataset``, ``TorchvisionDataset``
  and any class of the user's (``dataset=custom dataset._target_=mypkg.MyData``), all subclasses of
  ``UserDataset``: the classes, image size and mean/std come from the data unless given.

A ``Dataset`` has ``name``, ``kind`` (what records call its sort of data), ``path``,
``fingerprint``, ``benchmark`` (the benchmark dataset whose accuracies apply to it, or None),
``split``, ``num_classes``, ``image_size`` (H, W), ``mean`` and ``std`` (per channel, 0-1 scale),
``arrays(split)`` (uint8 N×H×W×3 and int64 labels) and ``scoring_batch(batch_size, seed)``.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from zcnas.data.datasets import DatasetSpec
from zcnas.data.fingerprint import fingerprint
from zcnas.data.readers import SPLITS
from zcnas.errors import ConfigError
from zcnas.plugins import MISSING, build, import_target

#: keys of ``cfg.dataset`` that are not the class's settings: Hydra's ``_target_``, and the seed of the
#: scoring batch, which the job reads (``zcnas.build.batch_seed``)
NOT_SETTINGS = ("_target_", "batch_seed")


class Dataset:
    """What a job needs of its data (see the module docstring).

    ``kind`` is what results and rosters record: the one a class states in its own body (the
    built-in classes: ``benchmark``, ``folder``, ``npz``, ``torchvision``), else its class path
    (``mypkg.MyData``).  A class other than ``BenchmarkDataset`` never has a ``benchmark``.
    """

    kind: str = "dataset"
    name: str
    path: str | None
    fingerprint: str
    split: str  # the split the scoring batch is drawn from
    #: the benchmark dataset whose accuracies apply to this data; None for any other data
    benchmark: str | None = None
    #: the source has no test split of its own, so training holds part of it out (zcnas.training.data)
    one_split: bool = False
    class_names: tuple[str, ...] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" not in cls.__dict__:  # a subclass that states no kind of its own is told apart by its path
            cls.kind = f"{cls.__module__}.{cls.__qualname__}"

    @classmethod
    def refusal(cls, key: str, value: object, settings: Mapping[str, Any]) -> str:
        """Why ``dataset.<key>=<value>`` is refused: a setting of the dataset group this class does not read."""
        return f"dataset.{key} is not read by {cls.kind} data (its settings: {', '.join(settings_of(cls))}); drop it"

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


def checked_split(split: object) -> str:
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    return str(split)


def checked_fingerprint(given: object, path: str | None) -> str:
    """The fingerprint of the data at ``path``; ``given`` (the option's resolver computed it) must agree."""
    computed = fingerprint(path)
    # the option's resolver computes the same value (remembered per path); anything else was typed
    if given is not None and str(given) not in (computed, "missing", "none") and computed != "missing":
        raise ConfigError("dataset.fingerprint is computed from the data (it makes the data part of the job's "
                          "identity); do not set it")
    return computed


def settings_of(cls: type) -> tuple[str, ...]:
    """The keyword arguments a dataset class is built with: its settings.  An ``__init__`` that passes
    ``**settings`` on takes those of the class it passes them to as well."""
    kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names: list[str] = []
    for klass in cls.__mro__:
        if "__init__" not in vars(klass) or klass is object:
            continue
        params = list(inspect.signature(vars(klass)["__init__"]).parameters.values())[1:]  # less self
        names += [p.name for p in params if p.kind in kinds and p.name not in names]
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            break
    return tuple(names)


# --- from the config ------------------------------------------------------------------------

_LOADED: dict[str, Dataset] = {}


def _plain(ds: Any) -> dict:
    if isinstance(ds, Mapping) and not hasattr(ds, "_get_node"):
        return dict(ds)
    from omegaconf import OmegaConf

    return OmegaConf.to_container(ds, resolve=True)  # type: ignore[return-value]


def dataset_settings(option: str, /, **given: Any) -> dict:
    """The settings of option ``conf/dataset/<option>.yaml`` with ``given`` in place of its defaults: what
    ``load_dataset`` takes outside a job.  A value the option computes when a job's config is resolved
    (``fingerprint``, a benchmark dataset's default ``data_path``) is null here: the fingerprint is
    computed from the data, and a benchmark dataset's images need ``data_path=...``."""
    from zcnas import plugins

    settings = {key: None if isinstance(value, str) and "${" in value else value
                for key, value in plugins.option("dataset", option).items()}
    return {"_target_": plugins.target("dataset", option) or MISSING, **settings, **given}


def dataset_class(target: object) -> type[Dataset]:
    """The class ``dataset._target_`` names, imported; a one-line error if it names none, or no dataset."""
    if target is None or target == MISSING or str(target) == "":
        raise ConfigError("dataset=custom needs dataset._target_, the class path of your own dataset "
                          "(module.Class, a subclass of zcnas.data.user.UserDataset); see docs/plugins.md")
    cls = import_target(str(target), "dataset._target_")
    if not (isinstance(cls, type) and issubclass(cls, Dataset)):
        raise ConfigError(f"dataset._target_ {target} is not a dataset class: subclass "
                          "zcnas.data.user.UserDataset (docs/plugins.md)")
    return cls


def load_dataset(ds: Any, /, **settings: Any) -> Dataset:
    """The dataset ``cfg.dataset`` (a DictConfig or a dict of its keys) describes, or option ``ds`` of
    ``conf/dataset/`` with ``settings`` (``load_dataset("folder", path=...)``); the same object for the
    same settings."""
    plain = dataset_settings(ds, **settings) if isinstance(ds, str) else _plain(ds)
    key = json.dumps(plain, sort_keys=True, default=str)
    if key not in _LOADED:
        _LOADED[key] = _make(plain)
    return _LOADED[key]


def _make(ds: dict) -> Dataset:
    from zcnas.schema import SETTINGS

    if "kind" in ds:
        raise ConfigError("dataset.kind cannot be set: a dataset option names its class by dataset._target_; "
                          "choose the option (dataset=folder, npz, torchvision, cifar10, ...) or your own class "
                          "(dataset=custom dataset._target_=module.Class)")
    target = ds.get("_target_")
    cls = dataset_class(target)
    takes = settings_of(cls)
    settings = {}
    for key, value in ds.items():
        if key in NOT_SETTINGS:
            continue
        if key in takes:
            settings[key] = value
        elif key not in SETTINGS:
            raise ConfigError(f"dataset.{key} cannot be set: the settings of dataset are "
                              f"{', '.join(k for k in SETTINGS if k != '_target_')}")
        elif value is not None:  # a null one is the schema's default for a setting of other data
            raise ConfigError(cls.refusal(key, value, ds))
    data = build(cls, settings, f"dataset._target_ {target}")
    if data.benchmark is not None:
        from zcnas.data.benchmark import BenchmarkDataset

        if type(data) is not BenchmarkDataset:  # a benchmark's accuracies are for its own files only
            raise ConfigError(f"dataset._target_ {target} claims the accuracies of benchmark {data.benchmark}; "
                              "only zcnas.data.benchmark.BenchmarkDataset has them: leave benchmark None")
    return data


def dataset_identity(cfg: Any) -> dict:
    """What a job's data is, for its ``result.json``: name, kind, path, fingerprint and the benchmark
    whose accuracies apply (None for the user's data), plus, for the user's data, the classes, image
    size, mean/std and image counts it used (computed once, cached).  Reads no images of a benchmark
    dataset."""
    data = load_dataset(cfg.dataset if hasattr(cfg, "dataset") else cfg["dataset"])
    return data.facts() if data.benchmark is None else data.identity()
