"""The ensemble study as markdown (``ensembles.md``): the chosen candidates, every single proxy, the top
10, the oracle and the best per rule, each with ρ / τ on every dataset and its cost.

``facts`` (``zcnas.studies.ensembles.task``) describe the space and its ground truth: ``space`` (the
search space; default NATS-Bench TSS), ``accuracy_label`` (the benchmark's), ``ground_truth`` (its
datasets), ``dropped`` ({dataset: cells every roster holds but the ground truth lacks}) and
``whole_space_note`` (why there is no whole-space study).  Every sentence about the space is
computed from them, so the committed NATS-Bench report regenerates identically."""

from __future__ import annotations

import math

from zcnas.benchmark.base import Benchmark
from zcnas.studies.ensembles.statistics import Candidate

#: how the report names NATS-Bench's accuracy (``Benchmark.accuracy_label``)
NATS_ACCURACY = "200-epoch test accuracy"


def _space(facts: dict | None):
    """The space the facts are of; facts naming none are of the space records leave unnamed."""
    from zcnas.spaces import UNNAMED, make_space

    space = (facts or {}).get("space")
    return make_space(UNNAMED) if space is None else space


def _accuracy(facts: dict | None) -> str:
    """What the accuracy is, in a sentence: NATS-Bench's by default, another ground truth's label."""
    label = (facts or {}).get("accuracy_label")
    return NATS_ACCURACY if label in (None, Benchmark.accuracy_label) else label


def _no_held_out(select_on: str, facts: dict | None) -> str:
    """Why nothing is held out: the ground truth's datasets, or the rosters'."""
    truth = tuple((facts or {}).get("ground_truth") or ())
    if truth == (select_on,):
        return f"the ground truth has {select_on} accuracies only"
    return f"the rosters are of {select_on} only"


def _named_space(facts: dict | None) -> str:
    """`` (<space>)`` for a space whose results name it (``SearchSpace.records_name``), else ''."""
    space = (facts or {}).get("space")
    return "" if space is None or not space.records_name else f" ({space.name})"


