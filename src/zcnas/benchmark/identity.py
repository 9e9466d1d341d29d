"""Which ground truth a job reads, by path and content, so a finished job can tell when it changed.

``benchmark`` (and the files it points at) is outside a job's folder name (``zcnas.jobs``), yet a
job may depend on the table it reads:

* its result *is* the table's where the metric reads it (``val12``, an ensemble with a val12
  member), where a budget reads HW-NAS-Bench costs (``search.max_cost``), and where a score job
  of a space without an index scores the table's architectures;
* otherwise only the accuracies it reports come from it.

``ground_truth(task, cfg)`` is recorded in ``result.json``; ``stale_parts`` says which recorded
parts no longer match (the runner reruns the job), and ``refresh_accuracies`` rewrites a finished
search's reported accuracies from the table read now.  A file's hash is cached on its path, size
and modification time, so a relaunched sweep hashes each table once.

Plain Python at import: no torch, no Hydra.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: (resolved path, size, mtime_ns) -> sha256 of the content
_HASHES: dict[tuple, str] = {}


def file_identity(path: str | Path) -> dict:
    """``{"path", "sha256"}`` of a file, or ``{"path"}`` alone for a folder (the official release)."""
    path = Path(path).expanduser()
    try:
        stat = path.stat()
    except OSError:
        return {"path": str(path), "missing": True}
    if not path.is_file():
        return {"path": str(path)}
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _HASHES[key] = digest.hexdigest()
    return {"path": str(path), "sha256": _HASHES[key]}


def _get(node, key, default=None):
    try:
        value = node.get(key, default)
    except Exception:  # an interpolation that does not resolve: the job reports it when it runs
        return default
    return default if value is None else value


def _space(cfg):
    """The job's space (its attributes say where its ground truth and costs come from); None when it
    cannot be built here: the job itself reports why when it runs."""
    from zcnas.build import build_space

    try:
        return build_space(cfg)
    except Exception:  # a bad space config, a user's class that fails: the job says so when it runs
        return None


def benchmark_source(cfg) -> str | None:
    """The file (or official folder) the job's ground truth is read from, as ``zcnas.build`` picks it.

    The job's own config names the backend (``benchmark._target_``), which says where it reads from
    (``source``) and whether it reads a space's own table (``space_table``)."""
    from zcnas.benchmark import backend
    from zcnas.plugins import HYDRA_KEYS

    b = _get(cfg, "benchmark") or {}
    cls = backend(b)
    space = _get(cfg, "space") or {}
    if getattr(_space(cfg), "benchmark_group", False):
        source = getattr(cls, "source", None)
        if source is None:
            return None
        try:
            return source(**{str(key): _get(b, key) for key in b.keys() if key not in HYDRA_KEYS})
        except TypeError:  # settings the backend does not take: building it says so in one line
            return None
    if getattr(cls, "space_table", "read") in ("skip", "refuse"):
        return None
    table = _get(space, "table")
    path = _get(b, "path") or (_get(table, "path") if table else None)
    return os.path.expanduser(str(path)) if table and path else None


def ground_truth(task: str, cfg) -> dict:
    """The ground truth a ``search`` or ``score`` job reads: ``benchmark`` (and ``hw_costs`` under a
    budget), each ``{"path", "sha256"}``; empty for other tasks."""
    if task not in ("search", "score"):
        return {}
    found = {}
    source = benchmark_source(cfg)
    if source:
        found["benchmark"] = file_identity(source)
    space = _space(cfg) if task == "search" and _budget(cfg) else None
    if space is not None:
        dataset = str(_get(_get(cfg, "dataset") or {}, "name", ""))
        costs = space.hardware_costs_file(str(_get(cfg, "hw_costs", "")), dataset)
        if costs:
            found["hw_costs"] = file_identity(costs)
    return found


def _budget(cfg) -> bool:
    limits = _get(_get(cfg, "search") or {}, "max_cost") or {}
    try:
        return any(v is not None for v in dict(limits).values())
    except (TypeError, ValueError):
        return False


def result_parts(task: str, cfg) -> set[str]:
    """The parts of ``ground_truth`` that change the job's result, not only its reported accuracies."""
    parts = set()
    metric = _get(cfg, "metric") or {}
    if _reads_benchmark(metric):
        parts.add("benchmark")
    if (task == "score" and _get(cfg, "sample") is None and _get(cfg, "indices") is None
            and not getattr(_space(cfg), "benchmark_group", False)):
        parts.add("benchmark")  # the architectures scored are the table's
    if task == "search" and _budget(cfg):
        parts.add("hw_costs")
    return parts


