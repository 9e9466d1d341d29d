"""The correlation study (paper Tables I and II) on rosters built by hand: no network is scored."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cli import run_cli
from zcnas.errors import ConfigError
from zcnas.roster import Roster, make_rows, merge_rosters, write_roster
from zcnas.spaces.nats_tss.space import NATS_TSS
from zcnas.studies.correlation.statistics import PAPER_TABLE1, benchmark_val12, combined_from_rosters
from zcnas.studies.correlation.task import run_correlate_job
from zcnas.studies.rank_correlation import correlations, top_count
from zcnas.tasks.inputs import load_groups


def roster(metric: str, dataset: str, scores: dict[int, float], seed: int = 0) -> Roster:
    rows = make_rows(((i, s, 0.01, "computed") for i, s in scores.items()), NATS_TSS)
    return Roster(rows, {"metric": metric, "dataset": dataset, "seed": seed, "batch_size": 128, "settings": {}})


@pytest.fixture(scope="module")
def sample():
    """300 architectures, fixed."""
    return np.sort(np.random.default_rng(7).choice(15625, 300, replace=False))


# ---------------------------------------------------------------- correlations()

def test_score_tracking_accuracy_correlates_and_negation_anticorrelates(table_benchmark, sample):
    acc = table_benchmark.all_test_accuracies("cifar10")[sample]
    noisy = correlations(acc + np.random.default_rng(0).normal(0, 0.1, acc.size), acc)
    assert noisy["spearman"] > 0.95 and noisy["kendall"] > 0.8
    assert noisy["n"] == noisy["n_used"] == 300 and noisy["n_nonfinite"] == 0 and noisy["top_n"] == 30
    negated = correlations(-acc, acc)
    assert negated["spearman"] == pytest.approx(-1.0) and negated["kendall"] == pytest.approx(-1.0)


def test_non_finite_lowest_and_drop_match_hand_computation():
    scores = np.array([3.0, 1.0, -np.inf, 2.0, np.nan])
    acc = np.array([5.0, 2.0, 1.0, 4.0, 3.0])
    # lowest: score ranks [5, 3, 1.5, 4, 1.5], accuracy ranks [5, 2, 1, 4, 3]
    # rho = 8 / sqrt(9.5 * 10); tau-b: 8 concordant, 1 discordant, 1 pair tied in score -> 7 / sqrt(9 * 10)
    low = correlations(scores, acc)
    assert low["spearman"] == pytest.approx(8 / math.sqrt(95))
    assert low["kendall"] == pytest.approx(7 / math.sqrt(90))
    assert (low["n"], low["n_nonfinite"], low["n_used"], low["non_finite"]) == (5, 2, 5, "lowest")
    # drop: (3, 5), (1, 2), (2, 4) are perfectly concordant
    drop = correlations(scores, acc, non_finite="drop")
    assert drop["spearman"] == pytest.approx(1.0) and drop["kendall"] == pytest.approx(1.0)
    assert (drop["n"], drop["n_nonfinite"], drop["n_used"]) == (5, 2, 3)
    with pytest.raises(ConfigError, match="non_finite must be one of lowest, drop"):
        correlations(scores, acc, non_finite="zero")


def test_top_subset_is_chosen_by_the_metric_not_by_accuracy():
    acc = np.arange(40.0)
    scores = acc.copy()
    scores[:4] = 100.0 - np.arange(4)  # the four *least* accurate get the highest scores, in reverse
    res = correlations(scores, acc, top_fraction=0.1)
    # Top 4 by score: accuracies 0, 1, 2, 3 at falling scores -> rho = -1.  Chosen by accuracy
    # (36..39, scored 36..39) it would be +1.
    assert res["top_n"] == 4 and res["top_spearman"] == pytest.approx(-1.0)
    assert res["spearman"] < 0.9


def test_top_subset_ranks_non_finite_last_and_counts_them():
    scores = np.array([-np.inf, -np.inf, -np.inf, 1.0, 2.0])
    res = correlations(scores, np.arange(5.0), top_fraction=0.6)
    assert res["top_n"] == 3 and res["top_nonfinite"] == 1
    assert top_count(15625, 0.1) == 1562 and top_count(40, 0.1) == 4


def test_val12_correlation_over_the_whole_table(table_benchmark, benchmark_csv):
    table = pd.read_csv(benchmark_csv)
    # as the study computes it: val12 over the benchmark's whole table against its test accuracy
    res = correlations(benchmark_val12(table_benchmark, "cifar100"), table_benchmark.all_test_accuracies("cifar100"))
    expected = table["cifar100_val12_acc"].rank().corr(table["cifar100_test_acc"].rank())
    assert res["n"] == 15625 and res["spearman"] == pytest.approx(expected)


# ---------------------------------------------------------------- combined and roster groups

def test_combined_from_rosters_matches_hand_min_max():
    # hook on 0..4 (one -inf -> 0), synflow on 1..5: combined over 1..4, statistics from every row,
    # so hook's max (60, index 0) and synflow's max (1e36, index 5) come from outside the overlap.
    hook = roster("hook_logdet", "cifar10", {0: 60.0, 1: -math.inf, 2: 30.0, 3: 20.0, 4: 50.0})
    syn = roster("synflow", "cifar10", {1: 1e20, 2: 1e30, 3: 5e20, 4: 3e35, 5: 1e36})
    out = combined_from_rosters(hook, syn, alpha=0.6, normalization="minmax")
    h = np.array([0.0, 30.0, 20.0, 50.0]) / 60.0  # (x - 0) / (60 - 0), the -inf replaced by 0
    s = (np.array([1e20, 1e30, 5e20, 3e35]) - 1e20) / (1e36 - 1e20)
    assert out["index"].tolist() == [1, 2, 3, 4]
    np.testing.assert_allclose(out["score"], 0.6 * h + 0.4 * s)
    assert out["member_nonfinite"].tolist() == [True, False, False, False]


def test_combined_refuses_rosters_of_different_datasets():
    hook = roster("hook_logdet", "cifar10", {0: 1.0, 1: 2.0})
    syn = roster("synflow", "cifar100", {0: 1.0, 1: 2.0})
    with pytest.raises(ConfigError, match="one dataset"):
        combined_from_rosters(hook, syn)


def test_cifar100_roster_in_a_cifar10_group_is_a_one_line_error():
    c10 = roster("synflow", "cifar10", {0: 1.0, 1: 2.0})
    c100 = roster("synflow", "cifar100", {2: 1.0, 3: 2.0})
    with pytest.raises(ConfigError) as err:
        merge_rosters([("synflow_cifar10.parquet", c10), ("synflow_cifar100.parquet", c100)])
    assert "dataset='cifar100'" in str(err.value) and "\n" not in str(err.value)


def test_rosters_are_grouped_by_metadata_and_merged(tmp_path):
    paths = []
    for name, r in (("a", roster("synflow", "cifar10", {0: 1.0, 1: 2.0})),
                    ("b", roster("synflow", "cifar10", {2: 3.0})),
                    ("c", roster("synflow", "cifar100", {0: 1.0}))):
        paths.append(str(tmp_path / f"{name}.parquet"))
        write_roster(paths[-1], r)
    groups = {(g.dataset, g.metric): g for g in load_groups(paths)}
    assert set(groups) == {("cifar10", "synflow"), ("cifar100", "synflow")}
    assert len(groups["cifar10", "synflow"].roster) == 3 and len(groups["cifar10", "synflow"].paths) == 2


def test_job_refuses_conflicting_rosters_of_one_group(tmp_path, compose_cfg):
    write_roster(tmp_path / "s0.parquet", roster("synflow", "cifar10", {0: 1.0}, seed=0))
    write_roster(tmp_path / "s1.parquet", roster("synflow", "cifar10", {1: 1.0}, seed=1))
    cfg = compose_cfg("task=correlate", f"rosters=[{tmp_path}/s0.parquet,{tmp_path}/s1.parquet]",
                      f"report_dir={tmp_path}/report")
    with pytest.raises(ConfigError, match="seed=1") as err:
        run_correlate_job(cfg, tmp_path / "job")
    assert "\n" not in str(err.value)


# ---------------------------------------------------------------- end to end

@pytest.mark.integration
def test_correlate_task_through_the_cli(tmp_path, table_benchmark, benchmark_csv, sample):
    acc = table_benchmark.all_test_accuracies("cifar10")
    hook = dict(zip(sample.tolist(), acc[sample] + np.random.default_rng(1).normal(0, 2, sample.size)))
    for i in sample[:5].tolist():
        hook[i] = -math.inf
    syn = dict(zip(sample.tolist(), 10.0 ** (20 + acc[sample] / 10)))  # monotone in accuracy, synflow-sized
    half = sample.size // 2
    rosters = tmp_path / "rosters"
    write_roster(rosters / "hook.parquet", roster("hook_logdet", "cifar10", hook))
    # synflow in two shards, merged by the job
    write_roster(rosters / "syn_a.parquet", roster("synflow", "cifar10", dict(list(syn.items())[:half])))
    write_roster(rosters / "syn_b.parquet", roster("synflow", "cifar10", dict(list(syn.items())[half:])))
    report = tmp_path / "report"
    proc = run_cli(tmp_path, "task=correlate", f"rosters=[{rosters}/*.parquet]", f"report_dir={report}",
                   "benchmark=table", f"benchmark.path={benchmark_csv}")
    assert "Table I" in proc.stdout and "hook_logdet" in proc.stdout

    for name in ("table1.md", "correlations.csv", "alpha_sweep.csv",
                 "scatter_cifar10.png", "scatter_cifar100.png", "scatter_ImageNet16-120.png"):
        assert (report / name).is_file(), name
    assert (report / "scatter_cifar10.png").read_bytes()[:4] == b"\x89PNG"
    table = pd.read_csv(report / "correlations.csv")
    table["normalization"] = table["normalization"].fillna("")  # empty (NA) for metrics other than combined
    one = table.set_index(["dataset", "metric", "subset", "normalization"]).sort_index()

    expected_hook = correlations(np.array(list(hook.values())), acc[list(hook)])
    got = one.loc[("cifar10", "hook_logdet", "all", "")]
    assert got["spearman"] == pytest.approx(expected_hook["spearman"])
    assert got["kendall"] == pytest.approx(expected_hook["kendall"])
    assert (got["n"], got["n_nonfinite"], got["non_finite_treatment"]) == (300, 5, "lowest")
    top = one.loc[("cifar10", "hook_logdet", "top10", "")]
    assert top["n"] == 30 and top["spearman"] == pytest.approx(expected_hook["top_spearman"])
    syn_row = one.loc[("cifar10", "synflow", "all", "")]
    assert syn_row["spearman"] == pytest.approx(1.0) and syn_row["n"] == 300
    assert "syn_a.parquet" in syn_row["source_rosters"] and "syn_b.parquet" in syn_row["source_rosters"]

    comb = combined_from_rosters(roster("hook_logdet", "cifar10", hook), roster("synflow", "cifar10", syn))
    c = one.loc[("cifar10", "combined", "all", "minmax")]
    assert c["spearman"] == pytest.approx(correlations(comb["score"], acc[comb["index"]])["spearman"])
    assert c["alpha"] == 0.6 and c["n_nonfinite"] == 5
    assert {"minmax", "log_minmax", "rank"} <= set(table.loc[table["metric"] == "combined", "normalization"])
    for ds in ("cifar10", "cifar100", "ImageNet16-120"):
        assert one.loc[(ds, "val12", "all", ""), "n"] == 15625
    sweep = pd.read_csv(report / "alpha_sweep.csv")
    assert sorted(sweep.loc[sweep["normalization"] == "minmax", "alpha"]) == [0.2, 0.4, 0.5, 0.6, 0.8]

    md = (report / "table1.md").read_text()
    assert f"paper {PAPER_TABLE1['cifar10']['hook_logdet']:.4f}" in md
    assert f"{abs(expected_hook['top_spearman']):.4f}" in md and "Absolute values" in md
    assert "n=300, 5 non-finite" in md and "lowest" in md
