"""NAS-Bench-101's official data file, read without TensorFlow and without unpickling anything.

The release (Ying et al., "NAS-Bench-101", ICML 2019) is a TFRecord file, ``nasbench_only108.tfrecord``
(every cell trained 3 times for 108 epochs) or ``nasbench_full.tfrecord`` (also 4, 12 and 36 epochs).
What this module relies on, as the public code defines it:

* TFRecord framing (TensorFlow, ``core/lib/io/record_writer.cc``; ``python/lib/io/python_io.py``):
  records one after another, each ``uint64 length`` (little-endian), ``uint32`` masked CRC32C of
  those 8 bytes, ``length`` bytes of data, ``uint32`` masked CRC32C of the data; the mask of a CRC
  is ``((crc >> 15) | (crc << 17)) + 0xa282ead8`` (mod 2**32).  No compression.
* A record's data (google-research/nasbench, ``nasbench/api.py``, ``NASBench.__init__``): UTF-8
  JSON of a 5-element list ``[module_hash, epochs, raw_adjacency, raw_operations, raw_metrics]``:
  the md5 module hash (hex), the epoch budget (int), the n x n adjacency matrix as n*n '0'/'1'
  characters (row-major, n = its square root), the n vertex ops joined by ',', and base64 of a
  serialized ``ModelMetrics`` protobuf.  One record is one training run; a cell has one record
  per run and epoch budget.
* ``ModelMetrics`` (``nasbench/lib/model_metrics.proto``, proto2): see ``parse_model_metrics``.
  ``evaluation_data`` holds the evaluations at initialization, halfway and the end of training;
  ``api.py`` reads the final one as ``evaluation_data[2]``.  Accuracies are fractions (0..1).

The CRCs are checked in batches with numpy (``crc32c_many``; ``crc32c`` is the plain-Python
reference), so reading the ~500 MB release takes seconds for the framing, not minutes.  A damaged
or truncated file is a one-line ``DataError`` naming the record (1-based) and its byte offset.
"""

from __future__ import annotations

import array
import base64
import binascii
import json
import math
import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from zcnas.errors import ArchError, DataError
from zcnas.spaces.nas_bench_101.space import NasBench101, graph_hash

#: the file name of the official release with only the 108-epoch runs
OFFICIAL_FILE = "nasbench_only108.tfrecord"
#: the columns of a converted table, one row per cell (module hash)
COLUMNS = ("hash", "matrix", "ops", "val_accuracy", "test_accuracy", "params", "training_time", "runs")

DAMAGED = f"the file is damaged or truncated (download {OFFICIAL_FILE} again)"

# --- CRC32C (Castagnoli) ---------------------------------------------------------------------
_POLY = 0x82F63B78  # the Castagnoli polynomial 0x1EDC6F41, bit-reversed (CRC32C is reflected)
_MASK_DELTA = 0xA282EAD8
_ALL = 0xFFFFFFFF


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc_table()
_NP_TABLE = np.array(_TABLE, dtype=np.uint32)


def crc32c(data: bytes) -> int:
    """The CRC32C of ``data`` (initial value and final xor 0xFFFFFFFF); plain Python, one byte a step."""
    crc, table = _ALL, _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ _ALL


def mask(crc: int) -> int:
    """TFRecord's masked form of a CRC: rotated right by 15 bits, plus a constant."""
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & _ALL


def masked_crc32c(data: bytes) -> int:
    return mask(crc32c(data))


#: _ZEROS[n]: the register after n zero bytes from the initial 0xFFFFFFFF (grown on demand)
_ZEROS = np.array([_ALL], dtype=np.uint32)
#: _SHIFTED[j, b]: the register, from zero, after byte b and then j zero bytes (grown on demand)
_SHIFTED = _NP_TABLE[None, :].copy()
#: longer chunks are checked one by one (the table for a batch grows with the longest chunk)
_BATCH_MAX_LEN = 1 << 12


