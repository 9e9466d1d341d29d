"""task=convert_nb101: NAS-Bench-101's official tfrecord -> the table the nas_bench_101 space reads.

The official ``nasbench_only108.tfrecord`` (~500 MB) is not available here.  These tests write a
small STAND-IN for it with their own writer (``write_stand_in``): the same TFRecord framing
(length, masked CRC32C of the length, data, masked CRC32C of the data; the CRC computed bit by bit
here, independently of the reader's table), the same JSON record layout ``[module_hash, epochs,
adjacency, operations, base64(ModelMetrics)]`` and a ``ModelMetrics`` protobuf encoded by hand,
all as the public nasbench code (nasbench/api.py, nasbench/lib/model_metrics.proto) defines them.
Its cells are taken from the shared 500-cell sample; its accuracies are made up.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import random
import struct
from pathlib import Path

import pandas as pd
import pytest

from cli import run_cli
from shared_data import shared_data_dir
from zcnas.spaces.nas_bench_101.tfrecord import (COLUMNS, ProtoError, crc32c, crc32c_many, parse_model_metrics,
                                            read_records)
from zcnas.benchmark.space_table import SpaceTableBenchmark
from zcnas.build import build_benchmark
from zcnas.errors import ConfigError, DataError
from zcnas.spaces.nas_bench_101.space import NasBench101, from_benchmark, graph_hash
from zcnas.tasks.convert_nb101 import run_convert_nb101_job, summarize_convert_nb101

SPACE = NasBench101()


# --- the stand-in writer ---------------------------------------------------------------------
def bitwise_crc32c(data: bytes) -> int:
    """CRC32C one bit at a time (reflected polynomial 0x82F63B78): no table shared with the reader."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(data: bytes) -> int:
    crc = bitwise_crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(data: bytes) -> bytes:
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked(header)) + data + struct.pack("<I", masked(data))


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int32: ten bytes, as protobuf writes it
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def key(field: int, wire: int) -> bytes:
    return varint(field << 3 | wire)


def double(field: int, value: float) -> bytes:
    return key(field, 1) + struct.pack("<d", value)


def message(field: int, body: bytes) -> bytes:
    return key(field, 2) + varint(len(body)) + body


def evaluation(epoch: float, seconds: float, train: float, val: float, test: float) -> bytes:
    """An EvaluationData: current_epoch 1, training_time 2, train/validation/test accuracy 3/4/5,
    checkpoint_path 6 (a string)."""
    return (double(1, epoch) + double(2, seconds) + double(3, train) + double(4, val) + double(5, test)
            + message(6, b"/tmp/model.ckpt-1234"))


def model_metrics(params: int, val: float, test: float, seconds: float, epochs: int = 108) -> bytes:
    """A ModelMetrics as the release has them: evaluations at the start, halfway and the end of
    training (field 1), trainable_parameters (2), total_time (3); plus a field 15 that no reader
    knows, which must be skipped."""
    evals = [evaluation(0.0, 0.0, 0.1, 0.1, 0.1),
             evaluation(epochs / 2, seconds / 2, 0.5, 0.5, 0.5),  # halfway: must not be used
             evaluation(float(epochs), seconds, 1.0, val, test)]
    return (b"".join(message(1, e) for e in evals) + key(2, 0) + varint(params) + double(3, seconds * 1.1)
            + key(15, 0) + varint(7))


def record(cell_row: dict, epochs: int, val: float, test: float, seconds: float, module_hash=None) -> bytes:
    cell = from_benchmark(cell_row["matrix"], cell_row["ops"])
    metrics = model_metrics(int(cell_row["params"]), val, test, seconds, epochs)
    return json.dumps([module_hash or graph_hash(cell), epochs, cell_row["matrix"], cell_row["ops"],
                       base64.b64encode(metrics).decode()]).encode()


