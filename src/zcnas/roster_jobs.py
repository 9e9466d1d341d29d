"""Roster housekeeping tasks: ``task=merge`` (shards -> one roster) and ``task=import`` (CSV -> roster)."""

from __future__ import annotations

import glob
from pathlib import Path

from omegaconf import DictConfig

from zcnas.errors import ConfigError
from zcnas.roster import import_csv, merge_rosters, read_roster, write_roster


def expand(patterns) -> list[Path]:
    if isinstance(patterns, str):
        patterns = [patterns]
    paths: list[Path] = []
    for pattern in patterns or []:
        paths.extend(Path(p) for p in sorted(glob.glob(str(Path(str(pattern)).expanduser()), recursive=True)))
    return paths


def group_rosters(paths: list[Path]) -> dict[tuple[str, str], list[Path]]:
    groups: dict[tuple[str, str], list[Path]] = {}
    for path in paths:
        meta = read_roster(path).meta
        groups.setdefault((meta.get("metric", "?"), meta.get("dataset", "?")), []).append(path)
    return groups


def merge_into(paths: list[Path], output: Path) -> dict:
    roster = merge_rosters([(str(p), read_roster(p)) for p in paths])
    write_roster(output, roster)
    return {"output": str(output), "inputs": len(paths), "rows": len(roster),
            "metric": roster.meta.get("metric"), "dataset": roster.meta.get("dataset")}


def run_merge_job(cfg: DictConfig, output_dir: Path) -> dict:
    """Merge every roster matching ``merge.inputs`` into ``<merge.output_dir>/<metric>_<dataset>.parquet``."""
    paths = expand(cfg.merge.inputs)
    if not paths:
        raise ConfigError(f"no roster files match merge.inputs={list(cfg.merge.inputs)}")
    out_dir = Path(str(cfg.merge.output_dir)).expanduser()
    merged = [merge_into(group, out_dir / f"{metric}_{dataset}.parquet")
              for (metric, dataset), group in sorted(group_rosters(paths).items())]
    return {"task": "merge", "merged": merged}


def summarize_merge(result: dict) -> str:
    return "\n".join(f"merged {m['inputs']} roster(s) of {m['metric']} on {m['dataset']} -> {m['output']} "
                     f"({m['rows']} rows)" for m in result["merged"])


def run_import_job(cfg: DictConfig, output_dir: Path) -> dict:
    src = cfg.source
    if not src.get("path") or not src.get("score_column"):
        raise ConfigError("task=import needs source.path=<file.csv> and source.score_column=<column>")
    roster = import_csv(str(src.path), str(src.score_column), str(cfg.metric.name), str(cfg.dataset.name),
                        src.get("seconds_column"))
    output = Path(str(src.output)).expanduser() if src.get("output") else Path(output_dir) / "roster.parquet"
    write_roster(output, roster)
    return {"task": "import", "output": str(output), "rows": len(roster), "metric": roster.meta["metric"],
            "dataset": roster.meta["dataset"], "non_finite": int((~roster.rows["finite"]).sum())}


def summarize_import(result: dict) -> str:
    return (f"imported {result['rows']} scores of {result['metric']} on {result['dataset']} "
            f"({result['non_finite']} non-finite) -> {result['output']}")
