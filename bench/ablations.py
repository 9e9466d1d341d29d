"""Ablations: each candidate optimization of the engine measured against the engine without it.

Times are per architecture on a fixed seeded sample, variants interleaved cell by
cell in one process (so that load from other processes affects all alike), with
the Spearman correlation and bit-identity of each variant's scores against the
straightforward implementation.  Results: results/bench/ablations.json / .csv.

    .venv/bin/python bench/ablations.py [--sample 8] [--batch-size 128]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.append(str(ROOT / "tests"))  # the reference implementations (tests/reference_metrics.py)

from bench import agreement, load  # noqa: E402
from zcnas.data import load_batch  # noqa: E402
from zcnas.io import write_json, write_table  # noqa: E402
from zcnas.metrics.naswot import hook_logdet_score, naswot_kernel  # noqa: E402
from zcnas.metrics.synflow import synflow_cell  # noqa: E402
from zcnas.spaces.nats_tss.network import build_network  # noqa: E402
from zcnas.spaces.nats_tss.cells import sample_cell  # noqa: E402
from reference_metrics import reference_hook_logdet, reference_network, reference_synflow  # noqa: E402

CL = torch.channels_last


def hook_variant(name: str):
    """hook_logdet score_cell variants (all on the seeded weights of build_network)."""

    def score(cell, x):
        if name == "engine":
            return hook_logdet_score(build_network(cell, 10, seed=0, prune=True), x)
        if name == "no pruning (full pass, engine kernel)":
            return hook_logdet_score(build_network(cell, 10, seed=0), x)
        if name == "inference_mode":
            net = build_network(cell, 10, seed=0, prune=True)
            with torch.inference_mode():
                k = naswot_kernel(net, x)
            return _logdet(k)
        if name == "channels_last":
            net = build_network(cell, 10, seed=0, prune=True).to(memory_format=CL)
            return hook_logdet_score(net, x.contiguous(memory_format=CL))
        if name == "bf16 autocast":
            net = build_network(cell, 10, seed=0, prune=True)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return hook_logdet_score(net, x)
        if name == "2 threads":
            with threads(2):
                return hook_logdet_score(build_network(cell, 10, seed=0, prune=True), x)
        raise ValueError(name)

    return score


def _logdet(k):
    import math
    sign, v = torch.linalg.slogdet(k)
    return -math.inf if sign.item() == 0 else float(v)


@contextlib.contextmanager
def threads(n):
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def run(variants: dict, reference, cells, log) -> list[dict]:
    for fn in list(variants.values()) + [reference]:
        fn(cells[0])  # warm-up
    times = {k: [] for k in variants}
    scores = {k: [] for k in variants}
    ref_scores = []
    names = list(variants)
    for i, cell in enumerate(cells):
        ref_scores.append(reference(cell))
        order = names[i % len(names):] + names[:i % len(names)]  # rotate the order per cell
        for name in order:
            t = time.perf_counter()
            scores[name].append(variants[name](cell))
            times[name].append(time.perf_counter() - t)
        log(f"  cell {i + 1}/{len(cells)}: " + ", ".join(f"{n} {times[n][-1]:.3f}s" for n in names))
    base = np.median(times[names[0]])
    rows = []
    for name in names:
        a = agreement(scores[name], ref_scores)
        rows.append({"variant": name, "median_s": float(np.median(times[name])), "mean_s": float(np.mean(times[name])),
                     "speedup_vs_engine": float(base / np.median(times[name])), **a})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--parts", default="hook_logdet,snip,synflow,compile")
    ap.add_argument("--out", default=str(ROOT / "results" / "bench"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = Path(os.environ.get("ZCNAS_SHARED_DATA", ROOT.parent / "shared" / "data"))
    x, y = load_batch("cifar10", str(data / "samples" / "cifar10_sample.npz"), args.batch_size, 0)
    rng = random.Random(2024)
    cells = [sample_cell(rng) for _ in range(args.sample)]
    log = lambda m: print(m, flush=True)  # noqa: E731
    report = {"load_start": load(), "threads": args.threads, "batch_size": args.batch_size, "parts": {}}
    parts = args.parts.split(",")
    if "hook_logdet" in parts:
        names = ["engine", "no pruning (full pass, engine kernel)", "inference_mode", "channels_last",
                 "bf16 autocast", "2 threads"]
        variants = {n: (lambda f: (lambda c: f(c, x)))(hook_variant(n)) for n in names}
        log("hook_logdet variants")
        report["parts"]["hook_logdet"] = run(variants, lambda c: reference_hook_logdet(reference_network(c, 10, 0), x),
                                             cells, log)
    if "snip" in parts:
        from zcnas.metrics import ScoringContext, make_metric
        from reference_metrics import reference_snip

        ctx = ScoringContext(dataset="cifar10", num_classes=10, input_size=32, seed=0, batch_loader=lambda: (x, y))
        variants = {"engine": make_metric("snip", ctx).score_cell,
                    "channels_last": make_metric("snip", ctx, layout="channels_last").score_cell}
        log("snip variants")
        report["parts"]["snip"] = run(variants, lambda c: reference_snip(reference_network(c, 10, 0), x, y), cells, log)
    if "synflow" in parts:
        shape = (3, 32, 32)
        variants = {
            "engine (functional, no modules)": lambda c: synflow_cell(c, 10, shape, 0),
            "modules: build_network + deepcopy (pruned)": lambda c: __import__("zcnas.metrics.synflow", fromlist=["x"])
            .synflow_score(build_network(c, 10, seed=0, prune=True), shape),
        }
        log("synflow variants")
        report["parts"]["synflow"] = run(variants, lambda c: reference_synflow(reference_network(c, 10, 0), shape),
                                         cells, log)
    if "compile" in parts:
        cell = cells[0]
        net = build_network(cell, 10, seed=0).train()
        try:
            t = time.perf_counter()
            compiled = torch.compile(net)
            with torch.no_grad():
                compiled(x)
            first = time.perf_counter() - t
            t = time.perf_counter()
            with torch.no_grad():
                compiled(x)
            second = time.perf_counter() - t
            t = time.perf_counter()
            with torch.no_grad():
                net(x)
            eager = time.perf_counter() - t
            row = {"variant": "torch.compile forward, one architecture", "first_call_s": first,
                   "second_call_s": second, "eager_s": eager}
            log(f"torch.compile: first call {first:.1f}s (compiling), then {second:.3f}s; eager {eager:.3f}s")
        except Exception as exc:  # no C++ toolchain, unsupported op...
            row = {"variant": "torch.compile forward, one architecture", "error": f"{type(exc).__name__}: {exc}"[:300]}
            log(f"torch.compile failed: {row['error']}")
        report["parts"]["torch.compile"] = [row]
    report["load_end"] = load()
    write_json(Path(args.out) / "ablations.json", report)
    rows = [{"part": p, **r} for p, rs in report["parts"].items() for r in rs]
    write_table(Path(args.out) / "ablations.csv", pd.DataFrame(rows))
    print(pd.DataFrame(rows).to_string(index=False))
    print(f"load {report['load_start']} -> {report['load_end']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
