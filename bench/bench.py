"""``make bench``: the scoring engine against the straightforward implementation, side by side.

For each metric (synflow, hook_logdet, snip), a fixed seeded sample of
architectures is scored by both implementations in the same process,
interleaved cell by cell (the order alternates), so that load from other
processes affects both alike.  Printed and written (results/bench/*.json,
*.csv, atomically):

* per-architecture seconds: median, p90, mean, architectures per second;
* peak memory: the process's resident set size (RSS, from /proc/self/status,
  sampled every 5 ms by a thread) while each implementation was running, and
  the process-wide ``resource.getrusage(RUSAGE_SELF).ru_maxrss``;
* agreement: Spearman rank correlation of the two implementations' scores,
  how many are bit-identical, the largest relative difference;
* end-to-end searches through ``zcnas.search`` with the Evaluator memo (live
  scoring): random search N and aging evolution M for the engine, and for the
  straightforward implementation either run in full or estimated (see
  ``--baseline-search``);
* the machine's load average before and after each part;
* the speed targets (bench/summary.py): per paper metric the engine's and the
  reference's median seconds per cell and their ratio, against 4x at idle and 1x (never slower)
  with ``--compete N`` >= 1; and the thread policy in effect (torch threads, how they were
  decided, OMP_WAIT_POLICY).

``--compete N`` runs N CPU-bound busy loops (child processes of this one, bench/compete.py) from
before the thread count is decided until the measurements end; they are stopped in every case.

Examples::

    make bench                               # two passes, --threads auto: idle (50 cells per metric,
                                             # aging M=500) and --compete 1 (50 cells), then the targets
    make bench ARGS="--quick"                # a few minutes
    .venv/bin/python bench/bench.py          # one pass: 1 thread, searches N=M=500
    .venv/bin/python bench/bench.py --threads auto --compete 1 --searches none --tag bench_cpu_compete1
    make bench ARGS="--metrics synflow --searches none"
    make bench BENCH_TAG=bench_cpu_s20 ARGS="--sample 20"   # files bench_cpu_s20_idle.*, ..._compete1.*
    .venv/bin/python bench/bench.py --metrics grad_norm,zico,params --searches none --sample 12 --tag bench_cpu_zoo
                                             # zoo engines vs the metric function on the full network
    .venv/bin/python bench/bench.py --device cuda
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from zcnas.data import get_spec, load_batch  # noqa: E402
from zcnas.io import write_json, write_table  # noqa: E402
from zcnas.metrics.counts import flops_score, params_score  # noqa: E402
from zcnas.metrics.epe_nas import epe_nas_score  # noqa: E402
from zcnas.metrics.grad_norm import grad_norm_score  # noqa: E402
from zcnas.metrics.grasp import grasp_score  # noqa: E402
from zcnas.metrics.jacov import jacov_score  # noqa: E402
from zcnas.metrics.plain import plain_score  # noqa: E402
from zcnas.metrics.zico import zico_score  # noqa: E402
from zcnas.metrics import ScoringContext, make_metric  # noqa: E402
from zcnas.spaces.nats_tss.network import build_network  # noqa: E402
from zcnas.search import Evaluator, run_search  # noqa: E402
from zcnas.spaces.nats_tss.cells import is_disconnected, sample_cell  # noqa: E402
from zcnas.spaces.nats_tss.space import NATS_TSS  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.append(str(ROOT / "tests"))  # the reference implementations (tests/reference_metrics.py)
from compete import BusyLoops  # noqa: E402
from reference_metrics import reference_score  # noqa: E402
from summary import compute_targets, format_targets, policy_line  # noqa: E402

METRICS = ("synflow", "hook_logdet", "snip")
SAMPLE_FILES = {"cifar10": "cifar10_sample.npz", "cifar100": "cifar100_sample.npz",
                "ImageNet16-120": "imagenet16_120_sample.npz"}


# --- measuring ----------------------------------------------------------------------

def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


def maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class PeakRSS:
    """Samples the RSS every ``interval`` s and keeps the peak per active label."""

    def __init__(self, interval: float = 0.005):
        self.interval, self.label, self.peak = interval, None, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        if self.label is not None:
            self.peak[self.label] = max(self.peak.get(self.label, 0.0), rss_mib())

    def __enter__(self) -> "PeakRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def measure(self, label: str, fn, *args, **kwargs):
        self.label = label
        self.sample()
        try:
            start = time.perf_counter()
            value = fn(*args, **kwargs)
            return value, time.perf_counter() - start
        finally:
            self.sample()
            self.label = None


VECTOR_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8")


def cpu_info() -> dict:
    """The CPU model and the vector features that decide kernel speeds (from /proc/cpuinfo)."""
    model, flags = None, set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model is None:
                    model = value.strip()
                elif key.strip() in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    model = model or platform.processor() or platform.machine()
    return {"cpu": model, "vector_features": [f for f in VECTOR_FLAGS if f in flags],
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}


def load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def summary(times: list[float]) -> dict:
    t = np.asarray(times)
    return {"n": int(t.size), "median_s": float(np.median(t)), "p90_s": float(np.percentile(t, 90)),
            "mean_s": float(t.mean()), "archs_per_s": float(t.size / t.sum()) if t.sum() > 0 else math.nan}


def agreement(a: list[float], b: list[float]) -> dict:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    finite = np.isfinite(a) & np.isfinite(b)
    rel = np.abs(a - b)[finite] / np.maximum(np.abs(b[finite]), 1e-300)
    # rank -inf lowest (as searches do); scipy ranks -inf below every finite value
    rho = float(spearmanr(np.nan_to_num(a, nan=-np.inf), np.nan_to_num(b, nan=-np.inf))[0]) if len(a) > 2 else math.nan
    return {"spearman": rho, "identical": int(same.sum()), "n": int(len(a)),
            "max_rel_diff": float(rel.max()) if rel.size else 0.0}


# --- the two implementations ---------------------------------------------------------

class Scorers:
    def __init__(self, dataset: str, batch_size: int, seed: int, device: str, data_dir: Path,
                 layout: str = "contiguous"):
        self.layout = layout
        spec = get_spec(dataset)
        self.num_classes, self.input_shape, self.seed, self.device = spec.num_classes, (3, spec.input_size,
                                                                                     spec.input_size), seed, device
        path = data_dir / SAMPLE_FILES[dataset]
        self._loader = lambda: load_batch(dataset, str(path), batch_size=batch_size, seed=seed)
        self.context = ScoringContext(dataset=dataset, num_classes=spec.num_classes, input_size=spec.input_size,
                                      seed=seed, device=device, batch_loader=self._loader)
        self.metrics = {}

    def engine(self, name: str):
        if name not in self.metrics:
            params = {"layout": self.layout} if name in ("hook_logdet", "snip") else {}
            self.metrics[name] = make_metric(name, self.context, **params)
        return self.metrics[name].score_cell

    def reference(self, name: str):
        if name in ZOO_REFERENCE:
            return self.zoo_reference(name)
        batch = self.context.batch if name != "synflow" else None

        def score(cell):
            return reference_score(name, cell, self.num_classes, self.seed, batch, self.input_shape, self.device)

        return score


    def zoo_reference(self, name: str):
        """The zoo metric's model-level function on the full network (``prune=False``), as a user would call it."""
        fn = ZOO_REFERENCE[name]

        def score(cell):
            net = build_network(cell, self.num_classes, seed=self.seed, prune=False).to(self.device)
            x, y = self.context.batch if name not in ("params", "flops") else (None, None)
            return fn(net, x, y, self.input_shape, self.num_classes)

        return score


