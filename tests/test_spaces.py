"""Search spaces as a plug-in (``space`` group): choosing one, the user-space example
(examples/width_space.py), NAS-Bench-Macro and NAS-Bench-101 through the real CLI, rosters that
record their space, HW-NAS-Bench budgets (``search.max_cost``) and the searches' view of a space
(SpaceView); and a guard that seeded NATS-Bench TSS searches find the cells the committed results rest on."""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cli import ROOT, one_line_error, run_cli
from shared_data import shared_data_dir
from zcnas.errors import ArchError, ConfigError, DataError
from zcnas.roster import Roster, make_rows, merge_rosters, read_roster, write_roster
from zcnas.search import Evaluator, SpaceView, run_search
from zcnas.search import space_view
from zcnas.spaces import load_class, make_space, shipped
from zcnas.spaces.nats_tss.space import NATS_TSS

EXAMPLES = ROOT / "examples"
FAST = ["hardware.threads=1"]
NATS_STRING = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|"


def result_of(root: Path, task: str = "search") -> dict:
    (path,) = (root / "outputs" / task).rglob("result.json")
    return json.loads(path.read_text())


@pytest.fixture
def examples_on_path(monkeypatch):
    """examples/ importable here and in the CLI subprocesses (run_cli passes os.environ on)."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setenv("PYTHONPATH", str(EXAMPLES))


@pytest.fixture(scope="module")
def spaces_data():
    return shared_data_dir() / "spaces"


@pytest.fixture(scope="module")
def macro_table(spaces_data):
    return pd.read_csv(spaces_data / "nas_bench_macro" / "nas_bench_macro_cifar10.csv", dtype={"arch": str})


@pytest.fixture(scope="module")
def nb101_table(spaces_data):
    return pd.read_csv(spaces_data / "nas_bench_101" / "nb101_sample500_cifar10.csv", dtype=str)


@pytest.fixture
def ground_truth(compose_cfg):
    """The ground truth a job in ``space`` reads (``zcnas.build.build_benchmark``)."""
    from zcnas.build import build_benchmark

    return lambda space: build_benchmark(compose_cfg(f"space={space}"))


# --- make_space: choosing a space ---------------------------------------------------------------

@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """An importable module ``myspaces`` holding wrong and right space classes."""
    (tmp_path / "myspaces.py").write_text(textwrap.dedent("""
        from zcnas.spaces.base import SearchSpace

        NOT_A_CLASS = (1, 2, 3)

        class Stringy:  # parse and format, but not a SearchSpace
            def parse(self, text): return text
            def format(self, arch): return arch

        class Unfinished(SearchSpace):  # no build_network
            name = "unfinished"
            def parse(self, text): return text
            def format(self, arch): return arch
            def sample(self, rng): return "a"
            def neighbours(self, arch): return []

        class Nameless(Unfinished):
            name = ""
            def build_network(self, arch, num_classes, input_size, seed=None, prune=False): return None

        class Finished(Nameless):
            name = "finished"
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "myspaces"


def config_error(match: str, *args, **kwargs) -> str:
    with pytest.raises(ConfigError, match=match) as exc:
        make_space(*args, **kwargs)
    assert "\n" not in str(exc.value)
    return str(exc.value)


def test_built_in_spaces_and_unknown_names():
    assert shipped() == ("nas_bench_101", "nas_bench_macro", "nats_tss")  # conf/space/ less custom
    for name in shipped():
        assert make_space(name).name == name
        assert make_space(name) is make_space(name)  # built once per process
    message = config_error("unknown space 'foo'", "foo")
    for name in ("nats_tss", "nas_bench_macro", "nas_bench_101", "custom"):
        assert name in message
    config_error("your own class takes space=custom space._target_=width_space.WidthSpace", "nas_bench_macro",
                 "width_space.WidthSpace")


def test_nats_identity_classes_are_nats_benchs_isomorphism_classes():
    # share_isomorphic groups rows by these classes: they must be the 6,466 classes whose lowest
    # index zcnas.spaces.nats_tss.cells.representatives names
    from zcnas.spaces.nats_tss.cells import representatives

    space, rep = make_space("nats_tss"), representatives()
    of = space.identity_classes()
    members: dict = {}
    for key in range(space.size):
        members.setdefault(of(key), set()).add(key)
    assert len(members) == 6466
    assert all({rep[k] for k in keys} == {min(keys)} for keys in members.values())
    assert of(space.key(space.parse(space.example))) == space.identity_key(space.parse(space.example))


