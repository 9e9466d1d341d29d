"""Do the scores depend on the torch thread count?  Every proxy of the fused engine at 1 and 2 threads.

For ``--cells`` seeded NATS-Bench cells and ``--macro`` seeded NAS-Bench-Macro networks, the
CIFAR-10 development batch (``--batch-size``, default 32, a quarter of ``task=score``'s 128, to
keep the run short: the 1-thread process took 2.6 min at load 5-10 on 2 cores, the 2-thread one,
slowed by the load, 26 min) and every metric's
default settings (conf/metric/*.yaml), each architecture is scored by ``FusedScorer`` with all 15
proxies, once per thread count of ``--threads``.  Each thread count runs in its own process
(``torch.set_num_threads`` at its start, as a job's ``hardware.threads`` does; the interop pool
is left as torch made it), one after the other.  Printed, and written to results/bench/<tag>.json:

* per metric and space: how many scores are bit-identical between the thread counts (NaN equal
  to NaN), the largest relative difference, and the Spearman correlation of the two rankings;
* the CPU model and vector features, cores, torch version, and each process's thread count, its
  C Cᵀ kernel (zcnas.metrics.naswot_kernels) and its seconds.

    .venv/bin/python bench/thread_repro.py                          # 20 cells, 4 macro networks
    .venv/bin/python bench/thread_repro.py --cells 2 --macro 1 --batch-size 128 --tag thread_repro_b128
    .venv/bin/python bench/thread_repro.py --against results/bench/thread_repro.json --tag here
        # the same architectures on this machine against another machine's scores (1 thread each)
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE))

from fused import ZOO  # noqa: E402  the 15 proxies, named once


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", type=int, default=20, help="seeded NATS-Bench cells")
    ap.add_argument("--macro", type=int, default=4, help="seeded NAS-Bench-Macro networks")
    ap.add_argument("--threads", default="1,2", help="the thread counts to compare, the first the reference")
    ap.add_argument("--metrics", default=",".join(ZOO))
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0, help="network seed and batch seed")
    ap.add_argument("--sample-seed", type=int, default=2024)
    ap.add_argument("--data-dir", default=os.environ.get("ZCNAS_SHARED_DATA", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--out", default=str(ROOT / "results" / "bench"))
    ap.add_argument("--tag", default="thread_repro")
    ap.add_argument("--against", metavar="JSON",
                    help="also compare this machine's first thread count with the scores of this earlier output")
    ap.add_argument("--worker", metavar="JSON", help=argparse.SUPPRESS)  # one thread count's process
    ap.add_argument("--worker-threads", type=int, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def architectures(args) -> dict[str, list]:
    """The seeded architectures per space, the same in every process."""
    from zcnas.spaces.nats_tss.cells import sample_cell
    from zcnas.spaces import make_space

    rng = random.Random(args.sample_seed)
    macro = make_space("nas_bench_macro")
    mrng = random.Random(args.sample_seed + 1)
    return {"nats_tss": [sample_cell(rng) for _ in range(args.cells)],
            "nas_bench_macro": [macro.sample(mrng) for _ in range(args.macro)]}


def worker(args) -> int:
    """Score every architecture at ``--worker-threads`` threads; write the scores as JSON."""
    import torch

    torch.set_num_threads(args.worker_threads)  # before any torch work, as configure_hardware does
    from omegaconf import OmegaConf

    from bench import SAMPLE_FILES
    from zcnas.metrics import naswot_kernels as kernels
    from zcnas.data import get_spec, load_batch
    from zcnas.io import write_json
    from zcnas.metrics import ScoringContext
    from zcnas.metrics.fused import FusedScorer
    from zcnas.spaces import make_space
    from zcnas.tasks.score import metric_settings

    names = [m for m in args.metrics.split(",") if m]
    settings = metric_settings(OmegaConf.create({}), names)  # conf/metric/<name>.yaml, as task=score
    spec = get_spec("cifar10")
    path = Path(args.data_dir) / "samples" / SAMPLE_FILES["cifar10"]
    batch = load_batch("cifar10", str(path), batch_size=args.batch_size, seed=args.seed)
    out = {"threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads(),
           "scores": {}, "archs": {}, "seconds": {}, "errors": {}}
    for space_name, archs in architectures(args).items():
        space = None if space_name == "nats_tss" else make_space(space_name)
        context = ScoringContext(dataset="cifar10", num_classes=spec.num_classes, input_size=spec.input_size,
                                 seed=args.seed, batch_loader=lambda: batch, space=space)
        scorer = FusedScorer(names, context, settings)
        scores: dict[str, list[float]] = {n: [] for n in names}
        labels, start = [], time.perf_counter()
        for arch in archs:
            got = scorer.score_cell(arch)
            labels.append(str(arch) if space is None else space.format(arch))
            for n in names:
                scores[n].append(float(got[n]))
        out["scores"][space_name], out["archs"][space_name] = scores, labels
        out["seconds"][space_name] = time.perf_counter() - start
    out["naswot_kernel"] = kernels.choose_kernel()
    out["naswot_kernel_choice"] = {k: v for k, v in kernels.choice_info.items() if k != "shape"}
    write_json(Path(args.worker), out)
    return 0


def run_worker(args, threads: int, folder: Path) -> dict:
    path = folder / f"threads{threads}.json"
    argv = [a for a in sys.argv[1:] if not a.startswith("--against") and a != args.against]
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}  # torch.set_num_threads decides
    subprocess.run([sys.executable, __file__, *argv, "--worker", str(path), "--worker-threads", str(threads)],
                   check=True, env=env)
    from zcnas.io import read_json

    return read_json(path)


def compare(ref: dict, other: dict, names: list[str]) -> dict:
    """Per space and metric: bit-identical count, largest relative difference, Spearman of the rankings."""
    from bench import agreement

    table = {}
    for space_name, scores in ref["scores"].items():
        if other["archs"].get(space_name) != ref["archs"][space_name]:
            raise SystemExit(f"error: the two runs scored different {space_name} architectures "
                             "(another --cells, --macro or --sample-seed?)")
        table[space_name] = {n: agreement(other["scores"][space_name][n], scores[n]) for n in names}
    return table


def print_table(title: str, table: dict, names: list[str]) -> None:
    print(f"\n{title}")
    print(f"  {'metric':12s} " + "  ".join(f"{s + ': identical, max rel diff, Spearman':52s}" for s in table))
    for n in names:
        cells = []
        for row in table.values():
            a = row[n]
            cells.append(f"{a['identical']:>3d}/{a['n']:<3d} {a['max_rel_diff']:9.2e}  {a['spearman']:.6f}"
                         .ljust(52))
        print(f"  {n:12s} " + "  ".join(cells))


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker(args)

    import torch

    from bench import cpu_info, load
    from zcnas.io import read_json, write_json

    names = [m for m in args.metrics.split(",") if m]
    counts = [int(t) for t in args.threads.split(",") if t]
    if len(counts) < 2 and not args.against:
        raise SystemExit("error: --threads needs two thread counts (e.g. 1,2), or give --against")
    info = {**cpu_info(), "cores": os.cpu_count(), "torch": torch.__version__, "python": platform.python_version(),
            "host": platform.node()}
    print(f"zcnas thread reproducibility: {info['cpu']} ({' '.join(info['vector_features']) or 'no AVX2'}), "
          f"{info['cores']} cores, torch {info['torch']}; threads {counts}; {args.cells} NATS cells + "
          f"{args.macro} NAS-Bench-Macro networks, batch {args.batch_size} of cifar10; load {load()}", flush=True)

    load_before, started = load(), time.perf_counter()
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for t in counts:
            runs[t] = run_worker(args, t, Path(tmp))
            r = runs[t]
            print(f"  {t} thread(s): {r['threads']} intra-op, {r['interop_threads']} interop; naswot kernel "
                  f"{r['naswot_kernel']}; " + ", ".join(f"{s} {v:.1f} s" for s, v in r["seconds"].items()),
                  flush=True)
    load_after = load()

    ref = runs[counts[0]]
    tables = {}
    for t in counts[1:]:
        key = f"{counts[0]}_vs_{t}_threads"
        tables[key] = compare(ref, runs[t], names)
        print_table(f"{counts[0]} vs {t} threads (load {load_before} -> {load_after}):", tables[key], names)
    if args.against:
        earlier = read_json(args.against)
        theirs = {k: earlier["meta"].get(k) for k in ("batch_size", "seed", "metrics")}
        if theirs != {"batch_size": args.batch_size, "seed": args.seed, "metrics": names}:
            raise SystemExit(f"error: {args.against} was run with {theirs}; give the same --batch-size, "
                             "--seed and --metrics")
        other = earlier["runs"][str(earlier["meta"]["threads"][0])]
        key = f"this_machine_vs_{Path(args.against).stem}"
        tables[key] = compare(other, ref, names)
        print_table(f"{counts[0]} thread(s) here vs {args.against} ({earlier['meta'].get('cpu')}):",
                    tables[key], names)
    print(f"wall {time.perf_counter() - started:.0f} s")

    report = {"meta": {**info, "threads": counts, "cells": args.cells, "macro": args.macro,
                       "batch_size": args.batch_size, "seed": args.seed, "sample_seed": args.sample_seed,
                       "metrics": names, "load_before": load_before, "load_after": load_after,
                       "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "argv": sys.argv[1:]},
              "agreement": tables, "runs": {str(t): r for t, r in runs.items()}}
    out = Path(args.out) / f"{args.tag}.json"
    write_json(out, report)
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
