"""Run one job: compose -> skip if already done -> run the task -> write result.json.

The task is the class its option names, ``task_class._target_`` in ``conf/task/<name>.yaml``
(docs/plugins.md): only that class is imported.  It runs the job (``run``), says what it found
(``summarize``), says whether a finished result is reused (``resumable``) and whether the files
beside it can be trusted (``outputs_problem``); ``zcnas.tasks.Task`` gives the last two defaults.

Each job writes exactly one machine-readable result, ``result.json``, in its
output folder (named by what the job is: ``zcnas.jobs``).  A job whose
``result.json`` says ``ok``, for the same identity, with its outputs intact, is
not run again unless ``force=true``.  User errors become one line; inside a
``-m`` sweep they are recorded in the job's result (status ``failed``) so the
rest of the sweep goes on.  A single run that fails leaves no folder behind
that holds only Hydra's records.

Before it runs, a job's keys and value types are checked against its YAML
options (``zcnas.schema.check_against_defaults``).  A resumable job holds
``result.json.lock`` in its folder while it runs (``zcnas.filelock``): a second
launch of the same job meanwhile says so in one line and exits 2, without
waiting and without touching the folder.  A lock left by a killed job on this
host is taken over; one from another host names the file to delete.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from zcnas.benchmark.identity import ground_truth
from zcnas.config import CONFIG_DIR, composed_defaults, value_overrides
from zcnas.errors import ConfigError, Interrupted, ZcnasError, debug_enabled, write_error
from zcnas.filelock import LockHeld, acquire, release
from zcnas.io import read_json, write_json
from zcnas.jobs import RESULT_FILE, config_changes
from zcnas.plugins import build, import_target
from zcnas.progress import say
from zcnas.provenance import code_version
from zcnas.schema import (check_against_defaults, check_metric_settings, check_paths, check_settings,
                          check_typed_values)

#: what Hydra writes into a job folder before the job runs, and the lock the job holds while it runs
HYDRA_RECORDS = {".hydra", "run.log", f"{RESULT_FILE}.lock"}

#: what a task class must have: the job, and the lines that say what it found
TASK_METHODS = ("run", "summarize")


def load_task(cfg: DictConfig) -> object:
    """The job's task: the class its option names (``task_class._target_``), imported and built
    (any other key of ``task_class`` a keyword argument).  A missing or unimportable class, or one
    without ``run`` and ``summarize``, is a one-line ``ConfigError``."""
    node = cfg.get("task_class")
    path = node.get("_target_") if isinstance(node, DictConfig) else None
    if not path:
        raise ConfigError(f"task={cfg.get('task')}: its option names no task_class._target_, the class that "
                          "runs it (docs/plugins.md)")
    cls = import_target(str(path), "task_class._target_")
    lacking = [f"{name}()" for name in TASK_METHODS if not callable(getattr(cls, name, None))]
    if not isinstance(cls, type) or lacking:
        what = f"has no {' and no '.join(lacking)}" if isinstance(cls, type) else "is not a class"
        raise ConfigError(f"task_class._target_ {path} {what}: a task class has run(cfg, output_dir) -> dict "
                          "and summarize(result) -> str (docs/plugins.md)")
    settings = {str(k): v for k, v in OmegaConf.to_container(node, resolve=True).items() if k != "_target_"}
    return build(cls, settings, f"task_class {path}")


def resumable(task: object) -> bool:
    """Whether a finished result of the task is reused on relaunch; the others (merge, import, the
    reports) always run again."""
    return bool(getattr(task, "resumable", False))


def versions() -> dict:
    import torch

    from zcnas.metrics.naswot_kernels import chosen
    from zcnas.threads import last_decision

    info = {**code_version(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            # how the count was decided (a number, the default, or auto's load reading) and
            # hook_logdet's C Cᵀ kernel (None: this process computed no such product)
            "threads_policy": (last_decision() or (None, None))[1], "naswot_kernel": chosen(),
            "python": platform.python_version(),
            "host": platform.node()}
    # on SLURM: which job ran it and how often it was requeued (preemption / timeout)
    for key in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_RESTART_COUNT"):
        if key in os.environ:
            info[key.lower()] = os.environ[key]
    return info


def outputs_problem(task: object, output_dir: Path, result: dict) -> str | None:
    """Why a finished job's outputs cannot be trusted (missing, truncated), or None."""
    check = getattr(task, "outputs_problem", None)
    problem = check(output_dir, result) if check is not None else None
    if problem:
        return problem
    try:  # a hand-edited or truncated result lacks what its summary reads (e.g. "best")
        task.summarize(result)
    except Exception as exc:
        return f"is incomplete ({type(exc).__name__}: {exc})"
    return None


