"""Run one job: compose -> skip if already done -> run the task -> write result.json.

Each job writes exactly one machine-readable result, ``result.json``, in its
output folder (named by what the job is).  A job whose ``result.json`` says
``ok`` is not run again unless ``force=true``.  User errors become one line;
inside a ``-m`` sweep they are recorded in the job's result (status
``failed``) so the rest of the sweep goes on.
"""

from __future__ import annotations

import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

from omegaconf import DictConfig, OmegaConf

import zcnas
from zcnas.errors import ConfigError, ZcnasError
from zcnas.io import read_json, write_json

RESULT_FILE = "result.json"
#: tasks whose finished result is reused on relaunch; the others (merge, import, reports) always rerun
RESUMABLE = ("search", "score")


def _tasks() -> dict[str, tuple[Callable[[DictConfig], dict], Callable[[dict], str]]]:
    from zcnas.aggregate_job import run_aggregate_job, summarize_aggregate
    from zcnas.correlate_job import run_correlate_job, summarize_correlate
    from zcnas.ensemble_study import run_ensembles_job, summarize_ensembles
    from zcnas.roster_jobs import run_import_job, run_merge_job, summarize_import, summarize_merge
    from zcnas.score_job import run_score_job, summarize_score
    from zcnas.search_job import run_search_job, summarize_search

    return {"search": (run_search_job, summarize_search), "score": (run_score_job, summarize_score),
            "merge": (run_merge_job, summarize_merge), "import": (run_import_job, summarize_import),
            "correlate": (run_correlate_job, summarize_correlate),
            "aggregate": (run_aggregate_job, summarize_aggregate),
            "ensembles": (run_ensembles_job, summarize_ensembles)}


def versions() -> dict:
    import torch

    info = {"zcnas": zcnas.__version__, "torch": torch.__version__, "python": platform.python_version(),
            "host": platform.node()}
    # on SLURM: which job ran it and how often it was requeued (preemption / timeout)
    for key in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_RESTART_COUNT"):
        if key in os.environ:
            info[key.lower()] = os.environ[key]
    return info


def run_job(cfg: DictConfig, output_dir: str | Path, multirun: bool = False) -> dict:
    output_dir = Path(output_dir)
    result_path = output_dir / RESULT_FILE
    tasks = _tasks()
    task = str(cfg.task)
    if task not in tasks:
        return _fail(f"unknown task {task!r}; valid: {', '.join(sorted(tasks))}", multirun, result_path, cfg)
    run, summarize = tasks[task]
    output_dir.mkdir(parents=True, exist_ok=True)

    if task in RESUMABLE and result_path.exists() and not cfg.get("force", False):
        try:
            previous = read_json(result_path)
        except (OSError, ValueError):
            previous = {}
        if previous.get("status") == "ok":
            try:
                changed = config_changes(previous.get("config") or {}, OmegaConf.to_container(cfg, resolve=True))
            except Exception:  # a config that does not resolve now: the finished result stands
                changed = []
            if not changed:
                print(f"[zcnas] {result_path} exists: job already done, skipping (force=true reruns it)")
                print(summarize(previous))
                return previous
            # the folder's result is of another configuration (an edited experiment file, say):
            # keep it beside, and run this one
            kept = result_path.with_name(f"result.superseded-{int(time.time())}.json")
            result_path.rename(kept)
            print(f"[zcnas] {result_path} holds a result of another configuration ({', '.join(changed[:4])} "
                  f"differ{'s' if len(changed) == 1 else ''}); kept as {kept.name}, running again")

    started = time.time()
    try:
        check_job_settings(cfg)
        result = run(cfg, output_dir)
    except ZcnasError as exc:
        return _fail(str(exc), multirun, result_path, cfg)
    except Exception as exc:  # a bug or an unexpected failure: keep the sweep alive, record it
        if not multirun:
            raise
        return _fail(f"{type(exc).__name__}: {exc}", multirun, result_path, cfg, traceback.format_exc())
    result = {"status": "ok", **result, "started": started, "versions": versions(),
              "config": OmegaConf.to_container(cfg, resolve=True)}
    write_json(result_path, result)
    print(summarize(result))
    print(f"[zcnas] result written to {result_path}")
    return result


#: settings that do not change a job's result (where it runs, how it reports, where files are)
_NOT_RESULT = ("hardware", "progress", "force", "checkpoint_every", "paths", "sweep_name", "report_dir",
               "sweep_dir", "rosters", "benchmark", "cluster", "hydra")
_PATH_KEYS = ("data_path", "download", "roster", "member_rosters")


def config_changes(previous: dict, current: dict) -> list[str]:
    """Dotted keys whose values differ between two resolved job configs.

    Keys only one of them has are ignored (a setting added since keeps its old behaviour by
    default), and so are settings that leave the result unchanged, and file locations.
    """
    def flat(node, prefix=""):
        if isinstance(node, dict):
            for key, value in node.items():
                if (not prefix and key in _NOT_RESULT) or key in _PATH_KEYS:
                    continue
                yield from flat(value, f"{prefix}{key}.")
        else:
            yield prefix[:-1], node

    old, new = dict(flat(previous)), dict(flat(current))
    return sorted(k for k in old.keys() & new.keys() if old[k] != new[k])


def check_job_settings(cfg: DictConfig) -> None:
    """Settings every task shares; task-specific ones are checked where they are used."""
    for key, low in (("seed", 0), ("batch_size", 1)):
        value = cfg.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"{key} must be an integer >= {low}, got {value!r}")


def _fail(message: str, multirun: bool, result_path: Path, cfg: DictConfig, trace: str | None = None) -> dict:
    record = {"status": "failed", "error": message, "versions": versions(),
              "config": OmegaConf.to_container(cfg, resolve=False)}
    if trace:
        record["traceback"] = trace
    if multirun:
        write_json(result_path, record)
        print(f"error: {message} (recorded in {result_path})", file=sys.stderr)
        return record
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)
