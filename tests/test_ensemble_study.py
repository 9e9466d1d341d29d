"""The ensemble study (task=ensembles) on constructed scores and hand-built rosters: no network is scored."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cli import run_cli
from zcnas.errors import ConfigError, DataError
from zcnas.roster import Roster, make_rows, write_roster
from zcnas.spaces.nats_tss.space import NATS_TSS
from zcnas.studies.ensembles.search_measures import measures, random_draws
from zcnas.studies.ensembles.statistics import (Candidate, SearchSettings, candidate_scores, candidates, common_pool,
                                                space_scores, space_study, study)
from zcnas.studies.normalization import ensemble_scores
from zcnas.studies.rank_correlation import correlations


def constructed(seed: int, n: int = 400) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Two proxies with independent noise around accuracy, one pure noise, one data-free weak proxy."""
    rng = np.random.default_rng(seed)
    acc = rng.normal(size=n)
    return {"a": acc + rng.normal(0, 0.8, n), "b": acc + rng.normal(0, 0.8, n),
            "noise": rng.normal(size=n), "free": acc + rng.normal(0, 2.0, n)}, acc


def test_candidates_are_singles_then_every_combination_under_every_rule():
    cands = candidates(["a", "b", "c"], 3, ["rank", "minmax"])
    assert [c.label for c in cands[:3]] == ["a", "b", "c"]
    assert len(cands) == 3 + (3 + 1) * 2
    assert Candidate(("a", "c"), "rank") in cands and Candidate(("a", "b", "c"), "minmax") in cands
    with pytest.raises(ConfigError, match="max_size must be an integer >= 2"):
        candidates(["a", "b"], 1)
    with pytest.raises(ConfigError, match="ensemble rule must be one of"):
        candidates(["a", "b"], 2, ["median"])


def test_the_study_finds_the_complementary_pair_and_reports_it_held_out():
    s10, acc10 = constructed(0)
    s100, acc100 = constructed(1)
    res = study({"cifar10": s10, "cifar100": s100}, {"cifar10": acc10, "cifar100": acc100}, "cifar10",
                max_size=3, searchable=("free", "noise"), space=NATS_TSS)
    chosen = res["chosen"]
    # averaging two independent noisy views beats either view; pure noise only hurts
    assert {"a", "b"} <= set(chosen.members) and "noise" not in chosen.members
    assert res["best_single"].members[0] in ("a", "b")
    assert set(res["chosen_searchable"].members) <= {"free", "noise"}
    assert res["pool"] == ["a", "b", "free", "noise"]
    t = res["table"].set_index(["dataset", "candidate"])
    rho_chosen = t.loc[("cifar10", chosen.label), "spearman"]
    assert rho_chosen == max(t.loc["cifar10"].spearman)
    assert rho_chosen > t.loc[("cifar10", "a"), "spearman"] + 0.03
    # the held-out row is the same candidate evaluated on the other dataset's scores
    expected = correlations(candidate_scores(chosen, s100), acc100)
    assert t.loc[("cifar100", chosen.label), "spearman"] == pytest.approx(expected["spearman"])
    assert t.loc[("cifar100", chosen.label), "kendall"] == pytest.approx(expected["kendall"])
    # a single proxy's row is the correlation module's, with non-finite scores ranked lowest
    assert t.loc[("cifar10", "a"), "kendall"] == pytest.approx(correlations(s10["a"], acc10)["kendall"])


def test_candidate_scores_are_the_ensemble_metric_computation():
    s, _ = constructed(2)
    c = Candidate(("a", "free"), "geometric_rank")
    np.testing.assert_array_equal(candidate_scores(c, s), ensemble_scores({"a": s["a"], "free": s["free"]},
                                                                           "geometric_rank", None))
    s["a"][:3] = np.nan
    single = candidate_scores(Candidate(("a",), "single"), s)
    assert np.all(single[:3] == -np.inf)