def _zero_step(register):
    """One zero byte through the register (an int or a uint32 array)."""
    return _NP_TABLE[register & 0xFF] ^ (register >> 8)


def _tables(n: int) -> tuple[np.ndarray, np.ndarray]:
    global _ZEROS, _SHIFTED
    if len(_ZEROS) < n + 1:
        zeros, rows = list(_ZEROS), list(_SHIFTED)
        while len(zeros) < n + 1:
            zeros.append(_zero_step(zeros[-1]))
            rows.append(_zero_step(rows[-1]))
        _ZEROS, _SHIFTED = np.array(zeros, dtype=np.uint32), np.stack(rows)
    return _ZEROS, _SHIFTED


def crc32c_many(chunks: Sequence[bytes]) -> np.ndarray:
    """``crc32c`` of each chunk, all at once, with numpy.

    The CRC register update is linear over GF(2) in (register, byte).  So a chunk's register is
    the xor of what each of its bytes alone gives, followed by as many zero bytes as come after
    it in the chunk (``_SHIFTED``, from a zero register), and of what the initial 0xFFFFFFFF
    gives after ``len`` zero bytes (``_ZEROS``): one table lookup per byte, then one xor-reduce
    per chunk.
    """
    count = len(chunks)
    out = np.zeros(count, dtype=np.uint32)
    if not count:
        return out
    lengths = np.fromiter(map(len, chunks), dtype=np.int64, count=count)
    for i in np.flatnonzero(lengths > _BATCH_MAX_LEN):
        out[i] = crc32c(chunks[i])
    short = np.flatnonzero(lengths <= _BATCH_MAX_LEN)
    if not short.size:
        return out
    lengths = lengths[short]
    zeros, shifted = _tables(int(lengths.max()))
    register = zeros[lengths].copy()  # the initial value's share
    filled = np.flatnonzero(lengths)
    if filled.size:
        flat = np.frombuffer(b"".join(chunks[i] for i in short), dtype=np.uint8)
        starts = np.cumsum(lengths) - lengths
        # zero bytes after each byte: its chunk's end minus its own position, minus one
        after = np.repeat(starts + lengths - 1, lengths) - np.arange(flat.size)
        shares = shifted.ravel()[after * 256 + flat]
        register[filled] ^= np.bitwise_xor.reduceat(shares, starts[filled])
    out[short] = register ^ np.uint32(_ALL)
    return out


def masked_many(crcs: np.ndarray) -> np.ndarray:
    crcs = crcs.astype(np.uint32)
    return ((crcs >> 15) | (crcs << 17)) + np.uint32(_MASK_DELTA)  # uint32 arithmetic wraps


# --- TFRecord framing ------------------------------------------------------------------------
@dataclass(frozen=True)
class Record:
    number: int  # 1-based, in file order
    offset: int  # byte offset of its header
    data: bytes


class _Pending:
    """Records read but whose data CRC is not yet checked (checked a batch at a time)."""

    def __init__(self, path: Path):
        self.path, self.records, self.stored = path, [], []

    def add(self, record: Record, stored_crc: int) -> None:
        self.records.append(record)
        self.stored.append(stored_crc)

    def checked(self) -> list[Record]:
        records, stored = self.records, np.array(self.stored, dtype=np.uint32)
        self.records, self.stored = [], []
        bad = np.flatnonzero(masked_many(crc32c_many([r.data for r in records])) != stored)
        if bad.size:
            r = records[int(bad[0])]
            raise DataError(f"{self.path}: record {r.number} at byte offset {r.offset}: the CRC32C of its "
                            f"{len(r.data)} data bytes does not match; {DAMAGED}")
        return records


