"""``task=ensembles`` (``make table-ensembles``): the ensemble study of ``zcnas.analysis.ensemble_study``
on the rosters named by ``rosters``; writes ``ensembles.csv`` and ``ensembles.md`` to ``report_dir``."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, ListConfig

from zcnas.analysis.ensemble_study import lookup, sample_scores, study
from zcnas.analysis.normalization import RULES
from zcnas.io import atomic_write_bytes, write_table
from zcnas.reports.ensembles import render_markdown
from zcnas.tasks.inputs import benchmark_with_accuracies, expand_rosters, load_groups


def run_ensembles_job(cfg: DictConfig, output_dir: Path) -> dict:
    rules = list(cfg.rules or RULES)
    members = cfg.get("members")
    members = list(members) if isinstance(members, (list, ListConfig)) else None
    datasets = cfg.get("datasets")
    datasets = [str(d) for d in datasets] if isinstance(datasets, (list, ListConfig)) else None
    benchmark = benchmark_with_accuracies(cfg, "ensembles")
    groups = load_groups(expand_rosters(cfg.get("rosters")))
    scores, accuracy, cost, n, devices = sample_scores(groups, benchmark, datasets)
    res = study(scores, accuracy, str(cfg.select_on), int(cfg.max_size), rules, members,
                tuple(cfg.get("searchable") or ()))
    report_dir = Path(str(cfg.report_dir))
    report_dir.mkdir(parents=True, exist_ok=True)
    write_table(report_dir / "ensembles.csv", res["table"])
    text = render_markdown(res, scores, accuracy, cost, str(cfg.select_on), devices)
    atomic_write_bytes(report_dir / "ensembles.md", text.encode())
    pick = lambda c: None if c is None else {"members": list(c.members), "rule": c.rule}  # noqa: E731
    summary = {ds: {c: lookup(res["table"], ds, res[c]) for c in ("chosen", "best_single", "chosen_searchable")
                    if res[c] is not None} for ds in scores}
    return {"report_dir": str(report_dir), "select_on": str(cfg.select_on), "pool": res["pool"],
            "candidates": res["candidates"], "architectures": n, "chosen": pick(res["chosen"]),
            "chosen_searchable": pick(res["chosen_searchable"]), "best_single": pick(res["best_single"]),
            "summary": summary}


def summarize_ensembles(result: dict) -> str:
    lines = [f"ensemble study: {result['candidates']} candidates from {len(result['pool'])} proxies, "
             f"chosen on {result['select_on']}; report in {result['report_dir']}"]
    for ds, picks in result["summary"].items():
        cells = [f"{k}: {v['candidate']} rho {v['spearman']:.3f} tau {v['kendall']:.3f}" for k, v in picks.items()]
        lines.append(f"  {ds}: " + "; ".join(cells))
    return "\n".join(lines)
