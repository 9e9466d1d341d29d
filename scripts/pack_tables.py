"""Rebuild the benchmark tables shipped in ``benchmarks/`` from their CSV form.

    python scripts/pack_tables.py                      # from ../shared/data into benchmarks/
    python scripts/pack_tables.py --source DIR         # DIR laid out like ../shared/data
    python scripts/pack_tables.py --check              # rebuild in memory, compare with benchmarks/

Each CSV becomes one parquet file (zstd), lossless: a column is stored as numbers only where every
cell's text is exactly what the readers get back from the number (``astype(str)``: ``93.13``,
``387882``), so the CSV's text -- and therefore every value any reader parses from it -- is
recovered; any other column (``00120120``, a 49-digit adjacency matrix) is stored as text.  The
files carry no timestamps and no pandas metadata, so packing the same CSVs twice with the same
pyarrow gives identical bytes (parquet records the writing library's version: another pyarrow
version may give other bytes with the same values; ``--check`` then reports them).

A value that would not survive, or a file that is not identical to the shipped one under
``--check``, is one line on stderr and exit status 1; a missing source, exit status 2.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
HW_DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
#: (CSV under the source folder, parquet under benchmarks/)
TABLES = [
    ("nats_tss/nats_tss_benchmark.csv", "nats_tss/nats_tss_benchmark.parquet"),
    *((f"spaces/nats_tss_hw/hw_nas_bench_{d}.csv", f"nats_tss_hw/hw_nas_bench_{d}.parquet") for d in HW_DATASETS),
    ("spaces/nas_bench_macro/nas_bench_macro_cifar10.csv", "nas_bench_macro/nas_bench_macro_cifar10.parquet"),
    ("spaces/nas_bench_101/nb101_sample500_cifar10.csv", "nas_bench_101/nb101_sample500_cifar10.parquet"),
]
# the highest zstd level: the files are written once and read often
WRITE_OPTIONS = dict(compression="zstd", compression_level=19, use_dictionary=True, write_statistics=True,
                     data_page_version="1.0", version="2.6")


def read_text(path: Path) -> pd.DataFrame:
    """Every cell as the CSV spells it (no NA guessing, no number parsing)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def typed_column(text: pd.Series) -> pa.Array:
    """Numbers where they give back the exact text, else the text."""
    numbers = pd.to_numeric(text, errors="coerce")
    if len(text) and numbers.notna().all() and numbers.astype(str).equals(text):
        return pa.array(numbers.to_numpy())
    return pa.array(text.tolist(), type=pa.string())


def pack(csv: Path) -> bytes:
    """The parquet bytes of one CSV; refuses to return any whose text does not come back."""
    text = read_text(csv)
    table = pa.table({name: typed_column(text[name]) for name in text.columns})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=max(1, len(text)), **WRITE_OPTIONS)
    data = buffer.getvalue()
    back = pd.read_parquet(io.BytesIO(data)).astype(str)
    if list(back.columns) != list(text.columns) or not back.equals(text.astype(str)):
        raise ValueError(f"{csv}: the packed table does not give back the CSV's text")
    return data


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "data",
                        help="folder laid out like ../shared/data (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks", help="default: %(default)s")
    parser.add_argument("--check", action="store_true", help="compare with --out instead of writing")
    args = parser.parse_args(argv)
    missing = [str(args.source / src) for src, _ in TABLES if not (args.source / src).is_file()]
    if missing:
        print(f"error: source tables missing: {', '.join(missing)}; give --source <folder like ../shared/data>",
              file=sys.stderr)
        return 2
    differ = []
    for src, dst in TABLES:
        try:
            data = pack(args.source / src)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        target = args.out / dst
        if args.check:
            if not target.is_file() or target.read_bytes() != data:
                differ.append(str(target))
            continue
        write_atomic(target, data)
        print(f"{target}: {len(data):,} bytes from {args.source / src}")
    if differ:
        print(f"error: differ from a fresh pack: {', '.join(differ)}; run python scripts/pack_tables.py",
              file=sys.stderr)
        return 1
    if args.check:
        print(f"{len(TABLES)} tables in {args.out} match a fresh pack of {args.source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
