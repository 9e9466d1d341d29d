"""The ensemble study as markdown (``ensembles.md``): the chosen candidates, every single proxy, the top
10, the oracle and the best per rule, each with ρ / τ on every dataset and its cost."""

from __future__ import annotations

import math

from zcnas.analysis.ensemble_study import Candidate


def render_markdown(res: dict, scores: dict, accuracy: dict, cost: dict, select_on: str, devices: dict | None = None) -> str:
    t = res["table"]
    datasets = list(scores)
    # seconds from a GPU are not comparable with CPU seconds: such costs are marked
    on_gpu = {m: d for m, d in ((devices or {}).get(select_on) or {}).items() if d != "cpu"}

    def row(c: Candidate) -> str:
        cells = []
        for ds in datasets:
            r = t[(t.dataset == ds) & (t.candidate == c.label)].iloc[0]
            cells.append(f"{r.spearman:.3f} / {r.kendall:.3f}" if not math.isnan(r.kendall) else f"{r.spearman:.3f} / –")
        secs = sum(cost[select_on][m] for m in c.members)
        mark = " †" if on_gpu.keys() & set(c.members) else ""
        return f"| {c.label} | " + " | ".join(cells) + f" | {secs:.2f}{mark} |"

    head = "| candidate | " + " | ".join(f"{ds} ρ / τ" for ds in datasets) + f" | s/arch ({select_on}) |"
    sep = "|---" * (len(datasets) + 2) + "|"
    n = {ds: len(a) for ds, a in accuracy.items()}
    out = ["# Ensembles of zero-cost proxies", "",
           f"Architectures per dataset: {', '.join(f'{ds} {k}' for ds, k in n.items())} (the rosters' common "
           f"sample). Spearman ρ / Kendall τ with 200-epoch test accuracy. Pool: {', '.join(res['pool'])}; "
           f"{res['candidates']} candidates (single proxies, and every combination of up to "
           f"{max(len(c.split('+')) for c in t.members)} members under each rule, equal weights). "
           f"Chosen on **{select_on}** only; the other datasets are held out. Cost: the members' median "
           "seconds per architecture recorded in the rosters (as measured, load-dependent), summed.", ""]
    if on_gpu:
        out += ["† " + ", ".join(f"{m} ({d})" for m, d in sorted(on_gpu.items())) + f": scored on a GPU on {select_on}, "
                "so its seconds are GPU seconds (with other processes sharing the GPU), not comparable with "
                "the CPU seconds of the other proxies.", ""]
    out += ["## Chosen on " + select_on, "", head, sep]
    for key, label in (("chosen", "best ensemble"), ("chosen_searchable", "best searchable ensemble"),
                       ("best_single", "best single proxy")):
        if res[key] is not None:
            out.append(row(res[key]).replace("| ", f"| {label}: ", 1))
    out += ["", "## Single proxies", "", head, sep]
    singles = sorted((c for c in t[t.rule == "single"].candidate.unique()),
                     key=lambda lab: -t[(t.dataset == select_on) & (t.candidate == lab)].spearman.iloc[0])
    for lab in singles:
        out.append(row(Candidate((lab,), "single")))
    out += ["", f"## Top 10 on {select_on}", "", head, sep]
    sel = t[t.dataset == select_on].sort_values("spearman", ascending=False, kind="stable").head(10)
    for _, r in sel.iterrows():
        out.append(row(Candidate(tuple(r.members.split("+")), r.rule)))
    out += ["", "## Oracle: the best candidate of each dataset, chosen on that dataset (optimistic)", "",
            head, sep]
    for ds, c in res["oracle"].items():
        out.append(row(c).replace("| ", f"| {ds}: ", 1))
    out += ["", "## Best per rule on " + select_on, "", head, sep]
    for rule in t[t.rule != "single"].rule.unique():
        sub = t[(t.dataset == select_on) & (t.rule == rule)].sort_values("spearman", ascending=False, kind="stable")
        r = sub.iloc[0]
        out.append(row(Candidate(tuple(r.members.split("+")), r.rule)))  # τ only where computed above
    return "\n".join(out) + "\n"
