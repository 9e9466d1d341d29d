"""task=ensembles in search spaces other than NATS-Bench TSS (NAS-Bench-Macro, NAS-Bench-101), on
small hand-built rosters: rows aligned with the space's ground truth by architecture, a ground truth
of one dataset (no held-out dataset: the pick is in-sample, and the report says so), refusals of
rosters of several spaces, and the whole-space mode (aging evolution) in a space with an index."""

from __future__ import annotations

import json
import random

import numpy as np
import pandas as pd
import pytest

from cli import run_cli
from shared_data import shared_data_dir
from zcnas.errors import ConfigError, DataError
from zcnas.roster import Roster, make_rows, write_roster
from zcnas.spaces import make_space
from zcnas.studies.ensembles.search_measures import measures
from zcnas.studies.ensembles.statistics import (Candidate, SearchSettings, candidate_scores, sample_data, space_study,
                                                study)
from zcnas.studies.rank_correlation import correlations

MACRO, NB101 = "nas_bench_macro", "nas_bench_101"
FAST = ["hardware.threads=1", "search_measures.repeats=3", "max_size=3"]
TINY_AGING = ["search_measures.aging_warmup.m=40", "search_measures.aging_warmup.p=10",
              "search_measures.aging_warmup.w=20", "search_measures.aging_warmup.t=3"]


@pytest.fixture(scope="module")
def spaces_data():
    return shared_data_dir() / "spaces"


@pytest.fixture
def truth(compose_cfg, spaces_data):
    """The ground truth a job in ``space`` reads (``zcnas.build.build_benchmark``)."""
    from zcnas.build import build_benchmark

    return lambda space: build_benchmark(compose_cfg(f"space={space}"))


def write(path, space, metric: str, scores: dict, seconds: float | dict = 0.5, dataset: str = "cifar10"):
    """A roster of ``space``: ``scores`` by key (index, or canonical string without an index)."""
    sec = seconds if isinstance(seconds, dict) else {k: seconds for k in scores}
    meta = {"metric": metric, "dataset": dataset}
    if space.name != "nats_tss":
        meta["space"] = space.name
    write_roster(path, Roster(make_rows([(k, float(v), sec[k], "computed") for k, v in scores.items()], space), meta))
    return path


def noisy(acc: np.ndarray, seed: int, noise=(1.0, 2.0, 6.0)) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: acc + rng.normal(0, sd, acc.size) for name, sd in zip(("synflow", "params", "flops"), noise)}


def ensembles(compose_cfg, *overrides: str) -> tuple[dict, str, pd.DataFrame]:
    """run_ensembles_job in-process (the CLI's job), returning (result, ensembles.md, ensembles.csv)."""
    from zcnas.studies.ensembles.task import run_ensembles_job

    cfg = compose_cfg("task=ensembles", *overrides)
    result = run_ensembles_job(cfg, None)
    report = result["report_dir"]
    return result, open(f"{report}/ensembles.md").read(), pd.read_csv(f"{report}/ensembles.csv")


# --- NAS-Bench-Macro ------------------------------------------------------------------------------

@pytest.fixture
def macro_rosters(tmp_path, truth):
    """60 Macro architectures, 3 metrics of synthetic scores around the ground truth."""
    space, bench = make_space(MACRO), truth(MACRO)
    index = np.sort(np.random.default_rng(0).choice(space.size, 60, replace=False))
    acc = np.array([bench.accuracy_of(space.from_index(int(i)), "cifar10") for i in index])
    folder = tmp_path / "macro"
    for metric, values in noisy(acc, 1).items():
        write(folder / f"{metric}_cifar10.parquet", space, metric, dict(zip(index.tolist(), values)))
    return folder, index, acc


