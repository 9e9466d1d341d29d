"""A roster file is data: its metadata never runs code, never chooses a path, and is checked
against the registries and types before any use; merges and imports do what the user meant.

Every crafted file is written here with pyarrow and hand-made schema metadata (as a hostile or
damaged file would be), and every case goes through the real CLI.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cli import run_cli
from zcnas.roster import read_roster
from zcnas.spaces.nats_tss.cells import arch_from_index, format_arch

META = {"metric": "synflow", "dataset": "cifar10", "seed": 0, "batch_size": None, "settings": {"name": "synflow"}}
ZEN = "Beautiful is better than ugly"  # what importing the module ``this`` prints


def craft(path: Path, meta: dict | None = None, rows=((0, 1.0, 0.1),), extra_meta: dict | None = None) -> Path:
    """A parquet file with the roster columns (NATS-Bench TSS cells) and the given schema metadata."""
    rows = list(rows)
    table = pa.table({
        "index": pa.array([r[0] for r in rows], pa.int64()),
        "arch": pa.array([format_arch(arch_from_index(r[0])) for r in rows], pa.string()),
        "score": pa.array([float(r[1]) for r in rows], pa.float64()),
        "finite": pa.array([math.isfinite(r[1]) for r in rows], pa.bool_()),
        "seconds": pa.array([float(r[2]) for r in rows], pa.float64()),
        "source": pa.array(["computed"] * len(rows), pa.string()),
    })
    metadata = {b"zcnas": json.dumps(META if meta is None else meta).encode()}
    metadata.update(extra_meta or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.replace_schema_metadata(metadata), path)
    return path


def error_line(proc) -> str:
    """The one-line error of a refused CLI run (status 2, no traceback)."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def merge(tmp_path: Path, inputs, out: Path, *extra):
    listed = ",".join(str(p) for p in inputs)
    return run_cli(tmp_path, "task=merge", f"merge.inputs=[{listed}]", f"merge.output_dir={out}", *extra, check=False)


def search(tmp_path: Path, roster: Path, metric: str = "synflow", *extra):
    return run_cli(tmp_path, f"metric={metric}", f"metric.roster={roster}", "search=random", "search.n=3",
                   "hardware.threads=1", *extra, check=False)


# ---------------------------------------------------------------- a file never runs code

@pytest.fixture
def marker_module(tmp_path, monkeypatch) -> Path:
    """A module on PYTHONPATH (of the CLI runs) whose import writes a marker file."""
    lib = tmp_path / "lib"
    lib.mkdir()
    marker = tmp_path / "imported"
    (lib / "zc_trust_probe.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n\n\nclass Anything:\n    pass\n")
    monkeypatch.setenv("PYTHONPATH", str(lib))
    return marker


@pytest.mark.integration
@pytest.mark.parametrize("target", ["this.Anything", "zc_trust_probe.Anything", "zc_trust_probe:Anything"])
@pytest.mark.parametrize("task", ["merge", "search", "correlate"])
def test_a_recorded_space_class_is_never_imported(tmp_path, marker_module, target, task):
    roster = craft(tmp_path / "in" / "crafted.parquet", {**META, "space": "width", "space_target": target})
    if task == "merge":
        proc = merge(tmp_path, [roster], tmp_path / "out")
    elif task == "search":
        proc = search(tmp_path, roster)
    else:
        proc = run_cli(tmp_path, "task=correlate", f"rosters=[{roster}]", f"report_dir={tmp_path / 'report'}",
                       check=False)
    line = error_line(proc)
    assert ZEN not in proc.stdout + proc.stderr
    assert not marker_module.exists(), "the module a roster named was imported"
    assert "width" in line and "nats_tss" in line  # the roster's space and the job's, both named
    assert not (tmp_path / "out").exists() and not (tmp_path / "report").exists()


@pytest.mark.integration
def test_a_recorded_class_is_compared_with_the_jobs_own(tmp_path, marker_module, monkeypatch):
    """The job configures a user's space (its own class, imported from its config); a roster that
    records another class under the same name is refused by comparing the two as data."""
    examples = Path(__file__).resolve().parents[1] / "examples"
    monkeypatch.setenv("PYTHONPATH", f"{marker_module.parent / 'lib'}{os.pathsep}{examples}")
    roster = craft(tmp_path / "in" / "crafted.parquet",
                   {**META, "metric": "params", "settings": {"name": "params"}, "space": "width",
                    "space_target": "zc_trust_probe.Anything"})
    proc = merge(tmp_path, [roster], tmp_path / "out", "space=custom", "space._target_=width_space.WidthSpace")
    line = error_line(proc)
    assert "zc_trust_probe.Anything" in line and "width_space.WidthSpace" in line
    assert not marker_module.exists()


