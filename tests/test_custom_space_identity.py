"""A custom space's options (``space.options``, keyword arguments of its class) are part of its
identity: rosters record them (``space_options``), refuse to merge with rosters of other options,
and are read back in the space built with them; a job's identity (folder name, change detection,
resumed chunks) changes with them; a search refuses a roster of other options.  Built-in spaces and
custom spaces without options record no options and keep their committed folder names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from cli import ROOT, run_cli
from zcnas.errors import ConfigError, DataError
from zcnas.jobs import config_changes, folder_name
from zcnas.roster import Roster, encode_options, make_rows, merge_rosters, read_roster, space_meta, write_roster
from zcnas.spaces import make_space

EXAMPLES = ROOT / "examples"
WIDTH = "width_space.WidthSpace"
CUSTOM = ["space=custom", f"space._target_={WIDTH}"]
NARROW = "+space.options.widths=[16,32]"  # how an option is given on the command line
META = {"metric": "params", "dataset": "cifar10"}


@pytest.fixture
def examples_on_path(monkeypatch):
    """examples/ importable here and in the CLI subprocesses (run_cli passes os.environ on)."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setenv("PYTHONPATH", str(EXAMPLES))


def width(**options):
    return make_space("custom", WIDTH, **options)


def roster_of(space, keys) -> Roster:
    return Roster(make_rows([(k, float(k), 0.0, "computed") for k in keys], space), {**space_meta(space), **META}, space)


def one_line(exc_info) -> str:
    text = str(exc_info.value)
    assert "\n" not in text
    return text


# --- the example's option --------------------------------------------------------------------------

def test_width_space_takes_its_widths_as_an_option(examples_on_path):
    default, narrow = width(), width(widths=[32, 16])
    assert default.widths == (8, 16, 32, 64) and default.size == 256 and default.example == "16-32-32-64"
    assert narrow.widths == (16, 32) and narrow.size == 16 and narrow.example == "32-32-32-32"
    assert narrow.space_options == {"widths": [32, 16]} and default.space_options == {}
    for i in range(narrow.size):
        arch = narrow.from_index(i)
        assert narrow.index(arch) == i and narrow.parse(narrow.format(arch)) == arch
    assert len(narrow.neighbours(narrow.parse("16-16-32-32"))) == 4
    with pytest.raises(ValueError, match="expected 4 widths from 16, 32"):
        narrow.parse("8-16-32-32")
    for bad in ([], "8,16", [8, 0], [True]):
        with pytest.raises(ConfigError, match="widths must be a list of positive integers") as exc:
            width(widths=bad)
        one_line(exc)


# --- rosters ---------------------------------------------------------------------------------------

def test_rosters_record_options_only_when_there_are_some(examples_on_path):
    assert space_meta(width()) == {"space": "width", "space_target": WIDTH}  # no options: no space_options key
    assert space_meta(width(widths=[32, 16])) == {"space": "width", "space_target": WIDTH,
                                                  "space_options": '{"widths": [32, 16]}'}
    assert encode_options({"b": [1, 2], "a": {"y": 1, "x": 2}}) == '{"a": {"x": 2, "y": 1}, "b": [1, 2]}'  # sorted keys
    for name in ("nats_tss", "nas_bench_macro", "nas_bench_101"):  # built-in spaces record no options
        assert space_meta(make_space(name)) == ({} if name == "nats_tss" else {"space": name})


def test_rosters_of_other_options_refuse_to_merge(examples_on_path):
    default, narrow, other = width(), width(widths=[16, 32]), width(widths=[16, 64])
    with pytest.raises(ConfigError) as exc:
        merge_rosters([("narrow.parquet", roster_of(narrow, [0, 1])), ("default.parquet", roster_of(default, [2]))])
    assert one_line(exc) == ("roster default.parquet has space_options='{}' but narrow.parquet has "
                             "space_options='{\"widths\": [16, 32]}'; rosters of different space_options "
                             "cannot be mixed")
    with pytest.raises(ConfigError, match="space_options") as exc:
        merge_rosters([("narrow.parquet", roster_of(narrow, [0])), ("other.parquet", roster_of(other, [1]))])
    one_line(exc)
    # the same options: one space, the rosters merge
    merged = merge_rosters([("a", roster_of(narrow, [0, 1])), ("b", roster_of(width(widths=[16, 32]), [1, 2]))])
    assert merged.meta["space_options"] == '{"widths": [16, 32]}' and list(merged.rows["index"]) == [0, 1, 2]
    # and rosters without options merge, recording none
    merged = merge_rosters([("a", roster_of(default, [0])), ("b", roster_of(default, [5]))])
    assert "space_options" not in merged.meta and len(merged) == 2