def finished_result(task: object, cfg: DictConfig, output_dir: Path) -> dict | None:
    """The job's earlier ``ok`` result if it still answers this job, else None.

    A result of another configuration (an edited experiment file, another data file) or with
    damaged outputs is kept aside as ``result.superseded-<time>.json`` and the job runs again.
    """
    result_path = output_dir / RESULT_FILE
    if not resumable(task) or not result_path.exists() or cfg.force:
        return None
    try:
        previous = read_json(result_path)
    except (OSError, ValueError):
        previous = {}
    if not isinstance(previous, dict) or previous.get("status") != "ok":
        return None
    try:
        changed = config_changes(previous.get("config") or {}, OmegaConf.to_container(cfg, resolve=True))
    except Exception:  # a config that does not resolve now: the finished result stands
        changed = []
    if not changed:  # the ground truth read (tables, HW costs) is compared by content
        from zcnas.benchmark.identity import finished_ground_truth

        changed, previous = finished_ground_truth(str(cfg.task), cfg, previous, result_path)
    if changed:
        why = f"holds a result of another configuration ({', '.join(changed[:4])} differ{'s' if len(changed) == 1 else ''})"
    else:
        why = outputs_problem(task, output_dir, previous)
        if why is None:
            return previous
    kept = result_path.with_name(f"result.superseded-{int(time.time())}.json")
    result_path.rename(kept)
    say(f"[zcnas] {result_path} {why}; kept as {kept.name}, running again")
    return None


def run_job(cfg: DictConfig, output_dir: str | Path, multirun: bool = False) -> dict:
    output_dir = Path(output_dir)
    result_path = output_dir / RESULT_FILE
    try:
        task = load_task(cfg)
        check_settings(cfg)  # before force= is read below
        defaults = composed_defaults()
        if defaults is not None:  # a Hydra job: keys and types as its YAML options declare them
            check_against_defaults(cfg, defaults)
            check_typed_values(value_overrides(), defaults)
            check_paths(cfg, defaults)
        check_metric_settings(cfg, CONFIG_DIR)
        output_dir.mkdir(parents=True, exist_ok=True)
    except ZcnasError as exc:
        _debug_trace()
        return _fail(str(exc), multirun, result_path, cfg)
    except OSError as exc:
        return _fail(write_error(exc, output_dir), multirun, result_path, cfg)
    if not resumable(task):
        return _run(task, cfg, output_dir, multirun)
    # one process at a time in a job folder: a second launch of the same job would redo its work
    try:
        me = acquire(result_path, "the same job is running there")
    except LockHeld as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        if multirun:  # the folder and its result belong to the running job: nothing is written
            return {"status": "failed", "error": str(exc)}
        sys.exit(2)
    try:
        return _run(task, cfg, output_dir, multirun)
    finally:
        release(result_path, me)


