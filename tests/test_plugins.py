"""Plug-ins are declared one way: a YAML option whose ``_target_`` names the class.

``zcnas.plugins`` reads the options as data (names, targets, defaults) and imports a class only
when it is chosen; the steps of docs/plugins.md add a search strategy and a space of one's own,
which the CLI runs from a folder given with ``hydra.searchpath``.
"""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys

import pytest
import yaml

from cli import ROOT, one_line_error, run_cli
from zcnas import plugins
from zcnas.config import CONFIG_DIR
from zcnas.errors import ConfigError
from zcnas.search import SearchResult, make_search, parameters
from zcnas.spaces import SearchSpace, load_class, make_space, shipped

PAGE = ROOT / "docs" / "plugins.md"
EXAMPLES = ROOT / "examples"


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


# --- zcnas.plugins ------------------------------------------------------------------------------

def test_the_names_of_a_group_are_its_yaml_options():
    for group in ("search", "space", "metric", "dataset", "task"):
        assert plugins.names(group) == tuple(sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml")))
    assert plugins.names("search") == ("aging", "aging_warmup", "random")
    assert shipped() == ("nas_bench_101", "nas_bench_macro", "nats_tss")  # custom's class is the user's


def test_an_unknown_name_is_one_line_listing_the_valid_ones():
    for call in (plugins.check, plugins.target, plugins.option, plugins.load):
        with pytest.raises(ConfigError) as exc:
            call("search", "hill")
        assert one_line(exc) == "unknown search 'hill'; valid: aging, aging_warmup, random"
    with pytest.raises(ConfigError, match="unknown space 'width'; valid: custom, nas_bench_101"):
        make_space("width")
    with pytest.raises(ConfigError, match="unknown search 'nope'"):
        make_search("nope")
    with pytest.raises(ConfigError) as exc:
        plugins.load("space", "custom")
    assert "space=custom needs space._target_" in one_line(exc)


def test_options_are_data_and_their_targets_are_imported_only_when_chosen():
    """Listing and checking names, and reading targets and defaults -- all that is done with a name
    read from a roster or a result -- import no plug-in; building one imports that one only."""
    code = """
import json, sys
from zcnas import plugins
from zcnas.spaces import shipped
from zcnas.search import planned_visits
for group in ("search", "space"):
    for name in plugins.names(group):
        plugins.check(group, name), plugins.target(group, name), plugins.option(group, name)
shipped()
before = sorted(m for m in sys.modules if m.startswith(("zcnas.search.", "zcnas.spaces.")))
planned_visits("random", n=3)
after = sorted(m for m in sys.modules if m.startswith(("zcnas.search.", "zcnas.spaces.")))
print(json.dumps([before, after]))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    before, after = json.loads(proc.stdout.strip().splitlines()[-1])
    plug_ins = ("zcnas.search.random_search", "zcnas.search.aging", "zcnas.spaces.nats_tss.space",
                "zcnas.spaces.nas_bench_macro.space", "zcnas.spaces.nas_bench_101.space")
    assert not set(plug_ins) & set(before), before
    assert set(plug_ins) & set(after) == {"zcnas.search.random_search"}


def test_every_search_option_names_a_class_taking_exactly_its_parameters():
    for name in plugins.names("search"):
        cls = plugins.load("search", name)
        params = parameters(plugins.option("search", name))
        signature = inspect.signature(cls)
        assert set(signature.parameters) == set(params), name
        # the option states every default; the class repeats none
        assert all(p.default is inspect.Parameter.empty for p in signature.parameters.values()), name
        strategy = make_search(name)
        assert isinstance(strategy.visits, int) and (strategy.cells is None or isinstance(strategy.cells, int))
        assert callable(strategy.run)


def test_every_shipped_space_option_names_its_class():
    for name in shipped():
        cls = load_class(plugins.target("space", name))
        assert issubclass(cls, SearchSpace) and make_space(name).name == name and type(make_space(name)) is cls


def test_the_budget_block_is_stated_once_and_every_search_has_it():
    from hydra import compose, initialize_config_dir

    from zcnas.config import register_resolvers

    block = yaml.safe_load((CONFIG_DIR / "search" / "budget" / "max_cost.yaml").read_text())
    assert set(block.values()) == {None} and len(block) == 9
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        for name in plugins.names("search"):
            assert "max_cost" not in yaml.safe_load((CONFIG_DIR / "search" / f"{name}.yaml").read_text())
            cfg = compose(config_name="config", overrides=[f"search={name}", "search.max_cost.edgegpu_latency=5"])
            assert dict(cfg.search.max_cost) == {**block, "edgegpu_latency": 5}
            assert cfg.search._target_ == plugins.target("search", name)


# --- the steps of docs/plugins.md, through the CLI ------------------------------------------------

def code_blocks(heading: str, language: str) -> list[str]:
    """The ``language`` code blocks of docs/plugins.md's section ``heading``."""
    text = PAGE.read_text()
    section = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M).group(1)
    blocks = re.findall(rf"^ *```{language}\n(.*?)^ *```", section, re.S | re.M)
    assert blocks, f"docs/plugins.md, {heading!r}, has no {language} block"
    return [re.sub(r"^   ", "", b, flags=re.M) for b in blocks]  # the list item's indent


