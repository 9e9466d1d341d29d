"""Search spaces: the ``space`` config group.

``make_space(name)`` gives the space a job runs in: ``nats_tss`` (default), ``nas_bench_macro``,
``nas_bench_101``, or ``custom`` with ``target`` a class path (``mypkg.spaces.WidthSpace``) of a
``zcnas.spaces.base.SearchSpace`` subclass.  Space modules are imported only when chosen.
"""

from __future__ import annotations

import importlib
import inspect

import functools

from zcnas.errors import ConfigError, ZcnasError
from zcnas.spaces.base import REQUIRED, SearchSpace

#: name -> "module:class" of the spaces zcnas ships
BUILT_IN = {
    "nats_tss": "zcnas.spaces.nats_tss:NatsTss",
    "nas_bench_macro": "zcnas.spaces.macro:NasBenchMacro",
    "nas_bench_101": "zcnas.spaces.nb101:NasBench101",
}
DEFAULT = "nats_tss"
_CACHE: dict[str, SearchSpace] = {}


def make_space(name: str = DEFAULT, target: str | None = None, **options) -> SearchSpace:
    """The space ``name`` (``custom``: the class at ``target``), built once per process and options."""
    key = repr((name, target, sorted(options.items())))
    if key not in _CACHE:
        _CACHE[key] = _build(name, target, options)
    return _CACHE[key]


def _build(name: str, target: str | None, options: dict) -> SearchSpace:
    if name == "custom":
        if not target:
            raise ConfigError("space=custom needs space.target, the class path of your space, e.g. "
                              "space.target=mypkg.spaces.WidthSpace (a subclass of zcnas.spaces.base.SearchSpace)")
        cls = load_class(str(target))
    elif name in BUILT_IN:
        if target:
            raise ConfigError(f"space.target is only for space=custom, not space={name}")
        module, _, attr = BUILT_IN[name].partition(":")
        cls = getattr(importlib.import_module(module), attr)
    else:
        raise ConfigError(f"unknown space {name!r}; valid: {', '.join([*BUILT_IN, 'custom'])}")
    try:
        space = cls(**options)
    except TypeError as exc:
        raise ConfigError(f"bad options for space {name} ({cls.__name__}): {exc}") from None
    except ZcnasError:
        raise
    except Exception as exc:  # the user's code failed: say where, keep the traceback for ZCNAS_DEBUG=1
        raise SpaceCodeError(_failure(cls, "__init__", exc)) from exc
    if name == "custom":
        _guard(space)
    if not space.name:
        raise ConfigError(f"space class {cls.__module__}.{cls.__name__} sets no name; give it a class attribute name = '...'")
    space.space_options = dict(options)  # what rosters record of a custom space (zcnas.roster.space_meta)
    return space


class SpaceCodeError(ConfigError):
    """A custom space's own method raised: one line naming the class, the method and the error."""


#: the methods of a custom space that zcnas calls (the interface's, its optional ones included)
GUARDED = (*REQUIRED, "random_neighbour", "identity_key", "index", "from_index")


def _failure(cls: type, method: str, exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (f"custom space {cls.__module__}.{cls.__qualname__}: {method}() raised {type(exc).__name__}"
            f"{': ' + text[0] if text else ''} (ZCNAS_DEBUG=1 shows the traceback)")


def _guard(space: SearchSpace) -> None:
    """Make an exception from the user's methods a one-line error naming the class and the method.

    A ``ZcnasError`` it raises on purpose (an ``ArchError`` for a bad string) passes unchanged.
    """
    cls = type(space)
    for method in GUARDED:
        bound = getattr(space, method, None)
        if not callable(bound):
            continue

        @functools.wraps(bound)
        def guarded(*args, _bound=bound, _method=method, **kwargs):
            try:
                value = _bound(*args, **kwargs)
            except ZcnasError:
                raise
            except Exception as exc:
                raise SpaceCodeError(_failure(cls, _method, exc)) from exc
            if _method == "build_network":
                _check_network(cls, value)
            return value

        setattr(space, method, guarded)


def _check_network(cls: type, network) -> None:
    """A network the metrics can run: a ``torch.nn.Module`` (torch is imported by then)."""
    from torch import nn

    if not isinstance(network, nn.Module):
        raise SpaceCodeError(f"custom space {cls.__module__}.{cls.__qualname__}: build_network() returned "
                             f"{type(network).__name__}, not a torch.nn.Module")


def load_class(path: str) -> type[SearchSpace]:
    """The class at ``module.Class`` (or ``module:Class``), checked against the interface."""
    module_name, sep, attr = path.replace(":", ".").rpartition(".")
    if not sep or not module_name or not attr:
        raise ConfigError(f"space.target must be a class path like mypkg.spaces.WidthSpace, got {path!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"space.target {path}: cannot import {module_name} ({exc}); is it on PYTHONPATH?") from None
    cls = getattr(module, attr, None)
    if not inspect.isclass(cls):
        raise ConfigError(f"space.target {path}: {module_name} has no class {attr}")
    if not issubclass(cls, SearchSpace):
        missing = [m for m in REQUIRED if not callable(getattr(cls, m, None))]
        hint = f" (it lacks {', '.join(missing)})" if missing else ""
        raise ConfigError(f"space.target {path} is not a zcnas.spaces.base.SearchSpace subclass{hint}; "
                          f"subclass it and implement {', '.join(REQUIRED)}")
    abstract = sorted(getattr(cls, "__abstractmethods__", ()))
    if abstract:
        raise ConfigError(f"space.target {path} does not implement {', '.join(abstract)} "
                          "(see zcnas.spaces.base.SearchSpace)")
    return cls


__all__ = ["BUILT_IN", "DEFAULT", "SearchSpace", "load_class", "make_space"]