def _run(task: object, cfg: DictConfig, output_dir: Path, multirun: bool) -> dict:
    """``run_job`` from the finished-result check on, holding the job folder's lock (resumable tasks)."""
    result_path = output_dir / RESULT_FILE
    try:
        if resumable(task):  # a bad device or thread count is said even when the job is done
            from zcnas.build import check_hardware

            check_hardware(cfg)
        previous = finished_result(task, cfg, output_dir)
    except ZcnasError as exc:
        return _fail(str(exc), multirun, result_path, cfg)
    except OSError as exc:
        return _fail(write_error(exc, output_dir), multirun, result_path, cfg)
    if previous is not None:
        say(f"[zcnas] {result_path} exists: job already done, skipping (force=true reruns it)")
        say(task.summarize(previous))
        return previous

    started = time.time()
    try:
        with _sigterm_interrupts():
            result = task.run(cfg, output_dir)
            if not isinstance(result, dict):
                raise ConfigError(f"task_class._target_ {cfg.task_class._target_}: run() returned "
                                  f"{type(result).__name__}, not a dict (the job's result)")
            result = {"status": "ok", **result, "started": started, "versions": versions(),
                      "config": OmegaConf.to_container(cfg, resolve=True),
                      "ground_truth": ground_truth(str(cfg.task), cfg)}
            write_json(result_path, result)
    except (KeyboardInterrupt, Interrupted) as exc:
        _interrupted(exc, cfg, output_dir)
    except ZcnasError as exc:
        _debug_trace()
        return _fail(str(exc), multirun, result_path, cfg)
    except OSError as exc:  # the output folder is a file, read-only or full
        return _fail(write_error(exc, output_dir), multirun, result_path, cfg)
    except Exception as exc:  # a bug or an unexpected failure: keep the sweep alive, record it
        if not multirun:
            _remove_if_empty(output_dir)
            raise
        return _fail(f"{type(exc).__name__}: {exc}", multirun, result_path, cfg, traceback.format_exc())
    say(task.summarize(result))
    say(f"[zcnas] result written to {result_path}")
    return result


class _sigterm_interrupts:
    """While a job runs, SIGTERM raises ``Interrupted`` (so the job can save its work), unless some
    other handler owns the signal (submitit on SLURM uses it for preemption and requeues the job)."""

    def __enter__(self):
        self.previous = signal.getsignal(signal.SIGTERM)
        if self.previous is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _raise_interrupted)
        return self

    def __exit__(self, *exc) -> None:
        if self.previous is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


_SIGTERM_SEEN = False


def _raise_interrupted(signum, frame) -> None:
    global _SIGTERM_SEEN
    _SIGTERM_SEEN = True
    raise Interrupted("terminated (SIGTERM)")


def _interrupted(exc: BaseException, cfg: DictConfig, output_dir: Path) -> None:
    """One line for an interrupted job, then exit 130 (SIGINT) or 143 (SIGTERM)."""
    detail = str(exc).strip()  # a scoring job says how many rows it saved
    text = f"interrupted ({detail})" if detail else "interrupted"
    print(f"error: {text}; relaunch the same command to resume", file=sys.stderr, flush=True)
    _remove_if_empty(output_dir)
    sys.exit(143 if _SIGTERM_SEEN else 130)


def _debug_trace() -> None:
    """With the debug switch on (``ZCNAS_DEBUG=1``), the traceback behind a one-line error."""
    if debug_enabled():
        traceback.print_exc()


def _remove_if_empty(output_dir: Path) -> None:
    """Remove a job folder that holds nothing but Hydra's records (a run that failed at once)."""
    try:
        entries = {p.name for p in output_dir.iterdir()}
        log = output_dir / "run.log"
        if entries <= HYDRA_RECORDS and (not log.exists() or log.stat().st_size == 0):
            shutil.rmtree(output_dir)
    except OSError:
        pass


def _in_launching_process() -> bool:
    """True for a sweep's job run by Hydra's basic launcher, in the process that prints the summary."""
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.initialized() and HydraConfig.get().runtime.choices.get("hydra/launcher") == "basic"


def _fail(message: str, multirun: bool, result_path: Path, cfg: DictConfig, trace: str | None = None) -> dict:
    record = {"status": "failed", "error": message, "versions": versions(),
              "config": OmegaConf.to_container(cfg, resolve=False)}
    if trace:
        record["traceback"] = trace
    if multirun:
        logging.getLogger("zcnas").error(f"error: {message}")  # the job's run.log (a single run's folder is removed)
        try:
            write_json(result_path, record)
            if not _in_launching_process():  # else the sweep's summary lists it, one line per failed job
                print(f"error: {message} (recorded in {result_path})", file=sys.stderr)
        except OSError:
            print(f"error: {message}", file=sys.stderr)
        return record
    print(f"error: {message}", file=sys.stderr)
    _remove_if_empty(result_path.parent)
    sys.exit(2)
