"""Which network a ``task=train`` or ``task=export`` job works on: ``arch=`` or ``from_result=``.

``arch=``: an architecture string or index of the job's space.  ``from_result=``: the
``result.json`` (or the job folder holding it) of a search job -- its best architecture, in its
space -- or of a train job -- its architecture, network size, classes, resolution and trained
weights.  Plain Python: no torch.
"""

from __future__ import annotations

import math

from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path

from zcnas.errors import ConfigError
from zcnas.spaces import UNNAMED, SearchSpace, make_space, shipped

#: the size options train and export take (conf/task/*.yaml) and their defaults, NATS-Bench's network
#: (the paper's C=16 channels, N=5 cells per stage): a space with fixed sizes accepts only these
NATS_SIZE = {"C": 16, "N": 5}
#: the least value of each size option
LEAST_SIZE = {"C": 1, "N": 0}
WEIGHTS = "weights.pt"


@dataclass
class Target:
    space: SearchSpace
    arch: Hashable
    options: dict = field(default_factory=dict)  # C, N of a NATS-Bench network
    num_classes: int | None = None  # from a train job: what its weights were trained for
    resolution: int | None = None
    weights: Path | None = None  # a train job's trained weights
    source: str = ""
    normalization: dict | None = None  # a train job's images' mean and std

    def describe(self) -> dict:
        out = {"space": self.space.name, "arch": self.space.format(self.arch),
               "index": self.space.index(self.arch), "options": dict(self.options), "source": self.source}
        return out


def network_options(space: SearchSpace, C, N) -> dict:
    """The size options of ``space``'s networks (``SearchSpace.network_sizes``: C and N for NATS-Bench),
    checked; none for a space whose networks have fixed sizes."""
    given = {"C": C, "N": N}
    if space.network_sizes:
        for key in space.network_sizes:
            value, low = given[key], LEAST_SIZE[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{key} must be an integer >= {low}, got {value!r}")
        return {key: given[key] for key in space.network_sizes}
    changed = [k for k, v in given.items() if v is not None and v != NATS_SIZE[k]]
    if changed:
        raise ConfigError(f"{' and '.join(changed)} size NATS-Bench networks; space {space.name} has its own "
                          "fixed widths and depths (drop the override)")
    return {}


def _space_of(result: dict, job_space: SearchSpace, from_result) -> SearchSpace:
    """The space the result was found in.  A built-in space comes from the registry by name; a
    user's space is never built from what the file records (a file names no code to run): it must
    be the job's own ``space=custom space._target_=...``, compared with the record as data."""
    config = result.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError(f"from_result={from_result}: its config is not a mapping; not a job's result.json")
    node = config.get("space") or {}
    if not isinstance(node, dict):
        raise ConfigError(f"from_result={from_result}: its config.space is not a mapping; not a job's result.json")
    name = str(node.get("name") or result.get("space") or UNNAMED)  # a result naming no space: UNNAMED's
    if name in shipped():
        return make_space(name)  # built once per process: the job's own when it is the same space
    recorded = str(node.get("_target_") or node.get("target") or name)  # target: results written before _target_
    mine = f"{job_space.__class__.__module__}.{job_space.__class__.__qualname__}"
    if job_space.__class__.__module__.split(".")[0] != "zcnas" and recorded in (mine, str(job_space.name)):
        return job_space
    raise ConfigError(f"from_result={from_result}: that job ran in a user's space ({recorded!r}); pass the same "
                      f"space=custom space._target_={recorded} (and options) to this job")


def _count(net: dict, key: str, low: int, from_result) -> int:
    """An integer field of a train result's network, checked: the file is data."""
    value = net.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"from_result={from_result}: its network.{key} must be an integer >= {low}, got {value!r}; "
                          "rerun the train job (force=true)")
    return value


