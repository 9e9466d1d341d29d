"""``task=ensembles`` (``make table-ensembles``): the ensemble study of ``zcnas.analysis.ensemble_study``
on the rosters named by ``rosters``; writes ``ensembles.csv`` and ``ensembles.md`` to ``report_dir``.

With ``whole_space_rosters`` set, also the whole-space mode (``space_study``): candidates of the
whole-space rosters, searched by simulated aging evolution with warmup as ``task=search`` would run
from them; its table is ``ensembles_whole_space.csv`` and its sections close ``ensembles.md``."""

from __future__ import annotations

import math
import time
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf

from zcnas.analysis.ensemble_study import SearchSettings, lookup, sample_scores, space_scores, space_study, study
from zcnas.analysis.normalization import RULES
from zcnas.analysis.search_measures import AGING_WARMUP, TOP_K, search_params
from zcnas.errors import ConfigError
from zcnas.io import atomic_write_bytes, write_table
from zcnas.reports.ensembles import render_markdown, render_search_markdown
from zcnas.tasks.inputs import benchmark_with_accuracies, expand_rosters, load_groups

SPACE_CSV = "ensembles_whole_space.csv"


def search_settings(cfg: DictConfig) -> SearchSettings:
    """``search_measures`` checked (one-line ConfigError naming the key)."""
    sm = cfg.get("search_measures") or {}
    repeats = sm.get("repeats", 30)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ConfigError(f"search_measures.repeats must be an integer >= 1, got {repeats!r}")
    ks = sm.get("top_k", list(TOP_K))
    if (not isinstance(ks, (list, ListConfig)) or not ks
            or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks)):
        raise ConfigError(f"search_measures.top_k must be a non-empty list of integers >= 1, got {ks!r}")
    container = lambda key: (OmegaConf.to_container(sm[key], resolve=True)  # noqa: E731
                             if isinstance(sm.get(key), DictConfig) else None)
    random_params = search_params(container("random"), {"n": 500})
    n = random_params.get("n", 500)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"search_measures.random.n must be an integer >= 1, got {n!r}")
    return SearchSettings(tuple(int(k) for k in dict.fromkeys(ks)), repeats, n,
                          search_params(container("aging_warmup"), AGING_WARMUP))


