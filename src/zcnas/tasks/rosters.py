"""Roster housekeeping tasks: ``task=merge`` (shards -> one roster) and ``task=import`` (CSV -> roster).

A merge into an existing roster merges *with* it: the existing rows are kept
and the inputs add the architectures it lacks, so a merge never shrinks or
silently replaces a roster (``merge.replace=true`` overwrites it instead).
Each output is locked while it is read and written (``zcnas.filelock``), and
a merge of several (metric, dataset) groups checks every group before it
writes any, so a conflict in one group leaves all outputs as they were.
Inputs that score an architecture differently are reported (the first input's
score is kept), and a merge that would leave a roster without rows writes none.

The output's name comes from the rosters' metadata, which ``read_roster`` has
checked (a known metric, a plain dataset name); a roster is read in the job's
own space (``space=``) or in the built-in space it names: a user's space
recorded in a file is compared with the job's, never loaded, so merging the
rosters of a user's space takes ``space=custom space._target_=...`` as scoring them did.
"""

from __future__ import annotations

import glob
from contextlib import ExitStack
from pathlib import Path

import pyarrow.parquet as pq
from omegaconf import DictConfig

from zcnas.errors import ConfigError, DataError
from zcnas.jobs import ROSTER_FILE, safe_name
from zcnas.filelock import locked
from zcnas.roster import (Roster, identity_conflict, import_csv, merge_rosters, overlap, read_roster, score_conflicts,
                          space_identity, space_identity_meta, write_roster)
from zcnas.spaces import SearchSpace, shown_space
from zcnas.tasks import Task


def expand(patterns) -> list[Path]:
    if isinstance(patterns, str):
        patterns = [patterns]
    paths: list[Path] = []
    for pattern in patterns or []:
        paths.extend(Path(p) for p in sorted(glob.glob(str(Path(str(pattern)).expanduser()), recursive=True)))
    return paths


def read_for_job(path: Path, space: SearchSpace | None) -> Roster:
    """``path`` read in the job's ``space`` when the roster records that space, else in the built-in
    space it names.  A roster of a user's space is read only in the job's own (its recorded class is
    compared with the job's, never loaded); with no job space (a sweep's merge) it is refused."""
    roster = read_roster(path)
    if space is None:
        _ = roster.space  # a user's space, which no job configured here: refused
        return roster
    if roster.in_space is None or space_identity(roster.meta) == space_identity(space_identity_meta(space)):
        roster.read_in(space, path)
    return roster


def group_rosters(paths: list[Path], space: SearchSpace | None = None) -> dict[tuple[str, str], list[Path]]:
    groups: dict[tuple[str, str], list[Path]] = {}
    for path in paths:
        meta = read_for_job(path, space).meta  # checked: a known metric and a plain dataset name
        groups.setdefault((meta["metric"], meta["dataset"]), []).append(path)
    return groups


def _read_output(output: Path, space: SearchSpace | None) -> Roster:
    try:
        return read_for_job(output, space)
    except DataError as exc:
        raise DataError(f"{exc} (it is this merge's output; merge.replace=true overwrites it)") from None


def _row_count(path: Path) -> int | None:
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except Exception:  # an unreadable file being replaced: its size does not matter
        return None


def plan_merge(paths: list[Path], output: Path, replace: bool = False,
               space: SearchSpace | None = None) -> tuple[Roster, dict]:
    """The roster that merging ``paths`` into ``output`` gives, and its report; writes nothing.

    Call it holding ``output``'s lock, so that the existing roster read is the one then replaced.
    """
    if output.is_dir():
        raise DataError(f"cannot write the merged roster {output}: a folder of that name is in the way; move it "
                        "away or set merge.output_dir=<another folder>")
    named = [(str(p), read_for_job(p, space)) for p in paths]
    merged = merge_rosters(named)
    conflicts, example = score_conflicts(named)
    report = {"output": str(output), "inputs": len(paths), "metric": merged.meta["metric"],
              "dataset": merged.meta["dataset"], "rows_before": 0, "already_present": 0, "different_score": 0,
              "input_conflicts": conflicts, "input_conflict_example": example, "replaced": False}
    if output.exists() and replace:
        report.update(replaced=True, rows_before=_row_count(output))
    elif output.exists():
        existing = _read_output(output, space)
        key = identity_conflict(existing.meta, merged.meta)
        if key:
            raise ConfigError(f"{output} holds a roster of {key}={existing.meta[key]!r} but the inputs have "
                              f"{key}={merged.meta[key]!r}; merge into another merge.output_dir, or set "
                              "merge.replace=true to overwrite it")
        present, different = overlap(existing, merged)
        merged = merge_rosters([(str(output), existing), ("the inputs", merged)])  # existing rows first: kept
        report.update(rows_before=len(existing), already_present=present, different_score=different)
    if not len(merged):
        raise DataError(f"the rosters to merge into {output} hold no rows ({', '.join(map(str, paths))}): nothing "
                        "to merge, no roster written; score some architectures first (python run.py task=score ...)")
    report["rows"] = len(merged)
    return merged, report


def merge_into(paths: list[Path], output: Path, replace: bool = False, space: SearchSpace | None = None) -> dict:
    """Merge ``paths`` into ``output`` (with its existing rows unless ``replace``); the report."""
    output = Path(output)
    with locked(output):
        roster, report = plan_merge(paths, output, replace, space)
        write_roster(output, roster)
    return report