def read_records(path: str | Path, batch: int = 8192) -> Iterator[Record]:
    """The records of a TFRecord file, in order, each checked against both its CRCs.

    A mismatch, or a record cut off by the end of the file, is a one-line ``DataError`` with the
    record's number and byte offset (raised once the records before it have been checked, so
    the first problem in the file is the one reported).
    """
    path = Path(path)
    with open(path, "rb") as f:
        size = path.stat().st_size
        if size == 0:
            return
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            pending, pos, number = _Pending(path), 0, 0
            while pos < size:
                number += 1
                if size - pos < 12:
                    yield from pending.checked()
                    raise DataError(f"{path}: record {number} at byte offset {pos} is cut off after "
                                    f"{size - pos} of its 12 header bytes; {DAMAGED}")
                header = buf[pos:pos + 8]
                if masked_crc32c(header) != struct.unpack_from("<I", buf, pos + 8)[0]:
                    yield from pending.checked()
                    raise DataError(f"{path}: record {number} at byte offset {pos}: the CRC32C of its length "
                                    f"field does not match; {DAMAGED}")
                length = struct.unpack("<Q", header)[0]
                end = pos + 12 + length + 4
                if end > size:
                    yield from pending.checked()
                    raise DataError(f"{path}: record {number} at byte offset {pos} is cut off: it needs "
                                    f"{length + 16} bytes, the file has {size - pos} left; {DAMAGED}")
                stored = struct.unpack_from("<I", buf, pos + 12 + length)[0]
                pending.add(Record(number, pos, buf[pos + 12:pos + 12 + length]), stored)
                if len(pending.records) >= batch:
                    yield from pending.checked()
                pos = end
            yield from pending.checked()


# --- ModelMetrics protobuf -------------------------------------------------------------------
# Field numbers, from nasbench/lib/model_metrics.proto (proto2):
#   message ModelMetrics {
#     repeated EvaluationData evaluation_data = 1;   // length-delimited (wire type 2)
#     optional int32 trainable_parameters = 2;       // varint (0)
#     optional double total_time = 3;                // 64-bit (1)
#   }
#   message EvaluationData {
#     optional double current_epoch = 1;  optional double training_time = 2;
#     optional double train_accuracy = 3; optional double validation_accuracy = 4;
#     optional double test_accuracy = 5;  // all 64-bit (1)
#     optional string checkpoint_path = 6;  // length-delimited, not read
#   }
# Any other field is skipped by its wire type, as protobuf parsers do.

class ProtoError(ValueError):
    """Bytes that are not a valid protobuf message of the expected shape."""


_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ProtoError("a varint runs past the end of the message")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift >= 70:
            raise ProtoError("a varint is longer than 10 bytes")