def write_stand_in(path: Path, records: list[bytes]) -> list[int]:
    """The framed records in one file; the byte offset of each."""
    offsets, data = [], b""
    for r in records:
        offsets.append(len(data))
        data += frame(r)
    path.write_bytes(data)
    return offsets


# --- the stand-in file: 5 sample cells ---------------------------------------------------------
@pytest.fixture(scope="module")
def cells():
    """Five sample rows of distinct cells (different hashes)."""
    path = shared_data_dir() / "spaces" / "nas_bench_101" / "nb101_sample500_cifar10.csv"
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    chosen, seen = [], set()
    for row in rows:
        h = graph_hash(from_benchmark(row["matrix"], row["ops"]))
        if h not in seen:
            seen.add(h)
            chosen.append(row)
        if len(chosen) == 5:
            return chosen


#: per cell: its runs as (epochs, validation, test, training seconds), fractions as in the release
RUNS = [
    [(108, 0.91, 0.90, 1000.0), (36, 0.50, 0.50, 300.0), (108, 0.92, 0.915, 1100.0), (108, 0.93, 0.92, 1200.0)],
    [(108, 0.80, 0.79, 500.0), (108, 0.82, 0.81, 600.0), (108, 0.84, 0.80, 700.0)],
    [(108, 0.94, 0.935, 2000.0)],
    [(108, 0.70, 0.69, 400.0)],
    [(12, 0.60, 0.58, 100.0)],  # another budget only: not in the table
]


def stand_in_records(cells, runs=RUNS) -> list[bytes]:
    out = []
    for cell_row, cell_runs in zip(cells, runs):
        out += [record(cell_row, *run) for run in cell_runs]
    return out


@pytest.fixture
def stand_in(cells, tmp_path) -> Path:
    path = tmp_path / "nasbench_only108.tfrecord"
    write_stand_in(path, stand_in_records(cells))
    return path


@pytest.fixture
def convert(compose_cfg, tmp_path):
    def _convert(*overrides: str) -> dict:
        cfg = compose_cfg("task=convert_nb101", *overrides)
        return run_convert_nb101_job(cfg, tmp_path / "job")

    return _convert


# --- the pieces ------------------------------------------------------------------------------
def test_crc32c_gives_the_standard_values():
    # RFC 3720, appendix B.4, and the usual check value of "123456789"
    vectors = {bytes(32): 0x8A9136AA, b"\xff" * 32: 0x62A8AB43, bytes(range(32)): 0x46DD794E,
               bytes(range(31, -1, -1)): 0x113FDB5C, b"123456789": 0xE3069283, b"": 0}
    for data, expected in vectors.items():
        assert crc32c(data) == expected == bitwise_crc32c(data)
    rng = random.Random(0)
    chunks = [os.urandom(rng.randint(0, 700)) for _ in range(300)] + [b"", os.urandom(5000), b"x", *vectors]
    assert [int(c) for c in crc32c_many(chunks)] == [crc32c(c) for c in chunks]


def test_protobuf_reader_reads_the_fields_it_needs():
    metrics = parse_model_metrics(model_metrics(1234567, 0.9, 0.8, 100.0))
    assert metrics.trainable_parameters == 1234567 and metrics.total_time == pytest.approx(110.0)
    assert [e.current_epoch for e in metrics.evaluations] == [0.0, 54.0, 108.0]
    final = metrics.evaluations[-1]
    assert (final.training_time, final.validation_accuracy, final.test_accuracy) == (100.0, 0.9, 0.8)
    only = parse_model_metrics(model_metrics(1234567, 0.9, 0.8, 100.0), final_only=True)
    assert only.evaluations == (final,) and only.trainable_parameters == 1234567
    assert parse_model_metrics(key(2, 0) + varint(-5)).trainable_parameters == -5  # int32, sign-extended
    assert parse_model_metrics(b"").evaluations == ()
    for bad in (model_metrics(1, 0.9, 0.8, 1.0)[:-3], key(1, 0) + varint(3), key(2, 1) + b"\0" * 8, b"\x80"):
        with pytest.raises(ProtoError):
            parse_model_metrics(bad)