def test_pool_is_what_every_dataset_has_and_named_members_must_exist():
    scores = {"cifar10": {"a": 0, "b": 0, "val12": 0}, "cifar100": {"a": 0, "b": 0, "c": 0}}
    assert common_pool(scores) == ["a", "b"]
    with pytest.raises(DataError, match=r"members \['c'\] lack a roster"):
        common_pool(scores, ["a", "c"])
    with pytest.raises(ConfigError, match="select_on='ImageNet16-120' has no rosters"):
        study({"cifar10": constructed(0)[0]}, {"cifar10": constructed(0)[1]}, "ImageNet16-120", space=NATS_TSS)


def roster(metric: str, dataset: str, scores: dict[int, float], device: str | None = None) -> Roster:
    rows = make_rows(((i, s, 0.5, "computed") for i, s in scores.items()), NATS_TSS)
    meta = {"metric": metric, "dataset": dataset, "seed": 0, "batch_size": 128, "settings": {}}
    return Roster(rows, {**meta, "device": device} if device else meta)


@pytest.mark.integration
def test_ensembles_task_through_the_cli(tmp_path, table_benchmark, benchmark_csv):
    sample = np.sort(np.random.default_rng(3).choice(15625, 200, replace=False))
    rosters = tmp_path / "rosters"
    for ds in ("cifar10", "ImageNet16-120"):
        acc = table_benchmark.all_test_accuracies(ds)[sample]
        rng = np.random.default_rng(len(ds))
        for name, noise in (("hook_logdet", 1.5), ("synflow", 1.5), ("params", 3.0)):
            values = acc + rng.normal(0, noise, acc.size)
            device = "cuda (Test GPU)" if name == "params" and ds == "cifar10" else None
            write_roster(rosters / f"{name}_{ds}.parquet", roster(name, ds, dict(zip(sample.tolist(), values)), device))
    report = tmp_path / "report"
    proc = run_cli(tmp_path, "task=ensembles", f"rosters=[{rosters}/*.parquet]", f"report_dir={report}",
                   "benchmark=table", f"benchmark.path={benchmark_csv}", "max_size=3",
                   "whole_space_rosters=null", "search_measures.repeats=3")
    assert "ensemble study" in proc.stdout
    text = (report / "ensembles.md").read_text()
    assert "Chosen on cifar10" in text and "| cifar10 ρ / τ | ImageNet16-120 ρ / τ |" in text
    table = pd.read_csv(report / "ensembles.csv")
    assert set(table.dataset) == {"cifar10", "ImageNet16-120"}
    assert len(table) == 2 * (3 + 4 * 5)
    assert table.n.unique().tolist() == [200]
    assert "| best ensemble: " in text and not table.spearman.isna().any()
    # cost: the members' median recorded seconds, summed (0.5 s each here)
    best = text.split("| best ensemble: ")[1].split("\n")[0]
    members = best.split(" [")[0].split("+")
    assert best.rstrip(" |†").endswith(f"{0.5 * len(members):.2f}")
    # a cost that includes GPU seconds is marked, and the note names the roster's device
    assert "| params | " in text and text.split("| params | ")[1].split("\n")[0].endswith("0.50 † |")
    assert text.split("| synflow | ")[1].split("\n")[0].endswith("0.50 |")
    assert "† params (cuda (Test GPU)): scored on a GPU on cifar10" in text
    # the search measures: columns for every candidate, and the section that chooses on cifar10 only
    for col in ("top1_acc", "top10_acc", "top100_acc", "random_acc", "random_acc_std"):
        assert not table[col].isna().any(), col
    assert table.aging_warmup_acc.isna().all()  # a sample: aging evolution needs the whole space
    assert "## Chosen for search" in text and "#### ImageNet16-120 (held out)" in text
    assert "Chosen for search: **" in text and "### Whole space" not in text
    assert not (report / "ensembles_whole_space.csv").exists()