#: zoo metrics whose engine differs from building the full network and calling the metric's function:
#: the pruned pass (gradient and Jacobian proxies) and per-edge sums (params, flops); see docs/metrics.md
ZOO_REFERENCE = {
    "grad_norm": lambda net, x, y, shape, classes: grad_norm_score(net, x, y),
    "plain": lambda net, x, y, shape, classes: plain_score(net, x, y),
    "grasp": lambda net, x, y, shape, classes: grasp_score(net, x, y),
    "zico": lambda net, x, y, shape, classes: zico_score(net, x, y, 2),
    "jacov": lambda net, x, y, shape, classes: jacov_score(net, x),
    "epe_nas": lambda net, x, y, shape, classes: epe_nas_score(net, x, y, classes),
    "params": lambda net, x, y, shape, classes: params_score(net),
    "flops": lambda net, x, y, shape, classes: flops_score(net, shape),
}


# --- the parts of the benchmark ---------------------------------------------------------

def bench_per_arch(scorers: Scorers, metric: str, cells, peak: PeakRSS, log) -> tuple[dict, list[dict]]:
    fns = {"engine": scorers.engine(metric), "reference": scorers.reference(metric)}
    for fn in fns.values():  # warm up (first-call overheads, lazy batch loading); not timed
        fn(cells[0])
    times = {k: [] for k in fns}
    scores = {k: [] for k in fns}
    rows = []
    load_before = load()
    for i, cell in enumerate(cells):
        order = ("engine", "reference") if i % 2 == 0 else ("reference", "engine")
        row = {"metric": metric, "i": i, "index": cell.index, "arch": str(cell), "disconnected": is_disconnected(cell)}
        for impl in order:
            score, seconds = peak.measure(f"{metric}/{impl}", fns[impl], cell)
            times[impl].append(seconds)
            scores[impl].append(score)
            row[f"{impl}_seconds"], row[f"{impl}_score"] = seconds, score
        rows.append(row)
        if (i + 1) % 10 == 0:
            log(f"  {metric}: {i + 1}/{len(cells)} cells, engine median {statistics.median(times['engine']):.3f} s, "
                f"reference median {statistics.median(times['reference']):.3f} s")
    result = {"metric": metric, "load_before": load_before, "load_after": load(),
              "agreement": agreement(scores["engine"], scores["reference"])}
    for impl in fns:
        result[impl] = {**summary(times[impl]), "peak_rss_mib": peak.peak.get(f"{metric}/{impl}", math.nan)}
    result["ratio_median"] = result["reference"]["median_s"] / result["engine"]["median_s"]
    result["ratio_mean"] = result["reference"]["mean_s"] / result["engine"]["mean_s"]
    return result, rows