def _reads_benchmark(metric) -> bool:
    """Whether the configured metric reads its scores from the benchmark (not from a roster)."""
    from zcnas.metrics import metric_class, names
    from zcnas.metrics.base import BENCHMARK

    def needs(m) -> str | None:  # a name of the job's config: its class's declaration
        return metric_class(str(m)).needs if str(m) in names() else None

    if _get(metric, "roster"):
        return False
    name = str(_get(metric, "name", ""))
    if name == "ensemble":
        rosters = _get(metric, "member_rosters") or {}
        members = _get(metric, "members") or []
        return any(str(m) not in rosters and needs(m) == BENCHMARK for m in members)
    return needs(name) == BENCHMARK


def _same(old: dict | None, new: dict | None) -> bool:
    return (old or {}).get("path") == (new or {}).get("path") and (old or {}).get("sha256") == (new or {}).get("sha256")


def stale_parts(previous: dict, current: dict, parts: set[str]) -> tuple[list[str], list[str]]:
    """(parts of ``parts`` whose recorded ground truth differs, the other parts that differ).

    A result without a record (written before it was kept) is stale in every part of ``parts``
    and fresh otherwise: its reported accuracies stand.
    """
    recorded = previous.get("ground_truth")
    if not isinstance(recorded, dict):
        return sorted(parts), []
    changed = [k for k in sorted(set(recorded) | set(current)) if not _same(recorded.get(k), current.get(k))]
    return [k for k in changed if k in parts], [k for k in changed if k not in parts]


def refresh_accuracies(previous: dict, cfg, current: dict) -> dict:
    """A finished search's result with its reported accuracies read from the benchmark now."""
    from zcnas.build import build_benchmark, build_space

    result = dict(previous)
    result["ground_truth"] = current
    if result.get("task") != "search" or not isinstance(result.get("best"), dict):
        return result
    space = build_space(cfg)
    benchmark = build_benchmark(cfg, space)
    dataset = str(result.get("dataset"))
    usable = benchmark.available and benchmark.covers(dataset)
    cache: dict = {}

    def accuracy(text):
        if not usable or text is None:
            return None
        if text not in cache:
            arch = space.from_index(int(text)) if isinstance(text, int) else space.parse(str(text))
            cache[text] = benchmark.accuracy_of(arch, dataset)
        return cache[text]

    best = {k: v for k, v in result["best"].items()
            if k not in ("test_accuracy", "rank", "best_in_space", "accuracy_label", "ranked_among", "accuracy_note")}
    acc = accuracy(best["arch"])
    if acc is not None:
        from zcnas.benchmark.base import ranked_accuracy

        best.update(ranked_accuracy(benchmark, space, dataset, acc))
    elif usable:
        best["test_accuracy"] = None  # not in the benchmark's table (a sample of the space)
    result["best"] = best
    result["benchmark"] = benchmark.description
    trace = result.get("trace")
    if isinstance(trace, dict) and "best_test_accuracy" in trace:
        bests = trace.get("best_index") if space.indexed else trace.get("best_arch")
        if isinstance(bests, list):
            trace = dict(trace)
            trace["best_test_accuracy"] = [accuracy(b) for b in bests]
            result["trace"] = trace
    return result


def finished_ground_truth(task: str, cfg, previous: dict, result_path: Path) -> tuple[list[str], dict]:
    """(what makes a finished result stale, the result to reuse) after comparing its ground truth.

    A change the result depends on is returned, so the job runs again; a change of the accuracies it
    only reports is applied: the result is refreshed from the table read now and written back.
    """
    from zcnas.io import write_json

    current = ground_truth(task, cfg)
    stale, reported = stale_parts(previous, current, result_parts(task, cfg))
    if stale:
        return [f"ground truth {part} (path or content)" for part in stale], previous
    if reported:
        previous = refresh_accuracies(previous, cfg, current)
        write_json(result_path, previous)
        print(f"[zcnas] {result_path}: the ground truth changed ({', '.join(reported)}); reported accuracies "
              f"re-read from {previous.get('benchmark')}")
    return [], previous