@pytest.mark.integration
def test_macro_ensembles_through_the_cli(tmp_path, macro_rosters):
    folder, index, acc = macro_rosters
    report = tmp_path / "report"
    proc = run_cli(tmp_path, "task=ensembles", f"space={MACRO}", f"rosters=[{folder}/*.parquet]",
                   f"report_dir={report}", "whole_space_rosters=null", *FAST)
    assert "in-sample: no held-out dataset" in proc.stdout and f"space {MACRO}" in proc.stdout
    table = pd.read_csv(report / "ensembles.csv")
    assert set(table.dataset) == {"cifar10"} and table.n.unique().tolist() == [60]
    assert len(table) == 3 + (3 + 1) * 5  # singles, then 3 pairs and 1 triple under each of the 5 rules
    assert not table.spearman.isna().any() and not table.top10_acc.isna().any() and not table.random_acc.isna().any()
    assert table.aging_warmup_acc.isna().all()  # 60 of 6,561 cells
    text = (report / "ensembles.md").read_text()
    assert text.startswith(f"# Ensembles of zero-cost proxies ({MACRO})")
    assert "no held-out dataset exists" in text and "in-sample" in text
    assert "CIFAR-10 test accuracy, mean of 3 trainings" in text and "200-epoch" not in text
    assert "the ground truth has cifar10 accuracies only" in text
    # the sentences about the space are Macro's: 60 cells of 6,561, 16 neighbours
    assert "on the 60-cell sample it is not available" in text and "of a cell's 16 neighbours" in text
    assert "held out" not in text.split("## Chosen for search")[1].split("### On the sample")[0]
    result = json.loads(next((tmp_path / "outputs" / "ensembles").rglob("result.json")).read_text())
    assert result["space"] == MACRO and result["held_out"] == [] and result["architectures"] == {"cifar10": 60}
    # a single proxy's row is its correlation with the ground truth, aligned by architecture
    values = pd.read_parquet(folder / "synflow_cifar10.parquet").set_index("index").loc[index, "score"].to_numpy()
    row = table[table.candidate == "synflow"].iloc[0]
    assert row.spearman == pytest.approx(correlations(values, acc)["spearman"])
    assert row.kendall == pytest.approx(correlations(values, acc)["kendall"])
    # top-1: the accuracy of the top-scored architecture
    assert row.top1_acc == pytest.approx(acc[np.argmax(values)], abs=1e-6)


def test_macro_rows_are_aligned_over_the_cells_every_roster_holds(tmp_path, truth):
    """Members over different cells: the study takes the common ones, each score with its own cell."""
    from zcnas.tasks.inputs import load_groups

    space, bench = make_space(MACRO), truth(MACRO)
    rng = np.random.default_rng(7)
    a_cells = rng.choice(space.size, 50, replace=False)
    others = np.setdiff1d(np.arange(space.size), a_cells)
    b_cells = np.concatenate([a_cells[:40], rng.choice(others, 15, replace=False)])
    acc_of = {int(i): bench.accuracy_of(space.from_index(int(i)), "cifar10") for i in np.union1d(a_cells, b_cells)}
    # "exact" (as synflow) scores the accuracy itself, "negative" (as params) its opposite; seconds differ per cell
    write(tmp_path / "exact.parquet", space, "synflow", {int(i): acc_of[int(i)] for i in a_cells},
          {int(i): float(i) for i in a_cells})
    write(tmp_path / "negative.parquet", space, "params", {int(i): -acc_of[int(i)] for i in b_cells})
    d = sample_data(load_groups([str(tmp_path / "exact.parquet"), str(tmp_path / "negative.parquet")]), bench)
    common = sorted(int(i) for i in a_cells[:40])
    assert d["keys"]["cifar10"] == common and d["n"] == {"cifar10": 40} and d["dropped"] == {"cifar10": 0}
    assert d["archs"]["cifar10"] == [space.format(space.from_index(i)) for i in common]
    np.testing.assert_array_equal(d["accuracy"]["cifar10"], [acc_of[i] for i in common])
    np.testing.assert_array_equal(d["scores"]["cifar10"]["synflow"], d["accuracy"]["cifar10"])
    np.testing.assert_array_equal(d["scores"]["cifar10"]["params"], -d["accuracy"]["cifar10"])
    assert d["cost"]["cifar10"]["synflow"] == float(np.median(common))  # over the common cells only
    res = study(d["scores"], d["accuracy"], "cifar10", 2, ["rank"], search=SearchSettings(repeats=2),
                space=space, cells=d["keys"])
    t = res["table"].set_index("candidate")
    assert t.loc["synflow", "spearman"] == pytest.approx(1.0) and t.loc["params", "spearman"] == pytest.approx(-1.0)
    assert t.loc["synflow", "top1_acc"] == pytest.approx(max(acc_of[i] for i in common))
    assert res["chosen"].label == "synflow" and res["whole_space"] == {"cifar10": False}
    assert "cover 40 of 6,561 cells" in res["search_note"]