# ---------------------------------------------------------------- a file never chooses a path

@pytest.mark.integration
@pytest.mark.parametrize("key", ["metric", "dataset"])
def test_metadata_names_never_become_paths(tmp_path, key):
    out = tmp_path / "a" / "b" / "out"
    roster = craft(tmp_path / "in" / "crafted.parquet", {**META, key: "../../x"})
    line = error_line(merge(tmp_path, [roster], out))
    assert f"records {key}='../../x'" in line
    assert [p for p in tmp_path.rglob("*.parquet") if p != roster] == []


@pytest.mark.integration
@pytest.mark.parametrize("meta, expected", [
    ({**META, "metric": "nosuch", "settings": None}, "records metric='nosuch', which is not a metric zcnas knows"),
    ({**META, "seed": "zero"}, "records seed='zero', which is not an integer >= 0"),
    ({**META, "seed": True}, "records seed=True"),
    ({**META, "batch_size": 0}, "records batch_size=0, which is not an integer >= 1"),
    ({**META, "settings": {"name": "params"}}, "records metric='synflow' but its settings are of metric 'params'"),
    ({**META, "settings": "x"}, "records settings='x'"),
    ({**META, "space": "../x"}, "records space='../x'"),
    ({**META, "space": "nope"}, "records space='nope'"),
    ({**META, "space": "w", "space_target": "os.system; x"}, "records space_target='os.system; x'"),
    ({**META, "space_options": "[1]"}, "unreadable space_options"),
    ({**META, "share_isomorphic": "maybe"}, "records share_isomorphic='maybe'"),
])
def test_every_metadata_field_is_checked_before_use(tmp_path, meta, expected):
    roster = craft(tmp_path / "in" / "crafted.parquet", meta)
    assert expected in error_line(merge(tmp_path, [roster], tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    # a search reading the same file refuses it the same way
    assert expected in error_line(search(tmp_path / "s", roster))


@pytest.mark.integration
@pytest.mark.parametrize("score, finite", [(2.0, False), (math.nan, True), (-math.inf, True)])
def test_a_finite_flag_that_contradicts_its_score_is_refused(tmp_path, score, finite):
    roster = craft(tmp_path / "in" / "crafted.parquet", rows=[(0, 1.0, 0.1), (1, score, 0.1)])
    table = pq.read_table(roster)
    flags = pa.array([True, finite], pa.bool_())
    pq.write_table(table.set_column(table.schema.get_field_index("finite"), "finite", flags), roster)
    line = error_line(merge(tmp_path, [roster], tmp_path / "out"))
    assert f"row 2: finite is {finite} but the score is" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("seconds", [-1.0, math.nan, math.inf])
def test_rows_with_seconds_an_import_refuses_are_refused(tmp_path, seconds):
    roster = craft(tmp_path / "in" / "crafted.parquet", rows=[(0, 1.0, 0.1), (1, 2.0, seconds)])
    line = error_line(merge(tmp_path, [roster], tmp_path / "out"))
    assert "row 2: seconds" in line and "is not a number >= 0" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.integration
def test_crafted_pandas_metadata_is_not_ours_to_read(tmp_path):
    """The file's own pandas metadata (pandas would raise KeyError 'name' on it) is ignored: zcnas types its columns."""
    bogus = {b"pandas": json.dumps({"columns": [{}], "index_columns": ["zzz"]}).encode()}
    every = [(i, float(i), 0.1) for i in range(15625)]  # a whole space, so that a search can run on it
    roster = craft(tmp_path / "in" / "crafted.parquet", rows=every, extra_meta=bogus)
    proc = merge(tmp_path, [roster], tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert len(read_roster(tmp_path / "out" / "synflow_cifar10.parquet")) == 15625
    proc = search(tmp_path / "s", roster)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr


# ---------------------------------------------------------------- merge

@pytest.mark.integration
def test_inputs_that_disagree_on_a_score_are_reported(tmp_path):
    a = craft(tmp_path / "in" / "a.parquet", rows=[(0, 1.0, 0.1), (1, 5.0, 0.1)])
    b = craft(tmp_path / "in" / "b.parquet", rows=[(0, 2.0, 0.1), (1, 5.0, 0.1), (2, 3.0, 0.1)])
    proc = merge(tmp_path, [a, b], tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert "1 architecture(s) are scored differently by two inputs" in proc.stdout
    assert f"1.0 in {a}, 2.0 in {b}" in proc.stdout and "the first input's score was kept" in proc.stdout
    merged = read_roster(tmp_path / "out" / "synflow_cifar10.parquet")
    assert merged.scores() == {0: 1.0, 1: 5.0, 2: 3.0}
    # inputs that agree (NaN included) say nothing of the kind
    c = craft(tmp_path / "in2" / "c.parquet", rows=[(0, math.nan, 0.1)])
    d = craft(tmp_path / "in2" / "d.parquet", rows=[(0, math.nan, 0.2), (1, 1.0, 0.1)])
    proc = merge(tmp_path, [c, d], tmp_path / "out2")
    assert proc.returncode == 0 and "scored differently" not in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.integration
def test_a_merge_of_no_rows_writes_no_roster(tmp_path):
    empty = craft(tmp_path / "in" / "empty.parquet", rows=[])
    line = error_line(merge(tmp_path, [empty], tmp_path / "out"))
    assert "hold no rows" in line and "no roster written" in line
    assert not (tmp_path / "out" / "synflow_cifar10.parquet").exists()
    # nor does replace=true empty an existing roster
    full = craft(tmp_path / "out" / "synflow_cifar10.parquet", rows=[(0, 1.0, 0.1)])
    before = full.read_bytes()
    assert "hold no rows" in error_line(merge(tmp_path, [empty], tmp_path / "out", "merge.replace=true"))
    assert full.read_bytes() == before


@pytest.mark.integration
def test_a_folder_in_the_way_of_a_merged_roster_is_named(tmp_path):
    roster = craft(tmp_path / "in" / "a.parquet")
    (tmp_path / "out" / "synflow_cifar10.parquet").mkdir(parents=True)
    line = error_line(merge(tmp_path, [roster], tmp_path / "out"))
    assert f"{tmp_path / 'out' / 'synflow_cifar10.parquet'}: a folder of that name is in the way" in line
    assert ".tmp" not in line


# ---------------------------------------------------------------- import

def write_csv(path: Path, text: str = "index,score\n0,1.5\n1,2.5\n") -> Path:
    path.write_text(text)
    return path


def import_args(csv: Path, *extra) -> list[str]:
    return ["task=import", "metric=synflow", "dataset=cifar10", f"source.path={csv}", "source.score_column=score",
            *extra]


@pytest.mark.integration
def test_import_reads_architectures_in_the_jobs_space(tmp_path):
    from zcnas.spaces import make_space

    macro = make_space("nas_bench_macro")
    csv = write_csv(tmp_path / "scores.csv", f"arch,score\n{macro.format(macro.from_index(5))},1.5\n")
    out = tmp_path / "macro.parquet"
    proc = run_cli(tmp_path, *import_args(csv, f"source.output={out}", "space=nas_bench_macro"), check=False)
    assert proc.returncode == 0, proc.stderr
    assert "in space nas_bench_macro" in proc.stdout
    roster = read_roster(out)
    assert roster.meta["space"] == "nas_bench_macro" and list(roster.rows["index"]) == [5]
    # a NATS-Bench index beyond the macro space's 6,561 architectures is not one of its
    csv = write_csv(tmp_path / "nats.csv", "index,score\n15000,1.5\n")
    line = error_line(run_cli(tmp_path, *import_args(csv, f"source.output={tmp_path / 'x.parquet'}",
                                                     "space=nas_bench_macro"), check=False))
    assert "0..6560" in line


@pytest.mark.integration
def test_import_writes_parquet_only_under_a_parquet_name(tmp_path):
    csv = write_csv(tmp_path / "scores.csv")
    line = error_line(run_cli(tmp_path, *import_args(csv, f"source.output={tmp_path / 'x.csv'}"), check=False))
    assert "name it <something>.parquet" in line and not (tmp_path / "x.csv").exists()


@pytest.mark.integration
@pytest.mark.parametrize("spelling", ["same", "dotted"])
def test_import_never_replaces_its_own_input(tmp_path, spelling):
    csv = write_csv(tmp_path / "scores.parquet", "index,score\n0,1.5\n")  # a CSV under a parquet name
    before = csv.read_bytes()
    output = csv if spelling == "same" else tmp_path / "." / "sub" / ".." / "scores.parquet"
    (tmp_path / "sub").mkdir()
    line = error_line(run_cli(tmp_path, *import_args(csv, f"source.output={output}", "source.replace=true"),
                              check=False))
    assert "is the CSV being imported" in line and csv.read_bytes() == before


@pytest.mark.integration
def test_import_into_a_folder_names_it(tmp_path):
    csv = write_csv(tmp_path / "scores.csv")
    folder = tmp_path / "roster.parquet"
    folder.mkdir()
    line = error_line(run_cli(tmp_path, *import_args(csv, f"source.output={folder}", "source.replace=true"),
                              check=False))
    assert f"source.output={folder} is a folder" in line and ".tmp" not in line