def test_datasets_option_restricts_the_study_and_names_what_is_missing(tmp_path, table_benchmark):
    from zcnas.studies.ensembles.statistics import sample_scores
    from zcnas.tasks.inputs import load_groups

    def load_sample_scores(paths, benchmark, datasets):
        return sample_scores(load_groups(paths), benchmark, datasets)

    sample = list(range(0, 400, 20))
    for ds in ("cifar10", "cifar100"):
        for name in ("synflow", "params"):
            write_roster(tmp_path / f"{name}_{ds}.parquet", roster(name, ds, {i: float(i % 7) for i in sample}))
    paths = sorted(str(p) for p in tmp_path.glob("*.parquet"))
    scores, accuracy, cost, n, devices = load_sample_scores(paths, table_benchmark, ["cifar100"])
    assert devices == {"cifar100": {"synflow": "cpu", "params": "cpu"}}
    assert list(scores) == ["cifar100"] and n == {"cifar100": 20} and cost["cifar100"] == {"synflow": 0.5, "params": 0.5}
    np.testing.assert_array_equal(accuracy["cifar100"], table_benchmark.all_test_accuracies("cifar100")[sample])
    with pytest.raises(DataError, match=r"no rosters of dataset\(s\) \['ImageNet16-120'\]"):
        load_sample_scores(paths, table_benchmark, ["cifar10", "ImageNet16-120"])
    with pytest.raises(ConfigError, match="unknown dataset"):
        load_sample_scores(paths, table_benchmark, ["cifar1000"])


def test_the_study_measures_the_top_and_chooses_for_search_on_select_on_only():
    s10, acc10 = constructed(0)
    s100, acc100 = constructed(1)
    settings = SearchSettings(ks=(1, 10, 100), repeats=5, random_n=50)
    res = study({"cifar10": s10, "cifar100": s100}, {"cifar10": acc10, "cifar100": acc100}, "cifar10",
                max_size=2, rules=["rank", "log"], search=settings, space=NATS_TSS)
    t = res["table"]
    assert {"top1_acc", "top10_acc", "top100_acc", "random_acc", "random_acc_std", "aging_warmup_acc",
            "aging_warmup_acc_std"} <= set(t.columns)
    assert t.aging_warmup_acc.isna().all() and "cover 400 of 15,625 cells" in res["search_note"]
    sel = t[t.dataset == "cifar10"]
    chosen = res["chosen_for_search"]
    # the rule: best top-10 mean on cifar10, ties by random search and rho
    best = sel.assign(top10_acc=sel.top10_acc.round(2), random_acc=sel.random_acc.round(2)).sort_values(
        ["top10_acc", "random_acc", "spearman"], ascending=False, kind="stable").iloc[0]
    assert chosen.label == best.candidate and "noise" not in chosen.members
    assert res["best_single_for_search"].rule == "single"
    # its held-out row is the candidate's measures on cifar100's scores (common draws, seeds 0..4)
    row = t[(t.dataset == "cifar100") & (t.candidate == chosen.label)].iloc[0]
    m = measures(candidate_scores(chosen, s100), acc100, None, repeats=5, random_n=50,
                 draws=random_draws(400, 50, 5), space=NATS_TSS)
    for k in (1, 10, 100):
        assert row[f"top{k}_acc"] == pytest.approx(m[f"top{k}"], abs=1e-6)
    assert row.random_acc == pytest.approx(m["random_mean"], abs=1e-6)
    # choosing on another dataset needs nothing of the held-out accuracies: changing them changes no pick
    res2 = study({"cifar10": s10, "cifar100": s100}, {"cifar10": acc10, "cifar100": -acc100}, "cifar10",
                 max_size=2, rules=["rank", "log"], search=settings, space=NATS_TSS)
    assert res2["chosen_for_search"] == chosen and res2["chosen"] == res["chosen"]
    assert set(res["oracle_for_search"]) == {"cifar10", "cifar100"}


