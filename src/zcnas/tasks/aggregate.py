"""``task=aggregate``: a sweep folder -> tables.md, jobs.csv, cells.csv, figure2.png.

Re-runnable at any time (also on a sweep still running): it only reads the
jobs' result.json files and rewrites the reports.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from zcnas.analysis.search_tables import cell_summary, collect
from zcnas.errors import ConfigError
from zcnas.io import atomic_write_bytes, write_table
from zcnas.reports.figures import figure2_png
from zcnas.reports.search_tables import render_markdown

FILES = ("tables.md", "jobs.csv", "cells.csv", "figure2.png")


def run_aggregate_job(cfg: DictConfig, output_dir=None) -> dict:
    return aggregate_into(Path(str(cfg.sweep_dir)).expanduser(), Path(str(cfg.report_dir)).expanduser(),
                          overwrite=cfg.overwrite)


def aggregate_into(sweep_dir: Path, report_dir: Path, overwrite: bool = False) -> dict:
    """The sweep's reports into ``report_dir``; refuses to drop jobs an existing report holds."""
    frame = collect(sweep_dir, traces=True) if sweep_dir.is_dir() else None
    if frame is None or frame.empty:
        raise ConfigError(f"no search results under sweep_dir={sweep_dir}: run a grid first "
                          "(python run.py -m experiment=paper) or point sweep_dir at its folder")
    jobs = frame.drop(columns="trace")
    if not overwrite:
        check_no_jobs_lost(report_dir / "jobs.csv", jobs)
    cells = cell_summary(frame)
    atomic_write_bytes(report_dir / "tables.md", render_markdown(jobs, str(sweep_dir)).encode())
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
        "files": [str(report_dir / name) for name in FILES],
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
    return "\n".join(lines)
