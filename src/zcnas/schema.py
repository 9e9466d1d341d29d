"""The settings every job shares: their types, and the one place each is checked.

Dataset group (``conf/dataset/*.yaml``): a Hydra structured config, ``DatasetConfig``.  Each
option names it first in its defaults list, so when Hydra composes the config it refuses a key
the group does not have and a value of the wrong type (``dataset.download=maybe``).  The group
holds only what a user may choose: which data, where it is, and whether to download it.  A
dataset's facts (classes, image size, normalization) are not settings: ``zcnas.data.datasets``
is their one home, and ``dataset_spec`` refuses a config that tries to set one.

Top-level keys (``conf/config.yaml``): checked in Python by ``check_settings``.  A structured
config at the root would close the root to its own fields, but the task options write their
keys there (``# @package _global_``: ``sample``, ``checkpoint_every``, ...) and so do the
experiment presets; OmegaConf's type error also names the override without saying what is
allowed, and no type says ``seed >= 0``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from omegaconf import MISSING, DictConfig

from zcnas.errors import ConfigError

if TYPE_CHECKING:  # zcnas.data imports torch; run.py registers the schemas before it needs torch
    from zcnas.data.datasets import DatasetSpec


@dataclass
class DatasetConfig:
    """``cfg.dataset``: which dataset, and where its images are.

    Types only: the values, defaults included, are in the YAML options, where users look for them.
    """

    name: str = MISSING  # cifar10, cifar100 or ImageNet16-120 (zcnas.data.datasets.DATASETS)
    data_path: str = MISSING  # a .npz sample or a folder with the official files
    split: str = MISSING  # the split the batch is drawn from
    download: bool = MISSING  # fetch the official CIFAR archive into data_path if it is missing


def register_schemas() -> None:
    """Make ``DatasetConfig`` known to Hydra as ``dataset/schema`` (named in conf/dataset/*.yaml)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(group="dataset", name="schema", node=DatasetConfig)


SETTINGS = tuple(f.name for f in fields(DatasetConfig))


def dataset_spec(ds: DictConfig) -> DatasetSpec:
    """The spec of the dataset ``cfg.dataset`` names; a one-line error if the node sets anything else.

    Hydra already refuses ``dataset.num_classes=7``, but ``+dataset.num_classes=7`` adds the key past
    the schema, and would otherwise be ignored without a word.
    """
    for key in ds:
        if key not in SETTINGS:
            raise ConfigError(f"dataset.{key} cannot be set: the settings of dataset are {', '.join(SETTINGS)} "
                              "(its classes, image size and normalization are fixed: zcnas.data.datasets)")
    from zcnas.data.datasets import get_spec

    return get_spec(str(ds.name))


def check_settings(cfg: DictConfig) -> None:
    """The top-level keys every task shares: a one-line error naming the key and what it takes."""
    for key, low in (("seed", 0), ("batch_size", 1)):
        value = cfg.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"{key} must be an integer >= {low}, got {value!r}")
    # a YAML bool: `force=no` reaches us as the string "no", which Python would take as true
    for key in ("force", "progress"):
        value = cfg.get(key)
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
    # sweep_name is checked where it becomes a folder, by the zcnas_folder resolver (zcnas.config)