def test_records_are_read_in_order_with_their_offsets(cells, stand_in):
    offsets = write_stand_in(stand_in, stand_in_records(cells))
    records = list(read_records(stand_in, batch=3))  # several batches
    assert [r.number for r in records] == list(range(1, 11)) and [r.offset for r in records] == offsets
    assert json.loads(records[0].data)[2] == cells[0]["matrix"]


# --- the conversion --------------------------------------------------------------------------
def test_converted_table_holds_the_means_of_the_runs(cells, stand_in, convert, tmp_path, compose_cfg):
    out = tmp_path / "nb101.parquet"
    result = convert(f"source={stand_in}", f"output={out}")
    assert (result["records"], result["records_used"], result["other_epochs"]) == (10, 8, {"12": 1, "36": 1})
    assert (result["cells"], result["runs"], result["hash_mismatches"], result["replaced"]) == (
        4, {"1": 2, "3": 2}, 0, False)
    text = summarize_convert_nb101(result)
    assert "into 4 cells" in text and f"benchmark.path={out}" in text and "test_accuracy" in text

    table = pd.read_parquet(out)
    assert list(table.columns) == list(COLUMNS)
    for row, cell_row, runs in zip(table.itertuples(), cells, RUNS):
        runs = [r for r in runs if r[0] == 108]
        cell = from_benchmark(cell_row["matrix"], cell_row["ops"])
        assert (row.hash, row.matrix, row.ops) == (graph_hash(cell), cell_row["matrix"], cell_row["ops"])
        assert row.val_accuracy == pytest.approx(100 * sum(r[1] for r in runs) / len(runs))
        assert row.test_accuracy == pytest.approx(100 * sum(r[2] for r in runs) / len(runs))
        assert row.training_time == pytest.approx(sum(r[3] for r in runs) / len(runs))
        assert (row.params, row.runs) == (int(cell_row["params"]), len(runs))

    # the space's ground truth, as run.py space=nas_bench_101 benchmark.path=<out> builds it
    for extra, column in (((), "val_accuracy"), (("space.table.accuracy.cifar10=test_accuracy",), "test_accuracy")):
        bench = build_benchmark(compose_cfg("space=nas_bench_101", f"benchmark.path={out}", *extra))
        assert isinstance(bench, SpaceTableBenchmark) and bench.repeated_rows == 0
        canonical = [SPACE.format(from_benchmark(c["matrix"], c["ops"])) for c in cells[:4]]
        assert bench.archs == canonical  # each row parsed and stored in its pruned form
        for arch, expected in zip(canonical, table[column]):
            assert bench.accuracy_of(SPACE.parse(arch), "cifar10") == pytest.approx(expected)
        assert bench.accuracy_of(from_benchmark(cells[4]["matrix"], cells[4]["ops"]), "cifar10") is None


def test_a_csv_output_loads_too(stand_in, convert, tmp_path, compose_cfg):
    out = tmp_path / "sub" / "nb101.csv"
    convert(f"source={stand_in}", f"output={out}")
    bench = build_benchmark(compose_cfg("space=nas_bench_101", f"benchmark.path={out}"))
    assert len(bench.archs) == 4
    assert pd.read_csv(out, dtype=str)["matrix"].str.len().eq(49).all()  # the digits as in the file


def test_a_wrong_hash_is_reported_not_refused(cells, tmp_path, convert):
    path = tmp_path / "nasbench_only108.tfrecord"
    write_stand_in(path, [record(cells[0], 108, 0.9, 0.9, 1.0, module_hash="0" * 32)])
    result = convert(f"source={path}", f"output={tmp_path / 'out.parquet'}")
    assert (result["cells"], result["hash_mismatches"], result["first_hash_mismatch"]) == (1, 1, "0" * 32)
    assert "1 cells' hashes differ" in summarize_convert_nb101(result)