def test_custom_target_problems(user_module):
    config_error("space=custom needs space._target_", "custom")
    config_error("space=custom needs space._target_", "custom", "")
    config_error("must be a class path", "custom", "WidthSpace")
    message = config_error("cannot import no_such_zcnas_module", "custom", "no_such_zcnas_module.Space")
    assert "PYTHONPATH" in message
    config_error("myspaces has no class NOT_A_CLASS", "custom", "myspaces.NOT_A_CLASS")
    config_error("myspaces has no Missing", "custom", "myspaces.Missing")
    message = config_error("is not a zcnas.spaces.base.SearchSpace subclass", "custom", "myspaces.Stringy")
    assert "lacks sample, neighbours, build_network" in message
    config_error("does not implement build_network", "custom", "myspaces.Unfinished")
    config_error("sets no name", "custom", "myspaces.Nameless")
    config_error("bad options for space custom", "custom", "myspaces.Finished", depth=3)
    # module:Class works as well as module.Class
    assert load_class("myspaces:Finished") is load_class("myspaces.Finished")
    assert make_space("custom", "myspaces.Finished").name == "finished"


@pytest.mark.integration
@pytest.mark.parametrize("name", ["my width", "../width", "width/2"])
def test_a_custom_space_whose_name_is_not_plain_is_refused_on_the_command_line(tmp_path, monkeypatch, name):
    # the name becomes part of roster metadata and file names: letters, digits and '._-' only
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "oddly_named.py").write_text(
        f"from width_space import WidthSpace\n\n\nclass Odd(WidthSpace):\n    name = {name!r}\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(EXAMPLES), str(tmp_path / "mods"),
                                                      os.environ.get("PYTHONPATH", "")]))
    line = one_line_error(run_cli(tmp_path, *FAST, "benchmark=none", "search.n=3", "space=custom",
                                  "space._target_=oddly_named.Odd", check=False))
    assert f"oddly_named.Odd has name {name!r}, which is not a plain name" in line, line
    assert "letters, digits and '._-'" in line


@pytest.mark.integration
@pytest.mark.parametrize("args, expected", [
    (["space=foo"], "error: unknown space 'foo'"),
    (["space=custom"], "space=custom needs space._target_"),
    (["space=custom", "space._target_=no_such_zcnas_module.Space"], "cannot import no_such_zcnas_module"),
    # the class path's key is Hydra's _target_: the spelling target gets the right one
    (["space=custom", "space.target=width_space.WidthSpace"],
     "error: unknown setting space.target: a class path is space._target_ (Hydra's key), e.g. "
     "space._target_=width_space.WidthSpace"),
])
def test_bad_spaces_on_the_command_line(tmp_path, args, expected):
    line = one_line_error(run_cli(tmp_path, *FAST, "benchmark=none", "search.n=3", *args, check=False))
    assert expected in line, line


# --- the user-defined example: examples/width_space.py ---------------------------------------------

def test_width_space_example(examples_on_path):
    from width_space import WidthSpace

    space = make_space("custom", "width_space.WidthSpace")
    assert isinstance(space, WidthSpace) and space.name == "width" and space.size == 256
    archs = list(space.all_archs())
    assert len(set(archs)) == 256
    for i, arch in enumerate(archs):
        assert space.index(arch) == i and space.parse(space.format(arch)) == arch
    assert space.format(space.from_index(0)) == "8-8-8-8" and space.format(space.from_index(255)) == "64-64-64-64"
    assert space.parse(space.example) == (16, 32, 32, 64)
    for bad in ("16-32-32", "16-32-32-65", "016-32-32-64", "16-32-32-64-8", "", NATS_STRING):
        with pytest.raises(ArchError) as exc:
            space.parse(bad)
        assert "\n" not in str(exc.value)
    with pytest.raises(ArchError):
        space.from_index(256)
    # neighbours: 12, each one layer away
    arch = space.parse("16-32-32-64")
    neighbours = space.neighbours(arch)
    assert len(neighbours) == len(set(neighbours)) == 12 and arch not in neighbours
    assert all(sum(a != b for a, b in zip(arch, n)) == 1 for n in neighbours)
    # sampling only through the rng
    draws = [space.sample(random.Random(3)) for _ in range(2)]
    assert draws[0] == draws[1]
    # the network: seeded, any input size
    import torch

    a, b = space.build_network("16-32-32-64", 10, 32, seed=0), space.build_network(arch, 10, 32, seed=0)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert a(torch.zeros(2, 3, 32, 32)).shape == (2, 10) and a(torch.zeros(1, 3, 16, 16)).shape == (1, 10)