def whole_space(seed: int, names: dict[str, float]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    acc = rng.uniform(0, 100, 15625)
    return {m: acc + rng.normal(0, noise, acc.size) for m, noise in names.items()}, acc


def test_whole_space_study_runs_aging_where_members_have_rosters_and_chooses_on_select_on():
    s10, acc10 = whole_space(0, {"a": 20.0, "b": 20.0, "c": 60.0, "combined": 25.0})
    s100, acc100 = whole_space(1, {"a": 20.0, "b": 20.0})
    settings = SearchSettings(ks=(1, 10), repeats=2, random_n=40,
                              aging={"p": 10, "t": 3, "m": 40, "w": 20, "zero_cost_move": True,
                                     "random_move_prob": 0.25})
    res = space_study({"cifar10": s10, "cifar100": s100}, {"cifar10": acc10, "cifar100": acc100}, "cifar10",
                      max_size=3, rules=["rank"], search=settings, space=NATS_TSS)
    t = res["table"]
    assert res["pools"] == {"cifar10": ["a", "b", "c"], "cifar100": ["a", "b"]}
    # cifar10: 3 singles, 3 pairs, 1 triple, combined as a reference; cifar100: 2 + 1
    assert (t.dataset == "cifar10").sum() == 8 and (t.dataset == "cifar100").sum() == 3
    assert not t.aging_warmup_acc.isna().any() and not t.random_acc.isna().any()
    assert t[t.rule == "reference"].candidate.tolist() == ["combined"]
    sel = t[(t.dataset == "cifar10") & (t.rule != "reference")]
    keys = ["aging_warmup_acc", "top10_acc", "random_acc"]
    best = sel.assign(**{k: sel[k].round(2) for k in keys}).sort_values(
        [*keys, "spearman"], ascending=False, kind="stable").iloc[0]
    assert res["chosen"].label == best.candidate
    assert set(res["chosen_everywhere"].members) <= {"a", "b"}
    assert (t[t.dataset == "cifar100"].candidate == res["chosen_everywhere"].label).any()
    assert res["best_possible"]["cifar10"][1] == acc10.max()
    # a row is measures(space=NATS_TSS) of the candidate's whole-space scores (the searches of task=search)
    c = Candidate(("a", "b"), "rank")
    m = measures(candidate_scores(c, s100), acc100, np.arange(15625), ks=(1, 10), repeats=2, random_n=40,
                 aging=settings.aging, space=NATS_TSS)
    row = t[(t.dataset == "cifar100") & (t.candidate == c.label)].iloc[0]
    assert row.aging_warmup_acc == pytest.approx(m["aging_mean"], abs=1e-6)
    assert row.random_acc == pytest.approx(m["random_mean"], abs=1e-6)


def test_whole_space_rosters_must_cover_the_space(tmp_path, table_benchmark):
    from zcnas.tasks.inputs import load_groups

    write_roster(tmp_path / "synflow_cifar10.parquet", roster("synflow", "cifar10", {i: float(i) for i in range(200)}))
    with pytest.raises(DataError, match=r"\(synflow, cifar10\) covers 200 of 15,625 cells; whole_space_rosters "
                                        "takes whole-space rosters only"):
        space_scores(load_groups([str(tmp_path / "synflow_cifar10.parquet")]), table_benchmark)


@pytest.mark.integration
def test_ensembles_task_whole_space_mode_through_the_cli(tmp_path, table_benchmark, benchmark_csv):
    sample = np.sort(np.random.default_rng(3).choice(15625, 200, replace=False))
    rosters, whole = tmp_path / "rosters", tmp_path / "whole"
    acc = table_benchmark.all_test_accuracies("cifar10")
    rng = np.random.default_rng(5)
    for name, noise in (("hook_logdet", 1.5), ("synflow", 1.5), ("snip", 3.0)):
        values = acc + rng.normal(0, noise, acc.size)
        write_roster(whole / f"{name}_cifar10.parquet", roster(name, "cifar10", dict(enumerate(values.tolist()))))
        write_roster(rosters / f"{name}_cifar10.parquet",
                     roster(name, "cifar10", {int(i): float(values[i]) for i in sample}))
    report = tmp_path / "report"
    proc = run_cli(tmp_path, "task=ensembles", f"rosters=[{rosters}/*.parquet]", f"report_dir={report}",
                   "benchmark=table", f"benchmark.path={benchmark_csv}", "max_size=2", "rules=[rank]",
                   f"whole_space_rosters=[{whole}/*.parquet]", "search_measures.repeats=2",
                   "search_measures.aging_warmup.m=80", "search_measures.aging_warmup.p=16",
                   "search_measures.aging_warmup.w=32")
    assert "chosen for search (whole space, on cifar10):" in proc.stdout
    text = (report / "ensembles.md").read_text()
    assert "### Whole space" in text and "#### CIFAR-10, whole space (selection)" in text
    table = pd.read_csv(report / "ensembles_whole_space.csv")
    assert len(table) == 3 + 3 and not table.aging_warmup_acc.isna().any()
    # the sample tables show the whole-space aging figure of the same candidate, marked
    assert "‡" in text.split("### On the sample")[1].split("### Whole space")[0]


def test_nats_facts_give_the_same_report_as_no_facts():
    """The sentences about the space come from its facts: NATS-Bench's give the report of no facts at all."""
    from zcnas.benchmark.base import Benchmark
    from zcnas.studies.ensembles.report import render_markdown, render_search_markdown
    from zcnas.spaces import make_space

    (s10, acc10), (s100, acc100) = constructed(0, 1000), constructed(1, 1000)
    scores, accuracy = {"cifar10": s10, "cifar100": s100}, {"cifar10": acc10, "cifar100": acc100}
    res = study(scores, accuracy, "cifar10", max_size=2, rules=["rank"], search=SearchSettings(repeats=2),
                space=NATS_TSS)
    cost = {ds: {m: 0.1 for m in s10} for ds in scores}
    facts = {"space": make_space("nats_tss"), "accuracy_label": Benchmark.accuracy_label,
             "ground_truth": ("cifar10", "cifar100", "ImageNet16-120"), "dropped": {"cifar10": 0, "cifar100": 0}}
    plain = render_markdown(res, scores, accuracy, cost, "cifar10") + render_search_markdown(res, accuracy, "cifar10")
    told = (render_markdown(res, scores, accuracy, cost, "cifar10", None, facts)
            + render_search_markdown(res, accuracy, "cifar10", None, facts))
    assert plain == told
    assert plain.startswith("# Ensembles of zero-cost proxies\n") and "with 200-epoch test accuracy" in plain
    assert "Chosen on **cifar10** only; the other datasets are held out." in plain
    assert "with N = 500 from 1,000 cells, the best-scored of about 390 distinct ones" in plain
    assert ("on the 1,000-cell sample it is not available (n/a; restricting it to the sample would degenerate, as "
            "only about 1.5 of a cell's 24 neighbours lie in it)") in plain
    assert "the benchmark's precision" in plain and "no held-out dataset" not in plain


def test_sample_scores_align_nats_rosters_by_index(tmp_path, table_benchmark):
    """NATS-Bench rosters over different cells: the common cells in index order, as score_array gives them."""
    from zcnas.studies.ensembles.statistics import sample_data
    from zcnas.tasks.inputs import load_groups

    a = {i: float(i % 11) for i in range(0, 600, 3)}
    b = {i: float(-i) for i in range(0, 600, 2)}
    write_roster(tmp_path / "a.parquet", roster("synflow", "cifar10", a))
    write_roster(tmp_path / "b.parquet", roster("params", "cifar10", b))
    d = sample_data(load_groups([str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")]), table_benchmark)
    idx = list(range(0, 600, 6))
    assert d["keys"]["cifar10"] == idx and d["dropped"] == {"cifar10": 0}
    groups = {g.metric: g.roster for g in load_groups([str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")])}
    for m in ("synflow", "params"):  # rosters record metrics zcnas knows
        np.testing.assert_array_equal(d["scores"]["cifar10"][m], groups[m].score_array()[idx])
    np.testing.assert_array_equal(d["accuracy"]["cifar10"], table_benchmark.all_test_accuracies("cifar10")[idx])


def test_a_space_without_an_index_has_no_aging_and_says_why():
    from zcnas.spaces import make_space

    s, acc = constructed(4, 50)
    m = measures(s["a"], acc, None, repeats=2, random_n=20, aging={"p": 4}, space=make_space("nas_bench_101"))
    assert np.isnan(m["aging_mean"]) and "space nas_bench_101 has no index" in m["note"]
    assert "50 cells here" in m["note"]
