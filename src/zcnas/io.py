"""Atomic file writes: a reader (or a killed writer) never sees a partial file.

We write to a temporary file in the destination's folder, flush and fsync it,
then ``os.replace`` it over the destination.  ``os.replace`` is atomic on
POSIX file systems, NFS included, and needs no locks.  Temporary names carry
the host and pid so concurrent writers never share one.

JSON files are strict JSON, which any parser (pandas included) reads; their non-finite numbers
are null, spelled beside them, and ``read_json`` gives them back (``write_json``).
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


#: the key beside ``key`` that spells the non-finite numbers ``key``'s value held (see ``write_json``)
NON_FINITE_SUFFIX = "_non_finite"
_SPELLING = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _spell(value: float) -> str:
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _encode(value: Any) -> tuple[Any, Any]:
    """(strict-JSON value, its spelling of non-finite numbers) for ``write_json``.

    A non-finite float becomes null, spelled "nan", "inf" or "-inf"; a list's spelling mirrors the
    list (null where an item is finite), None when it holds no non-finite number.  A mapping keeps
    its own spellings under sibling keys, so it is always returned with None.
    """
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None, _spell(value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        spelled: dict[str, Any] = {}
        for k, v in value.items():
            out[str(k)], spelling = _encode(v)
            if spelling is not None:
                spelled[str(k) + NON_FINITE_SUFFIX] = spelling
        clash = sorted(set(spelled) & set(out))
        if clash:
            raise ValueError(f"cannot write non-finite numbers beside the key {clash[0]!r}, which is in use")
        return {**out, **spelled}, None
    if isinstance(value, (list, tuple)):
        pairs = [_encode(v) for v in value]
        spellings = [s for _, s in pairs]
        return [v for v, _ in pairs], (spellings if any(s is not None for s in spellings) else None)
    return value, None


def _restore(value: Any, spelling: Any) -> Any:
    """``value`` with the non-finite numbers of ``spelling`` put back (a spelling that does not fit is ignored)."""
    if isinstance(spelling, str) and value is None:
        return _SPELLING.get(spelling, value)
    if isinstance(spelling, list) and isinstance(value, list) and len(spelling) == len(value):
        return [_restore(v, s) for v, s in zip(value, spelling)]
    return value


def parse_float(value: Any) -> float:
    """A number of a result file as a float: null is NaN; the strings "nan", "inf", "-inf" of
    older files are floats."""
    return float(value) if value is not None else math.nan


def _decode(value: Any) -> Any:
    """``read_json``'s inverse of ``_encode``: non-finite numbers are floats again.

    Files written before non-finite numbers became null spell them as the strings "nan", "inf",
    "-inf"; no other string zcnas writes is spelled that way (architecture strings start with "|").
    """
    if isinstance(value, str):
        return _SPELLING.get(value, value)
    if isinstance(value, dict):
        out = {k: _decode(v) for k, v in value.items() if not _is_spelling(value, k)}
        for k in out:
            if k + NON_FINITE_SUFFIX in value and _is_spelling(value, k + NON_FINITE_SUFFIX):
                out[k] = _restore(out[k], value[k + NON_FINITE_SUFFIX])
        return out
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _is_spelling(mapping: dict, key: str) -> bool:
    """Whether ``key`` is the spelling ``_encode`` wrote beside another key of ``mapping``."""
    return (key.endswith(NON_FINITE_SUFFIX) and key[:-len(NON_FINITE_SUFFIX)] in mapping
            and _spelling_shaped(mapping[key]))


def _spelling_shaped(spelling: Any) -> bool:
    if isinstance(spelling, str):
        return spelling in _SPELLING
    if isinstance(spelling, list):
        return all(s is None or _spelling_shaped(s) for s in spelling)
    return False


def write_json(path: str | Path, obj: dict) -> None:
    """``obj`` as strict JSON (any JSON parser, pandas included, reads it), atomically.

    JSON has no NaN or infinity: a non-finite number is written as null, and the mapping that holds
    it spells it beside it, under the key's name + "_non_finite" ("nan", "inf" or "-inf"; for a
    list, a list of those and nulls), so ``read_json`` gives the same floats back:
    ``{"score": -inf}`` is written ``{"score": null, "score_non_finite": "-inf"}``.
    """
    encoded, spelling = _encode(obj)
    if spelling is not None:
        raise ValueError("write_json writes non-finite numbers only inside a mapping (the mapping spells them)")
    text = json.dumps(encoded, indent=1, allow_nan=False)
    atomic_write_bytes(path, (text + "\n").encode())


def read_json(path: str | Path) -> Any:
    """A file of ``write_json``, non-finite floats included (they round-trip), or of an older zcnas
    (non-finite numbers as strings)."""
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