@pytest.mark.integration
def test_custom_space_search_and_roster_through_the_cli(tmp_path, examples_on_path):
    custom = ["space=custom", "space._target_=width_space.WidthSpace"]
    run_cli(tmp_path, *FAST, *custom, "metric=synflow", "search=aging_warmup", "search.m=80", "search.p=16",
            "search.t=4", "search.w=32", "benchmark=none")
    result = result_of(tmp_path)
    assert result["status"] == "ok" and result["space"] == "width" and result["metric"] == "synflow"
    space = make_space("custom", "width_space.WidthSpace")
    best = space.parse(result["best"]["arch"])
    assert result["best"]["index"] == space.index(best)
    assert result["visited"] == 80 and len(result["trace"]["index"]) == 80
    assert "test_accuracy" not in result["best"]  # no ground truth

    run_cli(tmp_path, *FAST, *custom, "task=score", "metric=synflow", "sample=5")
    score = result_of(tmp_path, "score")
    assert score["space"] == "width" and score["space_target"] == "width_space.WidthSpace"
    roster = read_roster(score["roster"], space)  # a user's space is the reader's to give, never the file's
    assert roster.meta["space"] == "width" and roster.meta["space_target"] == "width_space.WidthSpace"
    assert len(roster) == 5 and roster.rows["finite"].all()
    assert [space.index(space.parse(a)) for a in roster.rows["arch"]] == list(roster.rows["index"])
    assert roster.space is space


# --- NAS-Bench-Macro ----------------------------------------------------------------------------

def test_macro_identity_keys_match_the_table(macro_table):
    """Stride-1 identities commute within a stage: 3,969 keys, and the table gives all the
    architectures of a key the same three accuracies (3,969 distinct triples)."""
    space = make_space("nas_bench_macro")
    assert [space.index(space.parse(a)) for a in macro_table["arch"]] == list(range(6561))
    keys = [space.identity_key(space.parse(a)) for a in macro_table["arch"]]
    triples = list(zip(macro_table["test_acc_1"], macro_table["test_acc_2"], macro_table["test_acc_3"]))
    assert len(set(keys)) == 3969 == len(set(triples))
    assert pd.DataFrame({"key": keys, "t": triples}).groupby("key")["t"].nunique().max() == 1
    key = space.identity_key  # stages are layers 0-1, 2-4, 5-7; a stage's first layer is never an identity
    assert key(space.parse("01201120")) == key(space.parse("01210102")) == "01210120"
    assert key(space.parse("01201120")) != key(space.parse("10201120"))


@pytest.fixture(scope="module")
def macro_roster(tmp_path_factory):
    """A synflow roster of 10 sampled NAS-Bench-Macro architectures, scored through the CLI."""
    root = tmp_path_factory.mktemp("macro")
    run_cli(root, *FAST, "task=score", "space=nas_bench_macro", "metric=synflow", "sample=10")
    result = result_of(root, "score")
    path = root / "macro_synflow.parquet"  # a plain name: the job folder's has '=' and ','
    shutil.copy(result["roster"], path)
    return path


@pytest.mark.integration
def test_macro_random_search(tmp_path, macro_table, ground_truth):
    run_cli(tmp_path, *FAST, "space=nas_bench_macro", "metric=params", "search.n=30")
    result = result_of(tmp_path)
    best = result["best"]
    assert result["space"] == "nas_bench_macro" and result["visited"] == 30
    row = macro_table.set_index("arch").loc[best["arch"]]
    assert best["index"] == make_space("nas_bench_macro").index(make_space("nas_bench_macro").parse(best["arch"]))
    assert best["test_accuracy"] == pytest.approx(row["mean_acc"])
    # ranked among the table's distinct networks: its 6,561 rows keyed by identity key
    archs, accuracy = ground_truth("nas_bench_macro").table("cifar10")
    assert best["ranked_among"] == len(archs) == 3969
    assert best["rank"] == 1 + int((accuracy > best["test_accuracy"]).sum())
    assert best["best_in_space"] == pytest.approx(93.13, abs=0.005)
    assert best["accuracy_label"] == "CIFAR-10 test accuracy, mean of 3 trainings"
    assert best["score"] == row["params"]  # params of the built network = the table's count