def _channels(net: dict, key: str, from_result) -> list | None:
    """The per-channel mean or std of a train result's network: null, or 3 finite numbers (std > 0)."""
    value = net.get(key)
    if value is None:
        return None
    ok = (isinstance(value, list) and len(value) == 3
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
          and (key != "std" or all(v > 0 for v in value)))
    if not ok:
        raise ConfigError(f"from_result={from_result}: its network.{key} must be 3 finite numbers"
                          f"{' > 0' if key == 'std' else ''}, got {value!r}; rerun the train job (force=true)")
    return value


def read_result(path) -> tuple[dict, Path]:
    """(the result, its folder) of ``from_result=``: a result.json or the job folder holding one."""
    from zcnas.io import read_json

    where = Path(str(path)).expanduser()
    file = where / "result.json" if where.is_dir() else where
    if not file.is_file():
        raise ConfigError(f"from_result={path}: no such result.json; pass the result.json of a search or "
                          "train job (or its folder)")
    try:
        result = read_json(file)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"from_result={path}: not a readable result.json ({type(exc).__name__})") from None
    if not isinstance(result, dict) or result.get("status", "ok") != "ok":
        raise ConfigError(f"from_result={path}: that job did not finish (status {result.get('status')!r}); "
                          "rerun it first") if isinstance(result, dict) else \
            ConfigError(f"from_result={path}: not a job's result.json")
    return result, file.parent


def check_source_fingerprint(cfg) -> None:
    """``from_result_fingerprint`` is the option's resolver's (the file's fingerprint, which makes a
    changed ``from_result`` a changed job); a value typed by the user is refused."""
    from zcnas.data.fingerprint import fingerprint

    given = cfg.get("from_result_fingerprint")
    if given is not None and str(given) != fingerprint(cfg.get("from_result")):
        raise ConfigError("from_result_fingerprint is computed from the from_result file (it makes that file part of "
                          "the job's identity); do not set it")


def resolve_target(arch, from_result, space: SearchSpace, C=16, N=5) -> Target:
    """The network ``arch=`` or ``from_result=`` names (exactly one of them), in ``space`` or the result's."""
    if (arch is None) == (from_result is None):
        raise ConfigError("name the network with arch=<architecture string or index> or "
                          "from_result=<result.json of a search or train job> (one of them)"
                          if arch is None else "give arch= or from_result=, not both")
    if arch is not None:
        return Target(space, space.to_arch(arch), network_options(space, C, N), source=f"arch={arch}")
    result, folder = read_result(from_result)
    task = result.get("task")
    result_space = _space_of(result, space, from_result)
    if task == "search":
        best = result.get("best") or {}
        found = best.get("arch") if isinstance(best, dict) else None
        if not found or not isinstance(found, str):
            raise ConfigError(f"from_result={from_result}: the search result names no best architecture")
        return Target(result_space, result_space.parse(found), network_options(result_space, C, N),
                      source=f"from_result={from_result}")
    if task == "train":
        net = result.get("network") or {}
        if not isinstance(net, dict) or not all(key in net for key in ("arch", "num_classes", "resolution")):
            raise ConfigError(f"from_result={from_result}: the train result names no network (arch, num_classes, "
                              "resolution); rerun the train job (force=true)")
        weights = folder / Path(str(result.get("weights") or WEIGHTS)).name  # never a path the file chooses
        if not weights.is_file():
            raise ConfigError(f"from_result={from_result}: its trained weights {weights} are missing; "
                              "rerun the train job (force=true)")
        options = net.get("options") or {}
        if not isinstance(options, dict) or set(options) - set(result_space.network_sizes or ()):
            raise ConfigError(f"from_result={from_result}: its network options {options!r} are not sizes of "
                              f"space {result_space.name}; rerun the train job (force=true)")
        options = network_options(result_space, options.get("C"), options.get("N")) if options else {}
        return Target(result_space, result_space.parse(str(net["arch"])), options,
                      _count(net, "num_classes", 2, from_result), _count(net, "resolution", 1, from_result),
                      weights, source=f"from_result={from_result}",
                      normalization={"mean": _channels(net, "mean", from_result), "std": _channels(net, "std", from_result)})
    raise ConfigError(f"from_result={from_result}: a result of task={task}; pass the result.json of a "
                      "search or train job")
