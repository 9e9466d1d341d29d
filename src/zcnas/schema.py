"""The settings every job shares: their types, and the one place each is checked.

Dataset group (``conf/dataset/*.yaml``): a Hydra structured config, ``DatasetConfig``.  Each
option names it first in its defaults list, so when Hydra composes the config it refuses a key
the group does not have and a value of the wrong type (``dataset.download=maybe``).  The group
holds only what a user may choose: which data, where it is, and whether to download it.  A
benchmark dataset's facts (classes, image size, normalization) are not settings:
``zcnas.data.datasets`` is their one home, and ``dataset_spec`` refuses a config that tries to set
one; the user's own data (``dataset=folder``, ``npz``, ``torchvision``) may set them, else they come
from the data (``zcnas.data.dataset``).

Top-level keys (``conf/config.yaml``): checked in Python by ``check_settings``.  A structured
config at the root would close the root to its own fields, but the task options write their
keys there (``# @package _global_``: ``sample``, ``checkpoint_every``, ...) and so do the
experiment presets; OmegaConf's type error also names the override without saying what is
allowed, and no type says ``seed >= 0``.

Every group, and the keys task options write at the root: ``check_against_defaults`` compares the
job's config with the one composed from the same group choices without the user's values.  A key
no option declares is refused, and each value must have the type of its default (see there).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, List, Optional

from omegaconf import MISSING, DictConfig

from zcnas.errors import ConfigError

if TYPE_CHECKING:  # zcnas.data imports torch; run.py registers the schemas before it needs torch
    from zcnas.data.datasets import DatasetSpec


@dataclass
class DatasetConfig:
    """``cfg.dataset``: which dataset, and where its images are.

    Types only: the values, defaults included, are in the YAML options, where users look for them;
    the settings of the user's own data (``path`` ... ``std``) default to null here, so that the
    benchmark options, whose classes, image size and normalization are fixed, need not name them
    (``zcnas.data.dataset.load_dataset`` hands a class the settings it takes; a null one it does not
    take is this default).
    """

    _target_: str = MISSING  # the dataset's class (zcnas.data.benchmark.BenchmarkDataset, zcnas.data.user.*, yours)
    name: str = MISSING  # cifar10, cifar100, ImageNet16-120 (zcnas.data.datasets.DATASETS), or your data's name
    data_path: Optional[str] = MISSING  # a benchmark dataset's .npz sample or a folder with the official files
    split: str = MISSING  # the split the batch is drawn from
    download: bool = MISSING  # fetch the official CIFAR archive (or torchvision's) if it is missing
    fingerprint: Optional[str] = MISSING  # computed from the data by a resolver: part of the job's identity
    path: Optional[str] = None  # your data: an image folder, an .npz, or torchvision's folder
    val_fraction: Optional[float] = None  # hold out this fraction of each class where there is no test split
    resolution: Optional[int] = None  # resize the images to resolution×resolution
    num_classes: Optional[int] = None  # else from the data
    mean: Optional[List[float]] = None  # per channel, 0-1 scale; else from the data
    std: Optional[List[float]] = None
    batch_seed: Optional[int] = None  # seeds the scoring batch alone (null: the job's seed), for batch-spread studies


def register_schemas() -> None:
    """Make ``DatasetConfig`` known to Hydra as ``dataset/schema`` (named in conf/dataset/*.yaml)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(group="dataset", name="schema", node=DatasetConfig)


SETTINGS = tuple(f.name for f in fields(DatasetConfig))


def dataset_spec(ds: DictConfig) -> DatasetSpec:
    """The classes, image size and normalization of the dataset ``cfg.dataset`` describes.

    A one-line error if the node sets a key past the schema (``+dataset.foo=1``) or, for a benchmark
    dataset, one of the facts that are fixed (``zcnas.data.dataset.load_dataset`` checks both).
    """
    from zcnas.data.dataset import load_dataset

    return load_dataset(ds).spec


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
    if cfg.get("seed") > MAX_SEED:
        raise ConfigError(f"seed must be an integer in [0, {MAX_SEED}], got {cfg.get('seed')}")
    dataset = cfg.get("dataset")
    batch_seed = dataset.get("batch_seed") if isinstance(dataset, DictConfig) else None
    if batch_seed is not None and not 0 <= batch_seed <= MAX_SEED:
        raise ConfigError(f"dataset.batch_seed must be an integer in [0, {MAX_SEED}] or null, got {batch_seed}")
    # sweep_name is checked where it becomes a folder, by the zcnas_folder resolver (zcnas.config)


#: the largest seed: what every generator zcnas feeds (random, numpy, torch) accepts, derived seeds included
MAX_SEED = 2**32 - 1

#: keys that a component reads although no YAML option sets them: ``+key=value`` adds one of them.
#: Every other key of a job's config is one that its YAML options declare.
OPTIONAL_KEYS = {
    "metric.layout": "the scoring engine's memory layout (zcnas.metrics.model_passes)",
    "metric_settings": "task=score with metrics=[...]: each metric's settings (zcnas.tasks.score)",
}
#: mappings whose keys are the user's to choose (``+space.options.widths=[16,32]``); their readers check them
OPEN_MAPPINGS = {
    "space.options": "keyword arguments of a custom space's class (zcnas.spaces.make_space)",
    "search.max_cost": "HW-NAS-Bench budgets, checked by name where the search reads them",
}
#: leaves whose YAML options give values of different types on purpose; their readers check them
FREE_TYPED = {
    "hardware.threads": "a positive integer or auto (zcnas.threads.resolve_threads)",
}


def check_against_defaults(cfg: DictConfig, defaults: DictConfig) -> None:
    """Refuse, in one line, a key no component declares and a value of another type than its default.

    ``defaults`` is the job's config composed from the same group choices (``metric=...``,
    ``experiment=...``) without the user's value overrides; it declares every key and its type:

    * a key that is not in ``defaults`` (``+nonexistent_key=1``) is refused, unless it is one of
      ``OPTIONAL_KEYS`` (a component reads it although no YAML option sets it) or a key of one of
      ``OPEN_MAPPINGS`` (whose keys are the user's to choose); their readers check their values;
    * a leaf whose default is a bool takes ``true`` or ``false`` only (not ``maybe``, not null); an
      int, an integer (not ``1.5``, not a bool); a float, a number (an integer too); a mapping, a
      mapping (or null); a list, a list (or null); a string, any single value;
    * a default of null, ``???`` or an interpolation says nothing of the type: any value is taken
      there and its reader checks it, and so are ``FREE_TYPED`` leaves.

    The rule is the same for every config group, so a new group or option is checked as soon as
    its YAML gives a default.
    """
    from omegaconf import OmegaConf

    _check(OmegaConf.to_container(cfg, resolve=False), OmegaConf.to_container(defaults, resolve=False), "")


def _says_nothing(value: object) -> bool:
    return value is None or (isinstance(value, str) and (value == "???" or "${" in value))


def _check(value: object, default: object, path: str) -> None:
    if path in FREE_TYPED or _says_nothing(default) or (isinstance(value, str) and "${" in value):
        return
    where = path or "the top level"
    if isinstance(default, dict):
        if value is None and path:
            return
        if not isinstance(value, dict):
            first = next(iter(default), "key")
            raise ConfigError(f"{path} is a group of settings ({', '.join(map(str, default))}), not a single "
                              f"value: set one of them, e.g. {path}.{first}=..., got {value!r}")
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if key in default:
                _check(item, default[key], sub)
            elif path not in OPEN_MAPPINGS and sub not in OPTIONAL_KEYS:
                raise ConfigError(f"unknown setting {sub}: no component reads it (keys of {where}: "
                                  f"{', '.join(sorted(map(str, default)))}); drop +{sub}=... or fix its name")
        return
    if isinstance(default, list):
        if value is not None and not isinstance(value, list):
            raise ConfigError(f"{path} must be a list, e.g. {path}=[a,b], got {value!r}")
        return
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{path} must be true or false, got {value!r}")
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path} must be an integer (default {default}), got {value!r}")
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path} must be a number (default {default}), got {value!r}")
    elif isinstance(value, (dict, list)):
        raise ConfigError(f"{path} takes a single value, got {value!r}")


def check_typed_values(values: list[tuple[str, object]], defaults: DictConfig) -> None:
    """``check_against_defaults``'s rule on the values as typed (``zcnas.config.value_overrides``).

    A structured group (``dataset``) converts a value to its field's type before any check sees it:
    ``dataset.download=yes`` would arrive as true.  Booleans are ``true``/``false`` there too.
    """
    from omegaconf import OmegaConf

    tree = OmegaConf.to_container(defaults, resolve=False)
    for key, value in values:
        default: object = tree
        for part in key.split("."):
            default = default.get(part, _ABSENT) if isinstance(default, dict) else _ABSENT
        if default is not _ABSENT:
            _check(value, default, key)


_ABSENT = object()


def check_metric_settings(cfg: DictConfig, config_dir) -> None:
    """``+metric_settings.<metric>.<key>=...`` configures one metric of ``task=score metrics=[...]``:
    refused elsewhere (a single metric takes ``metric.<key>=...``), and each key must be a setting of
    that metric (its ``conf/metric/<metric>.yaml``), of its type."""
    from omegaconf import OmegaConf

    given = cfg.get("metric_settings")
    if given is None:
        return
    if not cfg.get("metrics"):
        raise ConfigError("metric_settings configures the metrics of task=score metrics=[...]; with one metric "
                          "set its keys directly, e.g. metric.<key>=... (see conf/metric/<name>.yaml)")
    if not isinstance(given, DictConfig):
        return  # its reader says what it takes (zcnas.tasks.score.metric_settings)
    for name, settings in given.items():
        path = config_dir / "metric" / f"{name}.yaml"
        if not path.is_file() or not isinstance(settings, DictConfig):
            continue  # an unknown metric, or not a mapping: said by its reader
        declared = OmegaConf.to_container(OmegaConf.load(path), resolve=False) or {}
        # `_target_` names the metric's code and `defaults` composes the file: neither is a setting
        declared = {k: v for k, v in declared.items() if not str(k).startswith("_") and k != "defaults"}
        for key, value in OmegaConf.to_container(settings, resolve=False).items():
            if key not in declared:
                raise ConfigError(f"unknown setting metric_settings.{name}.{key}: {name} has "
                                  f"{', '.join(sorted(map(str, declared))) or 'no settings'} (conf/metric/{name}.yaml)")
            _check(value, declared[key], f"metric_settings.{name}.{key}")


def check_paths(cfg: DictConfig, defaults: DictConfig) -> None:
    """A folder the user named in ``paths.root_dir`` or ``paths.shared_data`` exists, else one line naming it.

    Only where the user set it: the default shared data may be absent (a job with ``benchmark=none``
    on the user's own data reads none of it).
    """
    from pathlib import Path

    from omegaconf import OmegaConf

    given = OmegaConf.to_container(cfg, resolve=False).get("paths") or {}
    default = OmegaConf.to_container(defaults, resolve=False).get("paths") or {}
    for key, holds in (("root_dir", "the checkout, where outputs/ and ../shared/data are found"),
                       ("shared_data", "the benchmark tables and image samples (docs/data.md)")):
        if key in given and given[key] != default.get(key):
            value = cfg.paths[key]
            if value is None or not Path(str(value)).expanduser().is_dir():
                raise ConfigError(f"paths.{key}={value} is not a folder; it holds {holds}")
