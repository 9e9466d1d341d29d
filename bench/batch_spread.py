"""How much the image batch moves a data-dependent proxy's correlation with test accuracy.

Every network, every cell and every weight stays as in the committed 1,000-cell sample rosters
(``results/rosters/sample1000/``, network seed 0); only the scoring batch is drawn again, with
``dataset.batch_seed=1..4`` (batch seed 0 is the committed roster itself).  For each proxy, dataset
and batch seed the report gives Spearman's ρ with the 200-epoch test accuracy over the same cells,
and the mean ± standard deviation over the batch seeds: the error bar of Table I's comparison with
the paper, whose batch is not known.

    python bench/batch_spread.py score  [--cells 1000] [--seeds 1 2 3 4] [--datasets ...] [--metrics ...] [--hardware gpu]
    python bench/batch_spread.py report

``score`` runs one resumable ``task=score`` job per dataset and batch seed (the ``--metrics`` together
on the fused engine, whose scores equal each metric's own) and copies each roster to
``results/rosters/batch_spread/``; a finished job is not run again.  ``make batch-spread`` scores
hook_logdet and snip (Table I's proxies) and the ensembles' jacov, meco and zico on all 1,000 cells,
in two jobs per dataset and batch seed (the second costs about twice the first).  ``report`` reads
those rosters, adds the best ensembles (jacov+meco+zico by ρ, jacov+synflow+zen for search;
``results/ensembles/``) on every batch their image-reading members were scored on, and writes
``results/correlation/batch_spread/`` (``batch_spread.md``, ``batch_spread.csv``).  ``make batch-spread`` runs both.
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from zcnas.io import atomic_write_bytes
from zcnas.studies.normalization import ensemble_scores

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "results" / "rosters" / "sample1000"
ROSTERS = ROOT / "results" / "rosters" / "batch_spread"
REPORT = ROOT / "results" / "correlation" / "batch_spread"
ACCURACIES = ROOT / "benchmarks" / "nats_tss" / "nats_tss_benchmark.parquet"
DATASETS = ("ImageNet16-120", "cifar10", "cifar100")
# hook_logdet and snip (Table I) and the data-dependent members of the best ensembles
# (jacov+meco+zico by ρ; jacov+synflow+zen for search, of which only jacov reads the batch)
METRICS = ("hook_logdet", "snip", "jacov", "meco", "zico")
#: the best ensembles (results/ensembles/): by ρ, and chosen for search, with their rules; a member
#: that reads no images (synflow, zen) keeps its committed sample score on every batch
ENSEMBLES = {("jacov", "meco", "zico"): "log", ("jacov", "synflow", "zen"): "geometric_rank"}
#: seeds the choice of the cells from the 1,000-cell sample (not the batch)
CELL_SEED = 0


def cells(count: int) -> list[int]:
    """``count`` cells of the committed 1,000-cell sample, a seeded choice, sorted."""
    sample = sorted(pd.read_parquet(SAMPLE / "hook_logdet_cifar10.parquet")["index"].astype(int))
    if not 3 <= count <= len(sample):
        sys.exit(f"error: --cells must be between 3 and {len(sample)}, got {count}")
    return sorted(int(i) for i in np.random.default_rng(CELL_SEED).choice(sample, count, replace=False))


def roster_name(metric: str, dataset: str, batch_seed: int) -> str:
    return f"{metric}_{dataset}_batch{batch_seed}.parquet"


def score(args: argparse.Namespace) -> None:
    chosen = cells(args.cells)
    output, rosters = Path(args.output).resolve(), Path(args.rosters)
    rosters.mkdir(parents=True, exist_ok=True)
    for dataset in args.datasets:
        for seed in args.seeds:
            command = [sys.executable, str(ROOT / "run.py"), "task=score",
                       f"metrics=[{','.join(args.metrics)}]", f"indices=[{','.join(map(str, chosen))}]",
                       f"dataset={dataset}", f"dataset.batch_seed={seed}", "seed=0",
                       f"hardware={args.hardware}", f"hardware.threads={args.threads}", "progress=false",
                       f"paths.output_dir={output}"]
            print(f"[batch_spread] {dataset} batch seed {seed}: {len(chosen)} cells", flush=True)
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
            if done.returncode:
                sys.exit(done.stderr.strip() or f"error: scoring {dataset} batch seed {seed} failed")
            folders = [p.parent for p in output.glob("score/*/result.json") if is_job(p, dataset, seed, args.metrics, chosen)]
            if len(folders) != 1:
                sys.exit(f"error: expected one finished job for {dataset} batch seed {seed} under {output}/score, "
                         f"found {len(folders)}")
            for metric in args.metrics:
                shutil.copyfile(folders[0] / f"roster_{metric}.parquet", rosters / roster_name(metric, dataset, seed))


def is_job(result: Path, dataset: str, seed: int, metrics: list[str], chosen: list[int]) -> bool:
    """Whether ``result`` is the finished job that scored ``metrics`` on these cells and this batch
    (read from its config: the folder name abbreviates long lists)."""
    try:
        done = json.loads(result.read_text(encoding="utf-8"))
        config = done["config"]
        return (done.get("status") == "ok" and list(config["metrics"]) == list(metrics)
                and config["dataset"]["name"] == dataset and config["dataset"]["batch_seed"] == seed
                and [int(i) for i in config["indices"]] == chosen)
    except (OSError, ValueError, KeyError, TypeError):
        return False


@functools.cache
def sample_roster(metric: str, dataset: str) -> pd.DataFrame:
    """The committed sample roster (batch seed 0), read once per report."""
    return pd.read_parquet(SAMPLE / f"{metric}_{dataset}.parquet")[["index", "score"]]


def spearman(scores: pd.Series, accuracy: pd.Series) -> tuple[float, int]:
    """ρ over the cells with a finite score, and how many were not finite."""
    finite = np.isfinite(scores.to_numpy(dtype=float))
    return float(stats.spearmanr(scores[finite], accuracy[finite]).statistic), int((~finite).sum())


def report(args: argparse.Namespace) -> None:
    table = pd.read_parquet(ACCURACIES).set_index("index")
    rows, rosters, out = [], Path(args.rosters), Path(args.out)
    batches = {}  # (metric, dataset, batch seed) -> that batch's scores, indexed by cell
    for path in sorted(rosters.glob("*_batch*.parquet")):
        metric_dataset, seed = path.stem.rsplit("_batch", 1)
        metric = next(m for m in METRICS if metric_dataset.startswith(m + "_"))
        dataset = metric_dataset[len(metric) + 1:]
        spread = pd.read_parquet(path)[["index", "score"]]
        # batch seed 0: the committed sample roster on the same cells
        committed = sample_roster(metric, dataset)
        base = committed[committed["index"].isin(spread["index"])]
        if len(base) != len(spread):
            sys.exit(f"error: {path.name} scores cells that {SAMPLE.name}/{metric}_{dataset}.parquet lacks")
        for batch_seed, frame in ((0, base), (int(seed), spread)):
            if (metric, dataset, batch_seed) in batches:
                continue
            batches[metric, dataset, batch_seed] = frame.set_index("index")["score"]
            accuracy = table.loc[frame["index"], f"{dataset}_test_acc"]
            rho, non_finite = spearman(frame["score"].reset_index(drop=True), accuracy.reset_index(drop=True))
            rows.append({"metric": metric, "dataset": dataset, "batch_seed": batch_seed, "cells": len(frame),
                         "non_finite": non_finite, "spearman": rho})
    if not rows:
        sys.exit(f"error: no rosters in {rosters}: run python bench/batch_spread.py score first")
    rows += ensemble_rows(batches, table)
    frame = pd.DataFrame(rows).sort_values(["metric", "dataset", "batch_seed"]).reset_index(drop=True)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "batch_spread.csv", frame.to_csv(index=False, float_format="%.6f").encode())
    atomic_write_bytes(out / "batch_spread.md", render(frame).encode())
    print(f"[batch_spread] wrote {out / 'batch_spread.md'}")


def ensemble_label(members: tuple[str, ...], rule: str) -> str:
    return f"{'+'.join(members)} [{rule}]"


def ensemble_rows(batches: dict, table: pd.DataFrame) -> list[dict]:
    """ρ of each best ensemble on every batch seed whose image-reading members were all scored, on the
    cells they share (normalized over those cells, as the ensemble study does over its sample)."""
    rows = []
    for members, rule in ENSEMBLES.items():
        reading = [m for m in members if m in METRICS]
        for dataset, seed in sorted({(d, s) for (m, d, s) in batches if m == reading[0]}):
            if not all((m, dataset, seed) in batches for m in reading):
                continue
            cells_ = sorted(set.intersection(*(set(batches[m, dataset, seed].index) for m in reading)))
            scores = {}
            for m in members:
                if m in reading:
                    scores[m] = batches[m, dataset, seed].loc[cells_].to_numpy(dtype=float)
                else:
                    scores[m] = sample_roster(m, dataset).set_index("index")["score"].loc[cells_].to_numpy(dtype=float)
            combined = pd.Series(ensemble_scores(scores, rule))
            rho, non_finite = spearman(combined, table.loc[cells_, f"{dataset}_test_acc"].reset_index(drop=True))
            rows.append({"metric": ensemble_label(members, rule), "dataset": dataset, "batch_seed": seed,
                         "cells": len(cells_), "non_finite": non_finite, "spearman": rho})
    return rows


def render(frame: pd.DataFrame) -> str:
    lines = ["# Spearman ρ with test accuracy over batch seeds",
             "",
             "For each proxy and dataset, the same cells of the 1,000-cell sample (all of them, or a seeded "
             "choice of `cells`; network seed 0) scored on five image batches (`dataset.batch_seed` 0–4; 0 is "
             "the committed sample roster); ρ over the cells with a finite score. The best ensembles "
             "(`results/ensembles/`) combine their members' scores on each batch (synflow and zen read no "
             "images: their committed scores), normalized over these cells, ρ over all of them. Mean ± standard "
             "deviation (ddof 1) over the batch seeds, and the range. Regenerate: `make batch-spread` (`bench/batch_spread.py`).",
             "",
             "| proxy | dataset | cells | batch seeds | ρ mean ± std | min | max |",
             "|---|---|---|---|---|---|---|"]
    order = {name: i for i, name in enumerate([*METRICS, *(ensemble_label(*e) for e in ENSEMBLES.items())])}
    groups = sorted(frame.groupby(["metric", "dataset"]), key=lambda g: (order.get(g[0][0], 99), g[0][1]))
    for (metric, dataset), group in groups:
        rho, cells_count = group["spearman"], group["cells"]
        if cells_count.nunique() != 1:
            sys.exit(f"error: the {metric} {dataset} rosters score different numbers of cells "
                     f"({sorted(set(cells_count))}); score every batch seed on the same --cells")
        lines.append(f"| {metric} | {dataset} | {int(cells_count.iloc[0])} | {len(group)} | {rho.mean():.4f} ± {rho.std(ddof=1):.4f} | "
                     f"{rho.min():.4f} | {rho.max():.4f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    run = sub.add_parser("score", help="score the cells on batch seeds 1..4 (resumable)")
    run.add_argument("--cells", type=int, default=1000)
    run.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    run.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    run.add_argument("--metrics", nargs="+", default=list(METRICS), choices=METRICS)
    run.add_argument("--threads", type=int, default=1)
    run.add_argument("--hardware", default="local", choices=["local", "gpu"], help="gpu: score on the CUDA GPU")
    run.add_argument("--output", default=str(ROOT / "outputs" / "batch_spread"), help="the jobs' folder")
    run.add_argument("--rosters", default=str(ROSTERS), help="where the rosters are copied")
    rep = sub.add_parser("report", help="ρ per batch seed, mean ± std, into results/correlation/batch_spread/")
    rep.add_argument("--rosters", default=str(ROSTERS))
    rep.add_argument("--out", default=str(REPORT))
    args = parser.parse_args()
    score(args) if args.step == "score" else report(args)


if __name__ == "__main__":
    main()
