"""What happens when a ``-m`` sweep ends: a summary, merged rosters, aggregated tables.

``SweepReport`` is a Hydra callback (registered under ``hydra.callbacks`` in
``conf/hydra/default.yaml``).  It runs in the process that launched the sweep,
after every job has returned, whichever launcher ran them (in-process, local
submitit processes, SLURM):

1. it reads back every job's ``result.json`` and prints how many jobs are ok,
   were skipped (already done by an earlier launch), failed (with their error)
   or left no result (the job died: killed, out of memory, cancelled);
2. if jobs scored rosters (``task=score``, e.g. the shards of a whole-space
   scoring), it merges them into one roster per (metric, dataset) in
   ``<sweep dir>/rosters/<metric>_<dataset>.parquet`` (``make merge`` redoes it);
3. if jobs ran searches, it aggregates them into tables in ``<sweep dir>/tables/``
   (``python run.py task=aggregate sweep_dir=<sweep dir>`` re-runs it alone).

The jobs of *this* sweep are the job folders that Hydra wrote since the sweep
started: Hydra rewrites ``<job>/.hydra/overrides.yaml`` each time a job starts
(skipped jobs included) and writes ``<sweep dir>/multirun.yaml`` before any job
starts.  Both times come from the same file system, so this holds on a shared
file system too.  Folders left in the same sweep dir by earlier, different
sweeps are left out.

A problem while reporting becomes a one-line warning.  A sweep with failed jobs (or
jobs without a result) ends the command with exit status 1, after the summary: the callback
raises ``SystemExit``, the one exception Hydra's callback runner lets through.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from zcnas.io import read_json
from zcnas.jobs import RESULT_FILE, ROSTER_FILE, job_folders

#: failures listed one by one in the summary
MAX_LISTED = 20


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


@dataclass
class Job:
    name: str  # the job folder, relative to the sweep dir
    path: Path
    state: str  # ok | skipped | failed | missing
    result: dict

    @property
    def task(self) -> str | None:
        task = self.result.get("task") or (self.result.get("config") or {}).get("task")
        return str(task) if task is not None else None

    @property
    def error(self) -> str:
        return str(self.result.get("error", "no result.json (the job died or was cancelled; see its log)"))


def _started_at(folder: Path) -> float | None:
    """When the job last started (Hydra's record), else when it last wrote its result."""
    for marker in (folder / ".hydra" / "overrides.yaml", folder / RESULT_FILE):
        if marker.is_file():
            return marker.stat().st_mtime
    return None


def collect_jobs(sweep_dir: str | Path, since: float | None = None) -> list[Job]:
    """The jobs under ``sweep_dir`` that started at or after ``since`` (all of them if None)."""
    sweep_dir = Path(sweep_dir)
    if since is None:
        marker = sweep_dir / "multirun.yaml"
        since = marker.stat().st_mtime if marker.is_file() else None
    jobs = []
    for folder in job_folders(sweep_dir):
        started = _started_at(folder)
        if since is not None and (started is None or started < since):
            continue  # a job of an earlier sweep into the same folder
        path = folder / RESULT_FILE
        result: dict[str, Any] = {}
        if path.is_file():
            try:
                result = read_json(path)
            except (OSError, ValueError) as exc:
                result = {"status": "failed", "error": f"unreadable {RESULT_FILE} ({type(exc).__name__})"}
            if not isinstance(result, dict):
                result = {"status": "failed", "error": f"unreadable {RESULT_FILE} (not a JSON object)"}
        status = result.get("status")
        if not result:
            state = "missing"
        elif status == "ok":
            state = "skipped" if since is not None and path.stat().st_mtime < since else "ok"
        else:
            state = "failed"
        jobs.append(Job(str(folder.relative_to(sweep_dir)), folder, state, result))
    return jobs


def summary_lines(jobs: list[Job], sweep_dir: str | Path) -> list[str]:
    count = {s: sum(j.state == s for j in jobs) for s in ("ok", "skipped", "failed", "missing")}
    lines = [f"[zcnas] sweep {sweep_dir}: {len(jobs)} job(s): {count['ok']} ok, "
             f"{count['skipped']} skipped (already done), {count['failed']} failed, "
             f"{count['missing']} without result"]
    failed = [j for j in jobs if j.state in ("failed", "missing")]
    for job in failed[:MAX_LISTED]:
        first_line = job.error.strip().splitlines()[0] if job.error.strip() else job.error
        lines.append(f"[zcnas]   FAILED {job.name}: {first_line}")
    if len(failed) > MAX_LISTED:
        lines.append(f"[zcnas]   ... and {len(failed) - MAX_LISTED} more failures (errors in their result.json)")
    if count["failed"] or count["missing"]:
        lines.append("[zcnas]   relaunch the same command to rerun only the failed jobs")
    return lines


def merge_sweep_rosters(jobs: list[Job], sweep_dir: str | Path) -> list[str]:
    """Merge the rosters of the sweep's scoring jobs into ``<sweep_dir>/rosters/``; one line per roster."""
    from zcnas.tasks.rosters import group_rosters, merge_into

    paths = [j.path / ROSTER_FILE for j in jobs
             if j.task == "score" and j.state in ("ok", "skipped") and (j.path / ROSTER_FILE).is_file()]
    if not paths:
        return []
    out_dir = Path(sweep_dir) / "rosters"
    lines = []
    for (metric, dataset), group in sorted(group_rosters(paths).items()):
        output = out_dir / f"{metric}_{dataset}.parquet"
        try:
            merged = merge_into(group, output)
        except Exception as exc:  # e.g. shards of different seeds under one (metric, dataset)
            lines.append(f"[zcnas] warning: rosters of {metric} on {dataset} not merged ({_one_line(exc)})")
            continue
        lines.append(f"[zcnas] merged {merged['inputs']} roster(s) of {metric} on {dataset} "
                     f"({merged['rows']} rows) -> {output}")
    return lines


def aggregate_sweep(jobs: list[Job], sweep_dir: str | Path) -> list[str]:
    """Tables of the sweep's searches in ``<sweep_dir>/tables/`` (what ``task=aggregate`` writes)."""
    from zcnas.studies.search_tables.task import aggregate_into, summarize_aggregate

    if not any(j.task == "search" and j.state in ("ok", "skipped") for j in jobs):
        return []
    result = aggregate_into(Path(sweep_dir), Path(sweep_dir) / "tables")
    rerun = f"python run.py task=aggregate sweep_dir={sweep_dir}"
    return [f"[zcnas] {line.strip()}" for line in summarize_aggregate(result).splitlines()] + [
        f"[zcnas] tables aggregated (rerun: {rerun})"]


def report_sweep(sweep_dir: str | Path, since: float | None = None) -> list[Job]:
    """Summary, roster merge and aggregation for the sweep in ``sweep_dir``; prints as it goes."""
    jobs = collect_jobs(sweep_dir, since)
    for step in (lambda: summary_lines(jobs, sweep_dir), lambda: merge_sweep_rosters(jobs, sweep_dir),
                 lambda: aggregate_sweep(jobs, sweep_dir)):
        try:
            lines = step()
        except Exception as exc:  # one step's problem must not stop the others
            lines = [f"[zcnas] warning: sweep report step failed ({_one_line(exc)})"]
        for line in lines:
            print(line, flush=True)
    return jobs


class SweepReport(Callback):
    """Hydra callback: ``report_sweep`` on the sweep folder when a ``-m`` sweep ends; exit status 1
    when any of its jobs failed or left no result."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            jobs = report_sweep(Path(str(config.hydra.sweep.dir)))
        except Exception as exc:  # a reporting problem is a warning, not a failed sweep
            print(f"[zcnas] warning: no sweep report ({_one_line(exc)})", file=sys.stderr, flush=True)
            return
        if any(j.state in ("failed", "missing") for j in jobs):
            raise SystemExit(1)