# --- damaged files ---------------------------------------------------------------------------
def one_line_error(convert, *overrides, error=DataError) -> str:
    with pytest.raises(error) as err:
        convert(*overrides)
    assert "\n" not in str(err.value)
    return str(err.value)


@pytest.mark.parametrize("where, what", [(20, "data bytes"), (0, "length field"), (-1, "data bytes"),
                                         (8, "length field")])
def test_a_flipped_byte_names_the_record(cells, stand_in, convert, tmp_path, where, what):
    offsets = write_stand_in(stand_in, stand_in_records(cells))
    data = bytearray(stand_in.read_bytes())
    # a byte of record 3: in its data (20), its length (0), its length CRC (8), or its data CRC (-1)
    at = offsets[3] - 1 if where == -1 else offsets[2] + where
    data[at] ^= 0x04
    stand_in.write_bytes(bytes(data))
    out = tmp_path / "out.parquet"
    message = one_line_error(convert, f"source={stand_in}", f"output={out}")
    assert f"record 3 at byte offset {offsets[2]}: the CRC32C of its " in message
    assert f"{what} does not match" in message
    assert "the file is damaged or truncated" in message and not out.exists()


@pytest.mark.parametrize("cut", [5, 300])
def test_a_truncated_file_is_one_line(cells, stand_in, convert, tmp_path, cut):
    offsets = write_stand_in(stand_in, stand_in_records(cells))
    stand_in.write_bytes(stand_in.read_bytes()[:offsets[6] + cut])  # within record 7's header / data
    message = one_line_error(convert, f"source={stand_in}", f"output={tmp_path / 'out.parquet'}")
    assert f"record 7 at byte offset {offsets[6]} is cut off" in message and "damaged or truncated" in message


def test_a_file_of_other_records_is_refused(tmp_path, convert):
    path = tmp_path / "other.tfrecord"
    write_stand_in(path, [b'{"not": "nasbench"}'])
    message = one_line_error(convert, f"source={path}", f"output={tmp_path / 'out.parquet'}")
    assert "record 1 at byte offset 0 is not a NAS-Bench-101 record" in message
    write_stand_in(path, [json.dumps(["h", 108, "0100", "input,output", "!!"]).encode()])
    assert "not a base64 ModelMetrics" in one_line_error(convert, f"source={path}", f"output={tmp_path / 'o.csv'}")
    metrics = base64.b64encode(model_metrics(10, 0.9, 0.9, 1.0)).decode()
    offsets = write_stand_in(path, [json.dumps(["a" * 32, 108, "0100", "input,output", metrics]).encode(),
                                    json.dumps(["b" * 32, 108, "011001000", "input,conv5x5,output", metrics]).encode()])
    message = one_line_error(convert, f"source={path}", f"output={tmp_path / 'o.csv'}")
    assert f"record 2 at byte offset {offsets[1]}: architecture" in message and "unknown op 'conv5x5'" in message


def test_no_record_at_the_epochs_is_refused(stand_in, convert, tmp_path):
    message = one_line_error(convert, f"source={stand_in}", f"output={tmp_path / 'out.parquet'}", "epochs=4")
    assert "no record of 4-epoch training (10 records: 1 at 12, 1 at 36, 8 at 108)" in message


def test_an_existing_output_needs_replace(stand_in, convert, tmp_path):
    out = tmp_path / "nb101.parquet"
    out.write_bytes(b"precious")
    message = one_line_error(convert, f"source={stand_in}", f"output={out}", error=ConfigError)
    assert "already exists" in message and "replace=true" in message and out.read_bytes() == b"precious"
    assert convert(f"source={stand_in}", f"output={out}", "replace=true")["replaced"] is True
    assert len(pd.read_parquet(out)) == 4
    assert "replace must be true or false" in one_line_error(
        convert, f"source={stand_in}", f"output={out}", "replace=maybe", error=ConfigError)
    assert ".parquet or .csv" in one_line_error(
        convert, f"source={stand_in}", f"output={tmp_path / 'x.json'}", error=ConfigError)
    assert "not a file" in one_line_error(convert, f"source={tmp_path / 'missing'}", f"output={out}")


