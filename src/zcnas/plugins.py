"""Plug-ins: the options of a config group, read as data.

Every plug-in -- a search strategy, a search space, ... -- is one YAML option of its config group,
``conf/<group>/<name>.yaml``, whose ``_target_`` names its class (``module.Class``), Hydra's
convention.  So the names of a group are its YAML options, and each default is stated once, in
that option.  A job's config, composed by Hydra, carries the chosen option's ``_target_`` itself;
this module answers the same questions where there is no composed config: the Python API
(``zcnas.search(search="aging")``), and a name read from a roster or result file.

Only a name that the user's own config or call chose is imported (``load``).  A name read from a
file is data: it is checked against ``names`` and never imported.  Targets are imported only when
chosen, so listing or checking names imports no plug-in.

Plain Python: PyYAML reads the options; no torch, no Hydra.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path

from zcnas.errors import ConfigError

#: keys of an option that are Hydra's, not the plug-in's settings
HYDRA_KEYS = ("_target_", "defaults")
#: what an option writes for a value the user must give (``space=custom``: their own class)
MISSING = "???"
#: the project (the checkout zcnas is installed from, editable) and its config groups
PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = PROJECT_ROOT / "conf"


def _config_dir() -> Path:
    return CONFIG_DIR


@functools.cache
def names(group: str) -> tuple[str, ...]:
    """The options of ``group``: the stems of ``conf/<group>/*.yaml``, sorted."""
    return tuple(sorted(p.stem for p in (_config_dir() / group).glob("*.yaml")))


def check(group: str, name: object) -> str:
    """``name`` if it is an option of ``group``, else a one-line ``ConfigError`` listing the valid ones."""
    if not isinstance(name, str) or name not in names(group):
        raise ConfigError(f"unknown {group} {name!r}; valid: {', '.join(names(group))}")
    return name


@functools.cache
def _read(group: str, name: str) -> dict:
    import yaml

    data = yaml.safe_load((_config_dir() / group / f"{check(group, name)}.yaml").read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def option(group: str, name: str) -> dict:
    """The keys option ``name`` of ``group`` sets, as written (interpolations unresolved), Hydra's
    own keys (``_target_``, ``defaults``) left out: the plug-in's settings and their defaults."""
    return {k: v for k, v in _read(group, name).items() if k not in HYDRA_KEYS}


def target(group: str, name: str) -> str | None:
    """The ``_target_`` of option ``name`` of ``group`` (``module.Class``), or None where the option
    leaves it to the user (``???``: ``space=custom``)."""
    value = _read(group, name).get("_target_")
    if value is None:
        raise ConfigError(f"conf/{group}/{name}.yaml has no _target_ (the class it declares)")
    return None if value == MISSING else str(value)


def task_target(name: str) -> str:
    """The class that runs task ``name``: its option's ``task_class._target_`` (``module.Class``), read
    as data.  A task option is ``# @package _global_`` (its settings are top-level keys), so its class
    is named under ``task_class``, not by a ``_target_`` of its own."""
    node = _read("task", name).get("task_class")
    value = node.get("_target_") if isinstance(node, dict) else None
    if not value:
        raise ConfigError(f"conf/task/{name}.yaml has no task_class._target_ (the class that runs it)")
    return str(value)


def load(group: str, name: str) -> object:
    """The class (or function) option ``name`` of ``group`` declares, imported.

    Only for a name the user's own config or call chose; a name read from a file is checked with
    ``check``/``names`` and never loaded."""
    path = target(group, name)
    if path is None:
        raise ConfigError(f"{group}={name} needs {group}._target_, the class path of your own {group} "
                          f"(module.Class); see docs/plugins.md")
    return import_target(path, f"{group}._target_")


def import_target(path: str, what: str) -> object:
    """The object at ``module.attr`` (or ``module:attr``); ``what`` names the setting in errors."""
    module_name, sep, attr = str(path).replace(":", ".").rpartition(".")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{what} must be a class path like mypkg.module.Class, got {path!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{what} {path}: cannot import {module_name} ({exc}); is it on PYTHONPATH?") from None
    found = getattr(module, attr, None)
    if found is None:
        raise ConfigError(f"{what} {path}: {module_name} has no {attr}")
    return found


def build(cls: object, settings: dict, what: str) -> object:
    """``cls(**settings)``; settings it does not take (or lacks) are a one-line ``ConfigError``."""
    try:
        return cls(**settings)  # type: ignore[operator]
    except TypeError as exc:
        raise ConfigError(f"bad parameters for {what}: {exc}") from None


__all__ = ["build", "check", "import_target", "load", "names", "option", "target", "task_target"]
