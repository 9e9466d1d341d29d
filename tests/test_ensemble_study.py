"""The ensemble study (task=ensembles) on constructed scores and hand-built rosters: no network is scored."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cli import run_cli
from zcnas.analysis.correlation import correlations
from zcnas.analysis.ensemble_study import Candidate, candidate_scores, candidates, common_pool, study
from zcnas.analysis.normalization import ensemble_scores
from zcnas.errors import ConfigError, DataError
from zcnas.roster import Roster, make_rows, write_roster


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
                max_size=3, searchable=("free", "noise"))
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
        study({"cifar10": constructed(0)[0]}, {"cifar10": constructed(0)[1]}, "ImageNet16-120")


def roster(metric: str, dataset: str, scores: dict[int, float], device: str | None = None) -> Roster:
    rows = make_rows((i, s, 0.5, "computed") for i, s in scores.items())
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
                   "benchmark=table", f"benchmark.path={benchmark_csv}", "max_size=3")
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


def test_datasets_option_restricts_the_study_and_names_what_is_missing(tmp_path, table_benchmark):
    from zcnas.analysis.ensemble_study import sample_scores
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
