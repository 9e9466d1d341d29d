"""Hydra/OmegaConf glue: resolvers and schemas used by ``conf/``, and the project root."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf

from zcnas.jobs import folder_name, safe_name, sweep_id
from zcnas.plugins import CONFIG_DIR, PROJECT_ROOT  # noqa: F401  (stated there, in plain Python)


def register_resolvers() -> None:
    """Register what ``conf/`` needs before Hydra composes it: the resolvers below and the typed
    schemas (``zcnas.schema``).  run.py and the tests call this once."""
    from zcnas.schema import register_schemas

    register_schemas()
    # ${zcnas_or:a,b}: a unless empty, else b (a single run with no overrides goes to ".../default").
    if not OmegaConf.has_resolver("zcnas_or"):
        OmegaConf.register_new_resolver("zcnas_or", lambda value, fallback: value if value else fallback)
    if not OmegaConf.has_resolver("zcnas_roster"):
        OmegaConf.register_new_resolver("zcnas_roster", roster_path)
    # ${zcnas_job_dir:${hydra:overrides.task}}: a sweep job's folder name (zcnas.jobs.folder_name)
    if not OmegaConf.has_resolver("zcnas_job_dir"):
        OmegaConf.register_new_resolver("zcnas_job_dir", lambda overrides: folder_name([str(o) for o in overrides]))
    # ${zcnas_run_dir:${hydra:overrides.task}}: a single run's folder name, defaults spelled out or not
    if not OmegaConf.has_resolver("zcnas_run_dir"):
        OmegaConf.register_new_resolver("zcnas_run_dir", run_folder)
    # ${zcnas_sweep_folder:${sweep_name},${task},${hydra.overrides.task}}: the sweep's folder name.
    # Cached: Hydra copies the launching process's resolver cache into every job's config (as for
    # ${now:}), so each job, whose own overrides differ, gets the folder of the sweep.
    if not OmegaConf.has_resolver("zcnas_sweep_folder"):
        OmegaConf.register_new_resolver("zcnas_sweep_folder", sweep_folder, use_cache=True)
    # ${zcnas_data_fingerprint:${dataset.path}}: the data as part of the job's identity (zcnas.data.fingerprint)
    if not OmegaConf.has_resolver("zcnas_data_fingerprint"):
        OmegaConf.register_new_resolver("zcnas_data_fingerprint", data_fingerprint)
    # ${zcnas_first_existing:a,b}: the shared development table a, else its copy b shipped in benchmarks/
    if not OmegaConf.has_resolver("zcnas_first_existing"):
        OmegaConf.register_new_resolver("zcnas_first_existing", first_existing)
    os.environ.setdefault("ZCNAS_ROOT", str(PROJECT_ROOT))


def sweep_folder(name, task, overrides) -> str:
    """``sweep_name`` if set (a plain folder name, or a one-line error), else ``<task>-<hash of the
    sweep's overrides>`` (``zcnas.jobs.sweep_id``): an ad-hoc sweep's own folder."""
    if name is not None and str(name) != "":
        return safe_name(name, "sweep_name")
    return f"{task}-{sweep_id([str(o) for o in overrides])}"


def run_folder(overrides) -> str:
    """A single run's folder name: ``folder_name`` of its overrides less the values that restate a
    default, so ``seed=0`` names the same folder as the command without it.  Group choices stay:
    ``metric=synflow`` says what the job is, so it is always in its folder's name."""
    lines = tuple(str(o) for o in overrides)
    restated = restated_defaults(lines)
    return folder_name([line for line in lines if line not in restated])


_ABSENT = object()