def output_name(metric: str, dataset: str) -> str:
    """``<metric>_<dataset>.parquet``: one file in merge.output_dir, whatever a roster records."""
    return safe_name(f"{metric}_{dataset}.parquet", "a merged roster's name (from its metric and dataset)")


def run_merge_job(cfg: DictConfig, output_dir: Path) -> dict:
    """Merge every roster matching ``merge.inputs`` into ``<merge.output_dir>/<metric>_<dataset>.parquet``."""
    paths = expand(cfg.merge.inputs)
    if not paths:
        raise ConfigError(f"no roster files match merge.inputs={list(cfg.merge.inputs)}")
    replace = cfg.merge.replace
    if not isinstance(replace, bool):
        raise ConfigError(f"merge.replace must be true or false, got {replace!r}")
    out_dir = Path(str(cfg.merge.output_dir)).expanduser()
    space = _job_space(cfg)
    groups = {out_dir / output_name(metric, dataset): group
              for (metric, dataset), group in sorted(group_rosters(paths, space).items())}
    with ExitStack() as stack:
        for output in groups:
            stack.enter_context(locked(output))
        # every group is checked and merged before any is written: a conflict anywhere writes nothing
        planned = {output: plan_merge(group, output, replace, space) for output, group in groups.items()}
        for output, (roster, _) in planned.items():
            write_roster(output, roster)
    return {"task": "merge", "merged": [report for _, report in planned.values()]}


def _job_space(cfg: DictConfig) -> SearchSpace:
    """The space the job configured (``space=``): the rosters of it are read in it."""
    from zcnas.build import build_space

    return build_space(cfg)


def _merge_line(m: dict) -> str:
    line = f"merged {m['inputs']} roster(s) of {m['metric']} on {m['dataset']} -> {m['output']}"
    if m.get("input_conflicts"):
        conflicts = (f"; {m['input_conflicts']} architecture(s) are scored differently by two inputs, e.g. "
                     f"{m['input_conflict_example']}: the first input's score was kept")
    else:
        conflicts = ""
    if m.get("replaced"):
        before = "an unreadable file" if m["rows_before"] is None else f"{m['rows_before']} rows"
        return f"{line} (replaced {before} with {m['rows']} rows{conflicts})"
    line += f" ({m['rows_before']} rows before, {m['rows']} after"
    if m.get("already_present"):
        line += (f"; {m['already_present']} input rows were already there and were kept as they were, "
                 f"{m['different_score']} of them with a different score in the inputs")
    return line + conflicts + ")"


class MergeTask(Task):
    """``task=merge``: rosters merged into one per (metric, dataset) (``run_merge_job``)."""

    def run(self, cfg: DictConfig, output_dir: Path) -> dict:
        return run_merge_job(cfg, output_dir)

    def summarize(self, result: dict) -> str:
        return "\n".join(_merge_line(m) for m in result["merged"])


class ImportTask(Task):
    """``task=import``: a CSV of published scores turned into a roster of the job's space."""

    def run(self, cfg: DictConfig, output_dir: Path) -> dict:
        src = cfg.source
        if not src.get("path") or not src.get("score_column"):
            raise ConfigError("task=import needs source.path=<file.csv> and source.score_column=<column>")
        replace = src.replace
        if not isinstance(replace, bool):
            raise ConfigError(f"source.replace must be true or false, got {replace!r}")
        csv_path = Path(str(src.path)).expanduser()
        output = Path(str(src.output)).expanduser() if src.get("output") else Path(output_dir) / ROSTER_FILE
        check_import_output(csv_path, output)
        # the roster is of the job's space (space=...): its architectures are read as that space's
        space = _job_space(cfg)
        roster = import_csv(str(csv_path), str(src.score_column), str(cfg.metric.name), str(cfg.dataset.name),
                            src.get("seconds_column"), space=space)
        with locked(output):
            # an import never overwrites a roster elsewhere silently (its own job folder's is its own)
            if src.get("output") and output.exists() and not replace:
                raise ConfigError(f"{output} already exists; import into another source.output=..., merge the "
                                  "imported roster into it with task=merge, or set source.replace=true to overwrite it")
            write_roster(output, roster)
        return {"task": "import", "output": str(output), "rows": len(roster), "metric": roster.meta["metric"],
                "dataset": roster.meta["dataset"], "space": space.name,
                "non_finite": int((~roster.rows["finite"]).sum())}

    def summarize(self, result: dict) -> str:
        space = shown_space(result.get("space"))
        where = f" in space {space}" if space else ""
        return (f"imported {result['rows']} scores of {result['metric']} on {result['dataset']}{where} "
                f"({result['non_finite']} non-finite) -> {result['output']}")


def check_import_output(csv_path: Path, output: Path) -> None:
    """A roster is a parquet file of its own: never the CSV it is read from, never a folder."""
    if output.suffix != ".parquet":
        raise ConfigError(f"source.output={output} would hold a parquet roster under another file type; "
                          "name it <something>.parquet")
    if output.resolve() == csv_path.resolve() or (output.exists() and csv_path.exists()
                                                  and output.samefile(csv_path)):
        raise ConfigError(f"source.output={output} is the CSV being imported (source.path); the import would "
                          "replace its own input, even with source.replace=true: write the roster elsewhere")
    if output.is_dir():
        raise ConfigError(f"source.output={output} is a folder; name a file in it, e.g. {output}/roster.parquet")