def _fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of each field: an int for a varint, else the raw bytes."""
    pos, end = 0, len(data)
    while pos < end:
        key = data[pos]
        if key < 0x80:  # a one-byte key: field numbers below 16, every field of this proto
            pos += 1
        else:
            key, pos = _varint(data, pos)
        field, wire = key >> 3, key & 7
        if field == 0:
            raise ProtoError("field number 0")
        if wire == _VARINT:
            value, pos = _varint(data, pos)
        elif wire in (_I64, _I32):
            size = 8 if wire == _I64 else 4
            if pos + size > end:
                raise ProtoError(f"field {field} runs past the end of the message")
            value, pos = data[pos:pos + size], pos + size
        elif wire == _LEN:
            size, pos = _varint(data, pos)
            if pos + size > end:
                raise ProtoError(f"field {field} runs past the end of the message")
            value, pos = data[pos:pos + size], pos + size
        else:  # 3, 4: groups (never used by this proto); 6, 7: invalid
            raise ProtoError(f"field {field} has wire type {wire}, which ModelMetrics does not use")
        yield field, wire, value


def _double(field: int, wire: int, value) -> float:
    if wire != _I64:
        raise ProtoError(f"field {field} should be a double (wire type 1), has wire type {wire}")
    return struct.unpack("<d", value)[0]


@dataclass(frozen=True)
class Evaluation:
    """One ``EvaluationData``: absent fields are NaN."""

    current_epoch: float = math.nan
    training_time: float = math.nan
    train_accuracy: float = math.nan
    validation_accuracy: float = math.nan
    test_accuracy: float = math.nan


_EVALUATION_FIELDS = {1: "current_epoch", 2: "training_time", 3: "train_accuracy", 4: "validation_accuracy",
                      5: "test_accuracy"}


@dataclass(frozen=True)
class ModelMetrics:
    evaluations: tuple[Evaluation, ...]
    trainable_parameters: int | None
    total_time: float | None


def _parse_evaluation(data: bytes) -> Evaluation:
    values = {}
    for field, wire, value in _fields(data):
        if field in _EVALUATION_FIELDS:  # proto2 optional: the last occurrence wins
            values[_EVALUATION_FIELDS[field]] = _double(field, wire, value)
    return Evaluation(**values)


def parse_model_metrics(data: bytes, final_only: bool = False) -> ModelMetrics:
    """A serialized ``ModelMetrics`` message; a ``ProtoError`` if malformed.  ``final_only``: decode
    only the last ``evaluation_data`` (the end of training), the only one ``convert`` needs."""
    evaluations, params, total_time = [], None, None
    for field, wire, value in _fields(data):
        if field == 1:
            if wire != _LEN:
                raise ProtoError(f"field 1 (evaluation_data) should be a message, has wire type {wire}")
            evaluations.append(value)
        elif field == 2:
            if wire != _VARINT:
                raise ProtoError(f"field 2 (trainable_parameters) should be a varint, has wire type {wire}")
            value &= (1 << 64) - 1  # int32: a negative value is sign-extended to 64 bits
            params = value - (1 << 64) if value >= 1 << 63 else value
        elif field == 3:
            total_time = _double(field, wire, value)
    if final_only:
        evaluations = evaluations[-1:]
    return ModelMetrics(tuple(map(_parse_evaluation, evaluations)), params, total_time)


# --- NAS-Bench-101 records -------------------------------------------------------------------
@dataclass(frozen=True)
class Nb101Entry:
    """One record of the release: one training run of one cell at one epoch budget."""

    number: int
    offset: int
    module_hash: str
    epochs: int
    adjacency: str  # n*n '0'/'1' characters
    operations: str  # n op names joined by ','
    raw_metrics: str  # base64 of a serialized ModelMetrics

    def where(self, path) -> str:
        return f"{path}: record {self.number} at byte offset {self.offset}"

    def metrics(self, path, final_only: bool = False) -> ModelMetrics:
        try:
            return parse_model_metrics(base64.b64decode(self.raw_metrics, validate=True), final_only)
        except (binascii.Error, ProtoError) as exc:
            raise DataError(f"{self.where(path)}: its metrics are not a base64 ModelMetrics protobuf ({exc}); "
                            f"is it NAS-Bench-101's {OFFICIAL_FILE}?") from None


def read_entries(path: str | Path) -> Iterator[Nb101Entry]:
    """The records of a NAS-Bench-101 release file, decoded as far as the JSON layer."""
    for record in read_records(path):
        try:
            row = json.loads(record.data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            row = None
        if not (isinstance(row, list) and len(row) == 5 and isinstance(row[0], str)
                and isinstance(row[1], int) and not isinstance(row[1], bool)
                and all(isinstance(v, str) for v in row[2:])):
            raise DataError(f"{path}: record {record.number} at byte offset {record.offset} is not a NAS-Bench-101 "
                            "record (JSON [module_hash, epochs, adjacency, operations, metrics]); is the file "
                            f"NAS-Bench-101's {OFFICIAL_FILE}?")
        yield Nb101Entry(record.number, record.offset, *row)


@dataclass
class Conversion:
    """What ``convert`` read: the table and the counts a report needs."""

    table: pd.DataFrame | None  # COLUMNS
    records: int = 0
    used: int = 0
    other_epochs: dict | None = None
    hash_mismatches: int = 0
    first_mismatch: str | None = None
    params_differ: int = 0


def convert(path: str | Path, epochs: int = 108, on_record=None) -> Conversion:
    """One row per module hash over the records at ``epochs``: the mean of the runs' final
    validation and test accuracies (in %), the mean final training time (s), the parameter count
    (of the first record, as ``api.py`` keeps it) and the number of runs.

    ``matrix`` and ``ops`` are the file's, as written; each row must parse in the space (a
    one-line ``DataError`` naming the record otherwise).  A row whose hash differs from the
    space's ``graph_hash`` of its cell is counted (``hash_mismatches``), not refused.
    ``on_record(n)`` is called every few thousand records, for a progress bar.
    """
    space = NasBench101()
    rows: dict[str, int] = {}  # hash -> row
    first: list[tuple[str, str, int | None, int, int]] = []  # per row: matrix, ops, params, first record, offset
    run_row, val, test, seconds = array.array("q"), array.array("d"), array.array("d"), array.array("d")
    result = Conversion(table=None, other_epochs={})
    for entry in read_entries(path):
        result.records += 1
        if on_record is not None and result.records % 4096 == 0:
            on_record(4096)
        if entry.epochs != epochs:
            result.other_epochs[entry.epochs] = result.other_epochs.get(entry.epochs, 0) + 1
            continue
        metrics = entry.metrics(path, final_only=True)
        if not metrics.evaluations:
            raise DataError(f"{entry.where(path)}: its ModelMetrics holds no evaluation_data; is the file "
                            f"NAS-Bench-101's {OFFICIAL_FILE}?")
        final = metrics.evaluations[-1]  # the end of training (evaluation_data[2] in the release)
        for name in ("validation_accuracy", "test_accuracy"):
            if not math.isfinite(getattr(final, name)):
                raise DataError(f"{entry.where(path)}: its final evaluation has no {name}; is the file "
                                f"NAS-Bench-101's {OFFICIAL_FILE}?")
        row = rows.get(entry.module_hash)
        if row is None:
            row = rows[entry.module_hash] = len(first)
            first.append((entry.adjacency, entry.operations, metrics.trainable_parameters, entry.number,
                          entry.offset))
        elif metrics.trainable_parameters != first[row][2]:
            result.params_differ += 1
        run_row.append(row)
        val.append(final.validation_accuracy)
        test.append(final.test_accuracy)
        seconds.append(final.training_time)
        result.used += 1
    if on_record is not None:
        on_record(result.records % 4096)
    for module_hash, row in rows.items():
        matrix, ops, _, number, offset = first[row]
        try:
            cell = space.parse(f"{matrix}:{ops}")
        except ArchError as exc:
            raise DataError(f"{path}: record {number} at byte offset {offset}: {exc}") from None
        if graph_hash(cell) != module_hash:
            result.hash_mismatches += 1
            result.first_mismatch = result.first_mismatch or module_hash
    index = np.frombuffer(run_row, dtype=np.int64)
    runs = np.bincount(index, minlength=len(first))

    def mean(values: array.array) -> np.ndarray:
        return np.bincount(index, weights=np.frombuffer(values, dtype=np.float64), minlength=len(first)) / \
            np.maximum(runs, 1)

    params = [p for _, _, p, _, _ in first]
    result.table = pd.DataFrame({
        "hash": pd.Series(list(rows), dtype=object),
        "matrix": pd.Series([f[0] for f in first], dtype=object),
        "ops": pd.Series([f[1] for f in first], dtype=object),
        "val_accuracy": 100.0 * mean(val),
        "test_accuracy": 100.0 * mean(test),
        "params": pd.array(params, dtype="Int64"),
        "training_time": mean(seconds),
        "runs": runs.astype(np.int64),
    }, columns=list(COLUMNS))
    return result
