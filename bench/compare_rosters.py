"""Compare rosters of the same metric and dataset scored twice (e.g. on a GPU and on the CPU).

    python bench/compare_rosters.py A1.parquet B1.parquet [A2.parquet B2.parquet ...] [--out FILE.md]

For each pair, on the architectures both hold: how many, how many scores are bit-identical,
the median and largest relative difference |a - b| / max(|a|, |b|), and Spearman rho of a
against b.  Prints a markdown table (and writes it to --out).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from zcnas.io import atomic_write_bytes  # noqa: E402
from zcnas.roster import check_compatible, read_roster  # noqa: E402


def compare(a_path: str, b_path: str) -> str:
    a, b = read_roster(a_path), read_roster(b_path)
    check_compatible([(a_path, a), (b_path, b)])  # same metric, dataset, seed, batch, settings
    common = sorted(a.indices & b.indices)
    sa, sb = a.scores(), b.scores()
    x = np.array([sa[i] for i in common], dtype=float)
    y = np.array([sb[i] for i in common], dtype=float)
    both = np.isfinite(x) & np.isfinite(y)
    same_nonfinite = int(((~np.isfinite(x)) & (~np.isfinite(y)) & ((x == y) | (np.isnan(x) & np.isnan(y)))).sum())
    rel = np.abs(x[both] - y[both]) / np.maximum(np.maximum(np.abs(x[both]), np.abs(y[both])), 1e-300)
    rho = spearmanr(x[both], y[both]).statistic if both.sum() > 2 else float("nan")
    return (f"| {a.meta['metric']} | {a.meta['dataset']} | {a.meta.get('device', '?')} | {b.meta.get('device', '?')} "
            f"| {len(common)} | {int((x[both] == y[both]).sum())} | {same_nonfinite}/{int((~both).sum())} "
            f"| {np.median(rel):.1e} | {rel.max():.1e} | {rho:.6f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rosters", nargs="+", help="pairs: A1 B1 A2 B2 ...")
    ap.add_argument("--out", help="also write the table here")
    args = ap.parse_args()
    if len(args.rosters) % 2:
        ap.error("give rosters in pairs (A B)")
    lines = ["| metric | dataset | device A | device B | cells | identical | same non-finite | median rel. diff "
             "| max rel. diff | Spearman |", "|---" * 10 + "|"]
    pairs = zip(args.rosters[::2], args.rosters[1::2])
    lines += [compare(a, b) for a, b in pairs]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out:
        atomic_write_bytes(Path(args.out), text.encode())


if __name__ == "__main__":
    main()
