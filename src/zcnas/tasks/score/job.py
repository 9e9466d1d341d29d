"""The ``task=score`` job, for one metric or several: select, resume, score, write the rosters.

A single-metric job (the ``metric`` group) writes ``roster.parquet`` and checkpoints in ``chunks/``;
a ``metrics=[...]`` job writes one roster per metric, ``roster_<metric>.parquet``, and checkpoints
in ``chunks/<metric>/``, resumed or set aside per metric, so a relaunch computes, for each
architecture, only the metrics it lacks.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

from omegaconf import DictConfig

from zcnas.build import build_context, configure_hardware
from zcnas.errors import ConfigError, Interrupted
from zcnas.jobs import CHUNK_DIR, ROSTER_FILE
from zcnas.progress import number, progress_bar
from zcnas.roster import Roster, read_roster, space_meta, write_roster
from zcnas.spaces import SearchSpace
from zcnas.tasks import Task
from zcnas.tasks.score.chunks import ChunkWriter, read_chunks, resume_chunks
from zcnas.tasks.score.scorers import build_scorer, metric_names, roster_meta
from zcnas.tasks.score.selection import job_selection


class Layout:
    """Where a job's rosters and chunks are: one metric's at the top of the job folder, several
    metrics' each under its name."""

    def __init__(self, output_dir: Path, several: bool):
        self.output_dir, self.several = Path(output_dir), several
        self.chunk_root = self.output_dir / CHUNK_DIR

    def chunks(self, metric: str) -> Path:
        return self.chunk_root / metric if self.several else self.chunk_root

    def roster(self, metric: str) -> Path:
        return self.output_dir / (roster_file(metric) if self.several else ROSTER_FILE)


def roster_file(metric: str) -> str:
    """The roster of one metric of a several-metric job (``metrics=[...]``), in the job folder."""
    return f"roster_{metric}.parquet"


def checkpoint_every(cfg: DictConfig) -> int:
    every = cfg.checkpoint_every
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ConfigError(f"checkpoint_every must be an integer >= 1 (rows per checkpoint chunk), got {every!r}")
    return every