@pytest.fixture
def own_plugins(tmp_path, monkeypatch):
    """The page's search strategy and space, written as it says: a module on PYTHONPATH and the
    YAML options in a folder for hydra.searchpath."""
    mods, conf = tmp_path / "mods", tmp_path / "conf"
    for folder in (mods, conf / "search", conf / "space"):
        folder.mkdir(parents=True)
    (mods / "hill_climb.py").write_text(code_blocks("A search strategy", "python")[0])
    (conf / "search" / "hill.yaml").write_text(code_blocks("A search strategy", "yaml")[0])
    (conf / "space" / "width.yaml").write_text(code_blocks("A search space", "yaml")[0])
    monkeypatch.setenv("PYTHONPATH", f"{mods}:{EXAMPLES}")
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.syspath_prepend(str(mods))
    return f"hydra.searchpath=[file://{conf}]"


@pytest.mark.integration
def test_a_search_and_a_space_added_as_the_page_says_run_through_the_cli(tmp_path, own_plugins):
    run_cli(tmp_path, own_plugins, "search=hill", "search.steps=3", "space=width", "metric=params",
            "benchmark=none", "hardware.threads=1")
    (path,) = (tmp_path / "outputs" / "search").glob("*/result.json")
    assert path.parent.name == "metric=params,search.steps=3,search=hill,space=width"
    result = json.loads(path.read_text())
    assert result["status"] == "ok" and result["search"] == "hill" and result["space"] == "width"
    assert result["config"]["search"]["_target_"] == "hill_climb.HillClimb"
    assert result["config"]["space"]["_target_"] == "width_space.WidthSpace"
    # a climb of 3 steps from a random start: 4 visits, each step to a neighbour, the best of them found
    space = make_space("custom", "width_space.WidthSpace")
    trace = result["trace"]
    assert result["visited"] == len(trace["index"]) == 4
    path_taken = [space.from_index(i) for i in trace["index"]]
    assert all(b in space.neighbours(a) for a, b in zip(path_taken, path_taken[1:]))
    top = max(range(4), key=lambda i: trace["score"][i])
    assert result["best"]["score"] == trace["score"][top] > trace["score"][0]
    assert result["best"]["index"] == space.index(space.parse(result["best"]["arch"])) == trace["index"][top]


@pytest.mark.integration
def test_an_own_option_is_refused_without_its_folder_and_a_bad_parameter_in_one_line(tmp_path, own_plugins):
    line = one_line_error(run_cli(tmp_path, "search=hill", "hardware.threads=1", check=False))
    assert "unknown search 'hill'; valid: aging, aging_warmup, random" in line
    line = one_line_error(run_cli(tmp_path, own_plugins, "search=hill", "+search.bogus=1", "hardware.threads=1",
                                  check=False))
    assert "bogus" in line, line


def test_the_page_s_search_runs_in_process(own_plugins):
    """What the CLI builds from the option, the Python API builds from the same class and parameters."""
    import random

    from zcnas.search import run
    from zcnas.spaces.nats_tss.space import NATS_TSS

    hill_climb = plugins.import_target("hill_climb.HillClimb", "search._target_")
    strategy = plugins.build(hill_climb, {"steps": 2}, "search 'hill'")
    result = run(strategy, lambda cell: float(cell.ops.count("nor_conv_3x3")), random.Random(0), space=NATS_TSS)
    assert isinstance(result, SearchResult) and len(result.visited) == strategy.visits == 3
