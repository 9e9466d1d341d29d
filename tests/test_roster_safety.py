"""Rosters are never lost or silently changed: merges keep existing rows and lock their output,
a merge of several groups is all-or-nothing, every read checks the file, imports parse exactly.

Most tests go through the real CLI (``python run.py task=merge|import ...``), where users hit them.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cli import ROOT, run_cli
from zcnas.errors import ConfigError, DataError
from zcnas.filelock import LockHeld, acquire, lock_path, locked, release
from zcnas.metrics import metric_class
from zcnas.metrics.base import ScoringContext
from zcnas.metrics.from_roster import RosterScores
from zcnas.roster import (Roster, check_compatible, import_csv, make_rows, read_roster, write_roster)
from zcnas.tasks.rosters import merge_into
from zcnas.spaces.nats_tss.cells import arch_from_index
from zcnas.spaces.nats_tss.space import NATS_TSS

COMMITTED = ROOT / "results" / "rosters"
META = {"metric": "synflow", "dataset": "cifar10", "seed": 0, "batch_size": None, "settings": {"name": "synflow"}}


def error_line(proc) -> str:
    """The one-line error of a failed CLI run (status 2, no traceback)."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def roster_file(path: Path, rows, meta=META) -> Path:
    write_roster(path, Roster(make_rows(rows, NATS_TSS), dict(meta)))
    return path


def merge(tmp_path, inputs: Path, out: Path, *extra):
    return run_cli(tmp_path, "task=merge", f"merge.inputs=[{inputs}/*.parquet]", f"merge.output_dir={out}",
                   *extra, check=False)


@pytest.fixture
def whole_space(tmp_path) -> Path:
    """A copy of the committed whole-space synflow roster as the merge's existing output."""
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(COMMITTED / "synflow_cifar10.parquet", out)
    return out / "synflow_cifar10.parquet"


# ---------------------------------------------------------------- merging into an existing roster

@pytest.mark.integration
def test_sample_sweep_then_merge_keeps_the_whole_space_roster(tmp_path):
    """The audit: `run.py -m task=score sample=5` then `run.py task=merge` replaced 15,625 rows with 5."""
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(COMMITTED / "params_cifar10.parquet", out)
    before = read_roster(out / "params_cifar10.parquet")
    run_cli(tmp_path, "-m", "task=score", "metric=params", "dataset=cifar10", "sample=5")
    proc = run_cli(tmp_path, "task=merge", f"merge.output_dir={out}")  # merge.inputs: its default
    after = read_roster(out / "params_cifar10.parquet")
    pd.testing.assert_frame_equal(after.rows, before.rows)
    assert "(15625 rows before, 15625 after; 5 input rows were already there" in proc.stdout
    result = json.loads(next((tmp_path / "outputs").rglob("result.json")).read_text())
    (report,) = result["merged"]
    assert report["rows_before"] == report["rows"] == 15625 and report["already_present"] == 5


@pytest.mark.integration
def test_merge_adds_rows_and_reports_the_ones_already_there(tmp_path, whole_space):
    existing = read_roster(whole_space)
    small = Roster(existing.rows.iloc[:4].copy(), existing.meta)
    small.rows.loc[[0, 1], "score"] = [1.0, 2.0]  # two rows disagree with the existing roster
    (tmp_path / "in").mkdir()
    write_roster(tmp_path / "in" / "shard.parquet", small)
    proc = merge(tmp_path, tmp_path / "in", whole_space.parent)
    assert proc.returncode == 0, proc.stderr
    assert ("(15625 rows before, 15625 after; 4 input rows were already there and were kept as they were, "
            "2 of them with a different score in the inputs)") in proc.stdout
    pd.testing.assert_frame_equal(read_roster(whole_space).rows, existing.rows)  # the existing rows won


