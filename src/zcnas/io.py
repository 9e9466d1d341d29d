"""Atomic file writes: a reader (or a killed writer) never sees a partial file.

We write to a temporary file in the destination's folder, flush and fsync it,
then ``os.replace`` it over the destination.  ``os.replace`` is atomic on
POSIX file systems, NFS included, and needs no locks.  Temporary names carry
the host and pid so concurrent writers never share one.
"""

from __future__ import annotations

import errno
import json
import math
import os
import socket
from pathlib import Path
from typing import Any

import pandas as pd


def _temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{socket.gethostname()}.{os.getpid()}.tmp")


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():  # else os.replace fails naming the temporary file, which the user never chose
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    tmp = _temp_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.replace(tmp, path)
        except OSError as exc:  # name the destination, not the temporary file
            raise type(exc)(exc.errno, exc.strerror, str(path)) from exc
    finally:
        if tmp.exists():
            tmp.unlink()


def _json_safe(value: Any) -> Any:
    """JSON has no NaN/inf: write them as the strings "nan", "inf", "-inf"."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _json_safe(value.item())
    return value


_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def parse_float(value: Any) -> float:
    """Inverse of the non-finite encoding of ``write_json``."""
    return float(value) if value is not None else math.nan


def _decode(value: Any) -> Any:
    """``read_json``'s inverse of ``_json_safe``: the strings "nan", "inf", "-inf" are floats again.

    No other string zcnas writes is spelled that way (architecture strings start with "|").
    """
    if isinstance(value, str):
        return _NON_FINITE.get(value, value)
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def write_json(path: str | Path, obj: Any) -> None:
    text = json.dumps(_json_safe(obj), indent=1, allow_nan=False)
    atomic_write_bytes(path, (text + "\n").encode())


def read_json(path: str | Path) -> Any:
    """A file of ``write_json``, non-finite floats included (they round-trip)."""
    with open(path, encoding="utf-8") as f:
        return _decode(json.load(f))


def write_table(path: str | Path, frame: pd.DataFrame) -> None:
    """Write a DataFrame as parquet (``.parquet``) or CSV, atomically."""
    path = Path(path)
    if path.suffix == ".parquet":
        import io

        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        atomic_write_bytes(path, buf.getvalue())
    else:
        atomic_write_bytes(path, frame.to_csv(index=False).encode())
