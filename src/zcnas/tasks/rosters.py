"""Roster housekeeping tasks: ``task=merge`` (shards -> one roster) and ``task=import`` (CSV -> roster).

A merge into an existing roster merges *with* it: the existing rows are kept
and the inputs add the architectures it lacks, so a merge never shrinks or
silently replaces a roster (``merge.replace=true`` overwrites it instead).
Each output is locked while it is read and written (``zcnas.filelock``), and
a merge of several (metric, dataset) groups checks every group before it
writes any, so a conflict in one group leaves all outputs as they were.
"""

from __future__ import annotations

import glob
from contextlib import ExitStack
from pathlib import Path

import pyarrow.parquet as pq
from omegaconf import DictConfig

from zcnas.errors import ConfigError, DataError
from zcnas.jobs import ROSTER_FILE
from zcnas.filelock import locked
from zcnas.roster import Roster, identity_conflict, import_csv, merge_rosters, overlap, read_roster, write_roster


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
        meta = read_roster(path).meta  # read_roster guarantees metric and dataset
        groups.setdefault((meta["metric"], meta["dataset"]), []).append(path)
    return groups


def _read_output(output: Path) -> Roster:
    try:
        return read_roster(output)
    except DataError as exc:
        raise DataError(f"{exc} (it is this merge's output; merge.replace=true overwrites it)") from None


def _row_count(path: Path) -> int | None:
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except Exception:  # an unreadable file being replaced: its size does not matter
        return None


def plan_merge(paths: list[Path], output: Path, replace: bool = False) -> tuple[Roster, dict]:
    """The roster that merging ``paths`` into ``output`` gives, and its report; writes nothing.

    Call it holding ``output``'s lock, so that the existing roster read is the one then replaced.
    """
    merged = merge_rosters([(str(p), read_roster(p)) for p in paths])
    report = {"output": str(output), "inputs": len(paths), "metric": merged.meta["metric"],
              "dataset": merged.meta["dataset"], "rows_before": 0, "already_present": 0, "different_score": 0,
              "replaced": False}
    if output.exists() and replace:
        report.update(replaced=True, rows_before=_row_count(output))
    elif output.exists():
        existing = _read_output(output)
        key = identity_conflict(existing.meta, merged.meta)
        if key:
            raise ConfigError(f"{output} holds a roster of {key}={existing.meta[key]!r} but the inputs have "
                              f"{key}={merged.meta[key]!r}; merge into another merge.output_dir, or set "
                              "merge.replace=true to overwrite it")
        present, different = overlap(existing, merged)
        merged = merge_rosters([(str(output), existing), ("the inputs", merged)])  # existing rows first: kept
        report.update(rows_before=len(existing), already_present=present, different_score=different)
    report["rows"] = len(merged)
    return merged, report


def merge_into(paths: list[Path], output: Path, replace: bool = False) -> dict:
    """Merge ``paths`` into ``output`` (with its existing rows unless ``replace``); the report."""
    output = Path(output)
    with locked(output):
        roster, report = plan_merge(paths, output, replace)
        write_roster(output, roster)
    return report


def run_merge_job(cfg: DictConfig, output_dir: Path) -> dict:
    """Merge every roster matching ``merge.inputs`` into ``<merge.output_dir>/<metric>_<dataset>.parquet``."""
    paths = expand(cfg.merge.inputs)
    if not paths:
        raise ConfigError(f"no roster files match merge.inputs={list(cfg.merge.inputs)}")
    replace = cfg.merge.replace
    if not isinstance(replace, bool):
        raise ConfigError(f"merge.replace must be true or false, got {replace!r}")
    out_dir = Path(str(cfg.merge.output_dir)).expanduser()
    groups = {out_dir / f"{metric}_{dataset}.parquet": group
              for (metric, dataset), group in sorted(group_rosters(paths).items())}
    with ExitStack() as stack:
        for output in groups:
            stack.enter_context(locked(output))
        # every group is checked and merged before any is written: a conflict anywhere writes nothing
        planned = {output: plan_merge(group, output, replace) for output, group in groups.items()}
        for output, (roster, _) in planned.items():
            write_roster(output, roster)
    return {"task": "merge", "merged": [report for _, report in planned.values()]}


def _merge_line(m: dict) -> str:
    line = f"merged {m['inputs']} roster(s) of {m['metric']} on {m['dataset']} -> {m['output']}"
    if m.get("replaced"):
        before = "an unreadable file" if m["rows_before"] is None else f"{m['rows_before']} rows"
        return f"{line} (replaced {before} with {m['rows']} rows)"
    line += f" ({m['rows_before']} rows before, {m['rows']} after"
    if m.get("already_present"):
        line += (f"; {m['already_present']} input rows were already there and were kept as they were, "
                 f"{m['different_score']} of them with a different score in the inputs")
    return line + ")"


def summarize_merge(result: dict) -> str:
    return "\n".join(_merge_line(m) for m in result["merged"])


def run_import_job(cfg: DictConfig, output_dir: Path) -> dict:
    src = cfg.source
    if not src.get("path") or not src.get("score_column"):
        raise ConfigError("task=import needs source.path=<file.csv> and source.score_column=<column>")
    roster = import_csv(str(src.path), str(src.score_column), str(cfg.metric.name), str(cfg.dataset.name),
                        src.get("seconds_column"))
    output = Path(str(src.output)).expanduser() if src.get("output") else Path(output_dir) / ROSTER_FILE
    replace = src.replace
    if not isinstance(replace, bool):
        raise ConfigError(f"source.replace must be true or false, got {replace!r}")
    with locked(output):
        # an import never overwrites a roster elsewhere silently (its own job folder's is its own)
        if src.get("output") and output.exists() and not replace:
            raise ConfigError(f"{output} already exists; import into another source.output=..., merge the "
                              "imported roster into it with task=merge, or set source.replace=true to overwrite it")
        write_roster(output, roster)
    return {"task": "import", "output": str(output), "rows": len(roster), "metric": roster.meta["metric"],
            "dataset": roster.meta["dataset"], "non_finite": int((~roster.rows["finite"]).sum())}


def summarize_import(result: dict) -> str:
    return (f"imported {result['rows']} scores of {result['metric']} on {result['dataset']} "
            f"({result['non_finite']} non-finite) -> {result['output']}")