class ScoreTask(Task):
    """``task=score``: score the selected architectures into rosters, resuming from the job's chunks."""

    resumable = True

    def run(self, cfg: DictConfig, output_dir: Path) -> dict:
        start = time.perf_counter()
        names = metric_names(cfg)  # None: the metric group alone
        every = checkpoint_every(cfg)
        share = bool(cfg.share_isomorphic)
        space, benchmark, rep, keys = job_selection(cfg, share)
        device = configure_hardware(cfg)
        scorer = build_scorer(cfg, names, build_context(cfg, benchmark, device, space))
        for name, metric in scorer.metrics.items():
            if share and metric.needs_benchmark:
                raise ConfigError(f"share_isomorphic=true is not valid for {name}: trained results differ between "
                                  "isomorphic cells")
        metas = {name: roster_meta(cfg, metric, device, space) for name, metric in scorer.metrics.items()}
        layout = Layout(output_dir, several=names is not None)

        # a job SLURM requeued (preemption, time limit) resumes even under force=true: the chunks are its own
        requeued = os.environ.get("SLURM_RESTART_COUNT", "0") not in ("", "0")
        dones = {n: resume_chunks(layout.chunks(n), metas[n], cfg.force and not requeued) for n in metas}
        done_keys = {n: done.keys for n, done in dones.items()}
        todo = {n: [k for k in keys if k not in done_keys[n]] for n in metas}
        resumed = {n: len(done_keys[n] & set(keys)) for n in metas}
        missing = set().union(*(set(t) for t in todo.values()))
        cells = [k for k in keys if k in missing]
        if layout.several:
            print(f"[zcnas] scoring {len(cells)} of {len(keys)} architectures with {', '.join(metas)} "
                  f"({', '.join(f'{n}: {len(todo[n])}' for n in metas)} to score; the rest resumed from "
                  f"{layout.chunk_root})", flush=True)
        else:
            (name,) = metas
            print(f"[zcnas] scoring {len(cells)} of {len(keys)} architectures with {name} "
                  f"({resumed[name]} resumed from {layout.chunks(name)})", flush=True)
        score_rows(scorer, cells, {n: set(t) for n, t in todo.items()}, layout, metas, every, cfg.progress, dones, rep,
                   len(keys), space)

        column = "index" if space.indexed else "arch"
        per_metric = {}
        for name in metas:
            roster = read_chunks(layout.chunks(name), metas[name])
            roster.rows = roster.rows[roster.rows[column].isin(keys)].reset_index(drop=True)
            write_roster(layout.roster(name), roster)
            per_metric[name] = roster_counts(roster, len(todo[name]), resumed[name], layout.roster(name))
        head = {"task": "score", **space_meta(space), "dataset": str(cfg.dataset.name)}
        shape = {"seed": int(cfg.seed), "shard": int(cfg.shard), "num_shards": int(cfg.num_shards),
                 "architectures": len(keys)}
        if not layout.several:
            (name, counts), = per_metric.items()
            return {**head, "metric": name, **shape, **{k: v for k, v in counts.items() if k != "roster"},
                    "wall_seconds": time.perf_counter() - start, "roster": counts["roster"], "roster_meta": metas[name]}
        return {
            **head,
            "metrics": names,
            **shape,
            "scored_now": len(cells),
            "scoring_seconds": sum(m["scoring_seconds"] for m in per_metric.values()),
            "wall_seconds": time.perf_counter() - start,
            "rosters": {n: m["roster"] for n, m in per_metric.items()},
            "per_metric": per_metric,
            "roster_meta": metas,
        }

    def summarize(self, result: dict) -> str:
        return summarize_score(result)

    def outputs_problem(self, output_dir: Path, result: dict) -> str | None:
        return outputs_problem(output_dir, result)


def roster_counts(roster: Roster, scored_now: int, resumed: int, path: Path) -> dict:
    """What a job's result says of one metric's roster."""
    rows = roster.rows
    computed = rows["source"] == "computed"
    return {
        "scored_now": scored_now,
        "resumed_rows": resumed,
        "computed": int(computed.sum()),
        "shared": int((rows["source"] == "shared").sum()),
        "non_finite": int((~rows["finite"]).sum()),
        "scoring_seconds": float(rows["seconds"].sum()),
        "median_seconds": float(rows.loc[computed, "seconds"].median()) if len(rows) else math.nan,
        "roster": str(path),
    }


