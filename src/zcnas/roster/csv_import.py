"""A roster from a CSV of scores (``task=import``): every cell parsed exactly or refused in one line."""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

from zcnas.errors import DataError
from zcnas.roster.identity import space_meta
from zcnas.roster.rows import Roster, make_rows
from zcnas.spaces import SearchSpace

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"\+?\d+(\.0*)?")  # 2 and 2.0 name architecture 2; 2.5 names none
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def parse_score(text: str) -> float:
    """A CSV score cell: a decimal number, or nan / inf / -inf (any case) for an explicit non-finite score."""
    value = text.strip()
    if value.lower() in _NON_FINITE:
        return _NON_FINITE[value.lower()]
    return _parse_number(value, "non-finite scores are written nan, inf or -inf")


def _parse_number(value: str, hint: str) -> float:
    if not value:
        raise ValueError(f"the cell is empty ({hint})")
    if not _NUMBER.fullmatch(value):
        raise ValueError(f"{value!r} is not a number ({hint})")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is too large for a 64-bit float")
    return number


def parse_index(text: str, size: int) -> int:
    value = text.strip()
    if not _INTEGER.fullmatch(value) or int(float(value)) >= size:
        raise ValueError(f"an architecture index must be an integer 0..{size - 1}, got {value!r}")
    return int(float(value))


def parse_seconds(text: str) -> float:
    seconds = _parse_number(text.strip(), "seconds must be a number >= 0")
    if seconds < 0:
        raise ValueError(f"seconds must be >= 0, got {text.strip()!r}")
    return seconds


def read_csv_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and, per data row, its line number and cells (all text: nothing is converted here)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if not header:
                raise DataError(f"CSV {path} is empty: it needs a header line and one line per architecture")
            if len(set(header)) != len(header):
                raise DataError(f"CSV {path} has two columns of the same name (header: {', '.join(header)})")
            rows = []
            for cells in reader:
                if not cells:
                    continue  # a blank line
                if len(cells) != len(header):
                    raise DataError(f"CSV {path}, line {reader.line_num}: {len(cells)} fields, but the header has "
                                    f"{len(header)}")
                rows.append((reader.line_num, dict(zip(header, cells))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"CSV {path} could not be read ({type(exc).__name__}: {exc})") from None
    return header, rows


def import_csv(path: str | Path, score_column: str, metric: str, dataset: str,
               seconds_column: str | None = None, *, space: SearchSpace) -> Roster:
    """A roster from a CSV with an ``index`` or ``arch`` column and a score column.

    Every cell must parse exactly (an error names the CSV, the line and the column): nothing is
    rounded, and no unparsable or empty cell silently becomes NaN.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"CSV to import not found: {path} (set source.path)")
    header, rows = read_csv_rows(path)
    columns = ", ".join(header)
    if score_column not in header:
        raise DataError(f"CSV {path} has no score column {score_column!r} (columns: {columns}); "
                        "set source.score_column to one of them")
    if seconds_column and seconds_column not in header:
        raise DataError(f"CSV {path} has no seconds column {seconds_column!r} (columns: {columns}); "
                        "set source.seconds_column to one of them, or to null")
    if "index" not in header and "arch" not in header:
        raise DataError(f"CSV {path} needs an 'index' or 'arch' column to identify architectures (columns: {columns})")
    if not rows:
        raise DataError(f"CSV {path} has a header but no data rows: nothing to import")
    records, seen = [], {}
    for line, cells in rows:
        index = _row_index(path, line, cells, space)
        if index in seen:
            raise DataError(f"CSV {path} lists architecture {index} more than once (lines {seen[index]} and {line})")
        seen[index] = line
        score = _cell(path, line, score_column, lambda: parse_score(cells[score_column]))
        seconds = 0.0
        if seconds_column:
            seconds = _cell(path, line, seconds_column, lambda: parse_seconds(cells[seconds_column]))
        records.append((index, score, seconds, "imported"))
    return Roster(make_rows(records, space), {**space_meta(space), "metric": metric, "dataset": dataset,
                                              "imported_from": str(path), "score_column": score_column})


def _row_index(path: Path, line: int, cells: dict[str, str], space: SearchSpace) -> int | str:
    """The row's architecture: its index, its arch string, or both (then they must agree); in a space
    without an index, its canonical arch string."""
    if not space.indexed:
        if "arch" not in cells:
            raise DataError(f"CSV {path}: space {space.name} has no index; name architectures in an 'arch' column")
        return _cell(path, line, "arch", lambda: space.canonical(cells["arch"]))
    index = _cell(path, line, "index", lambda: parse_index(cells["index"], space.size)) if "index" in cells else None
    if "arch" in cells:
        from_arch = _cell(path, line, "arch", lambda: space.index(space.parse(cells["arch"])))
        if index is not None and from_arch != index:
            raise DataError(f"CSV {path}, line {line}, column 'arch': {cells['arch']!r} is architecture "
                            f"{from_arch}, but column 'index' says {index}")
        index = from_arch
    return index


def _cell(path: Path, line: int, column: str, parse):
    """``parse()``, its ValueError (ArchError included) as one line naming the CSV, line and column."""
    try:
        return parse()
    except ValueError as exc:
        raise DataError(f"CSV {path}, line {line}, column {column!r}: {exc}") from None