# --- a CSV/parquet export as source ----------------------------------------------------------
def test_an_export_is_checked_and_normalized(cells, tmp_path, convert, compose_cfg):
    src = tmp_path / "export.csv"
    rows = [{"matrix": c["matrix"], "ops": c["ops"], "val_accuracy": v, "test_accuracy": v - 0.01,
             "params": c["params"]} for c, v in zip(cells[:3] + cells[:1], (0.90, 0.80, 0.70, 0.92))]
    pd.DataFrame(rows).to_csv(src, index=False)
    out = tmp_path / "nb101.parquet"
    result = convert(f"source={src}", f"output={out}")
    assert (result["format"], result["rows_read"], result["cells"]) == ("csv", 4, 3)
    assert result["scaled_to_percent"] == ["val_accuracy", "test_accuracy"]
    table = pd.read_parquet(out)
    assert list(table["val_accuracy"]) == pytest.approx([91.0, 80.0, 70.0])
    assert list(table["runs"]) == [2, 1, 1]
    assert build_benchmark(compose_cfg("space=nas_bench_101", f"benchmark.path={out}")).archs == [
        SPACE.format(from_benchmark(c["matrix"], c["ops"])) for c in cells[:3]]

    bad = pd.DataFrame(rows).astype(str)
    bad.loc[2, "ops"] = "input,conv5x5,output"
    bad.to_csv(src, index=False)
    message = one_line_error(convert, f"source={src}", f"output={tmp_path / 'o.parquet'}")
    assert f"table {src}, data row 3:" in message and "conv5x5" in message
    bad = pd.DataFrame(rows).astype(str)
    bad.loc[1, "val_accuracy"] = "n/a"
    bad.to_csv(src, index=False)
    assert "data row 2: val_accuracy is 'n/a', not a finite number" in one_line_error(
        convert, f"source={src}", f"output={tmp_path / 'o.parquet'}")
    pd.DataFrame(rows).drop(columns="val_accuracy").to_csv(src, index=False)
    assert "lacks columns ['val_accuracy']" in one_line_error(
        convert, f"source={src}", f"output={tmp_path / 'o.parquet'}")


# --- through run.py --------------------------------------------------------------------------
def test_cli_converts_and_a_search_ranks_among_the_converted_cells(cells, tmp_path):
    search = ("space=nas_bench_101", "metric=params", "search.n=10", "seed=0")
    # the cell this search picks, so that the stand-in holds it (a random cell of 423,624 would
    # otherwise not be among 5)
    run_cli(tmp_path / "free", *search, "benchmark=none")
    picked = json.loads(next((tmp_path / "free").glob("outputs/search/*/result.json")).read_text())["best"]["arch"]
    matrix, ops = picked.split(":")
    pick = {"matrix": matrix, "ops": ops, "params": "1000"}
    path = tmp_path / "nasbench_only108.tfrecord"
    write_stand_in(path, stand_in_records([*cells[:4], pick], [*RUNS[:4], [(108, 0.85, 0.84, 900.0)]]))
    out = tmp_path / "nb101.parquet"
    proc = run_cli(tmp_path, "task=convert_nb101", f"source={path}", f"output={out}")
    assert "into 5 cells" in proc.stdout

    run_cli(tmp_path / "ranked", *search, f"benchmark.path={out}")
    best = json.loads(next((tmp_path / "ranked").glob("outputs/search/*/result.json")).read_text())["best"]
    assert best["arch"] == picked and best["test_accuracy"] == pytest.approx(85.0)
    table = pd.read_parquet(out)
    assert best["ranked_among"] == 5 and best["rank"] == 1 + int((table["val_accuracy"] > 85.0).sum())

    again = run_cli(tmp_path, "task=convert_nb101", f"source={path}", f"output={out}", check=False)
    assert again.returncode == 2 and "already exists" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