@functools.lru_cache(maxsize=16)
def restated_defaults(overrides: tuple[str, ...]) -> frozenset[str]:
    """The running job's value overrides (``key=value``) whose value is the one its config has without
    them: the config composed from its group choices alone (``composed_defaults``).

    Additions (``+key``), deletions, and values that do not parse or whose default does not resolve
    are never restated defaults.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.override_parser.overrides_parser import OverridesParser

    defaults = composed_defaults()
    if defaults is None:
        return frozenset()
    groups = set(HydraConfig.get().runtime.choices)
    parser = OverridesParser.create()
    restated = set()
    for line in overrides:
        try:
            o = parser.parse_override(line)
            if (o.key_or_group in groups or o.is_add() or o.is_force_add() or o.is_delete()
                    or o.is_sweep_override() or o.package is not None):
                continue
            value = o.value()
            default = OmegaConf.select(defaults, o.key_or_group, default=_ABSENT, throw_on_missing=True)
            if isinstance(default, (DictConfig, ListConfig)):
                default = OmegaConf.to_container(default, resolve=True)
        except Exception:  # a default that needs more than the composed config to resolve: keep it
            continue
        if type(default) is type(value) and default == value:
            restated.add(line)
    return frozenset(restated)


def first_existing(*paths: str) -> str:
    """The first of ``paths`` that exists; the first when none does (its absence is then reported)."""
    return next((p for p in paths if Path(str(p)).expanduser().exists()), paths[0])


def data_fingerprint(path) -> str:
    from zcnas.data.fingerprint import fingerprint

    return fingerprint(path)


def roster_path(rosters, metric: str, dataset: str) -> str | None:
    """``${zcnas_roster:${search_rosters},${metric.name},${dataset.name}}``: the roster a search reads.

    ``<dir>/<metric>_<dataset>.parquet`` (the names ``task=merge`` writes) when ``rosters.use`` is
    true and the metric is one of ``rosters.metrics``; else None, so the metric is computed live
    (or, like val12, read from the benchmark).  Whether the file exists is checked where it is
    read, which reports a missing roster in one line.
    """
    if not rosters.use or metric not in rosters.metrics:
        return None
    return f"{rosters.dir}/{metric}_{dataset}.parquet"


GROUPS = ("dataset", "metric", "search", "space", "hardware", "benchmark", "experiment", "task", "train")


def group_options(group: str, config_dir: Path = CONFIG_DIR) -> list[str]:
    return sorted(p.stem for p in (config_dir / group).glob("*.yaml"))


def composed_defaults():
    """The running job's config composed from its group choices only, without the user's value
    overrides: what declares each key and its type (``zcnas.schema.check_against_defaults``).

    None outside a Hydra job (a config composed by a test or the API has no overrides to check).
    """
    from hydra import compose
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized() or not GlobalHydra.instance().is_initialized():
        return None
    hc = HydraConfig.get()
    groups = set(hc.runtime.choices)
    # `metric=synflow`, `+experiment=x`, `hydra/launcher=...`: a group choice; `search.n=3`: a value
    choices = [o for o in hc.overrides.task if o.partition("=")[0].lstrip("+~") in groups]
    # where the options are: a user's own (hydra.searchpath=[file://...], docs/plugins.md) too
    choices += [o for o in hc.overrides.hydra if o.partition("=")[0] == "hydra.searchpath"]
    return compose(config_name=hc.job.config_name, overrides=choices)


def value_overrides() -> list[tuple[str, object]]:
    """The running job's value overrides as the user typed them: ``(key, value)`` with the value as
    Hydra's grammar reads it (``yes`` a string, ``true`` a bool), before a structured config converts
    it; group choices, deletions and sweeps are left out.  Empty outside a Hydra job."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.override_parser.overrides_parser import OverridesParser

    if not HydraConfig.initialized():
        return []
    hc = HydraConfig.get()
    groups = set(hc.runtime.choices)
    pairs = []
    for override in OverridesParser.create().parse_overrides(list(hc.overrides.task)):
        if (override.key_or_group in groups or override.is_delete() or override.is_sweep_override()
                or override.package is not None):
            continue
        pairs.append((override.key_or_group, override.value()))
    return pairs