def bench_search(scorers: Scorers, metric: str, search: str, params: dict, baseline: str, estimate_cells: int,
                 peak: PeakRSS, seed: int, log) -> dict:
    out = {"metric": metric, "search": search, "params": params, "load_before": load()}
    evaluator = Evaluator(scorers.engine(metric))
    result, seconds = peak.measure(f"{search}/{metric}/engine", run_search, search, evaluator,
                                   random.Random(seed), None, space=NATS_TSS, **params)
    out["engine"] = {"total_s": seconds, "scoring_s": evaluator.wall_seconds, "distinct": evaluator.distinct,
                     "requests": evaluator.requests, "best": str(result.best_cell), "best_score": result.best_score,
                     "peak_rss_mib": peak.peak.get(f"{search}/{metric}/engine", math.nan)}
    log(f"  {search} {metric} engine: {seconds:.1f} s, {evaluator.distinct} distinct cells")
    if baseline == "run":
        ref_eval = Evaluator(scorers.reference(metric))
        ref_result, ref_seconds = peak.measure(f"{search}/{metric}/reference", run_search, search, ref_eval,
                                               random.Random(seed), None, space=NATS_TSS, **params)
        out["reference"] = {"total_s": ref_seconds, "scoring_s": ref_eval.wall_seconds, "distinct": ref_eval.distinct,
                            "requests": ref_eval.requests, "best": str(ref_result.best_cell),
                            "best_score": ref_result.best_score, "estimated": False,
                            "same_path": [c for c, _ in ref_result.visited] == [c for c, _ in result.visited]}
        log(f"  {search} {metric} reference: {ref_seconds:.1f} s")
    elif baseline == "estimate":
        # With identical scores the straightforward search visits the same cells and scores the
        # same distinct ones; time the reference on a random subset of them and extrapolate.
        distinct = list(evaluator.memo)
        subset = random.Random(seed).sample(distinct, min(estimate_cells, len(distinct)))
        ref = scorers.reference(metric)
        ref_times = [peak.measure(f"{search}/{metric}/reference", ref, c)[1] for c in subset]
        eng = scorers.engine(metric)
        eng_times = [peak.measure(f"{search}/{metric}/engine", eng, c)[1] for c in subset]
        overhead = seconds - evaluator.wall_seconds
        est = overhead + len(distinct) * statistics.fmean(ref_times)
        out["reference"] = {"total_s": est, "estimated": True, "estimate_cells": len(subset),
                            "mean_s_on_subset": statistics.fmean(ref_times),
                            "engine_mean_s_on_subset": statistics.fmean(eng_times), "distinct": len(distinct)}
        log(f"  {search} {metric} reference (estimated from {len(subset)} of its cells): {est:.1f} s")
    if "reference" in out:
        out["ratio"] = out["reference"]["total_s"] / out["engine"]["total_s"]
    out["load_after"] = load()
    return out


