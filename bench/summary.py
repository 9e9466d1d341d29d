"""The speed targets of the scoring engine, from ``bench/bench.py`` reports; ``make bench`` ends with them.

Target on the project's 2-core machine: each paper metric (synflow, hook_logdet, snip) at least
4x faster per cell than the paper authors' straightforward implementation (``reference`` in
bench.py, ``tests/reference_metrics.py``) at idle, and never slower than it (at least 1x) beside
competing CPU-bound processes (``bench.py --compete N``, N >= 1).  The figure is the ratio of
the median seconds per cell, reference / engine, both measured in the same process, interleaved.

bench.py stores :func:`compute_targets` in its JSON report (``targets``) and prints
:func:`format_targets` at the end.  Run as a script, this prints the targets of several reports
side by side (reports written before ``targets`` existed are evaluated here)::

    .venv/bin/python bench/summary.py results/bench/bench_cpu_idle.json results/bench/bench_cpu_compete1.json

Plain Python (no torch): exit status 0 when every report was read, 1 when one is missing or unreadable.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PAPER_METRICS = ("synflow", "hook_logdet", "snip")
IDLE_TARGET = 4.0  # at idle: at least 4x faster than the reference
LOADED_TARGET = 1.0  # beside competing processes: never slower
RULE = ("every paper metric at least 4x faster than the reference (median s per cell) at idle with 2 threads; "
        "never slower (at least 1x) beside a competing CPU-bound process")


def policy_line(meta: dict) -> str:
    """The thread policy of a run: torch threads, how they were decided, OpenMP's wait policy."""
    why = meta.get("threads_why") or "not recorded"
    wait = meta.get("omp_wait_policy")
    wait = wait if wait else "unset (the OpenMP runtime's default)"
    setting = meta.get("threads_setting")
    setting = f"--threads {setting}: " if setting is not None else ""
    return f"{meta.get('threads', '?')} torch thread(s) ({setting}{why}); OMP_WAIT_POLICY {wait}"


def condition(meta: dict) -> str:
    compete = int(meta.get("compete", 0) or 0)
    return "idle (no competing process of ours)" if compete == 0 else f"beside {compete} competing busy loop(s)"


def compute_targets(report: dict) -> dict:
    """The targets of one bench.py report: per paper metric the engine's and the reference's median
    seconds per cell, their ratio, the target ratio and whether it is met."""
    meta = report.get("meta", {})
    compete = int(meta.get("compete", 0) or 0)
    target = IDLE_TARGET if compete == 0 else LOADED_TARGET
    metrics = {}
    for r in report.get("per_arch", []):
        if r["metric"] not in PAPER_METRICS:
            continue
        engine, reference = r["engine"]["median_s"], r["reference"]["median_s"]
        ratio = reference / engine if engine > 0 else float("inf")
        metrics[r["metric"]] = {"engine": engine, "reference": reference, "ratio": ratio, "target": target,
                                "met": bool(ratio >= target), "n": r["engine"].get("n"),
                                "load_before": r.get("load_before"), "load_after": r.get("load_after")}
    notes = []
    threads = meta.get("threads")
    if compete == 0 and isinstance(threads, int) and threads < 2 <= (meta.get("cores") or 0):
        notes.append(f"the idle target is stated for 2 threads; this run had {threads} "
                     f"({meta.get('threads_why') or 'not recorded'}): the machine was not idle, or threads were set")
    load_start = meta.get("load_start")
    if compete == 0 and load_start and load_start[0] >= 0.5:
        notes.append(f"1-min load average {load_start[0]} at the start: other work may have been running")
    running = meta.get("compete_running_at_end")
    if compete and running is not None and running < compete:
        notes.append(f"only {running} of the {compete} busy loops were still running at the end")
    missing = [m for m in PAPER_METRICS if m not in metrics]
    if missing:
        notes.append("not measured: " + ", ".join(missing))
    return {"rule": RULE, "compete": compete, "condition": condition(meta), "target": target,
            "threads": threads, "threads_why": meta.get("threads_why"), "omp_wait_policy": meta.get("omp_wait_policy"),
            "policy": policy_line(meta), "metrics": metrics,
            "all_met": bool(metrics) and not missing and all(v["met"] for v in metrics.values()),
            "notes": notes}


