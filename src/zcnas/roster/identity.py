"""What makes rosters the same: the identity keys of their metadata, and the space they record.

The search space is recorded as ``space`` (absent: NATS-Bench TSS, the space of the rosters that
record none); a custom space also records ``space_target``, its class path, and ``space_options``,
the keyword arguments it was built with (JSON, sorted keys; absent: none).  Rosters of different
spaces, or of one class built with different options, never mix.  A recorded ``space_target`` is
only compared with the job's, never imported.
"""

from __future__ import annotations

import json

from zcnas.errors import ConfigError, DataError
from zcnas.spaces import UNNAMED, SearchSpace, default_name, make_space, shipped

#: metadata keys that must agree for rosters to be merged or used together
IDENTITY_KEYS = ("space", "space_target", "space_options", "metric", "dataset", "seed", "batch_size", "settings",
                 "data_sha256", "batch_seed")
#: what a roster that records no such key stands for: NATS-Bench TSS, a space built without options
IDENTITY_DEFAULTS = {"space": UNNAMED, "space_options": "{}"}


def space_meta(space: SearchSpace) -> dict:
    """What a roster records about its space: nothing where the space's records name none
    (``SearchSpace.records_name``: NATS-Bench TSS, whose older rosters stay as they were)."""
    if not space.records_name:
        return {}
    meta = {"space": space.name}
    if space.__class__.__module__.split(".")[0] != "zcnas":  # a user's space: how to rebuild it
        meta["space_target"] = f"{space.__class__.__module__}.{space.__class__.__qualname__}"
        if space.space_options:  # only when there are some: a space built without options records no such key
            meta["space_options"] = encode_options(space.space_options)
    return meta


def space_identity_meta(space: SearchSpace) -> dict:
    """The space keys a roster scored in ``space`` must carry, the name always included."""
    return {**space_meta(space), "space": space.name}


def space_identity(meta: dict) -> tuple[str, str, str]:
    """What makes two spaces the same: the name and, for a user's class, its path and options
    (``space_meta``); equal identities score the same networks."""
    full = {**IDENTITY_DEFAULTS, **meta}
    return str(full["space"]), str(full.get("space_target", "")), str(full["space_options"])


def describe_space(identity: tuple[str, str, str]) -> str:
    """A space for a message: its name, and the class and options of a user's space."""
    name, target, options = identity
    if not target:
        return name
    return f"{name} ({target}" + (f", options {options})" if options != "{}" else ")")


def encode_options(options: dict) -> str:
    """A custom space's options as rosters record them: JSON with sorted keys (one spelling per value)."""
    try:
        return json.dumps(options, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"space.options must be plain values (numbers, strings, lists, mappings) so that rosters "
                          f"can record them: {exc}") from None


def decode_options(meta: dict) -> dict:
    """The keyword arguments a roster's custom space was built with ({} when it records none)."""
    raw = meta.get("space_options")
    if raw is None:
        return {}
    try:
        options = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        options = None
    if not isinstance(options, dict):
        raise DataError(f"a roster records unreadable space_options {raw!r} (a JSON mapping expected); "
                        "it was not written by zcnas: score it again")
    return options


def registry_space(meta: dict, name: object = "a roster") -> SearchSpace | None:
    """The built-in space a roster names (NATS-Bench TSS when it names none), from the registry;
    None for a user's space, whose class a roster may record but never loads."""
    if meta.get("space_target"):
        return None
    space = meta.get("space", UNNAMED)
    if space not in shipped():
        raise DataError(f"roster {name} names space {space!r}, which zcnas does not ship (valid: "
                        f"{', '.join(shipped())}) and records no class of a user's space; it was not written by zcnas")
    return make_space(space)


def space_fix(identity: tuple[str, str, str]) -> str:
    """The overrides that give a job the space of ``identity``."""
    name, target, options = identity
    if not target:
        return "drop space=" if name == default_name() else f"add space={name}"
    fix = f"use space=custom space._target_={target}"
    return fix + (f" with space.options {options}" if options != "{}" else " without space.options")


def check_space(meta: dict, space: SearchSpace, name: object) -> None:
    """A roster's recorded space (name, class path, options: data) must be the job's ``space``."""
    found, job = space_identity(meta), space_identity(space_identity_meta(space))
    if found != job:
        raise DataError(f"roster {name} is of space {describe_space(found)} but the job's space is "
                        f"{describe_space(job)}; {space_fix(found)}")


def identity_conflict(a: dict, b: dict) -> str | None:
    """The first identity key that both metadata record with different values (None: they agree).

    A key that one of them does not record (an imported roster has no seed) is not compared;
    metric and dataset are always recorded (``read_roster`` and ``check_compatible`` see to it).
    ``space`` and ``space_options`` are always compared: a roster that records none is of NATS-Bench
    TSS, or of a space built without options (``IDENTITY_DEFAULTS``).
    """
    a, b = {**IDENTITY_DEFAULTS, **a}, {**IDENTITY_DEFAULTS, **b}
    return next((k for k in IDENTITY_KEYS if k in a and k in b and a[k] != b[k]), None)
