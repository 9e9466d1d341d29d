"""A resumed or relaunched scoring job never reuses what it should not, and never loses what it
computed: chunks scored on another image file or with force=true are set aside (kept, not
deleted) and recomputed; a damaged roster of a finished job is noticed; an interrupted job
(SIGINT, SIGTERM) saves every computed row and says how to resume, in one line."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import numpy as np
import pytest

from cli import run_cli
from shared_data import shared_data_dir
from test_faults import start_cli, wait_for
from zcnas.roster import Roster, make_rows, read_roster, write_roster
from zcnas.tasks.score import outputs_problem
from zcnas.spaces.nats_tss.space import NATS_TSS


def job_dir(tmp_path: Path) -> Path:
    (result,) = (tmp_path / "outputs").rglob("result.json")
    return result.parent


def result_of(tmp_path: Path) -> dict:
    return json.loads((job_dir(tmp_path) / "result.json").read_text())


# ---- another data file, force=true ----

HOOK = ["task=score", "metric=hook_logdet", "benchmark=none", "indices=[0,1,2]", "batch_size=8", "hardware.threads=1"]


def write_images(target: Path, inverted: bool = False) -> Path:
    """The CIFAR-10 sample as a data file of our own; ``inverted``: the same images, inverted."""
    with np.load(shared_data_dir() / "samples" / "cifar10_sample.npz") as data:
        x = 255 - data["x"] if inverted else data["x"]
        np.savez(target, x=x.astype(np.uint8), y=data["y"])
    return target


@pytest.mark.integration
def test_chunks_scored_on_other_images_are_set_aside_and_force_recomputes(tmp_path):
    data = write_images(tmp_path / "images.npz")
    hook = [*HOOK, f"dataset.data_path={data}"]
    run_cli(tmp_path, *hook)
    job = job_dir(tmp_path)
    first = read_roster(job / "roster.parquet")
    assert len(first.meta["data_sha256"]) == 64  # the roster records the batch it scored

    # a job killed before it finished leaves its chunks but no result; meanwhile its data file
    # was replaced (same path, other images): the relaunch must not reuse the old scores
    (job / "result.json").unlink()
    write_images(data, inverted=True)
    again = run_cli(tmp_path, *hook)
    assert "3 now, 0 resumed" in again.stdout, again.stdout
    assert "scored on another image batch" in again.stdout
    second = read_roster(job / "roster.parquet")
    assert second.meta["data_sha256"] != first.meta["data_sha256"]
    assert all(second.scores()[i] != first.scores()[i] for i in (0, 1, 2))
    (kept,) = job.glob("chunks.superseded-*")  # the old scores are kept, not deleted
    kept_rows = {i: s for p in kept.glob("part-*.parquet") for i, s in read_roster(p).scores().items()}
    assert kept_rows == first.scores()

    # the same images again: it resumes from the chunks
    (job / "result.json").unlink()
    assert "0 now, 3 resumed" in run_cli(tmp_path, *hook).stdout

    # force=true recomputes every row, though the chunks match
    forced = run_cli(tmp_path, *hook, "force=true")
    assert "3 now, 0 resumed" in forced.stdout, forced.stdout
    assert len(list(job.glob("chunks.superseded-*"))) == 2
    assert read_roster(job / "roster.parquet").scores() == second.scores()  # same images, same scores


# ---- a damaged roster of a finished job ----

TINY = ["task=score", "metric=synflow", "benchmark=none", "indices=[0,1,2]", "hardware.threads=1"]


@pytest.mark.integration
def test_outputs_problem_names_a_missing_truncated_or_short_roster(tmp_path):
    run_cli(tmp_path, *TINY)
    job, result = job_dir(tmp_path), result_of(tmp_path)
    roster_path = job / "roster.parquet"
    assert outputs_problem(job, result) is None
    meta = read_roster(roster_path).meta

    roster_path.write_bytes(roster_path.read_bytes()[:500])  # a copy cut short
    assert "unreadable roster.parquet" in outputs_problem(job, result)

    write_roster(roster_path, Roster(make_rows([(0, 1.0, 0.1, "computed"), (1, 2.0, 0.1, "computed")], NATS_TSS), meta))
    assert "of 2 rows where the job scored 3" in outputs_problem(job, result)

    roster_path.unlink()
    assert "no roster.parquet" in outputs_problem(job, result)


@pytest.mark.integration
def test_a_truncated_roster_is_rebuilt_on_relaunch(tmp_path):
    run_cli(tmp_path, *TINY)
    roster_path = job_dir(tmp_path) / "roster.parquet"
    intact = read_roster(roster_path)
    roster_path.write_bytes(roster_path.read_bytes()[:100])
    again = run_cli(tmp_path, *TINY)
    assert "already done" not in again.stdout
    assert "0 now, 3 resumed" in again.stdout  # rebuilt from the job's chunks, nothing rescored
    assert read_roster(roster_path).rows.equals(intact.rows)


# ---- interruptions ----

#: cells of the job to interrupt: synflow takes ~0.01 s a cell on an idle core, so the job must be long
#: enough that the signal lands while it scores (300 cells once finished before it)
CELLS = 2000
#: no chunk is due before the interruption (checkpoint_every)
LONG = ["task=score", "metric=synflow", "benchmark=none", f"sample={CELLS}", "checkpoint_every=5000",
        "hardware.threads=1", "progress=true"]


def rows_reported(log: Path) -> list[int]:
    """The row counts of the status lines (one per row with ZCNAS_STATUS_SECONDS=0)."""
    return [int(n) for n in re.findall(rf"\] score synflow cifar10: (\d+)/{CELLS} ", log.read_text())]


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_job_saves_every_row_and_says_how_to_resume(tmp_path, sig, status):
    log = tmp_path / "run.log"
    proc = start_cli(tmp_path, *LONG, log=log, env={"ZCNAS_STATUS_SECONDS": "0"})
    try:
        wait_for(lambda: len(rows_reported(log)) >= 3, 300, "three scored rows", proc, log)
        proc.send_signal(sig)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert proc.returncode == status, text
    assert "Traceback" not in text and "relaunch" in text, text

    # every row computed before the signal is in the chunks (the signal may land between
    # a row and its status line, so one more row than the last line said may be saved)
    computed = rows_reported(log)[-1]
    saved = sorted(i for p in tmp_path.rglob("chunks/part-*.parquet") for i in read_roster(p).indices)
    assert computed <= len(saved) <= computed + 1 and len(saved) < CELLS, text
    assert f"{len(saved)} rows scored by this run saved in" in text

    again = run_cli(tmp_path, *LONG[:-1])  # the same job: it resumes from the saved rows
    assert f"{CELLS - len(saved)} now, {len(saved)} resumed" in again.stdout
