"""Where a study's report goes, and whether the report already there may be replaced.

A study run without ``report_dir`` writes into its own job folder; only a named ``report_dir`` (the
Makefile's targets name ``results/...``) reaches a shared folder.  There, a report is replaced only
when the new one keeps every row of the existing one, each over at least as many architectures:
a small study never replaces a bigger one (``overwrite=true`` lifts this), while the same inputs
may always rewrite their own report.  What an existing report holds is read back from the CSV it
wrote, so no bookkeeping file is added beside it.

Plain pandas: no torch, no Hydra.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from zcnas.errors import ConfigError


def report_folder(report_dir, output_dir) -> Path:
    """``report_dir`` when set, else the job's own output folder."""
    if report_dir is not None and str(report_dir).strip():
        return Path(str(report_dir)).expanduser()
    if output_dir is None:
        raise ConfigError("report_dir is not set: name the folder the report goes to (report_dir=...)")
    return Path(output_dir)


def check_overwrite(value) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"overwrite must be true or false, got {value!r}")
    return value


def _text(value) -> str:
    """A key cell as text, the same whether it comes from a new table or is read back from CSV
    (where 3 may read as 3.0 and a missing value as NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def report_rows(frame: pd.DataFrame, key: list[str], size: str | None = None) -> dict[tuple[str, ...], float]:
    """Each row's key -> its size (the most architectures a key was computed over; 0 without ``size``)."""
    out: dict[tuple[str, ...], float] = {}
    for row in frame.itertuples(index=False):
        values = row._asdict()
        k = tuple(_text(values[c]) for c in key)
        n = float(values[size]) if size is not None and pd.notna(values[size]) else 0.0
        out[k] = max(out.get(k, 0.0), n)
    return out


def existing_rows(csv: Path, key: list[str], size: str | None = None) -> dict[tuple[str, ...], float] | None:
    """The rows of a report's CSV, or None where there is none (or it is unreadable: nothing to keep)."""
    if not csv.is_file():
        return None
    try:
        frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError):
        return None
    if not set(key) | ({size} if size else set()) <= set(frame.columns):
        return None
    if size is not None:
        frame[size] = pd.to_numeric(frame[size], errors="coerce")
    for c in key:  # as written: numbers as their CSV text, empty cells empty
        frame[c] = frame[c].map(_csv_text)
    return report_rows(frame, key, size)


def _csv_text(text: str) -> str:
    try:
        return _text(float(text)) if text.strip() else ""
    except ValueError:
        return text


def check_report_kept(folder: Path, csv_name: str, new: pd.DataFrame | None, key: list[str], *,
                      size: str | None = None, what: str, overwrite: bool) -> None:
    """Refuse (one line) to replace ``folder/csv_name`` with ``new`` when the existing report holds a
    row ``new`` lacks, or one over more architectures; ``new`` None: this run writes no such table."""
    if overwrite:
        return
    old = existing_rows(folder / csv_name, key, size)
    if not old:
        return
    mine = {} if new is None or new.empty else report_rows(
        new.assign(**{c: new[c].map(_normalized) for c in key}), key, size)
    lost = sorted(k for k, n in old.items() if k not in mine or mine[k] < n)
    if not lost:
        return
    first = lost[0]
    example = " ".join(part for part in first if part)
    if size is not None:
        here = f"{mine[first]:.0f}" if first in mine else "none"
        example += f": {old[first]:.0f} architectures there, {here} here"
    raise ConfigError(
        f"{folder} holds a report of {len(old)} {what} ({csv_name}); this run has {len(mine)} and lacks "
        f"{len(lost)} of those (e.g. {example}): write it to another report_dir=..., "
        "or add overwrite=true to replace it")


def _normalized(value):
    """A new table's key cell as the CSV would give it back (a float as its shortest text)."""
    if isinstance(value, str):
        return _csv_text(value)
    return value
