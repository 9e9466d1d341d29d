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


# ------------------------------------------------------------------ search-relevant measures

def _num(v: float) -> str:
    return "n/a" if v is None or math.isnan(v) else f"{v:.2f}"


def _pm(mean: float, std: float) -> str:
    return "n/a" if math.isnan(mean) else f"{mean:.2f} ± {std:.2f}"


def _row(t, ds: str, label: str):
    """The row of ``label`` on ``ds`` in table ``t``, or None."""
    sub = t[(t.dataset == ds) & (t.candidate == label)]
    return None if sub.empty else sub.iloc[0]


def render_search_markdown(res: dict, accuracy: dict, select_on: str, space: dict | None = None) -> str:
    """The sections "Chosen for search" (the sample study's search measures and choice) and, with
    ``space`` (``space_study``'s result), the whole-space study."""
    from zcnas.analysis.ensemble_study import SAMPLE_SEARCH_RULE, SPACE_SEARCH_RULE
    from zcnas.names import DATASET_NAMES

    s = res["search"]
    ks = list(s.ks)
    t = res["table"]
    datasets = list(accuracy)
    name = lambda ds: DATASET_NAMES.get(ds, ds)  # noqa: E731
    held = [ds for ds in datasets if ds != select_on]
    aging = s.aging
    st = space["table"] if space is not None else None

    def cells(r, ds: str, aging_from_space: bool) -> list[str]:
        out = [f"{r.spearman:.3f}" if not math.isnan(r.spearman) else "–"]
        out += [_num(r[f"top{k}_acc"]) for k in ks]
        out.append(_pm(r.random_acc, r.random_acc_std))
        age = _pm(r.aging_warmup_acc, r.aging_warmup_acc_std)
        if aging_from_space and age == "n/a" and st is not None:
            w = _row(st, ds, r.candidate)
            age = f"{_pm(w.aging_warmup_acc, w.aging_warmup_acc_std)} ‡" if w is not None else "n/a"
        return out + [age]

    def best_possible(ds: str, acc) -> str:
        from zcnas.analysis.search_measures import top_k_means

        tops = top_k_means(acc, acc, ks)
        return (f"| the best cells by test accuracy (a perfect score) | – | "
                + " | ".join(_num(tops[k]) for k in ks) + f" | – | – |")

    head = ("| candidate | ρ | " + " | ".join(f"top-{k}" for k in ks)
            + " | random N={} {} | aging-warmup |")
    sep = "|---" * (len(ks) + 4) + "|"
    n = {ds: len(a) for ds, a in accuracy.items()}
    sample = ", ".join(f"{name(ds)} {k:,}" for ds, k in n.items())
    out = ["", "## Chosen for search", "",
           "Global ρ does not decide what a search finds: the top of the ranking does (the paper's Table II: "
           "ρ within the top 10 % is about 0.26). So every candidate is also measured by what a search that "
           "ranks by it finds (`src/zcnas/analysis/search_measures.py`), in % 200-epoch test accuracy; "
           "the same candidate scores as above (equal weights, the rules of `metric=ensemble`, normalized "
           "within the cells scored):", "",
           f"- **top-k** ({', '.join(map(str, ks))}): the mean test accuracy of the k top-scored cells. Cells tied "
           "at the k-th score share the places left (the expected mean under a random tie-break); non-finite "
           "scores rank lowest.",
           f"- **random**: random search (paper Algorithm 1), N = {s.random_n} cells drawn uniformly with "
           "replacement from the cells scored, the best-scored one found (the first drawn among ties); mean ± "
           f"std (population) over {s.repeats} seeds. On the sample this is a search **within the sample**: "
           "it can only find cells of the sample (with N = 500 from 1,000 cells, the best-scored of about "
           "390 distinct ones), and every candidate gets the same draws (seed r: numpy `default_rng(r)`). On "
           "the whole space it is `task=search search=random seed=r` from the rosters.",
           f"- **aging-warmup**: aging evolution with warmup (paper Algorithm 2: P = {aging.get('p')}, "
           f"T = {aging.get('t')}, M = {aging.get('m')}, W = {aging.get('w')}, zero-cost moves "
           f"{'on' if aging.get('zero_cost_move') else 'off'}, random move probability "
           f"{aging.get('random_move_prob')}: `conf/search/aging_warmup.yaml`), mean ± std over {s.repeats} "
           "seeds, exactly as `task=search search=aging_warmup seed=r` runs from rosters (`run_search` with a "
           "lookup of the scores). Mutation reaches any cell, so it needs scores of **every** cell: on the "
           "1,000-cell sample it is not available (n/a; restricting it to the sample would degenerate, as only "
           "about 1.5 of a cell's 24 neighbours lie in it). Where every member of a candidate has a "
           "whole-space roster on that dataset, the whole-space figure is shown, marked ‡ (from the "
           "whole-space study below).", "",
           f"The choice is made on **{select_on}** only; "
           + (", ".join(name(ds) for ds in held) + " are held out: nothing is fitted on their test accuracies. "
              "Their *oracle* rows, chosen on the held-out dataset itself, are optimistic and show what the "
              "choice costs out of sample." if held else "no dataset is held out."), "",
           f"### On the sample ({sample} cells)", "",
           f"Rule (on {select_on}): {SAMPLE_SEARCH_RULE}. "
           f"Chosen for search: **{res['chosen_for_search'].label}**. Best single proxy by the same rule: "
           f"**{res['best_single_for_search'].label}**.", ""]
    picks = [("chosen for search", res["chosen_for_search"]), ("best single for search", res["best_single_for_search"]),
             ("best ensemble by ρ", res["chosen"]), ("best searchable ensemble by ρ", res["chosen_searchable"]),
             ("best single by ρ", res["best_single"])]
    singles = t[(t.dataset == select_on) & (t.rule == "single")]
    from zcnas.analysis.ensemble_study import rank_by

    single_order = [singles.iloc[i].candidate for i in rank_by(singles, res["search_keys"])]
    for ds in datasets:
        role = "selection" if ds == select_on else "held out"
        out += [f"#### {name(ds)} ({role})", "", head.format(s.random_n, "(within sample)"), sep]
        rows = list(picks) + ([] if ds == select_on else [(f"oracle (chosen on {ds})", res["oracle_for_search"][ds])])
        for label, c in rows:
            if c is not None:
                r = _row(t, ds, c.label)
                out.append(f"| {label}: {c.label} | " + " | ".join(cells(r, ds, True)) + " |")
        for lab in single_order:
            out.append(f"| {lab} | " + " | ".join(cells(_row(t, ds, lab), ds, True)) + " |")
        out += [best_possible(ds, accuracy[ds]), ""]

    # the top 10 on select_on by the rule, with each dataset's top-10 mean and random search
    sub = t[t.dataset == select_on]
    top = [sub.iloc[i].candidate for i in rank_by(sub, res["search_keys"])[:10]]
    out += [f"#### Top 10 for search on {select_on} (sample)", "",
            "| candidate | " + " | ".join(f"{name(ds)} top-10 / random" for ds in datasets) + " |",
            "|---" * (len(datasets) + 1) + "|"]
    for lab in top:
        vals = []
        for ds in datasets:
            r = _row(t, ds, lab)
            vals.append(f"{_num(r.get('top10_acc', math.nan))} / {_num(r.random_acc)}")
        out.append(f"| {lab} | " + " | ".join(vals) + " |")
    out.append("")
    if space is not None:
        out += _space_sections(space, select_on, s, cells, head, sep, name, SPACE_SEARCH_RULE)
    return "\n".join(out)