def test_merge_into_an_existing_partial_roster_is_a_union(tmp_path):
    """What a relaunched sweep does: re-merge its shards into its own existing rosters."""
    out = tmp_path / "rosters" / "synflow_cifar10.parquet"
    a = roster_file(tmp_path / "a.parquet", [(1, 1.0, 0.1, "computed"), (2, 2.0, 0.1, "computed")])
    b = roster_file(tmp_path / "b.parquet", [(3, 3.0, 0.1, "computed")])
    first = merge_into([a], out)
    assert (first["rows_before"], first["rows"]) == (0, 2)
    second = merge_into([a, b], out)
    assert (second["rows_before"], second["rows"], second["already_present"], second["different_score"]) == (2, 3, 2, 0)
    assert read_roster(out).indices == {1, 2, 3}
    assert not lock_path(out).exists()


@pytest.mark.integration
def test_merge_refuses_an_existing_roster_of_other_settings(tmp_path, whole_space):
    original = whole_space.read_bytes()
    (tmp_path / "in").mkdir()
    roster_file(tmp_path / "in" / "s.parquet", [(1, 1.0, 0.1, "computed")], {**META, "seed": 1})
    line = error_line(merge(tmp_path, tmp_path / "in", whole_space.parent))
    assert line == (f"error: {whole_space} holds a roster of seed=0 but the inputs have seed=1; merge into another "
                    "merge.output_dir, or set merge.replace=true to overwrite it")
    assert whole_space.read_bytes() == original and not lock_path(whole_space).exists()


@pytest.mark.integration
def test_merge_replace_true_overwrites(tmp_path, whole_space):
    (tmp_path / "in").mkdir()
    roster_file(tmp_path / "in" / "s.parquet", [(1, 1.0, 0.1, "computed")], {**META, "seed": 1})
    proc = merge(tmp_path, tmp_path / "in", whole_space.parent, "merge.replace=true")
    assert proc.returncode == 0, proc.stderr
    assert "(replaced 15625 rows with 1 rows)" in proc.stdout
    assert len(read_roster(whole_space)) == 1 and read_roster(whole_space).meta["seed"] == 1


@pytest.mark.integration
def test_a_conflict_in_one_group_writes_no_group(tmp_path):
    inputs, out = tmp_path / "in", tmp_path / "out"
    params = {**META, "metric": "params", "settings": {"name": "params"}}
    roster_file(inputs / "a_params.parquet", [(1, 1.0, 0.1, "computed")], params)  # fine on its own
    roster_file(inputs / "b_seed0.parquet", [(1, 1.0, 0.1, "computed")])
    roster_file(inputs / "c_seed1.parquet", [(2, 1.0, 0.1, "computed")], {**META, "seed": 1})
    line = error_line(merge(tmp_path, inputs, out))
    assert "seed=1" in line and "cannot be mixed" in line
    assert not out.exists() or not list(out.iterdir())  # not even params_cifar10.parquet, nor a lock


def test_merge_replace_must_be_a_boolean(tmp_path, compose_cfg):
    from zcnas.tasks.rosters import run_merge_job

    roster_file(tmp_path / "in" / "a.parquet", [(1, 1.0, 0.1, "computed")])
    cfg = compose_cfg("task=merge", f"merge.inputs=[{tmp_path}/in/*.parquet]", f"merge.output_dir={tmp_path}/out",
                      "merge.replace=yes")
    with pytest.raises(ConfigError, match="merge.replace must be true or false"):
        run_merge_job(cfg, tmp_path / "job")


# ---------------------------------------------------------------- the output's lock

@pytest.mark.integration
def test_merge_refuses_while_another_process_holds_the_lock(tmp_path, whole_space):
    original = whole_space.read_bytes()
    holder = {"host": socket.gethostname(), "pid": os.getpid(), "time": time.time()}  # alive: this process
    lock_path(whole_space).write_text(json.dumps(holder))
    (tmp_path / "in").mkdir()
    roster_file(tmp_path / "in" / "s.parquet", [(1, 1.0, 0.1, "computed")])
    line = error_line(merge(tmp_path, tmp_path / "in", whole_space.parent))
    assert f"{whole_space} is locked by process {os.getpid()} on host {socket.gethostname()} since " in line
    assert "retry when it has finished" in line
    assert whole_space.read_bytes() == original and json.loads(lock_path(whole_space).read_text()) == holder


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_lock_left_by_a_dead_process_of_this_host_is_taken_over(tmp_path):
    out = tmp_path / "synflow_cifar10.parquet"
    lock_path(out).write_text(json.dumps({"host": socket.gethostname(), "pid": dead_pid(), "time": 0.0}))
    a = roster_file(tmp_path / "a.parquet", [(1, 1.0, 0.1, "computed")])
    assert merge_into([a], out)["rows"] == 1
    assert not lock_path(out).exists() and not list(tmp_path.glob("*.stale.*"))