# --- reporting ---------------------------------------------------------------------------

def table_rows(report: dict) -> list[dict]:
    rows = []
    for r in report["per_arch"]:
        for impl in ("engine", "reference"):
            s = r[impl]
            rows.append({"part": "per_arch", "metric": r["metric"], "impl": impl, "median_s": s["median_s"],
                         "p90_s": s["p90_s"], "mean_s": s["mean_s"], "archs_per_s": s["archs_per_s"],
                         "peak_rss_mib": s["peak_rss_mib"], "n": s["n"], "ratio_median": r["ratio_median"],
                         "spearman": r["agreement"]["spearman"], "identical": r["agreement"]["identical"],
                         "max_rel_diff": r["agreement"]["max_rel_diff"], "load_before": r["load_before"][0],
                         "load_after": r["load_after"][0]})
    for r in report["searches"]:
        for impl in ("engine", "reference"):
            if impl not in r:
                continue
            s = r[impl]
            rows.append({"part": f"search_{r['search']}", "metric": r["metric"], "impl": impl,
                         "total_s": s["total_s"], "distinct": s.get("distinct"),
                         "estimated": s.get("estimated", False), "ratio": r.get("ratio"),
                         "peak_rss_mib": s.get("peak_rss_mib"), "load_before": r["load_before"][0],
                         "load_after": r["load_after"][0]})
    return rows


def print_report(report: dict) -> None:
    m = report["meta"]
    print(f"\nzcnas bench -- {m['device']} ({m['cpu']}; {' '.join(m['vector_features']) or 'no AVX2'}), "
          f"torch {m['torch']}, {m['threads']} thread(s), OMP_WAIT_POLICY={m['omp_wait_policy'] or 'unset'}, "
          f"{competing(m)}, "
          f"C Cᵀ kernel {m.get('naswot_kernel', '-')}, "
          f"engine layout {m['layout']}, "
          f"batch {m['batch_size']}, {m['dataset']}, sample of {m['sample']} cells (seed {m['seed']})")
    print(f"load average at start {m['load_start']}, at end {m['load_end']} (1, 5, 15 min)")
    print(f"\n{'metric':<12} {'impl':<10} {'median s':>9} {'p90 s':>8} {'mean s':>8} {'arch/s':>8} "
          f"{'peak RSS MiB':>12}  ratio(median)  spearman  identical  max rel diff")
    for r in report["per_arch"]:
        for impl in ("engine", "reference"):
            s = r[impl]
            extra = (f"  {r['ratio_median']:>9.1f}x  {r['agreement']['spearman']:>9.6f}  "
                     f"{r['agreement']['identical']:>4}/{r['agreement']['n']:<4}  {r['agreement']['max_rel_diff']:.1e}"
                     if impl == "engine" else "")
            print(f"{r['metric']:<12} {impl:<10} {s['median_s']:>9.4f} {s['p90_s']:>8.4f} {s['mean_s']:>8.4f} "
                  f"{s['archs_per_s']:>8.2f} {s['peak_rss_mib']:>12.0f}{extra}")
        print(f"{'':<12} load {r['load_before']} -> {r['load_after']}")
    if report["searches"]:
        print(f"\n{'search':<22} {'metric':<12} {'engine s':>9} {'distinct':>8} {'reference s':>12} {'ratio':>7}")
        for r in report["searches"]:
            p = ",".join(f"{k}={v}" for k, v in r["params"].items())
            ref = r.get("reference")
            ref_s = "-" if ref is None else f"{ref['total_s']:.1f}{' (est.)' if ref.get('estimated') else ''}"
            ratio = f"{r['ratio']:.1f}x" if "ratio" in r else "-"
            print(f"{r['search'] + ' ' + p:<22} {r['metric']:<12} {r['engine']['total_s']:>9.1f} "
                  f"{r['engine']['distinct']:>8} {ref_s:>12} {ratio:>7}   load {r['load_before']} -> {r['load_after']}")
    print(f"\npeak RSS: sampled per implementation (see above); process ru_maxrss {m['ru_maxrss_mib']:.0f} MiB")
    if m.get("compete"):
        cpu = m.get("compete_cpu_s")
        print(f"competing busy loops: {m['compete']} (pids {m['compete_pids']}), stopped at the end"
              + (f"; they had {cpu:.0f} CPU s in {m['compete_wall_s']:.0f} s" if cpu is not None else "")
              + f"; running at the end of the measurements: {m['compete_running_at_end']}")
    print()
    print(format_targets(report["targets"]))