@pytest.mark.integration
def test_macro_roster_and_correlation(tmp_path, macro_roster, macro_table):
    roster = read_roster(macro_roster)
    assert roster.meta["space"] == "nas_bench_macro" and "space_target" not in roster.meta
    assert len(roster) == 10 and roster.rows["finite"].all()
    space = make_space("nas_bench_macro")
    assert all(space.index(space.parse(a)) == i for a, i in zip(roster.rows["arch"], roster.rows["index"]))

    report = tmp_path / "report"
    run_cli(tmp_path, *FAST, "task=correlate", "space=nas_bench_macro", f"rosters=[{macro_roster}]",
            f"report_dir={report}")
    result = result_of(tmp_path, "correlate")
    assert result["space"] == "nas_bench_macro"
    (row,) = [r for r in result["rows"] if r["subset"] == "all"]
    assert row["metric"] == "synflow" and row["n"] == 10 and -1 <= row["spearman"] <= 1
    text = (report / "correlation.md").read_text()
    assert "nas_bench_macro" in text and "synflow" in text
    assert (report / "scatter_cifar10.png").read_bytes()[:4] == b"\x89PNG"
    assert not (report / "table1.md").exists()

    # the same roster in a NATS-Bench correlation (no space=): refused
    line = one_line_error(run_cli(tmp_path, *FAST, "task=correlate", f"rosters=[{macro_roster}]",
                                  f"report_dir={tmp_path / 'nats'}", check=False))
    assert "space nas_bench_macro" in line and "add space=nas_bench_macro" in line


@pytest.mark.integration
def test_rosters_of_two_spaces_are_not_correlated_together(tmp_path, macro_roster):
    nats = tmp_path / "nats_params.parquet"
    write_roster(nats, Roster(make_rows([(0, 1.0, 0.0, "computed"), (1, 2.0, 0.0, "computed")], NATS_TSS),
                              {"metric": "params", "dataset": "cifar10"}))
    line = one_line_error(run_cli(tmp_path, *FAST, "task=correlate", "space=nas_bench_macro",
                                  f"rosters=[{macro_roster},{nats}]", f"report_dir={tmp_path / 'r'}", check=False))
    assert "spaces nas_bench_macro, nats_tss" in line


@pytest.mark.integration
@pytest.mark.parametrize("args, expected", [
    (["metric=combined"], "metric combined cannot score architectures of space nas_bench_macro"),
    (["metric=ensemble"], "metric ensemble cannot score architectures of space nas_bench_macro"),
    (["metric=val12"], "metric val12 cannot score architectures of space nas_bench_macro"),
    (["task=score", "metric=params", f"indices=['{NATS_STRING}']"], "is a NATS-Bench cell, not one of nas_bench_macro"),
    (["search.max_cost.edgegpu_latency=5"], "space nas_bench_macro has none"),
])
def test_macro_refusals(tmp_path, args, expected):
    line = one_line_error(run_cli(tmp_path, *FAST, "space=nas_bench_macro", "search.n=3", *args, check=False))
    assert expected in line, line


@pytest.mark.integration
def test_macro_search_reads_scores_from_a_roster(tmp_path):
    space = make_space("nas_bench_macro")
    path = tmp_path / "macro_all.parquet"  # every architecture, scored by its index
    write_roster(path, Roster(make_rows([(i, float(i), 0.0, "computed") for i in range(space.size)], space),
                              {"space": space.name, "metric": "synflow", "dataset": "cifar10"}))
    run_cli(tmp_path, *FAST, "space=nas_bench_macro", "metric=synflow", f"metric.roster={path}", "search.n=5")
    best = result_of(tmp_path)["best"]
    assert best["score"] == best["index"]


# --- NAS-Bench-101 ------------------------------------------------------------------------------

