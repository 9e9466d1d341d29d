"""The ``task=aggregate`` job: a sweep folder -> tables.md, jobs.csv, cells.csv, figure2.png.

Re-runnable at any time (also on a sweep still running): it only reads the
jobs' result.json files and rewrites the reports.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from zcnas.aggregate import cell_summary, collect, render_markdown
from zcnas.errors import ConfigError
from zcnas.figures import figure2
from zcnas.io import atomic_write_bytes, write_table

FILES = ("tables.md", "jobs.csv", "cells.csv", "figure2.png")


def run_aggregate_job(cfg: DictConfig, output_dir=None) -> dict:
    sweep_dir = Path(str(cfg.sweep_dir)).expanduser()
    report_dir = Path(str(cfg.report_dir)).expanduser()
    frame = collect(sweep_dir, traces=True) if sweep_dir.is_dir() else None
    if frame is None or frame.empty:
        raise ConfigError(f"no search results under sweep_dir={sweep_dir}: run a grid first "
                          "(python run.py -m experiment=paper) or point sweep_dir at its folder")
    jobs = frame.drop(columns="trace")
    cells = cell_summary(frame)
    atomic_write_bytes(report_dir / "tables.md", render_markdown(jobs, str(sweep_dir)).encode())
    write_table(report_dir / "jobs.csv", jobs)
    write_table(report_dir / "cells.csv", cells)
    figure2(frame, report_dir / "figure2.png")
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


def summarize_aggregate(result: dict) -> str:
    lines = [f"aggregated {result['jobs']} jobs ({result['ok']} ok, {result['failed']} failed) "
             f"from {result['sweep_dir']}",
             f"  wrote {', '.join(Path(f).name for f in result['files'])} to {result['report_dir']}"]
    lines += [f"  val12 outside the protocol's tolerance: {miss}" for miss in result.get("protocol_misses", [])]
    return "\n".join(lines)
