"""The CPU choices measured on this machine: the C Cᵀ kernel and the thread policy.

Three parts, each figure printed with the CPU model, its vector features and the load average
(1, 5, 15 min) before and after it:

* ``kernel``: C Cᵀ for one random 128×16,384 binary code matrix (one NATS cell's largest ReLU
  layer at batch 128), int8 ``torch._int_mm`` against the float32 BLAS product, median of
  ``--repeats`` calls each (interleaved), at 1 thread and at the machine's core count; and
  which kernel zcnas's one-time measurement picks;
* ``hook_logdet``: the engine's per-cell seconds on ``--hook-cells`` seeded cells with the
  kernel zcnas picks against the other one (forced with ZCNAS_NASWOT_KERNEL), interleaved cell
  by cell; the scores must be identical;
* ``threads``: synflow on ``--synflow-cells`` seeded cells, each configuration in its own
  process (OMP_WAIT_POLICY must be set before torch loads): 1 thread; all cores with
  OMP_WAIT_POLICY unset (libgomp spins); all cores with PASSIVE; and zcnas's ``auto`` policy
  (with PASSIVE, as run.py sets it).  ``--rounds`` rounds, the order rotating.

``--compete N`` starts N CPU-bound busy loops (this script's own child processes, stopped at
the end; bench/compete.py) for the whole run, to measure "with one competing process" on an
otherwise idle machine.

    .venv/bin/python bench/cpu_policy.py                     # all parts, at the load there is
    .venv/bin/python bench/cpu_policy.py --compete 1 --tag cpu_policy_compete1
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))


def worker(args) -> int:
    """One synflow configuration in this process: print a JSON line of per-cell seconds."""
    import torch

    from bench import Scorers
    from zcnas.spaces.nats_tss.cells import sample_cell
    from zcnas.threads import resolve_threads

    if args.threads == "auto":
        threads, why = resolve_threads("auto")
    else:
        threads, why = int(args.threads), "given"
    torch.set_num_threads(threads)
    rng = random.Random(args.sample_seed)
    cells = [sample_cell(rng) for _ in range(args.synflow_cells)]
    scorers = Scorers("cifar10", 128, 0, "cpu", Path(args.data_dir) / "samples")
    score = scorers.engine("synflow")
    score(cells[0])  # warm-up
    times = []
    for cell in cells:
        start = time.perf_counter()
        score(cell)
        times.append(time.perf_counter() - start)
    print(json.dumps({"threads": threads, "why": why, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
                      "median_s": statistics.median(times), "total_s": sum(times)}))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", default="kernel,hook_logdet,threads")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--hook-cells", type=int, default=10)
    ap.add_argument("--synflow-cells", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--sample-seed", type=int, default=2024)
    ap.add_argument("--compete", type=int, default=0, help="CPU-bound busy loops to run beside the measurements")
    ap.add_argument("--data-dir", default=os.environ.get("ZCNAS_SHARED_DATA", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--out", default=str(ROOT / "results" / "bench"))
    ap.add_argument("--tag", default="cpu_policy")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--threads", default="1", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args)

    import torch

    from bench import Scorers, cpu_info, load
    from compete import BusyLoops
    from zcnas.metrics import naswot_kernels as kernels
    from zcnas.spaces.nats_tss.cells import sample_cell

    busy = BusyLoops(args.compete).start()
    info = {**cpu_info(), "cores": os.cpu_count(), "torch": torch.__version__, "compete": args.compete,
            "compete_pids": busy.pids}
    header = (f"{info['cpu']} ({' '.join(info['vector_features']) or 'no AVX2'}), {info['cores']} cores, "
              f"torch {info['torch']}" + (f", {args.compete} busy loop(s) of ours running" if args.compete else ""))
    report = {"meta": {**info, "argv": sys.argv[1:], "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}}

    def say(msg: str) -> None:
        print(f"[{header}] {msg}", flush=True)

    try:
        parts = args.parts.split(",")
        if "kernel" in parts:
            gen = torch.Generator().manual_seed(0)
            codes = torch.rand(kernels.PROBE_SHAPE, generator=gen) > 0.5
            rows = []
            for threads in sorted({1, os.cpu_count() or 1}):
                torch.set_num_threads(threads)
                before = load()
                times = {"int8": [], "float32": []}
                fns = {"int8": kernels.int8_product, "float32": kernels.float_product}
                for fn in fns.values():
                    fn(codes)
                for _ in range(args.repeats):
                    for name, fn in fns.items():
                        start = time.perf_counter()
                        fn(codes)
                        times[name].append(time.perf_counter() - start)
                row = {"threads": threads, "load_before": before, "load_after": load(),
                       **{f"{k}_median_s": statistics.median(v) for k, v in times.items()}}
                rows.append(row)
                say(f"kernel C Cᵀ {kernels.PROBE_SHAPE[0]}x{kernels.PROBE_SHAPE[1]}, {threads} thread(s), median of "
                    f"{args.repeats}: int8 {row['int8_median_s']:.4f} s, float32 {row['float32_median_s']:.4f} s "
                    f"(int8/float32 {row['int8_median_s'] / row['float32_median_s']:.2f}); "
                    f"load {before} -> {row['load_after']}")
            torch.set_num_threads(1)
            kernels.reset_choice()
            chosen = kernels.choose_kernel()
            report["kernel"] = {"rows": rows, "chosen": chosen, "choice": dict(kernels.choice_info)}
            say(f"zcnas's one-time choice (1 thread): {chosen} {kernels.choice_info}")

        if "hook_logdet" in parts:
            torch.set_num_threads(1)
            kernels.reset_choice()
            os.environ.pop(kernels.ENV, None)
            chosen = kernels.choose_kernel()
            other = next(k for k in kernels.KERNELS if k != chosen)
            rng = random.Random(args.sample_seed)
            cells = [sample_cell(rng) for _ in range(args.hook_cells)]
            scorers = Scorers("cifar10", 128, 0, "cpu", Path(args.data_dir) / "samples")
            score = scorers.engine("hook_logdet")
            times = {chosen: [], other: []}
            scores = {chosen: [], other: []}

            def run(kernel, cell):
                os.environ[kernels.ENV] = kernel
                kernels.reset_choice()
                start = time.perf_counter()
                value = score(cell)
                return value, time.perf_counter() - start

            run(chosen, cells[0])
            run(other, cells[0])  # warm-up
            before = load()
            for i, cell in enumerate(cells):
                for kernel in ((chosen, other) if i % 2 == 0 else (other, chosen)):
                    value, seconds = run(kernel, cell)
                    times[kernel].append(seconds)
                    scores[kernel].append(value)
            os.environ.pop(kernels.ENV, None)
            kernels.reset_choice()
            res = {"chosen": chosen, "other": other, "load_before": before, "load_after": load(),
                   "identical_scores": sum(a == b for a, b in zip(scores[chosen], scores[other])), "n": len(cells),
                   **{f"{k}_median_s": statistics.median(v) for k, v in times.items()}}
            report["hook_logdet"] = res
            say(f"hook_logdet engine, 1 thread, median s per cell over {len(cells)} cells: {chosen} (chosen) "
                f"{res[chosen + '_median_s']:.3f}, {other} {res[other + '_median_s']:.3f}; identical scores "
                f"{res['identical_scores']}/{len(cells)}; load {before} -> {res['load_after']}")

        if "threads" in parts:
            cores = os.cpu_count() or 1
            configs = [("1", "PASSIVE"), (str(cores), None), (str(cores), "PASSIVE"), ("auto", "PASSIVE")]
            results = {f"{t}/{p}": [] for t, p in configs}
            for r in range(args.rounds):
                for k in range(len(configs)):
                    threads, policy = configs[(k + r) % len(configs)]
                    env = dict(os.environ)
                    env.pop("OMP_WAIT_POLICY", None)
                    env.pop("OMP_NUM_THREADS", None)
                    if policy:
                        env["OMP_WAIT_POLICY"] = policy
                    before = load()
                    proc = subprocess.run([sys.executable, __file__, "--worker", "--threads", threads,
                                           "--synflow-cells", str(args.synflow_cells), "--sample-seed",
                                           str(args.sample_seed), "--data-dir", args.data_dir],
                                          env=env, capture_output=True, text=True, check=True)
                    res = json.loads(proc.stdout.strip().splitlines()[-1])
                    res.update(load_before=before, load_after=load(), round=r)
                    results[f"{threads}/{policy}"].append(res)
                    say(f"synflow, {args.synflow_cells} cells, threads={threads} ({res['threads']}: {res['why']}), "
                        f"OMP_WAIT_POLICY={policy or 'unset'}: total {res['total_s']:.2f} s, median "
                        f"{res['median_s']:.4f} s per cell; load {before} -> {res['load_after']}")
            report["threads"] = results
        report["meta"]["compete_cpu_s"] = busy.cpu_seconds()
    finally:
        busy.stop()
    report["meta"]["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    from zcnas.io import write_json

    write_json(Path(args.out) / f"{args.tag}.json", report)
    print(f"written: {Path(args.out) / (args.tag + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
