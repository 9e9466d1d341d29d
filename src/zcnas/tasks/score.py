"""The ``task=score`` job: score a set of architectures into a roster.

What is scored: the whole space, a seeded random sample of ``sample`` cells,
or an explicit ``indices`` list; then the contiguous shard ``shard`` of
``num_shards``.  In a space without an integer index (NAS-Bench-101) rows are
named by their canonical architecture string; its "whole space" is the
architectures of its ground-truth table, and a sample is drawn with the
space's own sampler.  Progress is checkpointed as small chunk files (each written
atomically) in ``<job dir>/chunks/``; a killed job leaves at most the rows of
one unfinished chunk unwritten, never a partial row, and a relaunch of the
same job resumes from the chunks.  An interrupted job (SIGINT, or SIGTERM
through the runner) first saves every row it computed.  The finished roster
is ``roster.parquet``.

Chunks are reused only when they were scored the way this job scores: the
same identity (metric, dataset, seed, batch size, settings) and, for
data-dependent metrics, the same image batch (``data_sha256``).  Otherwise,
and always with ``force=true``, the old chunks are set aside as
``chunks.superseded-<time>/`` (never deleted) and scoring starts afresh.

With ``share_isomorphic=true`` each isomorphism class is scored once, on its
lowest-index member in the selection, and the other members get that score
with ``source=shared`` and zero seconds: exact for metrics whose value depends
only on the function a cell computes (val12 does not; see README).  Shards
then split whole classes, so no class is scored twice.

Several metrics in one job (``metrics=[hook_logdet,snip,...]``; null, the default, scores the
single ``metric`` group as above): every architecture is scored by all of them at once with
``zcnas.metrics.fused.FusedScorer`` (one network, shared passes, each score equal to the metric's
own), and each metric gets its own roster, ``roster_<metric>.parquet``, with the metadata a
single-metric job of that metric records, and its own chunks, ``chunks/<metric>/``, reused or set
aside per metric, so a relaunch computes, for each architecture, only the metrics it lacks.  Each
metric's settings are those of ``conf/metric/<metric>.yaml`` (the ``metric`` group is not used),
overridden by ``+metric_settings.<metric>.<key>=<value>`` (e.g. ``+metric_settings.zen.repeat=2``).
Each row's ``seconds`` is that metric's share of the architecture's scoring time (the shares of a
computed architecture add up to its wall time; ``FusedScorer``'s docstring says how it is split).
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

import random

from zcnas.build import (as_dict, build_benchmark, build_context, build_metric, build_space, configure_hardware,
                         device_label)
from zcnas.errors import ConfigError, Interrupted
from zcnas.jobs import CHUNK_DIR, ROSTER_FILE
from zcnas.provenance import code_version
from zcnas.progress import number, progress_bar
from zcnas.roster import (IDENTITY_DEFAULTS, Roster, identity_conflict, make_rows, merge_rosters, read_roster,
                          space_meta, write_roster)
from zcnas.spaces import DEFAULT, SearchSpace, make_space
from zcnas.threads import last_decision



def select_indices(sample: int | None, seed: int, shard: int, num_shards: int,
                   indices: list[int] | None = None, classes=None, space: SearchSpace | None = None,
                   table_archs: list[str] | None = None) -> list:
    """The architectures of one scoring job, in ascending order of their keys (the space's index, or
    the canonical string in a space without one; ``table_archs``: such a space's "whole space").

    With ``classes`` (key -> class id), shards split whole classes: the
    classes, in order of their lowest selected index, are dealt round-robin
    (cost varies along the index order, so contiguous runs would not balance),
    and a shard holds every selected member of its classes.
    """
    if isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 1:
        raise ConfigError(f"num_shards must be a positive integer, got {num_shards!r}")
    if isinstance(shard, bool) or not isinstance(shard, int) or not 0 <= shard < num_shards:
        raise ConfigError(f"shard must be an integer in 0..{num_shards - 1} (num_shards={num_shards}), got {shard!r}")
    space = space or make_space(DEFAULT)
    if indices is not None:
        # a string is a Sequence too, but iterating it would read 'abc' as the architecture 'a'
        if isinstance(indices, str) or not isinstance(indices, Sequence):
            raise ConfigError("indices must be a list of NATS-Bench indices or architecture strings, "
                              f"e.g. indices=[0,1,2], got {indices!r}")
        if not indices:
            raise ConfigError("indices must name at least one architecture, e.g. indices=[0,1,2] "
                              "(or leave it null to score a sample or the whole space)")
        # bad entries raise a one-line ArchError
        chosen = sorted(set(space.key(space.to_arch(i)) for i in indices))
    elif sample is not None:
        size = space.size if space.indexed else len(table_archs or ()) or None
        if isinstance(sample, bool) or not isinstance(sample, int) or sample < 1 or (space.indexed and sample > size):
            most = f"1..{space.size}" if space.indexed else ">= 1"
            raise ConfigError(f"sample must be an integer in {most} (or null for the whole space), got {sample!r}")
        if space.indexed:  # NATS-Bench TSS: the same draw as always
            chosen = sorted(int(i) for i in np.random.default_rng(seed).choice(space.size, sample, replace=False))
        else:
            chosen = sorted(distinct_sample(space, sample, seed))
    elif space.indexed:
        chosen = list(range(space.size))
    elif table_archs:
        chosen = sorted(table_archs)
    else:
        raise ConfigError(f"space {space.name} cannot be enumerated and has no ground-truth table: give sample=N "
                          "or indices=[<architecture strings>]")
    if classes is None:
        return [chosen[i] for i in np.array_split(np.arange(len(chosen)), num_shards)[shard]]
    of = classes.__getitem__ if isinstance(classes, Mapping) else classes  # key -> class: a dict or a function
    order = list(dict.fromkeys(of(i) for i in chosen))  # classes by their lowest selected key
    mine = set(order[shard::num_shards])
    return [i for i in chosen if of(i) in mine]


def distinct_sample(space: SearchSpace, n: int, seed: int) -> list[str]:
    """``n`` distinct architectures (canonical strings) from the space's sampler, seeded."""
    rng, found = random.Random(seed), {}
    for _ in range(100 * n):
        arch = space.format(space.sample(rng))
        found.setdefault(arch, None)
        if len(found) == n:
            return list(found)
    raise ConfigError(f"space {space.name}: {100 * n} draws gave only {len(found)} distinct architectures; "
                      f"ask for fewer than sample={n}")


def checkpoint_every(cfg: DictConfig) -> int:
    every = cfg.checkpoint_every
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ConfigError(f"checkpoint_every must be an integer >= 1 (rows per checkpoint chunk), got {every!r}")
    return every


def roster_meta(cfg: DictConfig, metric, device: str = "cpu", space: SearchSpace | None = None) -> dict:
    import torch

    import zcnas

    meta = {
        **space_meta(space or make_space(DEFAULT)),
        "metric": metric.name,
        "dataset": str(cfg.dataset.name),
        "seed": None if metric.needs_benchmark else int(cfg.seed),
        "batch_size": int(cfg.batch_size) if metric.needs_data else None,
        "settings": metric.describe(),
        "share_isomorphic": bool(cfg.share_isomorphic),
        "zcnas_version": zcnas.__version__,
        "code": code_version(),  # git commit and whether the tree was dirty
        "torch_version": torch.__version__,
        "device": device_label(device),
        # floating-point sums can round differently with another thread count (zico by up to 1.4 %);
        # informational, as the two below: shards of other thread counts still merge
        "torch_threads": torch.get_num_threads(),
        "threads_policy": (last_decision() or (None, None))[1],
        # hook_logdet's C Cᵀ kernel (zcnas.kernels): both give the same integers
        "naswot_kernel": None,
    }
    if metric.needs_data:
        # the scores are functions of the image batch: another data file gives other scores
        from zcnas.data.batch import batch_sha256
        from zcnas.kernels import kernel_for

        meta["data_sha256"] = batch_sha256(*metric.context.batch)
        if cfg.dataset.get("batch_seed") is not None:  # the batch was drawn with its own seed
            meta["batch_seed"] = int(cfg.dataset.batch_seed)
        meta["naswot_kernel"] = kernel_for(device)
    return meta


def read_chunks(chunk_dir: Path, meta: dict) -> Roster:
    named = [(str(p), read_roster(p)) for p in sorted(chunk_dir.glob("part-*.parquet"))]
    return merge_rosters(named, expected=meta) if named else Roster.empty(meta)


def chunk_disagreement(chunk_meta: dict, meta: dict) -> str | None:
    """Why rows of a chunk (its metadata ``chunk_meta``) are not rows of this job, or None."""
    meta = json.loads(json.dumps(meta))  # as a chunk stores it (tuples become lists)
    if "data_sha256" in meta and chunk_meta.get("data_sha256") != meta["data_sha256"]:
        if "data_sha256" not in chunk_meta:
            return "they do not record which image batch they were scored on (written by an older zcnas)"
        return "they were scored on another image batch (dataset.data_path or the data file changed)"
    key = identity_conflict(chunk_meta, meta)
    if key:  # a key only one records is space or space_options, whose absence has a meaning
        theirs, mine = {**IDENTITY_DEFAULTS, **chunk_meta}, {**IDENTITY_DEFAULTS, **meta}
        return f"they were scored with {key}={theirs[key]!r}, this job has {key}={mine[key]!r}"
    return None


def set_aside(chunk_dir: Path, why: str) -> None:
    """Move the chunks out of the way, never delete them: they are someone's computed scores."""
    if not chunk_dir.is_dir():
        return
    stamp = int(time.time())
    base = chunk_dir.name  # chunks (one metric), or the metric's folder under chunks/ (several)
    kept = chunk_dir.with_name(f"{base}.superseded-{stamp}")
    n = 1
    while kept.exists():  # twice in one second
        kept, n = chunk_dir.with_name(f"{base}.superseded-{stamp}-{n}"), n + 1
    chunk_dir.rename(kept)
    print(f"[zcnas] not resuming from {chunk_dir}: {why}; kept them as {kept.name}, scoring afresh")


def resume_chunks(chunk_dir: Path, meta: dict, force: bool) -> Roster:
    """The rows this job already scored; chunks of other settings or another batch are set aside first."""
    if force and chunk_dir.is_dir():
        set_aside(chunk_dir, "force=true recomputes every row")
    named = [(str(p), read_roster(p)) for p in sorted(chunk_dir.glob("part-*.parquet"))]
    why = next((w for _, r in named if (w := chunk_disagreement(r.meta, meta))), None)
    if why:
        set_aside(chunk_dir, why)
        return Roster.empty(meta)
    return merge_rosters(named, expected=meta) if named else Roster.empty(meta)


def outputs_problem(output_dir: Path, result: dict) -> str | None:
    """Why a finished score job's outputs cannot be trusted, in one line, or None when they can.

    The runner asks before it skips a job as already done: a roster that is missing, unreadable
    (a truncated copy, say) or of another length than ``result["architectures"]`` makes the job
    run again, which rebuilds the roster from its chunks.
    """
    names = result.get("metrics")
    files = [roster_file(m) for m in names] if isinstance(names, list) and names else [ROSTER_FILE]
    for name in files:
        path = Path(output_dir) / name
        if not path.is_file():
            return f"has no {name} beside it"
        try:
            rows = len(read_roster(path))
        except Exception as exc:  # pyarrow and json raise many types for damaged files
            return f"has an unreadable {name} ({type(exc).__name__})"
        expected = result.get("architectures")
        if rows != expected:
            return f"has a {name} of {rows} rows where the job scored {expected!r}"
    return None


def roster_file(metric: str) -> str:
    """The roster of one metric of a several-metric job (``metrics=[...]``), in the job folder."""
    return f"roster_{metric}.parquet"


def job_selection(cfg: DictConfig, share: bool):
    """(space, benchmark, key -> identity class or None, keys of this shard) of a score job."""
    space = build_space(cfg)
    benchmark = build_benchmark(cfg, space)
    table_archs = None
    if not space.indexed and cfg.get("sample") is None and cfg.get("indices") is None and benchmark.available:
        table_archs = benchmark.archs  # the architectures with ground truth
    rep = space.identity_classes() if share else None
    indices = select_indices(cfg.get("sample"), int(cfg.seed), cfg.shard, cfg.num_shards,
                             cfg.get("indices"), classes=rep, space=space, table_archs=table_archs)
    return space, benchmark, rep, indices


def run_score_job(cfg: DictConfig, output_dir: Path) -> dict:
    names = metric_names(cfg)
    if names is not None:
        return run_fused_score_job(cfg, output_dir, names)
    start = time.perf_counter()
    every = checkpoint_every(cfg)
    share = bool(cfg.share_isomorphic)
    space, benchmark, rep, indices = job_selection(cfg, share)
    device = configure_hardware(cfg)
    metric = build_metric(cfg, build_context(cfg, benchmark, device, space))
    if share and metric.needs_benchmark:
        raise ConfigError(f"share_isomorphic=true is not valid for {metric.name}: trained results differ between isomorphic cells")
    meta = roster_meta(cfg, metric, device, space)

    chunk_dir = Path(output_dir) / CHUNK_DIR
    # a job SLURM requeued (preemption, time limit) resumes even under force=true: the chunks are its own
    requeued = os.environ.get("SLURM_RESTART_COUNT", "0") not in ("", "0")
    done = resume_chunks(chunk_dir, meta, cfg.force and not requeued)
    done_keys = done.keys
    resumed = len(done_keys & set(indices))
    todo = [i for i in indices if i not in done_keys]
    print(f"[zcnas] scoring {len(todo)} of {len(indices)} architectures with {metric.name} "
          f"({resumed} resumed from {chunk_dir})", flush=True)
    score_rows(metric, todo, chunk_dir, meta, every, cfg.progress, done, rep, len(indices), space)

    roster = read_chunks(chunk_dir, meta)
    column = "index" if space.indexed else "arch"
    roster.rows = roster.rows[roster.rows[column].isin(indices)].reset_index(drop=True)
    roster_path = Path(output_dir) / ROSTER_FILE
    write_roster(roster_path, roster)
    rows = roster.rows
    return {
        "task": "score",
        **space_meta(space),
        "dataset": meta["dataset"],
        "metric": metric.name,
        "seed": int(cfg.seed),
        "shard": int(cfg.shard),
        "num_shards": int(cfg.num_shards),
        "architectures": len(indices),
        "scored_now": len(todo),
        "resumed_rows": resumed,
        "computed": int((rows["source"] == "computed").sum()),
        "shared": int((rows["source"] == "shared").sum()),
        "non_finite": int((~rows["finite"]).sum()),
        "scoring_seconds": float(rows["seconds"].sum()),
        "median_seconds": float(rows.loc[rows["source"] == "computed", "seconds"].median()) if len(rows) else math.nan,
        "wall_seconds": time.perf_counter() - start,
        "roster": str(roster_path),
        "roster_meta": meta,
    }


def score_rows(metric, todo: list, chunk_dir: Path, meta: dict, every: int, progress: bool,
               done: Roster, rep, total: int, space: SearchSpace | None = None) -> None:
    """Score ``todo`` into chunks of ``every`` rows (and at least one a minute).

    On an interruption (KeyboardInterrupt, or the runner's ``Interrupted``) every computed row
    is saved first; the exception is then raised again, of the same type, with a message that
    says how many rows were saved where (the runner prints it).  On any other failure the
    computed rows are saved too, and the failure goes on unchanged.
    """
    # class -> score of its first (lowest-index) member in this job, including resumed rows
    space = space or make_space(DEFAULT)
    column = "index" if space.indexed else "arch"
    computed: dict = {}
    if rep:
        for key, score, source in done.rows[[column, "score", "source"]].itertuples(index=False):
            if source == "computed":
                computed.setdefault(rep(int(key) if space.indexed else str(key)), float(score))
    pending: list[tuple[int, float, float, str]] = []
    n_written = 0

    def flush() -> None:
        nonlocal pending, n_written
        if pending:
            first = f"{pending[0][0]:05d}" if space.indexed else f"{n_written:06d}"  # strings do not name files well
            name = f"part-{first}-{socket.gethostname()}-{os.getpid()}-{n_written:06d}.parquet"
            write_roster(chunk_dir / name, Roster(make_rows(pending, space), meta))
            n_written += len(pending)
            pending = []

    label = f"score {metric.name} {meta['dataset']}"
    try:
        with progress_bar(len(todo), label, progress) as bar:
            last_flush = time.monotonic()
            for index in todo:
                t0 = time.perf_counter()
                source = "computed"
                arch = space.from_key(index)
                if rep and rep(index) in computed:
                    score, source = computed[rep(index)], "shared"
                else:
                    score = metric.score_cell(arch)
                    if rep:
                        computed[rep(index)] = score
                recorded = metric.recorded_cost(arch)
                seconds = recorded if recorded is not None else (time.perf_counter() - t0 if source == "computed" else 0.0)
                pending.append((index, score, seconds, source))
                bar.update(1)
                if len(pending) >= every or time.monotonic() - last_flush > 60:
                    flush()
                    last_flush = time.monotonic()
    except (KeyboardInterrupt, Interrupted) as exc:
        flush()
        done_now = total - len(todo) + n_written
        raise type(exc)(f"{n_written} rows scored by this run saved in {chunk_dir}, "
                        f"{done_now} of {total} done") from None
    except BaseException:
        flush()  # a failing cell or a bug loses none of the rows before it: a relaunch resumes
        raise
    flush()


def summarize_score(result: dict) -> str:
    if isinstance(result.get("metrics"), list):
        return summarize_fused_score(result)
    return (
        f"scored {result['architectures']} architectures with {result['metric']} on {result['dataset']} "
        f"(shard {result['shard']}/{result['num_shards']}): {result['scored_now']} now, "
        f"{result['resumed_rows']} resumed, {result['shared']} shared from isomorphic cells, "
        f"{result['non_finite']} non-finite\n"
        f"  median {number(result['median_seconds'], '.3f')} s per computed architecture, "
        f"wall {number(result['wall_seconds'], '.1f')} s\n"
        f"  roster: {result['roster']}"
    )


# --- several metrics in one job (metrics=[...]) ----------------------------------------------------


def metric_names(cfg: DictConfig) -> list[str] | None:
    """The job's ``metrics`` list (registered metric names, each once), or None to score the ``metric`` group."""
    names = cfg.get("metrics")
    if names is None:
        return None
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise ConfigError(f"metrics must be a list of metric names, e.g. 'metrics=[hook_logdet,snip]', got {names!r}")
    names = [str(n) for n in names]
    if not names:
        raise ConfigError("metrics must name at least one metric (or be null to score the metric group)")
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise ConfigError(f"metrics lists {', '.join(doubled)} more than once")
    from zcnas.metrics import metric_spec

    for n in names:
        metric_spec(n)  # an unknown name: one line listing the valid ones
    return names


def metric_settings(cfg: DictConfig, names: list[str]) -> dict[str, dict]:
    """Each metric's settings: its ``conf/metric/<name>.yaml`` (without ``name``), then ``metric_settings.<name>``."""
    from omegaconf import OmegaConf

    from zcnas.config import CONFIG_DIR

    overrides = cfg.get("metric_settings")
    if overrides is not None and not isinstance(overrides, Mapping):
        raise ConfigError(f"metric_settings must map metrics to their settings, e.g. "
                          f"+metric_settings.zen.repeat=2, got {overrides!r}")
    overrides = as_dict(overrides) if overrides is not None else {}
    stray = sorted(set(overrides) - set(names))
    if stray:
        raise ConfigError(f"metric_settings names {', '.join(stray)}, which is not among metrics={names}")
    settings = {}
    for name in names:
        path = CONFIG_DIR / "metric" / f"{name}.yaml"
        base = OmegaConf.to_container(OmegaConf.load(path), resolve=True) if path.is_file() else {}
        base = dict(base or {})
        base.pop("name", None)
        extra = overrides.get(name) or {}
        if not isinstance(extra, Mapping):
            raise ConfigError(f"metric_settings.{name} must map settings to values, got {extra!r}")
        base.update(extra)
        settings[name] = base
    return settings


def run_fused_score_job(cfg: DictConfig, output_dir: Path, names: list[str]) -> dict:
    """``run_score_job`` for several metrics: one ``FusedScorer``, one roster and one chunk folder per metric."""
    from zcnas.metrics.fused import FusedScorer

    start = time.perf_counter()
    every = checkpoint_every(cfg)
    share = bool(cfg.share_isomorphic)
    space, benchmark, rep, indices = job_selection(cfg, share)
    device = configure_hardware(cfg)
    scorer = FusedScorer(names, build_context(cfg, benchmark, device, space), metric_settings(cfg, names))
    for name, metric in scorer.metrics.items():
        if share and metric.needs_benchmark:
            raise ConfigError(f"share_isomorphic=true is not valid for {name}: trained results differ between "
                              "isomorphic cells")
    metas = {name: roster_meta(cfg, scorer.metrics[name], device, space) for name in names}

    chunk_root = Path(output_dir) / CHUNK_DIR
    chunk_dirs = {name: chunk_root / name for name in names}
    requeued = os.environ.get("SLURM_RESTART_COUNT", "0") not in ("", "0")
    dones = {name: resume_chunks(chunk_dirs[name], metas[name], cfg.force and not requeued) for name in names}
    todo = {name: [i for i in indices if i not in dones[name].keys] for name in names}
    resumed = {name: len(dones[name].keys & set(indices)) for name in names}
    missing = set().union(*(set(t) for t in todo.values()))
    cells = [i for i in indices if i in missing]
    print(f"[zcnas] scoring {len(cells)} of {len(indices)} architectures with {', '.join(names)} "
          f"({', '.join(f'{n}: {len(todo[n])}' for n in names)} to score; the rest resumed from {chunk_root})",
          flush=True)
    score_rows_fused(scorer, cells, {n: set(t) for n, t in todo.items()}, chunk_dirs, metas, every, cfg.progress,
                     dones, rep, len(indices), space)

    column = "index" if space.indexed else "arch"
    per_metric, rosters = {}, {}
    for name in names:
        roster = read_chunks(chunk_dirs[name], metas[name])
        roster.rows = roster.rows[roster.rows[column].isin(indices)].reset_index(drop=True)
        path = Path(output_dir) / roster_file(name)
        write_roster(path, roster)
        rows = roster.rows
        rosters[name] = str(path)
        per_metric[name] = {
            "scored_now": len(todo[name]),
            "resumed_rows": resumed[name],
            "computed": int((rows["source"] == "computed").sum()),
            "shared": int((rows["source"] == "shared").sum()),
            "non_finite": int((~rows["finite"]).sum()),
            "scoring_seconds": float(rows["seconds"].sum()),
            "median_seconds": (float(rows.loc[rows["source"] == "computed", "seconds"].median())
                               if len(rows) else math.nan),
            "roster": str(path),
        }
    return {
        "task": "score",
        **space_meta(space),
        "dataset": str(cfg.dataset.name),
        "metrics": names,
        "seed": int(cfg.seed),
        "shard": int(cfg.shard),
        "num_shards": int(cfg.num_shards),
        "architectures": len(indices),
        "scored_now": len(cells),
        "scoring_seconds": sum(m["scoring_seconds"] for m in per_metric.values()),
        "wall_seconds": time.perf_counter() - start,
        "rosters": rosters,
        "per_metric": per_metric,
        "roster_meta": metas,
    }


def score_rows_fused(scorer, cells: list, todo: dict[str, set], chunk_dirs: dict[str, Path], metas: dict[str, dict],
                     every: int, progress: bool, dones: dict[str, Roster], rep, total: int,
                     space: SearchSpace | None = None) -> None:
    """``score_rows`` for several metrics: each cell scored by the metrics it lacks (``todo``), in one
    ``FusedScorer`` call; each metric's rows go to its own chunks, all flushed together every
    ``every`` cells (and at least once a minute), and on any failure or interruption."""
    space = space or make_space(DEFAULT)
    column = "index" if space.indexed else "arch"
    names = list(chunk_dirs)
    computed: dict[str, dict] = {n: {} for n in names}  # metric -> class -> score of its first member
    if rep:
        for n in names:
            for key, score, source in dones[n].rows[[column, "score", "source"]].itertuples(index=False):
                if source == "computed":
                    computed[n].setdefault(rep(int(key) if space.indexed else str(key)), float(score))
    pending: dict[str, list] = {n: [] for n in names}
    written = dict.fromkeys(names, 0)
    cells_written = 0
    cells_pending = 0

    def flush() -> None:
        nonlocal cells_written, cells_pending
        for n in names:
            rows = pending[n]
            if rows:
                first = f"{rows[0][0]:05d}" if space.indexed else f"{written[n]:06d}"
                part = f"part-{first}-{socket.gethostname()}-{os.getpid()}-{written[n]:06d}.parquet"
                write_roster(chunk_dirs[n] / part, Roster(make_rows(rows, space), metas[n]))
                written[n] += len(rows)
                pending[n] = []
        cells_written += cells_pending
        cells_pending = 0

    dataset = next(iter(metas.values()))["dataset"]
    label = f"score {','.join(names)} {dataset}"
    try:
        with progress_bar(len(cells), label, progress) as bar:
            last_flush = time.monotonic()
            for index in cells:
                arch = space.from_key(index)
                lacking = [n for n in names if index in todo[n]]
                shared = {n: computed[n][rep(index)] for n in lacking if rep and rep(index) in computed[n]}
                compute = [n for n in lacking if n not in shared]
                scores = scorer.score_cell(arch, only=compute) if compute else {}
                for n in lacking:
                    if n in shared:
                        score, source, seconds = shared[n], "shared", 0.0
                    else:
                        score, source, seconds = scores[n], "computed", scorer.seconds[n]
                        if rep:
                            computed[n][rep(index)] = score
                    recorded = scorer.recorded_cost(n, arch)
                    pending[n].append((index, score, recorded if recorded is not None else seconds, source))
                cells_pending += 1
                bar.update(1)
                if cells_pending >= every or time.monotonic() - last_flush > 60:
                    flush()
                    last_flush = time.monotonic()
    except (KeyboardInterrupt, Interrupted) as exc:
        flush()
        done_now = total - len(cells) + cells_written
        raise type(exc)(f"rows of {cells_written} architectures scored by this run saved in "
                        f"{Path(next(iter(chunk_dirs.values()))).parent}, at least {done_now} of {total} "
                        "done") from None
    except BaseException:
        flush()  # a failing cell or a bug loses none of the rows before it: a relaunch resumes
        raise
    flush()


def summarize_fused_score(result: dict) -> str:
    lines = [f"scored {result['architectures']} architectures with {', '.join(result['metrics'])} on "
             f"{result['dataset']} (shard {result['shard']}/{result['num_shards']}): {result['scored_now']} "
             f"scored now, wall {number(result['wall_seconds'], '.1f')} s"]
    for name, m in result["per_metric"].items():
        lines.append(f"  {name}: {m['scored_now']} now, {m['resumed_rows']} resumed, {m['shared']} shared, "
                     f"{m['non_finite']} non-finite, median {number(m['median_seconds'], '.3f')} s share per "
                     f"computed architecture -> {m['roster']}")
    return "\n".join(lines)