def render_markdown(res: dict, scores: dict, accuracy: dict, cost: dict, select_on: str, devices: dict | None = None,
                    facts: dict | None = None) -> str:
    t = res["table"]
    datasets = list(scores)
    held = [ds for ds in datasets if ds != select_on]
    dropped = {ds: k for ds, k in ((facts or {}).get("dropped") or {}).items() if k}
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
    common = "the rosters' common sample" + (
        "; the cells of it the ground truth lacks are left out: "
        + ", ".join(f"{ds} {k}" for ds, k in dropped.items()) if dropped else "")
    choice = (f"Chosen on **{select_on}** only; the other datasets are held out." if held else
              f"Chosen and reported on **{select_on}**: {_no_held_out(select_on, facts)}, so **no held-out dataset "
              "exists** and every pick below is in-sample (chosen on the very accuracies it is reported on, "
              "hence optimistic).")
    out = ["# Ensembles of zero-cost proxies" + _named_space(facts), "",
           f"Architectures per dataset: {', '.join(f'{ds} {k}' for ds, k in n.items())} ({common}). "
           f"Spearman ρ / Kendall τ with {_accuracy(facts)}. Pool: {', '.join(res['pool'])}; "
           f"{res['candidates']} candidates (single proxies, and every combination of up to "
           f"{max(len(c.split('+')) for c in t.members)} members under each rule, equal weights). "
           f"{choice} Cost: the members' median "
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
            *([] if held else ["With no held-out dataset the oracle is the best ensemble chosen above.", ""]),
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


def _rule(text: str, acc_word: str) -> str:
    """A rule of choice in words; NATS-Bench's 2-decimal test accuracies are "the benchmark's precision",
    another ground truth's accuracies are only compared at 2 decimals."""
    if acc_word == "test accuracy":
        return text
    return text.replace("test accuracy", acc_word).replace(", the benchmark's precision", "")


def _row(t, ds: str, label: str):
    """The row of ``label`` on ``ds`` in table ``t``, or None."""
    sub = t[(t.dataset == ds) & (t.candidate == label)]
    return None if sub.empty else sub.iloc[0]


def render_search_markdown(res: dict, accuracy: dict, select_on: str, space: dict | None = None,
                           facts: dict | None = None) -> str:
    """The sections "Chosen for search" (the sample study's search measures and choice) and, with
    ``space`` (``space_study``'s result), the whole-space study; ``facts``: see the module docstring."""
    from zcnas.studies.ensembles.statistics import SAMPLE_SEARCH_RULE, SPACE_SEARCH_RULE
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

    acc_word = "test accuracy" if _accuracy(facts) == NATS_ACCURACY else "accuracy"

    def best_possible(ds: str, acc) -> str:
        from zcnas.studies.ensembles.search_measures import top_k_means

        tops = top_k_means(acc, acc, ks)
        return (f"| the best cells by {acc_word} (a perfect score) | – | "
                + " | ".join(_num(tops[k]) for k in ks) + f" | – | – |")

    head = ("| candidate | ρ | " + " | ".join(f"top-{k}" for k in ks)
            + " | random N={} {} | aging-warmup |")
    sep = "|---" * (len(ks) + 4) + "|"
    n = {ds: len(a) for ds, a in accuracy.items()}
    sample = ", ".join(f"{name(ds)} {k:,}" for ds, k in n.items())
    # the sentences about the space: from its size, its neighbourhoods and the cells scored on select_on
    search_space = _space(facts)
    cells_n = n[select_on]
    whole = bool((res.get("whole_space") or {}).get(select_on))
    distinct = cells_n * (1 - (1 - 1 / cells_n) ** s.random_n)
    if whole:
        random_where = ("Here the cells scored are the whole space, so it is `task=search search=random seed=r` "
                        "from the rosters.")
        aging_where = "the cells scored here are the whole space, so it runs on them."
    else:
        random_where = (
            "On the sample this is a search **within the sample**: it can only find cells of the sample (with "
            f"N = {s.random_n} from {cells_n:,} cells, the best-scored of about {round(distinct, -1):,.0f} distinct "
            "ones), and every candidate gets the same draws (seed r: numpy `default_rng(r)`). On the whole space "
            "it is `task=search search=random seed=r` from the rosters.")
        if search_space.indexed:
            k = len(search_space.neighbours(search_space.from_index(0)))
            aging_where = (f"on the {cells_n:,}-cell sample it is not available (n/a; restricting it to the sample "
                           f"would degenerate, as only about {k * cells_n / search_space.size:.1f} of a cell's {k} "
                           "neighbours lie in it).")
        else:
            aging_where = (f"space {search_space.name} has no index, so it cannot be enumerated and no roster "
                           "covers it: not available (n/a).")
    if space is not None:
        aging_where += (" Where every member of a candidate has a whole-space roster on that dataset, the "
                        "whole-space figure is shown, marked ‡ (from the whole-space study below).")
    if held:
        choice = (", ".join(name(ds) for ds in held) + " are held out: nothing is fitted on their test accuracies. "
                  "Their *oracle* rows, chosen on the held-out dataset itself, are optimistic and show what the "
                  "choice costs out of sample.")
    else:
        choice = (f"**no held-out dataset exists** ({_no_held_out(select_on, facts)}), so the choice is "
                  "**in-sample**: it is made on the very accuracies it is reported on, and its figures are "
                  "optimistic (nothing checks it out of sample).")
    out = ["", "## Chosen for search", "",
           "Global ρ does not decide what a search finds: the top of the ranking does (the paper's Table II: "
           "ρ within the top 10 % is about 0.26). So every candidate is also measured by what a search that "
           f"ranks by it finds (`src/zcnas/studies/ensembles/search_measures.py`), in % {_accuracy(facts)}; "
           "the same candidate scores as above (equal weights, the rules of `metric=ensemble`, normalized "
           "within the cells scored):", "",
           f"- **top-k** ({', '.join(map(str, ks))}): the mean {acc_word} of the k top-scored cells. Cells tied "
           "at the k-th score share the places left (the expected mean under a random tie-break); non-finite "
           "scores rank lowest.",
           f"- **random**: random search (paper Algorithm 1), N = {s.random_n} cells drawn uniformly with "
           "replacement from the cells scored, the best-scored one found (the first drawn among ties); mean ± "
           f"std (population) over {s.repeats} seeds. {random_where}",
           f"- **aging-warmup**: aging evolution with warmup (paper Algorithm 2: P = {aging.get('p')}, "
           f"T = {aging.get('t')}, M = {aging.get('m')}, W = {aging.get('w')}, zero-cost moves "
           f"{'on' if aging.get('zero_cost_move') else 'off'}, random move probability "
           f"{aging.get('random_move_prob')}: `conf/search/aging_warmup.yaml`), mean ± std over {s.repeats} "
           "seeds, exactly as `task=search search=aging_warmup seed=r` runs from rosters (`run_search` with a "
           f"lookup of the scores). Mutation reaches any cell, so it needs scores of **every** cell: {aging_where}",
           "", f"The choice is made on **{select_on}** only; " + choice, "",
           f"### On the sample ({sample} cells)", "",
           f"Rule (on {select_on}): {_rule(SAMPLE_SEARCH_RULE, acc_word)}. "
           f"Chosen for search: **{res['chosen_for_search'].label}**. Best single proxy by the same rule: "
           f"**{res['best_single_for_search'].label}**.", ""]
    picks = [("chosen for search", res["chosen_for_search"]), ("best single for search", res["best_single_for_search"]),
             ("best ensemble by ρ", res["chosen"]), ("best searchable ensemble by ρ", res["chosen_searchable"]),
             ("best single by ρ", res["best_single"])]
    singles = t[(t.dataset == select_on) & (t.rule == "single")]
    from zcnas.studies.ensembles.statistics import rank_by

    single_order = [singles.iloc[i].candidate for i in rank_by(singles, res["search_keys"])]
    for ds in datasets:
        role = "selection" if ds == select_on else "held out"
        where = "(whole space)" if (res.get("whole_space") or {}).get(ds) else "(within sample)"
        out += [f"#### {name(ds)} ({role})", "", head.format(s.random_n, where), sep]
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
        out += _space_sections(space, select_on, s, cells, head, sep, name, _rule(SPACE_SEARCH_RULE, acc_word),
                               acc_word)
    elif (facts or {}).get("whole_space_note"):
        out += ["### Whole space", "", f"Not studied: {facts['whole_space_note']}.", ""]
    return "\n".join(out)


def _space_sections(space: dict, select_on: str, s, cells, head: str, sep: str, name, rule_text: str,
                    acc_word: str = "test accuracy") -> list[str]:
    from zcnas.studies.ensembles.statistics import rank_by

    st = space["table"]
    pools = space["pools"]
    ks = list(s.ks)
    shared = list(space.get("shared") or ())
    if shared:
        whose = " and ".join([", ".join(f"{m}'s" for m in shared[:-1]), f"{shared[-1]}'s"] if len(shared) > 1
                             else [f"{shared[0]}'s"])
        where = f"`{space['readme']}`" if space.get("readme") else "their rows of `source=shared`"
        shared_text = (f" {whose} roster{'s' if len(shared) > 1 else ''} score{'' if len(shared) > 1 else 's'} "
                       f"each isomorphism class once and copy the score to its other members ({where}).")
    else:
        shared_text = ""
    any_refs = bool((st.rule == "reference").any())
    refs_text = (" Rows marked *reference* are fixed combinations (the paper's combined, α = 0.6), shown for "
                 "comparison and never chosen." if any_refs else "")
    size = space.get("size") or 15625
    out = ["### Whole space (every cell scored: the rosters of `whole_space_rosters`)", "",
           "Candidates of the whole-space rosters, per dataset of the members that have one there (all "
           f"{size:,} cells; up to {max(st['size'])} members under each rule, equal weights, normalized over the "
           "whole space as `metric=ensemble` does with `member_rosters`). Every measure is exact: the searches "
           f"are the ones `task=search` runs from the rosters, same seeds.{shared_text}{refs_text}", ""]
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
            out.append(f"| the best cells by {acc_word} (a perfect score) | – | "
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
