"""``task=ensembles`` (``make table-ensembles``): the ensemble study of ``zcnas.studies.ensembles.statistics``
on the rosters named by ``rosters``; writes ``ensembles.csv`` and ``ensembles.md`` to ``report_dir``
(unset: the job's own folder).  A report already there that holds a candidate this run lacks, or
one over more architectures, is kept (``overwrite=true`` replaces it; ``zcnas.studies.kept``).

In any search space (``space=``): the rosters must all be of the job's space (one-line ConfigError
otherwise, as in ``task=correlate``); their rows are aligned with the space's ground truth by
architecture over the cells every roster and the ground truth hold.  A ground truth of one dataset
(NAS-Bench-Macro, NAS-Bench-101) leaves nothing held out: the report says the pick is in-sample.

With ``whole_space_rosters`` set, also the whole-space mode (``space_study``): candidates of the
whole-space rosters of the job's space (those of other spaces are left out, and said so), searched
by simulated aging evolution with warmup as ``task=search`` would run from them; its table is
``ensembles_whole_space.csv`` and its sections close ``ensembles.md``.  It needs a space with an
index whose ground truth holds every cell; elsewhere it is skipped with a note."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf

from zcnas.errors import ConfigError
from zcnas.io import atomic_write_bytes, write_table
from zcnas.spaces import shown_space
from zcnas.studies.ensembles.report import render_markdown, render_search_markdown
from zcnas.studies.ensembles.search_measures import AGING_WARMUP, TOP_K, search_params
from zcnas.studies.ensembles.statistics import (SearchSettings, lookup, sample_data, space_scores, space_study, study,
                                                whole_space_available)
from zcnas.studies.kept import check_overwrite, check_report_kept, report_folder
from zcnas.studies.normalization import RULES
from zcnas.studies.portable import PathNames
from zcnas.tasks import Task
from zcnas.tasks.inputs import (benchmark_with_accuracies, describe_space, expand_rosters, group_rosters, job_space,
                                job_space_identity, read_rosters, space_identity)

SPACE_CSV = "ensembles_whole_space.csv"
#: an ensemble report's rows: one per (dataset, candidate), each over n architectures
KEY = ["dataset", "candidate"]


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
    report_dir = report_folder(cfg.get("report_dir"), output_dir)
    overwrite = check_overwrite(cfg.get("overwrite", False))
    rules = list(cfg.rules or RULES)
    members = cfg.get("members")
    members = list(members) if isinstance(members, (list, ListConfig)) else None
    datasets = cfg.get("datasets")
    datasets = [str(d) for d in datasets] if isinstance(datasets, (list, ListConfig)) else None
    settings = search_settings(cfg)
    select_on = str(cfg.select_on)
    named = read_rosters(expand_rosters(cfg.get("rosters")))
    space = job_space(cfg, named, "study")
    benchmark = benchmark_with_accuracies(cfg, "ensembles")
    groups = group_rosters(named)
    data = sample_data(groups, benchmark, datasets, space)
    scores, accuracy, cost, n, devices = (data[k] for k in ("scores", "accuracy", "cost", "n", "devices"))
    res = study(scores, accuracy, select_on, int(cfg.max_size), rules, members,
                tuple(cfg.get("searchable") or ()), settings, space=space, cells=data["keys"])
    # before the whole-space mode, the longest part, runs
    check_report_kept(report_dir, "ensembles.csv", res["table"], KEY, size="n", what="candidates", overwrite=overwrite)
    sample_seconds = time.time() - started
    say = (lambda text: print(f"[zcnas] {text} ({time.time() - started:.0f} s)", flush=True)) if cfg.progress else None
    if say:
        say("ensembles: sample study done")

    whole, note = None, None
    space_patterns = cfg.get("whole_space_rosters")
    if space_patterns:
        note = whole_space_available(space, benchmark, datasets or list(scores))
    if space_patterns and note is None:
        every = read_rosters(expand_rosters(space_patterns))
        identity = job_space_identity(space)
        left_out = sorted({describe_space(space_identity(r.meta)) for _, r in every
                           if space_identity(r.meta) != identity})
        mine = [(p, r.read_in(space, p)) for p, r in every if space_identity(r.meta) == identity]
        space_groups = group_rosters(mine)
        if left_out:
            note = (f"{len(every) - len(mine)} of the rosters of `whole_space_rosters` are of other spaces "
                    f"({', '.join(left_out)}) and were left out")
        space_groups = [g for g in space_groups if g.dataset in (datasets or list(scores))]
        if space_groups:
            reference = [str(m) for m in (cfg.get("whole_space_reference") or ())]
            s_scores, s_accuracy = space_scores(space_groups, benchmark, datasets or list(scores), space)
            whole = space_study(s_scores, s_accuracy, select_on, int(cfg.max_size), rules, members, settings,
                                reference, say, space=space)
            whole["rosters"] = {ds: sorted(p for g in space_groups if g.dataset == ds for p in g.paths)
                                for ds in s_scores}
            # metrics whose rosters copy scores within identity classes (share_isomorphic)
            whole["shared"] = sorted({g.metric for g in space_groups if g.metric in s_scores.get(g.dataset, {})
                                      and (g.roster.rows["source"] == "shared").any()})
            whole["readme"] = _readme(cfg, [p for g in space_groups for p in g.paths])
        else:
            note = (f"no rosters of space {space.name} on {', '.join(datasets or list(scores))} among "
                    "`whole_space_rosters`" + (f" ({note})" if note else ""))

    facts = {"space": space, "accuracy_label": getattr(benchmark, "accuracy_label", None),
             "ground_truth": tuple(getattr(benchmark, "datasets", ()) or ()), "dropped": data["dropped"],
             "whole_space_note": note if whole is None else None}
    check_report_kept(report_dir, SPACE_CSV, None if whole is None else whole["table"], KEY, size="n",
                      what="whole-space candidates", overwrite=overwrite)
    report_dir.mkdir(parents=True, exist_ok=True)
    write_table(report_dir / "ensembles.csv", res["table"])
    text = render_markdown(res, scores, accuracy, cost, select_on, devices, facts)
    text += render_search_markdown(res, accuracy, select_on, whole, facts)
    atomic_write_bytes(report_dir / "ensembles.md", text.encode())
    if whole is not None:
        write_table(report_dir / SPACE_CSV, whole["table"])

    pick = lambda c: None if c is None else {"members": list(c.members), "rule": c.rule}  # noqa: E731
    summary = {ds: {c: lookup(res["table"], ds, res[c]) for c in ("chosen", "best_single", "chosen_searchable")
                    if res[c] is not None} for ds in scores}
    out = {"report_dir": str(report_dir), "space": space.name, "select_on": select_on,
           "held_out": [ds for ds in scores if ds != select_on], "pool": res["pool"],
           "candidates": res["candidates"], "architectures": n, "chosen": pick(res["chosen"]),
           "chosen_searchable": pick(res["chosen_searchable"]), "best_single": pick(res["best_single"]),
           "summary": summary, "chosen_for_search": pick(res["chosen_for_search"]),
           "search_summary": {ds: search_lookup(res["table"], ds, res["chosen_for_search"]) for ds in scores},
           "search_settings": {"top_k": list(settings.ks), "repeats": settings.repeats,
                               "random_n": settings.random_n, "aging_warmup": settings.aging},
           "sample_study_seconds": round(sample_seconds, 1)}
    if note:
        out["whole_space_note"] = note
    if whole is not None:
        t = whole["table"]
        out["whole_space"] = {
            "pools": whole["pools"], "candidates": {ds: int((t.dataset == ds).sum()) for ds in whole["pools"]},
            "chosen": pick(whole["chosen"]), "chosen_everywhere": pick(whole["chosen_everywhere"]),
            "summary": {ds: {k: search_lookup(t, ds, whole[k]) for k in ("chosen", "chosen_everywhere", "best_single")
                             if whole[k] is not None and (t[t.dataset == ds].candidate == whole[k].label).any()}
                        for ds in whole["pools"]}}
    out["study_seconds"] = round(time.time() - started, 1)
    return out


def _readme(cfg: DictConfig, paths: list[str]) -> str | None:
    """The README.md that says how the whole-space rosters were made, relative to the project root: in
    ``roster_notes/`` beside their common folder (a rosters folder holds rosters only), or in it."""
    if not paths:
        return None
    folder = Path(os.path.commonpath([str(Path(p).parent) for p in paths]))
    for readme in (folder.with_name("roster_notes") / "README.md", folder / "README.md"):
        if readme.is_file():
            return PathNames.of(cfg.paths).name(readme)
    return None


def search_lookup(table, ds: str, c) -> dict:
    """A candidate's search measures on one dataset (a row of ``table``)."""
    row = table[(table.dataset == ds) & (table.candidate == c.label)].iloc[0]
    cols = [k for k in row.index if k.endswith("_acc") or k.endswith("_acc_std")]
    return {"candidate": c.label, "spearman": float(row.spearman), **{k: float(row[k]) for k in cols}}


class EnsemblesTask(Task):
    """``task=ensembles``: single proxies and their small ensembles (``run_ensembles_job``)."""

    def run(self, cfg: DictConfig, output_dir: Path) -> dict:
        return run_ensembles_job(cfg, output_dir)

    def summarize(self, result: dict) -> str:
        in_sample = "held_out" in result and not result["held_out"]
        lines = [f"ensemble study: {result['candidates']} candidates from {len(result['pool'])} proxies, "
                 f"chosen on {result['select_on']}"
                 + (" (in-sample: no held-out dataset)" if in_sample else "")
                 + (f", space {shown_space(result.get('space'))}" if shown_space(result.get("space")) else "")
                 + f"; report in {result['report_dir']}"]
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
        if result.get("whole_space_note"):
            lines.append(f"whole space: {result['whole_space_note']}")
        if "whole_space" in result:
            lines.append("chosen for search (whole space, on " + result["select_on"] + "):")
            for ds, picks in result["whole_space"]["summary"].items():
                for k, v in picks.items():
                    lines.append(f"  {ds} {k}: {measured(v)}")
        lines.append(f"study time: {result['study_seconds']:.0f} s (sample study {result['sample_study_seconds']:.0f} s)")
        return "\n".join(lines)