def test_a_roster_is_read_back_in_the_space_built_with_its_options(tmp_path, examples_on_path):
    narrow = width(widths=[16, 32])
    path = tmp_path / "narrow.parquet"
    write_roster(path, roster_of(narrow, range(narrow.size)))
    roster = read_roster(path, narrow)  # its rows are checked in the narrow space: 16 architectures, base-2 indices
    assert roster.meta["space_options"] == '{"widths": [16, 32]}'
    assert roster.space is narrow and roster.space.widths == (16, 32)
    assert list(roster.rows["arch"])[:3] == ["16-16-16-16", "16-16-16-32", "16-16-32-16"]
    assert roster.score_array().tolist() == [float(i) for i in range(16)]
    # options a roster cannot have come from zcnas are refused in one line
    meta = {**roster.meta, "space_options": "[16, 32]"}
    write_roster(path, Roster(roster.rows, meta))
    with pytest.raises(DataError, match="unreadable space_options") as exc:
        read_roster(path)
    one_line(exc)


def test_chunks_of_other_options_are_not_resumed(tmp_path, examples_on_path):
    from zcnas.tasks.score.chunks import chunk_disagreement, resume_chunks

    default, narrow = width(), width(widths=[16, 32])
    why = chunk_disagreement({**space_meta(default), **META}, {**space_meta(narrow), **META})
    assert why == "they were scored with space_options='{}', this job has space_options='{\"widths\": [16, 32]}'"
    chunks = tmp_path / "chunks"
    write_roster(chunks / "part-00000.parquet", roster_of(default, [0, 1]))
    resumed = resume_chunks(chunks, {**space_meta(narrow), **META}, force=False)
    assert len(resumed) == 0 and not chunks.exists()
    assert [p.name.startswith("chunks.superseded-") for p in tmp_path.iterdir()] == [True]
    assert chunk_disagreement({**space_meta(narrow), **META}, {**space_meta(narrow), **META}) is None
    # options are recorded as given: zcnas cannot know that a class sorts its widths, so another
    # spelling is another space (refused, never wrongly merged)
    assert "space_options" in chunk_disagreement({**space_meta(narrow), **META},
                                                 {**space_meta(width(widths=[32, 16])), **META})


# --- job identity ----------------------------------------------------------------------------------

def test_folder_names_of_built_in_spaces_are_the_committed_ones():
    """Literal names: committed sweeps (multirun_outputs/, results/) use them."""
    assert folder_name(["metric=params", "search=aging_warmup", "seed=6"]) == "metric=params,search=aging_warmup,seed=6"
    assert (folder_name(["space=nas_bench_macro", "metric=synflow", "search=aging_warmup"])
            == "metric=synflow,search=aging_warmup,space=nas_bench_macro")
    assert (folder_name(["task=score", "space=nas_bench_101", "metric=params", "sample=100"])
            == "metric=params,sample=100,space=nas_bench_101,task=score")
    assert (folder_name([*CUSTOM, "metric=synflow", "search=aging_warmup", "benchmark=none"])
            == "metric=synflow,search=aging_warmup,space._target_=width_space.WidthSpace,space=custom")


def test_a_changed_option_is_another_job():
    base = [*CUSTOM, "metric=synflow"]
    names = {folder_name(base), folder_name([*base, NARROW]), folder_name([*base, "+space.options.widths=[16,64]"])}
    assert len(names) == 3
    assert folder_name([*base, NARROW]) == ("space.options.widths=16_32-c4a2b1,metric=synflow,"
                                            "space._target_=width_space.WidthSpace,space=custom")


def test_config_changes_sees_options_added_dropped_or_changed(compose_cfg):
    def config(*overrides):
        return OmegaConf.to_container(compose_cfg(*CUSTOM, *overrides), resolve=True)

    default, narrow = config(), config(NARROW)
    assert default["space"]["options"] == {} and narrow["space"]["options"] == {"widths": [16, 32]}
    assert config_changes(default, narrow) == ["space.options"]  # an option added (e.g. by an experiment file)
    assert config_changes(narrow, default) == ["space.options"]  # or dropped
    assert config_changes(narrow, config("+space.options.widths=[16,64]")) == ["space.options"]
    assert config_changes(narrow, config(NARROW)) == [] and config_changes(default, config()) == []
    # built-in spaces have no options: equal configs show no change
    macro = OmegaConf.to_container(compose_cfg("space=nas_bench_macro"), resolve=True)
    assert config_changes(macro, macro) == []
    assert config_changes({"seed": 1}, {"seed": 1, "space": {"options": {"widths": [8]}}}) == []  # older results


# --- a search that reads a roster ------------------------------------------------------------------