def score_rows(scorer, cells: list, todo: dict[str, set], layout: Layout, metas: dict[str, dict], every: int,
               progress: bool, dones: dict[str, Roster], rep, total: int, space: SearchSpace) -> None:
    """Score each of ``cells`` by the metrics it lacks (``todo``: metric -> keys), in one
    ``scorer.score_cell`` call; each metric's rows go to its own chunks, all flushed together every
    ``every`` cells (and at least once a minute).

    With ``rep`` (key -> isomorphism class), a class is scored once per metric, on its first member
    (resumed rows included), and its other members get that score with ``source=shared``.

    On an interruption (KeyboardInterrupt, or the runner's ``Interrupted``) every computed row is
    saved first; the exception is then raised again, of the same type, with a message that says
    how many rows were saved where (the runner prints it).  On any other failure the computed rows
    are saved too, and the failure goes on unchanged.
    """
    column = "index" if space.indexed else "arch"
    names = list(metas)
    computed: dict[str, dict] = {n: {} for n in names}  # metric -> class -> score of its first member
    if rep:
        for n in names:
            for key, score, source in dones[n].rows[[column, "score", "source"]].itertuples(index=False):
                if source == "computed":
                    computed[n].setdefault(rep(int(key) if space.indexed else str(key)), float(score))
    writers = {n: ChunkWriter(layout.chunks(n), metas[n], space) for n in names}
    cells_written = cells_pending = 0

    def flush() -> None:
        nonlocal cells_written, cells_pending
        for writer in writers.values():
            writer.flush()
        cells_written += cells_pending
        cells_pending = 0

    label = f"score {','.join(names)} {next(iter(metas.values()))['dataset']}"
    try:
        with progress_bar(len(cells), label, progress) as bar:
            last_flush = time.monotonic()
            for key in cells:
                arch = space.from_key(key)
                lacking = [n for n in names if key in todo[n]]
                shared = {n: computed[n][rep(key)] for n in lacking if rep and rep(key) in computed[n]}
                compute = [n for n in lacking if n not in shared]
                scores = scorer.score_cell(arch, only=compute) if compute else {}
                for n in lacking:
                    if n in shared:
                        score, source, seconds = shared[n], "shared", 0.0
                    else:
                        score, source, seconds = scores[n], "computed", scorer.seconds[n]
                        if rep:
                            computed[n][rep(key)] = score
                    recorded = scorer.recorded_cost(n, arch)
                    writers[n].add(key, score, recorded if recorded is not None else seconds, source)
                cells_pending += 1
                bar.update(1)
                if cells_pending >= every or time.monotonic() - last_flush > 60:
                    flush()
                    last_flush = time.monotonic()
    except (KeyboardInterrupt, Interrupted) as exc:
        flush()
        done_now = total - len(cells) + cells_written
        if layout.several:
            saved = (f"rows of {cells_written} architectures scored by this run saved in {layout.chunk_root}, "
                     f"at least {done_now} of {total} done")
        else:
            saved = (f"{cells_written} rows scored by this run saved in {layout.chunks(names[0])}, "
                     f"{done_now} of {total} done")
        raise type(exc)(saved) from None
    except BaseException:
        flush()  # a failing cell or a bug loses none of the rows before it: a relaunch resumes
        raise
    flush()


def outputs_problem(output_dir: Path, result: dict) -> str | None:
    """Why a finished score job's outputs cannot be trusted, in one line, or None when they can.

    The runner asks before it skips a job as already done: a roster that is missing, unreadable
    (a truncated copy, say) or of another length than ``result["architectures"]`` makes the job
    run again, which rebuilds the roster from its chunks.
    """
    names = result.get("metrics")
    several = isinstance(names, list) and bool(names)
    layout = Layout(output_dir, several)
    for path in [layout.roster(m) for m in names] if several else [layout.roster(str(result.get("metric")))]:
        name = path.name
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


def summarize_score(result: dict) -> str:
    if isinstance(result.get("metrics"), list):
        lines = [f"scored {result['architectures']} architectures with {', '.join(result['metrics'])} on "
                 f"{result['dataset']} (shard {result['shard']}/{result['num_shards']}): {result['scored_now']} "
                 f"scored now, wall {number(result['wall_seconds'], '.1f')} s"]
        for name, m in result["per_metric"].items():
            lines.append(f"  {name}: {m['scored_now']} now, {m['resumed_rows']} resumed, {m['shared']} shared, "
                         f"{m['non_finite']} non-finite, median {number(m['median_seconds'], '.3f')} s share per "
                         f"computed architecture -> {m['roster']}")
        return "\n".join(lines)
    return (
        f"scored {result['architectures']} architectures with {result['metric']} on {result['dataset']} "
        f"(shard {result['shard']}/{result['num_shards']}): {result['scored_now']} now, "
        f"{result['resumed_rows']} resumed, {result['shared']} shared from isomorphic cells, "
        f"{result['non_finite']} non-finite\n"
        f"  median {number(result['median_seconds'], '.3f')} s per computed architecture, "
        f"wall {number(result['wall_seconds'], '.1f')} s\n"
        f"  roster: {result['roster']}"
    )