def test_a_lock_of_another_host_or_unreadable_is_held(tmp_path):
    out = tmp_path / "r.parquet"
    lock_path(out).write_text(json.dumps({"host": "elsewhere", "pid": dead_pid(), "time": 0.0}))
    with pytest.raises(LockHeld, match="on host elsewhere since .*delete .*r.parquet.lock if that process is gone"):
        acquire(out)
    lock_path(out).write_text("")  # a lock being written right now
    with pytest.raises(LockHeld, match="an unknown process"):
        acquire(out)


def test_a_requeued_slurm_job_takes_over_its_own_lock_from_another_node(tmp_path, monkeypatch):
    """SLURM runs one instance of a job at a time: a lock of the same job and array task is stale."""
    out = tmp_path / "r.parquet"
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    monkeypatch.delenv("SLURM_ARRAY_JOB_ID", raising=False)
    lock_path(out).write_text(json.dumps({"host": "node-b", "pid": 1, "time": 0.0, "slurm_job": "4242_3"}))
    me = acquire(out)
    assert me["slurm_job"] == "4242_3" and json.loads(lock_path(out).read_text()) == me
    lock_path(out).write_text(json.dumps({"host": "node-b", "pid": 1, "time": 0.0, "slurm_job": "4242_4"}))
    with pytest.raises(LockHeld, match="on host node-b"):  # another array task of the sweep
        acquire(out)