def test_a_search_refuses_a_roster_of_other_options(tmp_path, compose_cfg, examples_on_path, monkeypatch):
    from zcnas.build import build_context, build_metric, build_space

    narrow = width(widths=[16, 32])
    path = tmp_path / "narrow.parquet"
    write_roster(path, roster_of(narrow, range(narrow.size)))

    def metric(*overrides):
        cfg = compose_cfg(*CUSTOM, *overrides, "metric=params", f"metric.roster={path}", "benchmark=none")
        space = build_space(cfg)
        return build_metric(cfg, build_context(cfg, None, "cpu", space))

    assert metric(NARROW).score_cell(narrow.parse("32-32-32-32")) == 15.0
    for other in ([], ["+space.options.widths=[16,64]"]):
        with pytest.raises(ConfigError, match="space_options") as exc:
            metric(*other)
        one_line(exc)
    # a roster of another class of the same name is refused too (space_target: the name alone does
    # not say which class scored it)
    (tmp_path / "elsewhere.py").write_text("from width_space import WidthSpace as Base\n\n\n"
                                           "class WidthSpace(Base):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    lookalike = make_space("custom", "elsewhere.WidthSpace", widths=[16, 32])
    write_roster(path, roster_of(lookalike, range(lookalike.size)))
    with pytest.raises(ConfigError, match="space_target='elsewhere.WidthSpace'") as exc:
        metric(NARROW)
    one_line(exc)


# --- the studies (task=correlate, task=ensembles) ---------------------------------------------------

def test_a_study_takes_rosters_of_the_jobs_space_options_included(compose_cfg, examples_on_path):
    """``job_space`` compares class and options, not only the name: a roster of other options
    would otherwise have its rows read in the wrong space."""
    from zcnas.tasks.inputs import describe_space, job_space, job_space_identity

    narrow, other = width(widths=[16, 32]), width(widths=[16, 64])
    named = [("narrow.parquet", roster_of(narrow, range(4)))]
    assert job_space(compose_cfg(*CUSTOM, NARROW), named).space_options == {"widths": [16, 32]}
    assert describe_space(job_space_identity(narrow)) == 'width (width_space.WidthSpace, options {"widths": [16, 32]})'
    assert describe_space(job_space_identity(make_space("nas_bench_macro"))) == "nas_bench_macro"
    with pytest.raises(ConfigError) as exc:
        job_space(compose_cfg(*CUSTOM), named, "correlate")
    assert one_line(exc) == ('the rosters are of space width (width_space.WidthSpace, options {"widths": [16, 32]}) but '
                             "the job's space is width (width_space.WidthSpace); use space=custom "
                             'space._target_=width_space.WidthSpace with space.options {"widths": [16, 32]}')
    with pytest.raises(ConfigError, match="without space.options") as exc:
        job_space(compose_cfg(*CUSTOM, NARROW), [("d.parquet", roster_of(width(), range(4)))])
    one_line(exc)
    with pytest.raises(ConfigError, match="one space at a time") as exc:
        job_space(compose_cfg(*CUSTOM, NARROW), named + [("o.parquet", roster_of(other, range(4)))])
    one_line(exc)


def test_the_study_library_refuses_groups_of_other_options(examples_on_path):
    """Called without a job (``space=None``), the study reads the space from the rosters and refuses
    rosters of one name but other options (the name alone does not identify the space)."""
    from zcnas.studies.ensembles.statistics import groups_space
    from zcnas.tasks.inputs import group_rosters

    narrow, other = width(widths=[16, 32]), width(widths=[16, 64])
    assert groups_space(group_rosters([("n.parquet", roster_of(narrow, range(4)))])).space_options == \
        {"widths": [16, 32]}
    flops = roster_of(other, range(4))
    flops.meta["metric"] = "flops"  # another (dataset, metric) group, so the two are not merged
    mixed = group_rosters([("n.parquet", roster_of(narrow, range(4))), ("o.parquet", flops)])
    with pytest.raises(DataError, match="a study takes one space") as exc:
        groups_space(mixed)
    assert '{"widths": [16, 32]}' in one_line(exc) and '{"widths": [16, 64]}' in one_line(exc)


@pytest.mark.integration
def test_options_through_the_cli(tmp_path, examples_on_path):
    """Score the narrow space whole, search it with that roster, and refuse the roster in the default space."""
    fast = ["hardware.threads=1", *CUSTOM, "metric=params", "benchmark=none"]
    run_cli(tmp_path, *fast, NARROW, "task=score")
    (result_path,) = (tmp_path / "outputs" / "score").rglob("result.json")
    score = json.loads(result_path.read_text())
    assert score["space_options"] == '{"widths": [16, 32]}' and score["architectures"] == 16
    roster = score["roster"]
    assert read_roster(roster, width(widths=[16, 32])).space.widths == (16, 32)

    run_cli(tmp_path, *fast, NARROW, f"metric.roster={roster}", "search.n=5")
    (result_path,) = (tmp_path / "outputs" / "search").rglob("result.json")
    assert json.loads(result_path.read_text())["best"]["arch"].count("-") == 3

    proc = run_cli(tmp_path / "default", *fast, f"metric.roster={roster}", "search.n=5", check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("error: roster ") and "space_options" in lines[0]

    # a study of the narrow roster in the default space is refused before it reads any ground truth
    plain_path = tmp_path / "narrow.parquet"  # the job folder's name has characters Hydra's lists refuse
    plain_path.write_bytes(Path(roster).read_bytes())
    proc = run_cli(tmp_path / "study", "hardware.threads=1", *CUSTOM, "task=correlate", f"rosters=[{plain_path}]",
                   f"report_dir={tmp_path / 'report'}", check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "but the job's space is width (width_space.WidthSpace); use space=custom" in lines[0]