def test_the_sample_study_runs_aging_where_its_cells_are_the_whole_indexed_space(truth):
    space, bench = make_space(MACRO), truth(MACRO)
    acc = np.array([bench.accuracy_of(space.from_index(i), "cifar10") for i in range(space.size)])
    scores = noisy(acc, 3, (2.0, 4.0))
    aging = {"p": 10, "t": 3, "m": 40, "w": 20, "zero_cost_move": True, "random_move_prob": 0.25}
    settings = SearchSettings(ks=(1, 10), repeats=2, random_n=30, aging=aging)
    res = study({"cifar10": scores}, {"cifar10": acc}, "cifar10", 2, ["rank"], search=settings, space=space,
                cells={"cifar10": list(range(space.size))})
    t = res["table"]
    assert res["whole_space"] == {"cifar10": True} and not t.aging_warmup_acc.isna().any()
    # the searches are the space's own (run_search in Macro), as task=search runs them from rosters
    c = Candidate(("params", "synflow"), "rank")
    m = measures(candidate_scores(c, scores), acc, np.arange(space.size), ks=(1, 10), repeats=2, random_n=30,
                 aging=aging, space=space)
    row = t[t.candidate == c.label].iloc[0]
    assert row.aging_warmup_acc == pytest.approx(m["aging_mean"], abs=1e-6)
    assert row.random_acc == pytest.approx(m["random_mean"], abs=1e-6)


@pytest.mark.integration
def test_macro_whole_space_mode_simulates_aging_in_the_space(tmp_path, compose_cfg, macro_rosters, truth):
    folder, index, _ = macro_rosters
    space, bench = make_space(MACRO), truth(MACRO)
    acc = np.array([bench.accuracy_of(space.from_index(i), "cifar10") for i in range(space.size)])
    whole = tmp_path / "whole"
    for metric, values in noisy(acc, 5, (1.0, 2.0)).items():  # synflow, params: every cell
        write(whole / f"{metric}_cifar10.parquet", space, metric, dict(enumerate(values.tolist())))
    # a NATS-Bench roster among whole_space_rosters is of another space: left out, and said so
    write(whole / "nats_synflow_cifar10.parquet", make_space("nats_tss"), "synflow", {i: float(i) for i in range(12)})
    result, text, table = ensembles(compose_cfg, f"space={MACRO}", f"rosters=[{folder}/*.parquet]",
                                    f"report_dir={tmp_path / 'report'}", f"whole_space_rosters=[{whole}/*.parquet]",
                                    *FAST, *TINY_AGING)
    st = pd.read_csv(tmp_path / "report" / "ensembles_whole_space.csv")
    assert result["whole_space"]["pools"] == {"cifar10": ["params", "synflow"]}
    assert len(st) == 2 + 5 and not st.aging_warmup_acc.isna().any() and st.n.unique().tolist() == [space.size]
    assert "1 of the rosters of `whole_space_rosters` are of other spaces (nats_tss)" in result["whole_space_note"]
    assert "### Whole space" in text and "all 6,561 cells" in text and "*reference*" not in text
    # the sample tables show the whole-space aging figure of candidates whose members have one, marked
    sample_part = text.split("### On the sample")[1].split("### Whole space")[0]
    assert "‡" in sample_part
    # a whole-space row is the candidate's measures over the space: run_search in Macro, same seeds
    aging = {"p": 10, "t": 3, "m": 40, "w": 20, "zero_cost_move": True, "random_move_prob": 0.25}
    scores = {m: pd.read_parquet(whole / f"{m}_cifar10.parquet").sort_values("index").score.to_numpy()
              for m in ("params", "synflow")}
    again = space_study({"cifar10": scores}, {"cifar10": acc}, "cifar10", 2, ["minmax"],
                        search=SearchSettings(repeats=3, aging=aging), reference=(), space=space)
    row = st[st.candidate == "params+synflow [minmax]"].iloc[0]
    assert row.aging_warmup_acc == pytest.approx(again["table"].iloc[-1].aging_warmup_acc, abs=1e-6)


# --- refusals ---------------------------------------------------------------------------------------

@pytest.mark.integration
def test_rosters_of_two_spaces_are_refused_in_one_line(tmp_path, macro_rosters):
    folder, _, _ = macro_rosters
    write(folder / "nats_params_cifar10.parquet", make_space("nats_tss"), "params", {i: float(i) for i in range(60)})
    proc = run_cli(tmp_path, "task=ensembles", f"space={MACRO}", f"rosters=[{folder}/*.parquet]",
                   f"report_dir={tmp_path / 'report'}", check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0] == (f"error: the rosters are of spaces {MACRO}, nats_tss; study one space at a time "
                        "(rosters=[...] of one space, with space=<it>)")
    assert not (tmp_path / "report").exists()


def test_rosters_of_another_space_than_the_jobs_are_refused(tmp_path, compose_cfg, macro_rosters):
    folder, _, _ = macro_rosters
    with pytest.raises(ConfigError, match=f"are of space {MACRO} but the job's space is nats_tss; "
                                          f"add space={MACRO}$"):
        ensembles(compose_cfg, f"rosters=[{folder}/*.parquet]", f"report_dir={tmp_path / 'r'}")
    with pytest.raises(ConfigError, match=f"are of space {MACRO} but the job's space is {NB101}"):
        ensembles(compose_cfg, f"space={NB101}", f"rosters=[{folder}/*.parquet]", f"report_dir={tmp_path / 'r'}")


