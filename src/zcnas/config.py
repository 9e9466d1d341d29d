"""Hydra/OmegaConf glue: resolvers used by ``conf/`` and the project root."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import OmegaConf

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = PROJECT_ROOT / "conf"


def register_resolvers() -> None:
    # ${zcnas_or:a,b}: a unless empty, else b (a single run with no overrides goes to ".../default").
    if not OmegaConf.has_resolver("zcnas_or"):
        OmegaConf.register_new_resolver("zcnas_or", lambda value, fallback: value if value else fallback)
    if not OmegaConf.has_resolver("zcnas_roster"):
        OmegaConf.register_new_resolver("zcnas_roster", roster_path)
    os.environ.setdefault("ZCNAS_ROOT", str(PROJECT_ROOT))


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


GROUPS = ("dataset", "metric", "search", "hardware", "benchmark", "experiment", "task")


def group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


def check_group_overrides(argv: list[str]) -> str | None:
    """A one-line message for ``group=option`` overrides naming an option that does not exist.

    Hydra reports these too, but over a dozen lines; we check first and say it in one.
    Sweeps (``metric=a,b``) are checked option by option.
    """
    for arg in argv:
        key, sep, value = arg.partition("=")
        key = key.lstrip("+~")
        if not sep or key not in GROUPS or not (CONFIG_DIR / key).is_dir():
            continue
        for option in value.split(","):
            option = option.strip()
            if option and option != "null" and not (CONFIG_DIR / key / f"{option}.yaml").is_file():
                return f"unknown {key} {option!r}; valid: {', '.join(group_options(key))}"
    return None
