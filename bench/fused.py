"""All proxies of a cell in one pass (zcnas.metrics.fused) against each proxy alone.

For ``--cells`` seeded NATS cells (default 50), the CIFAR-10 development batch (``--batch-size``,
default 128) and every metric's default settings (conf/metric/*.yaml, as ``task=score`` uses
them), each cell is scored by each of the ``--metrics`` alone (``make_metric(...).score_cell``, a
network built per metric, as a single-metric job does) and by ``FusedScorer`` with all of them,
interleaved cell by cell with the order rotating, so that load from other processes falls on
all alike.  Printed, and written to results/bench/<tag>.json:

* the median seconds per cell of hook_logdet alone, of each metric alone, of the sum of the
  single-metric times (median over cells of the per-cell sum), and of the fused scorer;
* the two targets of the fused engine: fused / hook_logdet alone
  (target <= 3) and sum of singles / fused (target >= 4);
* whether every fused score equals its single-metric score (bit for bit), per metric;
* the CPU model, its vector features, the torch threads, and the load average before and after.

    .venv/bin/python bench/fused.py                      # 50 cells, on an idle machine
    .venv/bin/python bench/fused.py --cells 3 --tag fused_smoke
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE))

ZOO = ("hook_logdet", "synflow", "snip", "grad_norm", "plain", "fisher", "grasp", "jacov", "epe_nas", "meco",
       "zico", "zen", "l2_norm", "params", "flops")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", type=int, default=50)
    ap.add_argument("--metrics", default=",".join(ZOO))
    ap.add_argument("--dataset", default="cifar10", choices=("cifar10", "cifar100", "ImageNet16-120"))
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0, help="network seed and batch seed")
    ap.add_argument("--sample-seed", type=int, default=2024)
    ap.add_argument("--threads", default="1", help="torch threads (default 1; auto = zcnas's policy)")
    ap.add_argument("--data-dir", default=os.environ.get("ZCNAS_SHARED_DATA", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--out", default=str(ROOT / "results" / "bench"))
    ap.add_argument("--tag", default="fused_cpu")
    ap.add_argument("--wait-idle", type=float, default=0, metavar="S",
                    help="wait up to S seconds until zcnas's policy would use every core (as bench.py)")
    args = ap.parse_args(argv)

    import torch
    from omegaconf import OmegaConf

    from bench import SAMPLE_FILES, cpu_info, load, set_threads, wait_for_idle
    from summary import FUSED_OVER_HOOK, SINGLES_OVER_FUSED  # the targets, stated once
    from zcnas.data import get_spec, load_batch
    from zcnas.io import write_json
    from zcnas.metrics import ScoringContext
    from zcnas.metrics.fused import FusedScorer, build_member
    from zcnas.spaces.nats_tss.cells import sample_cell
    from zcnas.tasks.score import metric_settings

    waited = wait_for_idle(args.wait_idle)
    threads, threads_why = set_threads(args.threads)  # bench.py's: one thread policy, one wording
    names = [m for m in args.metrics.split(",") if m]
    if "hook_logdet" not in names:
        ap.error("--metrics must include hook_logdet (the first target is relative to it)")
    spec = get_spec(args.dataset)
    path = Path(args.data_dir) / "samples" / SAMPLE_FILES[args.dataset]
    context = ScoringContext(dataset=args.dataset, num_classes=spec.num_classes, input_size=spec.input_size,
                             seed=args.seed, batch_loader=lambda: load_batch(args.dataset, str(path),
                                                                             batch_size=args.batch_size,
                                                                             seed=args.seed))
    settings = metric_settings(OmegaConf.create({}), names)  # conf/metric/<name>.yaml, as task=score
    singles = {n: build_member(n, context, settings[n]) for n in names}
    fused = FusedScorer(names, context, settings)
    rng = random.Random(args.sample_seed)
    cells = [sample_cell(rng) for _ in range(args.cells)]

    info = {**cpu_info(), "cores": os.cpu_count(), "threads": threads, "threads_setting": args.threads,
            "threads_why": threads_why, "waited_idle": waited, "torch": torch.__version__,
            "python": platform.python_version()}
    print(f"zcnas fused bench: {info['cpu']} ({' '.join(info['vector_features']) or 'no AVX2'}), {info['cores']} "
          f"cores, {threads} torch thread(s) ({threads_why}), OMP_WAIT_POLICY={info['omp_wait_policy']}; "
          f"{args.cells} cells, batch {args.batch_size} of {args.dataset}; load {load()}", flush=True)

    # warm-up (not timed): loads the batch, picks the C Cᵀ kernel, fills the params/flops tables
    fused.score_cell(cells[0])
    for n in names:
        singles[n].score_cell(cells[0])

    load_before = load()
    times: dict[str, list[float]] = {n: [] for n in names}
    times["fused"], times["sum_of_singles"] = [], []
    identical = dict.fromkeys(names, 0)
    max_rel = dict.fromkeys(names, 0.0)
    shares: dict[str, list[float]] = {n: [] for n in names}
    for k, cell in enumerate(cells):
        jobs = [*names, "fused"]
        r = k % len(jobs)
        jobs = jobs[r:] + jobs[:r]  # the order rotates from cell to cell
        alone, together = {}, {}
        for job in jobs:
            start = time.perf_counter()
            if job == "fused":
                together = fused.score_cell(cell)
            else:
                alone[job] = singles[job].score_cell(cell)
            times[job].append(time.perf_counter() - start)
        times["sum_of_singles"].append(sum(times[n][-1] for n in names))
        for n in names:
            shares[n].append(fused.seconds[n])
            a, b = together[n], alone[n]
            if a == b or (math.isnan(a) and math.isnan(b)):
                identical[n] += 1
            elif math.isfinite(a) and math.isfinite(b):
                max_rel[n] = max(max_rel[n], abs(a - b) / max(abs(b), 1e-300))
            else:
                max_rel[n] = math.inf
        print(f"  cell {k + 1}/{len(cells)} {cell}: fused {times['fused'][-1]:.3f} s, singles "
              f"{times['sum_of_singles'][-1]:.3f} s, hook_logdet {times['hook_logdet'][-1]:.3f} s", flush=True)
    load_after = load()

    med = {k: statistics.median(v) for k, v in times.items()}
    ratio_hook = med["fused"] / med["hook_logdet"]
    speedup = med["sum_of_singles"] / med["fused"]
    per_cell_speedup = statistics.median(s / f for s, f in zip(times["sum_of_singles"], times["fused"]))
    print(f"\nmedian seconds per cell over {len(cells)} cells (load {load_before} -> {load_after}):")
    for n in names:
        print(f"  {n:12s} alone {med[n]:8.4f} s   fused share {statistics.median(shares[n]):8.4f} s   "
              f"identical {identical[n]}/{len(cells)}" + (f", max rel diff {max_rel[n]:.2e}" if max_rel[n] else ""))
    print(f"  {'sum of singles':12s} {med['sum_of_singles']:8.4f} s (sum of the medians "
          f"{sum(med[n] for n in names):.4f} s)")
    print(f"  {'fused':12s} {med['fused']:8.4f} s")
    print(f"target 1: fused / hook_logdet alone = {ratio_hook:.2f} (target <= {FUSED_OVER_HOOK:g}: "
          f"{'met' if ratio_hook <= FUSED_OVER_HOOK else 'not met'})")
    print(f"target 2: sum of singles / fused = {speedup:.2f} (per-cell median {per_cell_speedup:.2f}; target >= "
          f"{SINGLES_OVER_FUSED:g}: {'met' if speedup >= SINGLES_OVER_FUSED else 'not met'})")

    report = {"meta": {**info, "dataset": args.dataset, "batch_size": args.batch_size, "seed": args.seed,
                       "sample_seed": args.sample_seed, "cells": len(cells), "metrics": names,
                       "load_before": load_before, "load_after": load_after,
                       "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "argv": sys.argv[1:]},
              "median_s": med, "fused_share_median_s": {n: statistics.median(v) for n, v in shares.items()},
              "fused_over_hook_logdet": ratio_hook, "singles_over_fused": speedup,
              "singles_over_fused_per_cell_median": per_cell_speedup,
              "identical": identical, "max_rel_diff": max_rel, "times_s": times,
              "cells": [str(c) for c in cells]}
    out = Path(args.out) / f"{args.tag}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, report)
    print(f"written {out}")
    return 0 if all(identical[n] == len(cells) for n in names) else 1


if __name__ == "__main__":
    sys.exit(main())
