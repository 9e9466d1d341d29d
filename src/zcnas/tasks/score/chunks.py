"""A score job's checkpoints: rows saved as small chunk files, each written atomically, and resumed.

A metric's chunks are ``part-<first key>-<host>-<pid>-<rows before>.parquet`` files in its chunk
folder (``chunks/``, or ``chunks/<metric>/`` in a several-metric job).  Chunks are reused only when
they were scored the way this job scores: the same identity (metric, dataset, seed, batch size,
settings) and, for data-dependent metrics, the same image batch (``data_sha256``).  Otherwise, and
always with ``force=true``, the old chunks are set aside as ``<folder>.superseded-<time>/`` (never
deleted) and scoring starts afresh.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from zcnas.roster import (IDENTITY_DEFAULTS, Roster, identity_conflict, make_rows, merge_rosters, read_roster,
                          write_roster)
from zcnas.spaces import SearchSpace


def chunk_rosters(chunk_dir: Path) -> list[tuple[str, Roster]]:
    """The chunks in ``chunk_dir``, each read checked, with their paths."""
    return [(str(p), read_roster(p)) for p in sorted(chunk_dir.glob("part-*.parquet"))]


def read_chunks(chunk_dir: Path, meta: dict) -> Roster:
    """Every row the chunks hold, as one roster of ``meta``."""
    named = chunk_rosters(chunk_dir)
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
    named = chunk_rosters(chunk_dir)
    why = next((w for _, r in named if (w := chunk_disagreement(r.meta, meta))), None)
    if why:
        set_aside(chunk_dir, why)
        return Roster.empty(meta)
    return merge_rosters(named, expected=meta) if named else Roster.empty(meta)


class ChunkWriter:
    """One metric's rows of this run, written to its chunk folder on ``flush``."""

    def __init__(self, folder: Path, meta: dict, space: SearchSpace):
        self.folder, self.meta, self.space = folder, meta, space
        self.pending: list[tuple] = []  # (key, score, seconds, source)
        self.written = 0  # rows this run has written

    def add(self, key, score: float, seconds: float, source: str) -> None:
        self.pending.append((key, score, seconds, source))

    def flush(self) -> None:
        if not self.pending:
            return
        # the first key names the file; strings (a space without an index) do not name files well
        first = f"{self.pending[0][0]:05d}" if self.space.indexed else f"{self.written:06d}"
        name = f"part-{first}-{socket.gethostname()}-{os.getpid()}-{self.written:06d}.parquet"
        write_roster(self.folder / name, Roster(make_rows(self.pending, self.space), self.meta))
        self.written += len(self.pending)
        self.pending = []