def competing(meta: dict) -> str:
    n = meta.get("compete", 0)
    return f"{n} competing busy loop(s)" if n else "no competing busy loop"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sample", type=int, default=50, help="architectures per metric (default 50)")
    ap.add_argument("--metrics", default=",".join(METRICS))
    ap.add_argument("--searches", default="random,aging", help="random,aging or none")
    ap.add_argument("--search-metrics", default="synflow,hook_logdet")
    ap.add_argument("--n", type=int, default=500, help="random search N")
    ap.add_argument("--m", type=int, default=500, help="aging evolution M")
    ap.add_argument("--baseline-search", choices=("auto", "run", "estimate", "skip"), default="auto",
                    help="straightforward searches: run them, estimate them (the same distinct cells, "
                         "timed on a subset), or skip; auto = run for synflow, estimate otherwise")
    ap.add_argument("--estimate-cells", type=int, default=16)
    ap.add_argument("--dataset", default="cifar10", choices=sorted(SAMPLE_FILES))
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0, help="network seed and batch seed")
    ap.add_argument("--sample-seed", type=int, default=2024)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", default="1",
                    help="torch threads for both implementations (default 1: on a shared 2-core machine a "
                         "second thread waits on the other processes; 0 = torch's choice; auto = zcnas's "
                         "policy, the cores other processes leave free, decided after --compete's loops start)")
    ap.add_argument("--compete", type=int, default=0,
                    help="CPU-bound busy loops (child processes) to run during the measurements (default 0: idle); "
                         "the targets are 4x at 0 and 1x (never slower) at 1 or more")
    ap.add_argument("--layout", default="contiguous", choices=("contiguous", "channels_last"),
                    help="engine layout for hook_logdet and snip (channels_last: faster, scores move ~1e-7)")
    ap.add_argument("--data-dir", default=os.environ.get("ZCNAS_SHARED_DATA", str(ROOT.parent / "shared" / "data")) )
    ap.add_argument("--out", default=str(ROOT / "results" / "bench"))
    ap.add_argument("--tag", default=None, help="file name stem (default bench_<device>[_quick])")
    ap.add_argument("--quick", action="store_true", help="sample 8, N=60, M=80, baseline searches estimated")
    ap.add_argument("--wait-idle", type=float, default=0, metavar="S",
                    help="before an idle pass (no --compete), wait up to S seconds until zcnas's policy would use "
                         "every core (the 1-minute load average lags behind the work that just ended)")
    args = ap.parse_args(argv)
    if args.quick:
        args.sample, args.n, args.m = min(args.sample, 8), 60, 80
        if args.baseline_search == "auto":
            args.baseline_search = "estimate"
    if args.threads != "auto" and not args.threads.isdigit():
        ap.error(f"--threads: a number or auto, got {args.threads!r}")
    if args.compete < 0:
        ap.error("--compete: at least 0")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        ap.error("--device cuda: torch sees no GPU")
    waited = wait_for_idle(args.wait_idle) if not args.compete else None
    with BusyLoops(args.compete) as busy:  # stopped on leaving, whatever happens
        if args.compete:
            time.sleep(0.5)  # the loops are spinning before the thread count is decided
        report, arch_rows = measure(args, busy)
    report["meta"]["waited_idle"] = waited
    write_and_print(args, report, arch_rows)
    return 0


def wait_for_idle(max_seconds: float, poll: float = 5.0) -> dict | None:
    """Wait (at most ``max_seconds``) until zcnas's thread policy would use every usable core.

    ``make bench`` runs its passes back to back: each pass keeps the cores busy, and the 1-minute
    load average it leaves behind decays over a minute or two, so without waiting the next idle
    pass would count the previous pass as other work and take 1 thread.  Returns what happened.
    """
    if max_seconds <= 0:
        return None
    from zcnas.threads import auto_threads, other_load, usable_cpus

    start = time.perf_counter()
    cpus = int(usable_cpus())
    while True:
        load = other_load()
        idle = auto_threads(cpus, load) >= cpus
        if idle or time.perf_counter() - start >= max_seconds:
            break
        time.sleep(poll)
    waited = {"seconds": round(time.perf_counter() - start, 1), "other_load": round(load, 2), "idle": idle}
    print(f"waited {waited['seconds']:.0f} s for the machine to be idle: other load {waited['other_load']}"
          + ("" if idle else f" (still busy after {max_seconds:.0f} s; measuring anyway)"), flush=True)
    return waited