@pytest.mark.integration
def test_nb101_random_search_outside_the_sample(tmp_path, nb101_table):
    """Seed 1's best cell is not among the 500-cell sample's: the result says so."""
    space = make_space("nas_bench_101")
    proc = run_cli(tmp_path, *FAST, "space=nas_bench_101", "metric=params", "search.n=20", "seed=1")
    result = result_of(tmp_path)
    best = result["best"]
    assert result["space"] == "nas_bench_101" and best["index"] is None
    assert space.format(space.parse(best["arch"])) == best["arch"]
    sample = {space.identity_key(space.parse(f"{m}:{o}")) for m, o in zip(nb101_table["matrix"], nb101_table["ops"])}
    assert space.identity_key(space.parse(best["arch"])) not in sample
    assert "test_accuracy" in best and best["test_accuracy"] is None
    assert "not in the benchmark's table" in proc.stdout
    # a space without an index traces architecture strings
    assert "index" not in result["trace"] and len(result["trace"]["arch"]) == 20


@pytest.mark.integration
def test_nb101_random_search_inside_the_sample(tmp_path, ground_truth):
    run_cli(tmp_path, *FAST, "space=nas_bench_101", "metric=params", "search.n=20", "seed=0")
    best = result_of(tmp_path)["best"]
    # the 500-row sample holds 301 distinct cells, 292 distinct graph hashes: its rows are keyed by hash
    archs, _ = ground_truth("nas_bench_101").table("cifar10")
    assert best["test_accuracy"] is not None and best["ranked_among"] == len(archs) == 292
    assert best["accuracy_label"] == "CIFAR-10 validation accuracy after 108 epochs"


def test_nb101_whole_space_is_the_tables_cells():
    from zcnas.tasks.score import select_indices

    space = make_space("nas_bench_101")
    archs = [space.format(space.sample(random.Random(s))) for s in range(6)]
    assert select_indices(None, 0, 0, 1, space=space, table_archs=archs) == sorted(archs)
    halves = [select_indices(None, 0, k, 2, space=space, table_archs=archs) for k in (0, 1)]
    assert halves[0] + halves[1] == sorted(archs)
    with pytest.raises(ConfigError, match="cannot be enumerated"):
        select_indices(None, 0, 0, 1, space=space)
    # a sample is drawn with the space's own sampler, distinct and sorted
    sample = select_indices(5, 0, 0, 1, space=space)
    assert len(set(sample)) == 5 and sample == sorted(sample)


@pytest.mark.integration
def test_nb101_score_sample(tmp_path):
    run_cli(tmp_path, *FAST, "task=score", "space=nas_bench_101", "metric=params", "sample=5")
    result = result_of(tmp_path, "score")
    assert result["space"] == "nas_bench_101" and result["architectures"] == 5
    roster = read_roster(result["roster"])
    space = make_space("nas_bench_101")
    assert roster.meta["space"] == "nas_bench_101" and len(roster) == 5
    assert (roster.rows["index"] == -1).all()
    assert all(space.canonical(a) == a for a in roster.rows["arch"])


@pytest.mark.slow
@pytest.mark.integration
def test_nb101_score_whole_table(tmp_path, nb101_table, ground_truth):
    """No sample: the table's architectures (one per graph hash), sorted; params equal the table's own count
    on every row of the sample whose cell was scored."""
    run_cli(tmp_path, *FAST, "task=score", "space=nas_bench_101", "metric=params")
    roster = read_roster(result_of(tmp_path, "score")["roster"])
    space = make_space("nas_bench_101")
    table_archs = ground_truth("nas_bench_101").archs
    assert list(roster.rows["arch"]) == sorted(table_archs) and len(roster) == 292
    keys = [space.canonical(f"{m}:{o}") for m, o in zip(nb101_table["matrix"], nb101_table["ops"])]
    scores = roster.scores_by_arch()
    checked = [(scores[k], float(p)) for k, p in zip(keys, nb101_table["params"]) if k in scores]
    assert len(checked) >= len(roster) and all(a == b for a, b in checked)


def test_nb101_identity_key_is_the_official_hash():
    space = make_space("nas_bench_101")
    assert space.identity_key(space.parse(space.example)) == "00005c142e6f48ac74fdcf73e3439874"


# --- rosters record their space and refuse to mix ----------------------------------------------------

def macro_and_nats_rosters():
    macro = make_space("nas_bench_macro")
    meta = {"metric": "params", "dataset": "cifar10"}
    nats = Roster(make_rows([(0, 1.0, 0.0, "computed")], NATS_TSS), dict(meta))
    other = Roster(make_rows([(5, 2.0, 0.0, "computed")], macro), {"space": "nas_bench_macro", **meta})
    return nats, other