def format_targets(targets: dict) -> str:
    lines = [f"targets ({targets['rule']})",
             f"  condition: {targets['condition']}; target ratio >= {targets['target']:g}x",
             f"  thread policy: {targets['policy']}",
             f"  {'metric':<12} {'engine s':>9} {'reference s':>12} {'ratio':>7} {'target':>8}  result"]
    for metric, t in targets["metrics"].items():
        lines.append(f"  {metric:<12} {t['engine']:>9.4f} {t['reference']:>12.4f} {t['ratio']:>6.2f}x "
                     f"{'>= ' + format(t['target'], 'g') + 'x':>8}  {'met' if t['met'] else 'NOT met'}")
    lines += [f"  note: {n}" for n in targets["notes"]]
    met = sum(t["met"] for t in targets["metrics"].values())
    missing = [m for m in PAPER_METRICS if m not in targets["metrics"]]
    lines.append(f"  every target met: {'yes' if targets['all_met'] else 'no'} ({met} of {len(targets['metrics'])} "
                 f"measured met" + (f"; {', '.join(missing)} not measured)" if missing else ")"))
    return "\n".join(lines)


FUSED_OVER_HOOK = 3.0  # fused engine: all proxies of a cell fused in at most 3x hook_logdet alone
SINGLES_OVER_FUSED = 4.0  # fused engine: and at least 4x faster than the sum of the single-metric times


def is_fused(report: dict) -> bool:
    """A ``bench/fused.py`` report (the fused engine), not a ``bench/bench.py`` one."""
    return "fused_over_hook_logdet" in report


def format_fused(name: str, report: dict) -> str:
    """The two targets of the fused engine from a ``bench/fused.py`` report, with its thread policy."""
    meta, cells = report.get("meta", {}), report.get("meta", {}).get("cells", 0)
    ratio, speedup = report["fused_over_hook_logdet"], report["singles_over_fused"]
    median = report.get("median_s", {})
    unequal = [m for m, n in report.get("identical", {}).items() if n != cells]
    lines = [f"fused engine ({name}): {len(meta.get('metrics', []))} proxies of a cell in one pass, median over "
             f"{cells} cells, batch {meta.get('batch_size')} of {meta.get('dataset')}; {policy_line(meta)}",
             f"  fused {median.get('fused', float('nan')):.4f} s, hook_logdet alone "
             f"{median.get('hook_logdet', float('nan')):.4f} s, sum of singles "
             f"{median.get('sum_of_singles', float('nan')):.4f} s",
             f"  fused / hook_logdet alone   {ratio:6.2f}  (target <= {FUSED_OVER_HOOK:g}: "
             f"{'met' if ratio <= FUSED_OVER_HOOK else 'NOT met'})",
             f"  sum of singles / fused      {speedup:6.2f}  (target >= {SINGLES_OVER_FUSED:g}: "
             f"{'met' if speedup >= SINGLES_OVER_FUSED else 'NOT met'})",
             "  every fused score equal to its single-metric score: "
             + ("yes" if not unequal else "NO (" + ", ".join(unequal) + ")")]
    load_before = meta.get("load_before")
    if load_before and load_before[0] >= 0.5 + (meta.get("threads") or 1) - 1:
        lines.append(f"  note: 1-min load average {load_before[0]} before timing: other work may have been running")
    return "\n".join(lines)


def side_by_side(named: list[tuple[str, dict]]) -> str:
    """The targets of several reports: each report's condition and thread policy, then a column per report."""
    lines = ["make bench: engine vs the straightforward implementation, ratio of median s per cell (reference / engine)"]
    lines += [f"  {name}: {t['condition']}; {t['policy']}" for name, t in named]
    heads = [f"{name} (>= {t['target']:g}x)" for name, t in named]
    widths = [max(len(h), 16) for h in heads]
    lines.append(f"  {'metric':<12} " + "  ".join(f"{h:<{w}}" for h, w in zip(heads, widths)))
    for metric in PAPER_METRICS:
        cells = []
        for _, t in named:
            v = t["metrics"].get(metric)
            cells.append("not measured" if v is None else f"{v['ratio']:.2f}x {'met' if v['met'] else 'NOT met'}")
        lines.append(f"  {metric:<12} " + "  ".join(f"{c:<{w}}" for c, w in zip(cells, widths)))
    cells = [f"{'yes' if t['all_met'] else 'no'} ({sum(v['met'] for v in t['metrics'].values())} of "
             f"{len(PAPER_METRICS)})" for _, t in named]
    lines.append(f"  {'all met':<12} " + "  ".join(f"{c:<{w}}" for c, w in zip(cells, widths)))
    notes = [f"  {name}: {n}" for name, t in named for n in t["notes"]]
    if notes:
        lines += ["notes:"] + notes
    return "\n".join(line.rstrip() for line in lines)


def main(argv=None) -> int:
    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    if not paths:
        print("usage: summary.py REPORT.json [REPORT.json ...]", file=sys.stderr)
        return 2
    named, fused, failed = [], [], False
    for path in paths:
        try:
            report = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            print(f"cannot read {path}: {e}", file=sys.stderr)
            failed = True
            continue
        if is_fused(report):
            fused.append((path.stem, report))
        else:
            named.append((path.stem, report.get("targets") or compute_targets(report)))
    if named:
        print(side_by_side(named))
    for name, report in fused:
        print(format_fused(name, report))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