def set_threads(setting: str) -> tuple[int, str]:
    """Set torch's threads as ``--threads`` says; return the count and how it was decided."""
    if setting == "auto":
        from zcnas.threads import resolve_threads

        threads, why = resolve_threads("auto")
        why = f"zcnas policy: {why}"
    elif int(setting):
        threads, why = int(setting), "given"
    else:
        return torch.get_num_threads(), "torch's default"
    torch.set_num_threads(threads)
    return threads, why


def measure(args, busy: BusyLoops) -> tuple[dict, list[dict]]:
    threads, threads_why = set_threads(args.threads)
    started = time.perf_counter()

    def log(msg: str) -> None:
        print(msg, flush=True)

    metrics = [m for m in args.metrics.split(",") if m and m != "none"]
    rng = random.Random(args.sample_seed)
    cells = [sample_cell(rng) for _ in range(args.sample)]
    scorers = Scorers(args.dataset, args.batch_size, args.seed, args.device, Path(args.data_dir) / "samples",
                      args.layout)
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    meta = {"device": args.device, "device_name": device_name, **cpu_info(),
            "cores": os.cpu_count(), "threads": threads, "threads_setting": args.threads,
            "threads_why": threads_why, "compete": args.compete, "compete_pids": busy.pids, "torch": torch.__version__,
            "python": platform.python_version(), "dataset": args.dataset, "batch_size": args.batch_size,
            "seed": args.seed, "sample": args.sample, "layout": args.layout, "sample_seed": args.sample_seed, "load_start": load(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "argv": sys.argv[1:]}
    log(f"zcnas bench: {meta['cpu']} ({' '.join(meta['vector_features']) or 'no AVX2'}), {meta['cores']} cores, "
        f"{policy_line(meta)}, {competing(meta)}, load {meta['load_start']}")
    report = {"meta": meta, "per_arch": [], "searches": []}
    arch_rows: list[dict] = []
    with PeakRSS() as peak:
        for metric in metrics:
            log(f"{metric}: {len(cells)} cells, engine and reference interleaved")
            result, rows = bench_per_arch(scorers, metric, cells, peak, log)
            report["per_arch"].append(result)
            arch_rows += rows
        searches = [s for s in args.searches.split(",") if s and s != "none"]
        for metric in [m for m in args.search_metrics.split(",") if m and m != "none"]:
            baseline = args.baseline_search
            if baseline == "auto":
                baseline = "run" if metric == "synflow" else "estimate"
            for search in searches:
                params = {"n": args.n} if search == "random" else {"m": args.m}
                log(f"{search} search with {metric} ({params})")
                report["searches"].append(bench_search(scorers, metric, search, params, baseline,
                                                       args.estimate_cells, peak, args.seed, log))
    meta["load_end"] = load()
    meta["measure_s"] = time.perf_counter() - started
    meta["compete_cpu_s"] = busy.cpu_seconds() if args.compete else None
    meta["compete_wall_s"] = busy.elapsed() if args.compete else None
    meta["compete_running_at_end"] = busy.running()
    meta["ru_maxrss_mib"] = maxrss_mib()
    from zcnas.metrics import naswot_kernels as kernels

    if kernels.choice_info:  # hook_logdet ran on the CPU: which C Cᵀ kernel, and how it was chosen
        meta["naswot_kernel"] = f"{kernels.choose_kernel()} ({kernels.choice_info['how']})"
        meta["naswot_kernel_choice"] = dict(kernels.choice_info)
    report["targets"] = compute_targets(report)
    return report, arch_rows


def write_and_print(args, report: dict, arch_rows: list[dict]) -> None:
    layout = "" if args.layout == "contiguous" else f"_{args.layout}"
    tag = args.tag or f"bench_{args.device.replace(':', '')}{layout}{'_quick' if args.quick else ''}"
    out = Path(args.out)
    write_json(out / f"{tag}.json", report)
    write_table(out / f"{tag}.csv", pd.DataFrame(table_rows(report)))
    if arch_rows:
        write_table(out / f"{tag}_archs.csv", pd.DataFrame(arch_rows))
    print_report(report)
    print(f"\nwritten: {out / (tag + '.json')}, {out / (tag + '.csv')}, {out / (tag + '_archs.csv')}")


if __name__ == "__main__":
    sys.exit(main())