def test_rosters_of_one_other_space_merge():
    _, macro = macro_and_nats_rosters()
    more = Roster(make_rows([(7, 3.0, 0.0, "computed")], make_space("nas_bench_macro")), dict(macro.meta))
    merged = merge_rosters([("a", macro), ("b", more)])
    assert merged.meta["space"] == "nas_bench_macro" and list(merged.rows["arch"]) == ["00000012", "00000021"]


@pytest.mark.parametrize("nats_first", [True, False])
def test_rosters_of_different_spaces_do_not_merge(nats_first):
    nats, macro = macro_and_nats_rosters()
    named = [("nats.parquet", nats), ("macro.parquet", macro)]
    with pytest.raises(ConfigError, match="space") as exc:
        merge_rosters(named if nats_first else named[::-1])
    assert "\n" not in str(exc.value)


def write_raw_roster(path: Path, space: str, index: int, arch: str) -> Path:
    frame = pd.DataFrame({"index": [index], "arch": [arch], "score": [1.0], "finite": [True], "seconds": [0.0],
                          "source": ["computed"]})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = {"space": space, "metric": "params", "dataset": "cifar10"}
    pq.write_table(table.replace_schema_metadata({b"zcnas": json.dumps(meta).encode()}), path)
    return path


@pytest.mark.parametrize("space, index, arch, match", [
    ("nas_bench_macro", 1, "00000001", None),  # canonical: reads
    ("nas_bench_macro", 1, " 00000001", "not written canonically"),
    ("nas_bench_macro", 2, "00000001", "index 2 is not that of 00000001"),
    ("nas_bench_macro", 1, "0000001", "has 7 layers"),
    ("nas_bench_macro", 1, NATS_STRING, "is a NATS-Bench cell"),
    # the first row of the NAS-Bench-101 sample as the table spells it (7 vertices, one of them dangling)
    ("nas_bench_101", -1, "0111101000001100000010000110000001100000000000000:input,maxpool3x3,maxpool3x3,"
                          "conv3x3-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu,output", "not written canonically"),
])
def test_roster_archs_must_be_canonical_for_their_space(tmp_path, space, index, arch, match):
    path = write_raw_roster(tmp_path / "r.parquet", space, index, arch)
    if match is None:
        assert read_roster(path).meta["space"] == space
        return
    with pytest.raises(DataError, match=match) as exc:
        read_roster(path)
    assert f"(space {space})" in str(exc.value) and "\n" not in str(exc.value)


# --- HW-NAS-Bench budgets (NATS-Bench TSS) ----------------------------------------------------------

@pytest.fixture(scope="module")
def hw_cifar10(spaces_data):
    from zcnas.spaces.nats_tss.hw_costs import read_hw_costs

    return read_hw_costs(spaces_data / "nats_tss_hw", "cifar10")


@pytest.mark.integration
@pytest.mark.parametrize("search", [
    ["search.n=50"],
    ["search=aging_warmup", "search.m=40", "search.p=8", "search.t=3", "search.w=16"],
])
def test_a_budget_is_met(tmp_path, hw_cifar10, search):
    latency = hw_cifar10.array("edgegpu_latency")
    assert (latency > 5.0).mean() > 0.5  # the budget binds: most cells are over it
    run_cli(tmp_path, *FAST, "metric=params", "search.max_cost.edgegpu_latency=5.0", *search)
    result = result_of(tmp_path)
    assert result["max_cost"] == {"edgegpu_latency": 5.0}
    best = result["best"]
    assert best["costs"]["edgegpu_latency"] <= 5.0
    assert best["costs"]["edgegpu_latency"] == latency[best["index"]]
    visited = result["trace"]["index"]
    assert len(visited) == result["visited"] and (latency[visited] <= 5.0).all()


@pytest.mark.integration
def test_unmeasured_cells_are_never_feasible(tmp_path, hw_cifar10):
    """The Edge TPU lacks 4,699 cells: under any edgetpu budget the search visits none of them."""
    latency = hw_cifar10.array("edgetpu_latency")
    assert np.isnan(latency).sum() == 4699 and np.nanmax(latency) < 100
    run_cli(tmp_path, *FAST, "metric=params", "search.max_cost.edgetpu_latency=100", "search.n=50", "benchmark=none")
    visited = result_of(tmp_path)["trace"]["index"]
    assert np.isfinite(latency[visited]).all()