def run_ensembles_job(cfg: DictConfig, output_dir: Path) -> dict:
    started = time.time()
    rules = list(cfg.rules or RULES)
    members = cfg.get("members")
    members = list(members) if isinstance(members, (list, ListConfig)) else None
    datasets = cfg.get("datasets")
    datasets = [str(d) for d in datasets] if isinstance(datasets, (list, ListConfig)) else None
    settings = search_settings(cfg)
    select_on = str(cfg.select_on)
    benchmark = benchmark_with_accuracies(cfg, "ensembles")
    groups = load_groups(expand_rosters(cfg.get("rosters")))
    scores, accuracy, cost, n, devices = sample_scores(groups, benchmark, datasets)
    res = study(scores, accuracy, select_on, int(cfg.max_size), rules, members,
                tuple(cfg.get("searchable") or ()), settings)
    sample_seconds = time.time() - started
    say = (lambda text: print(f"[zcnas] {text} ({time.time() - started:.0f} s)", flush=True)) if cfg.progress else None
    if say:
        say("ensembles: sample study done")

    space = None
    space_patterns = cfg.get("whole_space_rosters")
    if space_patterns:
        space_groups = load_groups(expand_rosters(space_patterns))
        reference = [str(m) for m in (cfg.get("whole_space_reference") or ())]
        s_scores, s_accuracy = space_scores(space_groups, benchmark, datasets or list(scores))
        space = space_study(s_scores, s_accuracy, select_on, int(cfg.max_size), rules, members, settings,
                            reference, say)
        space["rosters"] = {ds: sorted(p for g in space_groups if g.dataset == ds for p in g.paths)
                            for ds in s_scores}

    report_dir = Path(str(cfg.report_dir))
    report_dir.mkdir(parents=True, exist_ok=True)
    write_table(report_dir / "ensembles.csv", res["table"])
    text = render_markdown(res, scores, accuracy, cost, select_on, devices)
    text += render_search_markdown(res, accuracy, select_on, space)
    atomic_write_bytes(report_dir / "ensembles.md", text.encode())
    if space is not None:
        write_table(report_dir / SPACE_CSV, space["table"])

    pick = lambda c: None if c is None else {"members": list(c.members), "rule": c.rule}  # noqa: E731
    summary = {ds: {c: lookup(res["table"], ds, res[c]) for c in ("chosen", "best_single", "chosen_searchable")
                    if res[c] is not None} for ds in scores}
    out = {"report_dir": str(report_dir), "select_on": select_on, "pool": res["pool"],
           "candidates": res["candidates"], "architectures": n, "chosen": pick(res["chosen"]),
           "chosen_searchable": pick(res["chosen_searchable"]), "best_single": pick(res["best_single"]),
           "summary": summary, "chosen_for_search": pick(res["chosen_for_search"]),
           "search_summary": {ds: search_lookup(res["table"], ds, res["chosen_for_search"]) for ds in scores},
           "search_settings": {"top_k": list(settings.ks), "repeats": settings.repeats,
                               "random_n": settings.random_n, "aging_warmup": settings.aging},
           "sample_study_seconds": round(sample_seconds, 1)}
    if space is not None:
        t = space["table"]
        out["whole_space"] = {
            "pools": space["pools"], "candidates": {ds: int((t.dataset == ds).sum()) for ds in space["pools"]},
            "chosen": pick(space["chosen"]), "chosen_everywhere": pick(space["chosen_everywhere"]),
            "summary": {ds: {k: search_lookup(t, ds, space[k]) for k in ("chosen", "chosen_everywhere", "best_single")
                             if space[k] is not None and (t[t.dataset == ds].candidate == space[k].label).any()}
                        for ds in space["pools"]}}
    out["study_seconds"] = round(time.time() - started, 1)
    return out


def search_lookup(table, ds: str, c) -> dict:
    """A candidate's search measures on one dataset (a row of ``table``)."""
    row = table[(table.dataset == ds) & (table.candidate == c.label)].iloc[0]
    cols = [k for k in row.index if k.endswith("_acc") or k.endswith("_acc_std")]
    return {"candidate": c.label, "spearman": float(row.spearman), **{k: float(row[k]) for k in cols}}


def summarize_ensembles(result: dict) -> str:
    lines = [f"ensemble study: {result['candidates']} candidates from {len(result['pool'])} proxies, "
             f"chosen on {result['select_on']}; report in {result['report_dir']}"]
    for ds, picks in result["summary"].items():
        cells = [f"{k}: {v['candidate']} rho {v['spearman']:.3f} tau {v['kendall']:.3f}" for k, v in picks.items()]
        lines.append(f"  {ds}: " + "; ".join(cells))

    def num(v) -> str:
        return "n/a" if v is None or math.isnan(v) else f"{v:.2f}"

    def measured(v: dict) -> str:
        tops = [k for k in v if k.startswith("top") and k.endswith("_acc")]
        return (f"{v['candidate']} top-{'/'.join(k[3:-4] for k in tops)} {'/'.join(num(v[k]) for k in tops)}, "
                f"random {num(v['random_acc'])}, "
                f"aging-warmup {num(v['aging_warmup_acc'])}")

    lines.append("chosen for search (sample, on " + result["select_on"] + "):")
    for ds, v in result.get("search_summary", {}).items():
        lines.append(f"  {ds}: {measured(v)}")
    if "whole_space" in result:
        lines.append("chosen for search (whole space, on " + result["select_on"] + "):")
        for ds, picks in result["whole_space"]["summary"].items():
            for k, v in picks.items():
                lines.append(f"  {ds} {k}: {measured(v)}")
    lines.append(f"study time: {result['study_seconds']:.0f} s (sample study {result['sample_study_seconds']:.0f} s)")
    return "\n".join(lines)