def _space_sections(space: dict, select_on: str, s, cells, head: str, sep: str, name, rule_text: str) -> list[str]:
    from zcnas.analysis.ensemble_study import rank_by

    st = space["table"]
    pools = space["pools"]
    ks = list(s.ks)
    out = ["### Whole space (every cell scored: the rosters of `whole_space_rosters`)", "",
           "Candidates of the whole-space rosters, per dataset of the members that have one there (all "
           f"15,625 cells; up to {max(st['size'])} members under each rule, equal weights, normalized over the "
           "whole space as `metric=ensemble` does with `member_rosters`). Every measure is exact: the searches "
           "are the ones `task=search` runs from the rosters, same seeds. hook_logdet's and snip's rosters "
           "score each isomorphism class once and copy the score to its other members "
           "(`results/rosters/README.md`). Rows marked *reference* are fixed combinations (the paper's "
           "combined, α = 0.6), shown for comparison and never chosen.", ""]
    for ds, pool in pools.items():
        k = int((st.dataset == ds).sum())
        refs = st[(st.dataset == ds) & (st.rule == "reference")].candidate.tolist()
        out.append(f"- {name(ds)}: {k} candidates of {', '.join(pool)}"
                   + (f"; reference: {', '.join(refs)}" if refs else ""))
    chosen, everywhere = space["chosen"], space["chosen_everywhere"]
    out += ["", f"Rule (on {select_on}): {rule_text}."]
    if chosen is None:
        out += ["", f"{select_on} has no whole-space roster: nothing is chosen.", ""]
        return out
    every = sorted(set.intersection(*(set(p) for p in pools.values())))
    out += [f"Chosen for search: **{chosen.label}**; among members with a whole-space roster on every dataset "
            f"({', '.join(every)}): **{everywhere.label if everywhere else 'none'}**. "
            "A held-out dataset without a whole-space roster of some member cannot run the candidate (n/a).", ""]
    picks = [("chosen for search", chosen), ("chosen among members on every dataset", everywhere),
             ("best single for search", space["best_single"])]
    sel = st[st.dataset == select_on]
    order = rank_by(sel, space["keys"])
    singles = [sel.iloc[i].candidate for i in order if sel.iloc[i].rule == "single"]
    refs = [sel.iloc[i].candidate for i in order if sel.iloc[i].rule == "reference"]
    for ds in pools:
        role = "selection" if ds == select_on else "held out"
        out += [f"#### {name(ds)}, whole space ({role})", "", head.format(s.random_n, "(whole space)"), sep]
        rows = list(picks) + ([] if ds == select_on or ds not in space["oracle"]
                              else [(f"oracle (chosen on {ds})", space["oracle"][ds])])
        for label, c in rows:
            if c is None:
                continue
            r = _row(st, ds, c.label)
            if r is None:
                lacking = [m for m in c.members if m not in pools[ds]]
                out.append(f"| {label}: {c.label} | n/a: no whole-space roster of {', '.join(lacking)} on {ds} |"
                           + " |" * (len(ks) + 2))
            else:
                out.append(f"| {label}: {c.label} | " + " | ".join(cells(r, ds, False)) + " |")
        here = st[st.dataset == ds]
        for lab in singles + [x for x in here[here.rule == "single"].candidate if x not in singles]:
            r = _row(st, ds, lab)
            if r is not None:
                out.append(f"| {lab} | " + " | ".join(cells(r, ds, False)) + " |")
        for lab in refs + [x for x in here[here.rule == "reference"].candidate if x not in refs]:
            r = _row(st, ds, lab)
            if r is not None:
                out.append(f"| {lab} (reference) | " + " | ".join(cells(r, ds, False)) + " |")
        tops = space.get("best_possible", {}).get(ds)
        if tops is not None:
            out.append("| the best cells by test accuracy (a perfect score) | – | "
                       + " | ".join(_num(tops[k]) for k in ks) + " | – | – |")
        out.append("")
    ranked = [i for i in order if sel.iloc[i].rule != "reference"]
    top_aging = round(float(sel.iloc[ranked[0]].aging_warmup_acc), 2)
    tied = int((sel[sel.rule != "reference"].aging_warmup_acc.round(2) == top_aging).sum())
    out += [f"#### Top 10 for search on {select_on} (whole space)", "",
            f"{tied} of {len(ranked)} candidates reach the best aging-warmup figure on {select_on} ({top_aging:.2f}); "
            "the tie-breaks of the rule order them.", "", head.format(s.random_n, "(whole space)"), sep]
    for i in ranked[:10]:
        r = sel.iloc[i]
        out.append(f"| {r.candidate} | " + " | ".join(cells(r, select_on, False)) + " |")
    # every member set once, under its best rule by the same rule of choice (singles included)
    out += ["", f"#### Every member set on {select_on} (whole space), under its best rule", "",
            head.format(s.random_n, "(whole space)"), sep]
    seen = set()
    for i in ranked:
        r = sel.iloc[i]
        if r.members not in seen:
            seen.add(r.members)
            out.append(f"| {r.candidate} | " + " | ".join(cells(r, select_on, False)) + " |")
    out.append("")
    return out