def test_of_threads_racing_for_the_lock_exactly_one_wins(tmp_path):
    out = tmp_path / "r.parquet"
    barrier, won, lost = threading.Barrier(8), [], []

    def race():
        barrier.wait()
        try:
            won.append(acquire(out))
        except LockHeld:
            lost.append(1)

    threads = [threading.Thread(target=race) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(lost) == 7
    release(out, won[0])
    with locked(out):  # free again
        assert lock_path(out).exists()
    assert not lock_path(out).exists()


# ---------------------------------------------------------------- every read checks the roster

def write_raw(path: Path, frame: pd.DataFrame, meta: dict | None = META) -> Path:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if meta is not None:
        table = table.replace_schema_metadata({b"zcnas": json.dumps(meta).encode()})
    pq.write_table(table, path)
    return path


def good_frame(n=3) -> pd.DataFrame:
    return make_rows([(i, float(i), 0.1, "computed") for i in range(n)], NATS_TSS)


@pytest.mark.parametrize("change, message", [
    (lambda f: f.assign(index=[0, 1, 1], arch=[str(arch_from_index(i)) for i in (0, 1, 1)]),
     r"has more than one row for architecture 1 \(row 3\); it is damaged"),
    (lambda f: f.assign(index=[0, 1, 15625]), r"row 3: index 15625 is outside 0..15624"),
    (lambda f: f.assign(index=[0.0, 1.0, 2.0]), "column 'index' holds float64 values, not integers"),
    (lambda f: f.assign(arch=[str(arch_from_index(5))] * 3), r"row 1: arch '.*' is not architecture 0"),
    (lambda f: f.assign(arch=pd.array([str(arch_from_index(0)), None, None], dtype="string")),
     r"row 2: arch \(empty\) is not architecture 1"),
    (lambda f: f.assign(score=["1", "2", "x"]), "column 'score' holds .* values, not numbers"),
    (lambda f: f.assign(seconds=["1", "2", "x"]), "column 'seconds' holds .* values, not numbers"),
])
def test_damaged_rosters_are_refused_on_read(tmp_path, change, message):
    path = write_raw(tmp_path / "r.parquet", change(good_frame()))
    with pytest.raises(DataError, match=message) as err:
        read_roster(path)
    assert "\n" not in str(err.value)


def test_a_parquet_without_zcnas_metadata_is_refused(tmp_path):
    path = write_raw(tmp_path / "foreign.parquet", good_frame(), meta=None)
    with pytest.raises(DataError) as err:
        read_roster(path)
    assert str(err.value) == (f"roster {path} has no zcnas metadata (not written by zcnas); import its scores from a "
                              "CSV with python run.py task=import source.path=<file.csv> source.score_column=<column> "
                              "metric=<metric> dataset=<dataset>")
    write_raw(path, good_frame(), meta={"seed": 0})
    with pytest.raises(DataError, match="does not record its metric and dataset"):
        read_roster(path)


@pytest.mark.integration
def test_merging_a_foreign_parquet_is_a_one_line_error(tmp_path):
    (tmp_path / "in").mkdir()
    write_raw(tmp_path / "in" / "foreign.parquet", good_frame(), meta=None)
    assert "has no zcnas metadata (not written by zcnas)" in error_line(merge(tmp_path, tmp_path / "in", tmp_path / "o"))


def test_check_compatible_requires_the_metric_and_dataset():
    expected = {"metric": "synflow", "dataset": "cifar10"}
    bare = Roster(make_rows([(1, 1.0, 0.0, "computed")], NATS_TSS), {})
    with pytest.raises(DataError, match="roster bare does not record its metric and dataset"):
        check_compatible([("bare", bare)], expected)
    other = Roster(bare.rows, {"metric": "snip", "dataset": "cifar10"})
    with pytest.raises(ConfigError, match="roster other has metric='snip' but the job has metric='synflow'"):
        check_compatible([("other", other)], expected)


def ctx():
    return ScoringContext(dataset="cifar10", num_classes=10, input_size=32, seed=0)


def test_a_search_refuses_a_roster_without_finite_scores(tmp_path):
    path = roster_file(tmp_path / "nan.parquet", [(1, math.nan, 0.1, "computed"), (2, math.inf, 0.1, "computed")])
    with pytest.raises(DataError, match=r"has no finite score \(none of its 2 rows: all NaN or infinite, or no rows\)"):
        RosterScores(metric_class("synflow"), ctx(), str(path), {"metric": "synflow", "dataset": "cifar10"})
    for_cifar100 = {"metric": "synflow", "dataset": "cifar100"}
    with pytest.raises(ConfigError, match="dataset='cifar10' but the job has dataset='cifar100'"):
        RosterScores(metric_class("synflow"), ctx(), str(path), for_cifar100)


def test_ensemble_member_rosters_are_checked(tmp_path):
    from zcnas.metrics import make_metric

    frame = good_frame().assign(index=[0, 1, 1], arch=[str(arch_from_index(i)) for i in (0, 1, 1)])
    bad = write_raw(tmp_path / "syn.parquet", frame)
    good = roster_file(tmp_path / "hook.parquet", [(0, 1.0, 0.1, "computed"), (1, 2.0, 0.1, "computed")],
                       {"metric": "hook_logdet", "dataset": "cifar10"})
    with pytest.raises(DataError, match="more than one row for architecture 1"):
        make_metric("ensemble", ctx(), members=["hook_logdet", "synflow"], weights=None,
                    member_rosters={"hook_logdet": str(good), "synflow": str(bad)})


def committed_rosters() -> list[Path]:
    return sorted(COMMITTED.glob("*.parquet")) + sorted((COMMITTED / "sample1000").glob("*.parquet"))


def test_every_committed_roster_loads():
    paths = committed_rosters()
    assert len(paths) >= 60
    for path in paths:
        roster = read_roster(path)
        assert path.name == f"{roster.meta['metric']}_{roster.meta['dataset']}.parquet"
        assert len(roster) == (1000 if path.parent.name == "sample1000" else 15625)
        assert roster.rows["finite"].any()


# ---------------------------------------------------------------- CSV import parses every cell exactly

def import_cli(tmp_path, text: str, *extra):
    path = tmp_path / "scores.csv"
    path.write_text(text)
    return path, run_cli(tmp_path, "task=import", "metric=synflow", "dataset=cifar10", f"source.path={path}",
                         "source.score_column=score", *extra, check=False)


@pytest.mark.integration
@pytest.mark.parametrize("text, extra, message", [
    ("index,score\n1,0.5\n2,abc\n", [],
     "line 3, column 'score': 'abc' is not a number (non-finite scores are written nan, inf or -inf)"),
    ("index,score\n2.5,0.5\n", [], "line 2, column 'index': an architecture index must be an integer 0..15624, got '2.5'"),
    ("index,score\n", [], "has a header but no data rows: nothing to import"),
    ("index,score,t\n1,0.5,1.0\n2,0.5,slow\n", ["source.seconds_column=t"],
     "line 3, column 't': 'slow' is not a number (seconds must be a number >= 0)"),
])
def test_import_refuses_what_it_cannot_read_exactly(tmp_path, text, extra, message):
    path, proc = import_cli(tmp_path, text, *extra)
    assert error_line(proc) == f"error: CSV {path}" + ("" if message.startswith("has") else ",") + f" {message}"
    assert not list((tmp_path / "outputs").rglob("roster.parquet"))


@pytest.mark.parametrize("text, message", [
    ("index,score\n1,\n", r"line 2, column 'score': the cell is empty \(non-finite scores are written nan, inf or -inf\)"),
    ("index,score\n1,1_000\n", "line 2, column 'score': '1_000' is not a number"),
    ("index,score\n1,1e999\n", "line 2, column 'score': '1e999' is too large for a 64-bit float"),
    ("index,score\n-1,1\n", "line 2, column 'index': an architecture index must be an integer 0..15624, got '-1'"),
    ("index,score,t\n1,1,-2\n", "line 2, column 't': seconds must be >= 0, got '-2'"),
    ("index,score,t\n1,1,\n", "line 2, column 't': the cell is empty"),
    ("arch,score\n\"|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|\",1\n", "line 2, column 'arch': unknown operation 'conv'"),
    (f"index,arch,score\n3,{arch_from_index(4)},1\n", "line 2, column 'arch': .* is architecture 4, but column 'index' says 3"),
    ("index,score\n1,1\n2\n", "line 3: 1 fields, but the header has 2"),
    ("index,score\n1,1\n1,2\n", "lists architecture 1 more than once \\(lines 2 and 3\\)"),
    ("", "is empty"),
])
def test_import_errors_name_the_line_and_column(tmp_path, text, message):
    path = tmp_path / "x.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message) as err:
        import_csv(path, "score", "synflow", "cifar10", seconds_column="t" if ",t" in text else None, space=NATS_TSS)
    assert str(err.value).startswith(f"CSV {path}") and "\n" not in str(err.value)


def test_import_accepts_explicit_non_finite_scores_and_integral_indices(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("index,score\n1,nan\n2,INF\n3,-Inf\n4.0,1.5e3\n\n5, -2 \n")
    roster = import_csv(path, "score", "synflow", "cifar10", space=NATS_TSS)
    scores = roster.scores()
    assert math.isnan(scores[1]) and scores[2] == math.inf and scores[3] == -math.inf
    assert scores[4] == 1500.0 and scores[5] == -2.0
    assert list(roster.rows["finite"]) == [False, False, False, True, True]


def test_import_messages_name_keys_that_exist(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("index,jacov\n1,1\n")
    with pytest.raises(DataError, match=r"columns: index, jacov\); set source.score_column to one of them"):
        import_csv(path, "score", "synflow", "cifar10", space=NATS_TSS)
    with pytest.raises(DataError, match=r"no seconds column 't' .*set source.seconds_column to one of them, or to null"):
        import_csv(path, "jacov", "synflow", "cifar10", seconds_column="t", space=NATS_TSS)
    keys = {line.split(":")[0].strip() for line in (ROOT / "conf" / "task" / "import.yaml").read_text().splitlines()}
    assert {"score_column", "seconds_column", "path"} <= keys


def test_imported_roster_round_trips(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(f"arch,score\n{arch_from_index(7)},0.25\n")
    roster = import_csv(path, "score", "jacov", "cifar10", space=NATS_TSS)
    write_roster(tmp_path / "r.parquet", roster)
    back = read_roster(tmp_path / "r.parquet")
    assert back.scores() == {7: 0.25} and back.meta["metric"] == "jacov" and np.all(back.rows["source"] == "imported")