def test_a_dataset_the_ground_truth_lacks_is_refused(tmp_path, compose_cfg, macro_rosters):
    folder, index, acc = macro_rosters
    space = make_space(MACRO)
    write(folder / "synflow_cifar100.parquet", space, "synflow", dict(zip(index.tolist(), acc)), dataset="cifar100")
    with pytest.raises(ConfigError, match="has no cifar100 accuracies; it has cifar10"):
        ensembles(compose_cfg, f"space={MACRO}", f"rosters=[{folder}/*.parquet]", f"report_dir={tmp_path / 'r'}",
                  "whole_space_rosters=null")


# --- NAS-Bench-101 ----------------------------------------------------------------------------------

@pytest.fixture
def nb101_rosters(tmp_path, spaces_data, truth):
    """40 cells of the shared sample (canonical strings) and one the ground truth lacks."""
    space, bench = make_space(NB101), truth(NB101)
    table = pd.read_csv(spaces_data / NB101 / "nb101_sample500_cifar10.csv", dtype=str)
    archs = list(dict.fromkeys(space.format(space.parse(f"{m}:{o}")) for m, o in zip(table.matrix, table.ops)))[:40]
    drawn = (space.format(space.sample(random.Random(seed))) for seed in range(100))
    outside = next(a for a in drawn if bench.accuracy_of(space.parse(a), "cifar10") is None)
    acc = np.array([bench.accuracy_of(space.parse(a), "cifar10") for a in archs])
    folder = tmp_path / "nb101"
    for metric, values in noisy(acc, 2).items():
        write(folder / f"{metric}_cifar10.parquet", space, metric, {**dict(zip(archs, values)), outside: 1e9})
    return folder, archs, acc


def test_nb101_ensembles_align_by_string_and_skip_the_whole_space_mode(tmp_path, compose_cfg, nb101_rosters):
    folder, archs, acc = nb101_rosters
    # the default whole_space_rosters: NAS-Bench-101 has no index, so the mode is skipped, with the reason
    result, text, table = ensembles(compose_cfg, f"space={NB101}", f"rosters=[{folder}/*.parquet]",
                                    f"report_dir={tmp_path / 'report'}", *FAST)
    assert result["space"] == NB101 and result["architectures"] == {"cifar10": 40} and result["held_out"] == []
    assert "whole_space" not in result and "has no index" in result["whole_space_note"]
    assert not (tmp_path / "report" / "ensembles_whole_space.csv").exists()
    assert len(table) == 23 and table.n.unique().tolist() == [40] and table.aging_warmup_acc.isna().all()
    assert "### Whole space\n\nNot studied: space nas_bench_101 has no index" in text
    assert "CIFAR-10 validation accuracy after 108 epochs" in text and "no held-out dataset exists" in text
    assert "space nas_bench_101 has no index, so it cannot be enumerated and no roster covers it" in text
    assert "the cells of it the ground truth lacks are left out: cifar10 1" in text
    # rows in the order of their strings, each score with its own cell's accuracy
    order = np.argsort(archs, kind="stable")
    scores = pd.read_parquet(folder / "params_cifar10.parquet").set_index("arch").loc[sorted(archs), "score"]
    row = table[table.candidate == "params"].iloc[0]
    assert row.spearman == pytest.approx(correlations(scores.to_numpy(), acc[order])["spearman"])
    assert row.top1_acc == pytest.approx(acc[order][np.argmax(scores.to_numpy())], abs=1e-6)


def test_too_few_cells_with_ground_truth_is_a_data_error(tmp_path, truth):
    from zcnas.tasks.inputs import load_groups

    space, bench = make_space(NB101), truth(NB101)
    rng = random.Random(3)
    drawn = list(dict.fromkeys(space.format(space.sample(rng)) for _ in range(200)))
    known = {a: bench.accuracy_of(space.parse(a), "cifar10") is not None for a in drawn}
    archs = [a for a in drawn if known[a]][:5] + [a for a in drawn if not known[a]][:25]  # 5 in the table, 25 not
    for metric, name in (("synflow", "a"), ("params", "b")):  # rosters record metrics zcnas knows
        write(tmp_path / f"{name}.parquet", space, metric, {a: 1.0 for a in archs})
    with pytest.raises(DataError, match=r"the cifar10 rosters share only 5 architectures that the ground truth "
                                        r"holds \(25 it lacks\)"):
        sample_data(load_groups([str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")]), bench)
