"""``task=aggregate``: a sweep folder -> tables.md, jobs.csv, cells.csv, figure2.png.

Re-runnable at any time (also on a sweep still running): it only reads the
jobs' result.json files and rewrites the reports.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from zcnas.errors import ConfigError, DataError
from zcnas.io import atomic_write_bytes, write_table
from zcnas.jobs import RESULT_FILE
from zcnas.studies.portable import PathNames
from zcnas.studies.search_tables.report import figure2_png, render_markdown
from zcnas.studies.search_tables.statistics import beyond_rows, cell_summary, collect
from zcnas.tasks import Task

FILES = ("tables.md", "jobs.csv", "cells.csv", "figure2.png")


def run_aggregate_job(cfg: DictConfig, output_dir=None) -> dict:
    sweep_dir = Path(str(cfg.sweep_dir)).expanduser()
    entries = (cfg.get("beyond_the_paper") or {}).get(sweep_dir.name) or []
    beyond = [(str(e.label), Path(str(cfg.paths.root_dir)) / str(e.report)) for e in entries]
    return aggregate_into(sweep_dir, Path(str(cfg.report_dir)).expanduser(), overwrite=cfg.overwrite, beyond=beyond,
                          names=PathNames.of(cfg.paths) if cfg.get("paths") is not None else None)


def read_beyond(entries: list[tuple[str, Path]]) -> list[tuple[str, pd.DataFrame]]:
    """The jobs of other sweeps' reports (label, folder holding their jobs.csv), checked."""
    out = []
    for label, folder in entries:
        path = folder / "jobs.csv"
        try:
            jobs = pd.read_csv(path)
        except FileNotFoundError:
            raise ConfigError(f"beyond_the_paper: {path} not found; aggregate that sweep first "
                              f"(make tables SWEEP={folder.name}) or drop it from conf/task/aggregate.yaml") from None
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise DataError(f"beyond_the_paper: cannot read {path} ({type(exc).__name__}); aggregate that sweep "
                            "again") from None
        missing = {"dataset", "metric", "search", "status", "test_accuracy", "search_seconds", "evaluations",
                   "time_source"} - set(jobs.columns)
        if missing:
            raise DataError(f"beyond_the_paper: {path} lacks columns {', '.join(sorted(missing))}; aggregate that "
                            "sweep again")
        out.append((label, jobs))
    return out


def aggregate_into(sweep_dir: Path, report_dir: Path, overwrite: bool = False,
                   beyond: list[tuple[str, Path]] = (), names: PathNames | None = None) -> dict:
    """The sweep's reports into ``report_dir``; refuses to drop jobs an existing report holds.
    ``beyond``: (label, report folder) of other sweeps shown against the paper's best zero-cost rows;
    ``names``: how tables.md names the sweep folder (default: by its folder name)."""
    frame = collect(sweep_dir, traces=True) if sweep_dir.is_dir() else None
    if frame is None or frame.empty:
        raise ConfigError(f"no search results under sweep_dir={sweep_dir}: run a grid first "
                          "(python run.py -m experiment=paper) or point sweep_dir at its folder")
    jobs = frame.drop(columns="trace")
    if not overwrite:
        check_no_jobs_lost(report_dir / "jobs.csv", jobs)
    cells = cell_summary(frame)
    others = beyond_rows(jobs, read_beyond(list(beyond))) if beyond else None
    shown = names.name(sweep_dir) if names else sweep_dir.name
    atomic_write_bytes(report_dir / "tables.md", render_markdown(jobs, shown, others).encode())
    write_table(report_dir / "jobs.csv", jobs)
    write_table(report_dir / "cells.csv", cells)
    atomic_write_bytes(report_dir / "figure2.png", figure2_png(frame))
    checked = cells[cells["protocol_test_mean"].notna()] if not cells.empty else cells
    return {
        "task": "aggregate",
        "sweep_dir": str(sweep_dir),
        "report_dir": str(report_dir),
        "jobs": len(jobs),
        "ok": int((jobs["status"] == "ok").sum()),
        "failed": int((jobs["status"] != "ok").sum()),
        # result.json files no job wrote as they are (hand-made, edited): counted as failed, never as ok
        "invalid": [f"{j.job}: {j.error}" for j in jobs.itertuples()
                    if str(j.error or "").startswith(f"invalid {RESULT_FILE}")],
        "files": [str(report_dir / name) for name in FILES],
        "beyond_the_paper": [] if others is None else others.to_dict("records"),
        "protocol_misses": [f"{c.dataset} {c.search}: {c.test_mean:.2f} vs {c.protocol_test_mean:.2f}"
                            for c in checked.itertuples() if not c.protocol_ok],
        "cells": cells.to_dict("records"),
    }


def _ok_jobs(frame: pd.DataFrame, key: list[str]) -> set[tuple[str, ...]]:
    def text(value) -> str:  # a seed read back from CSV may be 3 or 3.0
        try:
            return str(int(float(value)))
        except (TypeError, ValueError):
            return str(value)

    rows = frame.loc[frame["status"] == "ok", key]
    return {tuple(text(v) for v in row) for row in rows.itertuples(index=False)}


def check_no_jobs_lost(existing_jobs_csv: Path, jobs: pd.DataFrame) -> None:
    """Reports are rewritten only when every ok job they hold is still there (``overwrite=true``
    lifts this): a small sweep aggregated into the folder of a full grid would replace its tables."""
    if not existing_jobs_csv.is_file():
        return
    try:
        old = pd.read_csv(existing_jobs_csv)
    except (OSError, ValueError, pd.errors.ParserError):
        return  # unreadable reports hold nothing to keep
    key = ["dataset", "metric", "search", "seed"]
    if not set(key) <= set(old.columns) or "status" not in old.columns:
        return
    ok_old, ok_new = _ok_jobs(old, key), _ok_jobs(jobs, key)
    lost = ok_old - ok_new
    if lost:
        raise ConfigError(
            f"{existing_jobs_csv.parent} holds reports of {len(ok_old)} ok jobs, {len(lost)} of which this sweep "
            f"lacks (e.g. {' / '.join(sorted(lost)[0])}); aggregate into another report_dir=..., "
            "or add overwrite=true to replace them")


def summarize_aggregate(result: dict) -> str:
    lines = [f"aggregated {result['jobs']} jobs ({result['ok']} ok, {result['failed']} failed) "
             f"from {result['sweep_dir']}",
             f"  wrote {', '.join(Path(f).name for f in result['files'])} to {result['report_dir']}"]
    lines += [f"  val12 outside the protocol's tolerance: {miss}" for miss in result.get("protocol_misses", [])]
    invalid = result.get("invalid", [])
    lines += [f"  not counted: {line}" for line in invalid[:5]]
    if len(invalid) > 5:
        lines.append(f"  not counted: {len(invalid) - 5} more invalid {RESULT_FILE} files (jobs.csv lists them)")
    return "\n".join(lines)


class AggregateTask(Task):
    """``task=aggregate``: a sweep's searches read back into the paper's tables (``run_aggregate_job``)."""

    def run(self, cfg: DictConfig, output_dir) -> dict:
        return run_aggregate_job(cfg, output_dir)

    def summarize(self, result: dict) -> str:
        return summarize_aggregate(result)
