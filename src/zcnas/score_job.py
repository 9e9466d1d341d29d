"""The ``task=score`` job: score a set of architectures into a roster.

What is scored: the whole space, a seeded random sample of ``sample`` cells,
or an explicit ``indices`` list; then the contiguous shard ``shard`` of
``num_shards``.  Progress is checkpointed as small chunk files (each written
atomically) in ``<job dir>/chunks/``; a killed job leaves at most the rows of
one unfinished chunk unwritten, never a partial row, and a relaunch of the
same job resumes from the chunks.  The finished roster is ``roster.parquet``.

With ``share_isomorphic=true`` each isomorphism class is scored once, on its
lowest-index member in the selection, and the other members get that score
with ``source=shared`` and zero seconds: exact for metrics whose value depends
only on the function a cell computes (val12 does not; see README).  Shards
then split whole classes, so no class is scored twice.
"""

from __future__ import annotations

import math
import os
import socket
import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from zcnas.build import build_benchmark, build_context, build_metric, configure_hardware, device_label
from zcnas.errors import ConfigError
from zcnas.progress import progress_bar
from zcnas.roster import Roster, make_rows, merge_rosters, read_roster, write_roster
from zcnas.space import NUM_CELLS, arch_from_index, representatives, to_cell

ROSTER_FILE = "roster.parquet"


def select_indices(sample: int | None, seed: int, shard: int, num_shards: int,
                   indices: list[int] | None = None, classes: dict[int, int] | None = None) -> list[int]:
    """The architectures of one scoring job, in ascending index order.

    With ``classes`` (index -> class id), shards split whole classes: the
    classes, in order of their lowest selected index, are dealt round-robin
    (cost varies along the index order, so contiguous runs would not balance),
    and a shard holds every selected member of its classes.
    """
    if isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 1:
        raise ConfigError(f"num_shards must be a positive integer, got {num_shards!r}")
    if isinstance(shard, bool) or not isinstance(shard, int) or not 0 <= shard < num_shards:
        raise ConfigError(f"shard must be an integer in 0..{num_shards - 1} (num_shards={num_shards}), got {shard!r}")
    if indices is not None:
        # NATS-Bench indices or architecture strings; bad ones raise a one-line ArchError
        chosen = sorted(set(to_cell(i).index for i in indices))
    elif sample is not None:
        if isinstance(sample, bool) or not isinstance(sample, int) or not 0 < sample <= NUM_CELLS:
            raise ConfigError(f"sample must be an integer in 1..{NUM_CELLS} (or null for the whole space), got {sample!r}")
        chosen = sorted(int(i) for i in np.random.default_rng(seed).choice(NUM_CELLS, sample, replace=False))
    else:
        chosen = list(range(NUM_CELLS))
    if classes is None:
        return [int(i) for i in np.array_split(np.array(chosen, dtype=int), num_shards)[shard]]
    order = list(dict.fromkeys(classes[i] for i in chosen))  # classes by their lowest selected index
    mine = set(order[shard::num_shards])
    return [int(i) for i in chosen if classes[i] in mine]


def roster_meta(cfg: DictConfig, metric, device: str = "cpu") -> dict:
    import torch

    import zcnas

    return {
        "metric": metric.name,
        "dataset": str(cfg.dataset.name),
        "seed": None if metric.needs_benchmark else int(cfg.seed),
        "batch_size": int(cfg.batch_size) if metric.needs_data else None,
        "settings": metric.describe(),
        "share_isomorphic": bool(cfg.get("share_isomorphic", False)),
        "zcnas_version": zcnas.__version__,
        "torch_version": torch.__version__,
        "device": device_label(device),
    }


def read_chunks(chunk_dir: Path, meta: dict) -> Roster:
    named = [(str(p), read_roster(p)) for p in sorted(chunk_dir.glob("part-*.parquet"))]
    return merge_rosters(named, expected=meta) if named else Roster.empty(meta)


def run_score_job(cfg: DictConfig, output_dir: Path) -> dict:
    start = time.perf_counter()
    device = configure_hardware(cfg)
    benchmark = build_benchmark(cfg)
    metric = build_metric(cfg, build_context(cfg, benchmark, device))
    meta = roster_meta(cfg, metric, device)
    share = bool(cfg.get("share_isomorphic", False))
    if share and metric.needs_benchmark:
        raise ConfigError(f"share_isomorphic=true is not valid for {metric.name}: trained results differ between isomorphic cells")
    every = int(cfg.get("checkpoint_every", 50))
    if every < 1:
        raise ConfigError(f"checkpoint_every must be >= 1, got {every}")

    rep = representatives() if share else {}
    indices = select_indices(cfg.get("sample"), int(cfg.seed), cfg.get("shard", 0), cfg.get("num_shards", 1),
                             cfg.get("indices"), classes=rep or None)
    chunk_dir = Path(output_dir) / "chunks"
    done = read_chunks(chunk_dir, meta)
    resumed = len(done.indices & set(indices))
    todo = [i for i in indices if i not in done.indices]
    # class -> score of its first (lowest-index) member in this job, including resumed rows
    computed: dict[int, float] = {}
    if share:
        for index, score, source in done.rows[["index", "score", "source"]].itertuples(index=False):
            if source == "computed":
                computed.setdefault(rep[int(index)], float(score))
    pending: list[tuple[int, float, float, str]] = []
    n_written = 0

    def flush() -> None:
        nonlocal pending, n_written
        if pending:
            name = f"part-{pending[0][0]:05d}-{socket.gethostname()}-{os.getpid()}-{n_written:06d}.parquet"
            write_roster(chunk_dir / name, Roster(make_rows(pending), meta))
            n_written += len(pending)
            pending = []

    label = f"score {metric.name} {meta['dataset']}"
    with progress_bar(len(todo), label, cfg.get("progress", True)) as bar:
        last_flush = time.monotonic()
        for index in todo:
            t0 = time.perf_counter()
            source = "computed"
            if share and rep[index] in computed:
                score, source = computed[rep[index]], "shared"
            else:
                score = metric.score_cell(arch_from_index(index))
                if share:
                    computed[rep[index]] = score
            recorded = metric.recorded_cost(arch_from_index(index))
            seconds = recorded if recorded is not None else (time.perf_counter() - t0 if source == "computed" else 0.0)
            pending.append((index, score, seconds, source))
            bar.update(1)
            if len(pending) >= every or time.monotonic() - last_flush > 60:
                flush()
                last_flush = time.monotonic()
        flush()

    roster = read_chunks(chunk_dir, meta)
    roster.rows = roster.rows[roster.rows["index"].isin(indices)].reset_index(drop=True)
    roster_path = Path(output_dir) / ROSTER_FILE
    write_roster(roster_path, roster)
    rows = roster.rows
    return {
        "task": "score",
        "dataset": meta["dataset"],
        "metric": metric.name,
        "seed": int(cfg.seed),
        "shard": int(cfg.get("shard", 0)),
        "num_shards": int(cfg.get("num_shards", 1)),
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


def summarize_score(result: dict) -> str:
    return (
        f"scored {result['architectures']} architectures with {result['metric']} on {result['dataset']} "
        f"(shard {result['shard']}/{result['num_shards']}): {result['scored_now']} now, "
        f"{result['resumed_rows']} resumed, {result['shared']} shared from isomorphic cells, "
        f"{result['non_finite']} non-finite\n"
        f"  median {result['median_seconds']:.3f} s per computed architecture, wall {result['wall_seconds']:.1f} s\n"
        f"  roster: {result['roster']}"
    )
