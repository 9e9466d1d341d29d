"""Search spaces: the ``space`` config group.

A space is an option of that group, ``conf/space/<name>.yaml``, whose ``_target_`` names its
``zcnas.spaces.base.SearchSpace`` subclass (``zcnas.plugins``): ``nats_tss``, ``nas_bench_macro``,
``nas_bench_101``, or ``custom``, whose ``_target_`` is the user's (``space._target_=mypkg.WidthSpace``)
and whose ``space.options`` are the class's keyword arguments.  ``make_space`` builds one; a space's
module is imported only when it is chosen.  Which space a job runs in unless it names one is stated
once, in ``conf/config.yaml`` (``default_name``).
"""

from __future__ import annotations

import functools
import inspect
import re

from zcnas import plugins
from zcnas.errors import ConfigError, ZcnasError
from zcnas.spaces.base import REQUIRED, SearchSpace

#: the space of a roster or result that names none: NATS-Bench TSS, whose records omit the name
#: (``SearchSpace.records_name``; they were written before there were other spaces)
UNNAMED = "nats_tss"
#: what a space's ``name`` may be: it becomes part of file names and roster metadata
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_CACHE: dict[str, SearchSpace] = {}


def shipped() -> tuple[str, ...]:
    """The spaces zcnas ships: the options of ``conf/space/`` that name their class (``custom``
    leaves it to the user).  A roster or result naming one of these is rebuilt from its option; any
    other name is a user's space, compared as data and never imported."""
    return tuple(name for name in plugins.names("space") if plugins.target("space", name) is not None)


def shown_space(name: object) -> str | None:
    """The space a record's ``space`` value names, as messages and tables show it: None for the space
    whose records name none (``UNNAMED``), which they leave unsaid as its records do."""
    return None if name is None or name == UNNAMED else str(name)


@functools.cache
def default_name() -> str:
    """The space a job runs in unless it names one: the ``space`` choice of ``conf/config.yaml``'s
    defaults list, the one place it is stated (the Python API reads it from there too)."""
    import yaml

    from zcnas.config import CONFIG_DIR

    defaults = yaml.safe_load((CONFIG_DIR / "config.yaml").read_text(encoding="utf-8"))["defaults"]
    return next(str(entry["space"]) for entry in defaults if isinstance(entry, dict) and "space" in entry)


def make_space(name: str, target: str | None = None, **options) -> SearchSpace:
    """Space ``name``, built once per process and options: the class of its option's ``_target_``,
    or ``target`` (a class path) for ``custom`` and a user's own option."""
    target = space_target(name, target)
    key = repr((name, target, sorted(options.items())))
    if key not in _CACHE:
        _CACHE[key] = _build(name, target, options)
    return _CACHE[key]


def space_target(name: str, target: str | None = None) -> str:
    """The class path space ``name`` is built from: its option's ``_target_``, or ``target`` where the
    user gives one (``custom``, or an option of their own that zcnas does not ship)."""
    if name in plugins.names("space"):
        own = plugins.target("space", name)
        if own is None and not target:
            raise ConfigError(f"space={name} needs space._target_, the class path of your space, e.g. "
                              "space._target_=mypkg.spaces.WidthSpace (a subclass of zcnas.spaces.base.SearchSpace)")
        if own is not None and target and str(target) != own:
            raise ConfigError(f"space._target_ of space={name} is {own}; your own class takes space=custom "
                              f"space._target_={target}")
        return str(target or own)
    if not target:
        plugins.check("space", name)  # the one-line error listing the spaces there are
    return str(target)


def space_class(name: str, target: str | None = None) -> type[SearchSpace]:
    """The class of space ``name`` (``space_target``), imported, not built."""
    return load_class(space_target(name, target))


def _build(name: str, target: str, options: dict) -> SearchSpace:
    cls = load_class(target)
    try:
        space = cls(**options)
    except TypeError as exc:
        raise ConfigError(f"bad options for space {name} ({cls.__name__}): {exc}") from None
    except ZcnasError:
        raise
    except Exception as exc:  # the user's code failed: say where, keep the traceback for ZCNAS_DEBUG=1
        raise SpaceCodeError(_failure(cls, "__init__", exc)) from exc
    if cls.__module__.split(".")[0] != "zcnas":  # a user's class
        _guard(space)
        space.records_name = True  # a user's rosters always name the space and its class, to be read back
    if not space.name:
        raise ConfigError(f"space class {cls.__module__}.{cls.__name__} sets no name; give it a class attribute name = '...'")
    if not isinstance(space.name, str) or not PLAIN_NAME.fullmatch(space.name):
        raise ConfigError(f"space class {cls.__module__}.{cls.__name__} has name {space.name!r}, which is not a plain "
                          "name; use letters, digits and '._-', starting with a letter or digit (it names the space in rosters and file names)")
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
    cls = plugins.import_target(path, "space._target_")
    if not inspect.isclass(cls):
        module_name, _, attr = path.replace(":", ".").rpartition(".")
        raise ConfigError(f"space._target_ {path}: {module_name} has no class {attr}")
    if not issubclass(cls, SearchSpace):
        missing = [m for m in REQUIRED if not callable(getattr(cls, m, None))]
        hint = f" (it lacks {', '.join(missing)})" if missing else ""
        raise ConfigError(f"space._target_ {path} is not a zcnas.spaces.base.SearchSpace subclass{hint}; "
                          f"subclass it and implement {', '.join(REQUIRED)}")
    abstract = sorted(getattr(cls, "__abstractmethods__", ()))
    if abstract:
        raise ConfigError(f"space._target_ {path} does not implement {', '.join(abstract)} "
                          "(see zcnas.spaces.base.SearchSpace)")
    return cls


__all__ = ["UNNAMED", "SearchSpace", "default_name", "load_class", "make_space", "shipped", "shown_space",
           "space_class", "space_target"]