@pytest.mark.integration
@pytest.mark.parametrize("args, expected", [
    (["search.max_cost.edgegpu_latency=-1"], "search.max_cost.edgegpu_latency must be a number > 0"),
    (["+search.max_cost.foo_latency=1"], "unknown HW-NAS-Bench cost 'foo_latency'; valid: edgegpu_latency, "
                                         "edgegpu_energy, raspi4_latency"),
    (["search.max_cost.edgegpu_latency=0.1"], "meets the search's constraint (search.max_cost); loosen the budget"),
])
def test_bad_budgets_are_one_line(tmp_path, args, expected):
    line = one_line_error(run_cli(tmp_path, *FAST, "metric=params", "search.n=5", "benchmark=none", *args,
                                  check=False))
    assert expected in line, line


# --- SpaceView: the searches' view of a space ----------------------------------------------------------

@pytest.mark.parametrize("name", ["nats_tss", "nas_bench_macro", "nas_bench_101"])
def test_space_view_without_a_constraint_is_the_space(name):
    space = make_space(name)
    view = SpaceView(space)
    a, b = random.Random(11), random.Random(11)
    for _ in range(30):
        arch = view.sample(a)
        assert arch == space.sample(b)
        assert view.neighbours(arch) == space.neighbours(arch)
        assert view.random_neighbour(arch, a) == space.random_neighbour(arch, b)
    assert a.random() == b.random()  # the same numbers drawn


def test_space_view_with_a_constraint_returns_only_feasible_archs():
    space = make_space("nas_bench_macro")
    feasible = lambda arch: arch[0] != 0 and sum(arch) <= 8  # noqa: E731
    view = SpaceView(space, feasible)
    rng = random.Random(0)
    for _ in range(200):
        arch = view.sample(rng)
        assert feasible(arch)
        neighbours = view.neighbours(arch)
        assert neighbours == [n for n in space.neighbours(arch) if feasible(n)]  # the space's order, filtered
        assert feasible(view.random_neighbour(arch, rng))
    # no feasible neighbour: a fresh feasible draw instead
    lonely = lambda arch: arch in {(1,) * 8, (2,) * 8}  # noqa: E731
    view = SpaceView(space, lonely)
    assert view.neighbours((1,) * 8) == []
    assert all(lonely(view.random_neighbour((1,) * 8, rng)) for _ in range(5))


def test_space_view_with_an_impossible_constraint(monkeypatch):
    monkeypatch.setattr(space_view, "MAX_DRAWS", 50)
    with pytest.raises(ConfigError, match="in 50 tries meets the search's constraint"):
        SpaceView(make_space("nas_bench_macro"), lambda arch: False).sample(random.Random(0))


# --- NATS-Bench TSS: the committed searches' draws ----------------------------------------------------

@pytest.fixture
def params_metric(compose_cfg):
    from zcnas.build import build_context, build_metric

    cfg = compose_cfg("metric=params", "benchmark=none")
    return build_metric(cfg, build_context(cfg, None, "cpu"))


@pytest.mark.integration
def test_nats_searches_find_the_committed_best_cells(tmp_path, params_metric):
    """The best index a seeded search finds is what ``run_search`` without a space finds, and the cell
    the committed searches rest on: random seed 7 -> 12118, aging_warmup seed 3 -> 1462."""
    run_cli(tmp_path / "r", *FAST, "metric=params", "search.n=50", "seed=7", "benchmark=none")
    result = result_of(tmp_path / "r")
    assert "space" not in result
    direct = run_search("random", Evaluator(params_metric.score_cell), random.Random(7), n=50, space=NATS_TSS)
    assert result["best"]["index"] == direct.best_cell.index == 12118

    aging = ["search=aging_warmup", "search.m=80", "search.p=16", "search.t=4", "search.w=32"]
    run_cli(tmp_path / "a", *FAST, "metric=params", "seed=3", "benchmark=none", *aging)
    result = result_of(tmp_path / "a")
    evaluator = Evaluator(params_metric.score_cell)
    direct = run_search("aging_warmup", evaluator, random.Random(3), m=80, p=16, t=4, w=32, space=NATS_TSS)
    assert result["best"]["index"] == direct.best_cell.index == 1462
    assert (result["evaluations"], result["distinct_scored"]) == (evaluator.requests, evaluator.distinct) == (1264, 194)
    assert math.isfinite(result["best"]["score"])
