"""A task is a plug-in like the others: its option names the class that runs it (``task_class._target_``).

The steps of docs/plugins.md ("A report (a task)") add a task of one's own, which the CLI runs from a
folder given with ``hydra.searchpath``; the runner imports the job's own class only, and a class it
cannot use is one line.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from cli import ROOT, one_line_error, run_cli
from zcnas import plugins
from zcnas.errors import ConfigError
from zcnas.jobs import config_changes, folder_name
from zcnas.runner import load_task, resumable

PAGE = ROOT / "docs" / "plugins.md"
SECTION = "A report (a task)"
#: a class that says what it found but runs nothing
NO_RUN = "from zcnas.tasks import Task\n\n\nclass NoRun(Task):\n    def summarize(self, result):\n        return ''\n"


def code_blocks(heading: str, language: str) -> list[str]:
    """The ``language`` code blocks of docs/plugins.md's section ``heading``, out of their list item."""
    text = PAGE.read_text()
    section = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M).group(1)
    blocks = re.findall(rf"^ *```{language}\n(.*?)^ *```", section, re.S | re.M)
    assert blocks, f"docs/plugins.md, {heading!r}, has no {language} block"
    return [re.sub(r"^   ", "", b, flags=re.M) for b in blocks]


@pytest.fixture
def own_task(tmp_path, monkeypatch):
    """The page's task, written as it says: the module on PYTHONPATH, the option in a folder for
    hydra.searchpath; beside it a class without run()."""
    mods, conf = tmp_path / "mine", tmp_path / "mine" / "conf"
    (conf / "task").mkdir(parents=True)
    (mods / "arch_sample.py").write_text(code_blocks(SECTION, "python")[0])
    (conf / "task" / "arch_sample.yaml").write_text(code_blocks(SECTION, "yaml")[0])
    (mods / "broken_task.py").write_text(NO_RUN)
    monkeypatch.setenv("PYTHONPATH", str(mods))
    monkeypatch.syspath_prepend(str(mods))
    return f"hydra.searchpath=[file://{conf}]"


def job_cfg(target: str | None, **keys):
    return OmegaConf.create({"task": "mine", **({"task_class": {"_target_": target}} if target else {}), **keys})


# --- the project's tasks ------------------------------------------------------------------------

def test_every_task_option_is_a_task_class_and_the_resumable_ones_are_search_score_train():
    tasks = {name: load_task(job_cfg(plugins.task_target(name))) for name in plugins.names("task")}
    assert {name for name, task in tasks.items() if resumable(task)} == {"search", "score", "train"}
    # the two whose outputs are checked before a finished job is reused
    assert "no roster.parquet" in tasks["score"].outputs_problem(ROOT / "nowhere", {"metric": "synflow"})
    assert "weights.pt" in tasks["train"].outputs_problem(ROOT / "nowhere", {})
    assert tasks["search"].outputs_problem(ROOT / "nowhere", {}) is None


def test_a_job_imports_its_own_task_class_only():
    code = """
import json, sys
from hydra import compose, initialize_config_dir
from zcnas.config import CONFIG_DIR, register_resolvers
from zcnas.runner import load_task
register_resolvers()
with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
    cfg = compose(config_name="config", overrides=["task=merge"])
print(json.dumps([type(load_task(cfg)).__name__, sorted(sys.modules)]))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    name, loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert name == "MergeTask"
    others = {plugins.task_target(t).rpartition(".")[0] for t in plugins.names("task")} - {"zcnas.tasks.rosters"}
    assert len(others) == 10 and not others & set(loaded), others & set(loaded)


def test_the_task_class_is_outside_the_job_s_folder_and_identity_of_old_results():
    """An old result.json (no task_class) still answers its job; the folder is named by overrides."""
    old = {"task": "search", "seed": 0, "search": {"name": "random", "n": 5}}
    new = {**old, "task_class": {"_target_": "zcnas.tasks.search.SearchTask"}}
    assert config_changes(old, new) == []
    assert config_changes({**new, "seed": 1}, new) == ["seed"]
    assert folder_name(["seed=3", "search=random"]) == "search=random,seed=3"


def test_a_class_the_runner_cannot_use_is_one_line(own_task):
    cases = {None: "task=mine: its option names no task_class._target_",
             "nowhere.Nope": "task_class._target_ nowhere.Nope: cannot import nowhere",
             "broken_task.Gone": "task_class._target_ broken_task.Gone: broken_task has no Gone",
             "broken_task.NoRun": "task_class._target_ broken_task.NoRun has no run(): a task class has run(",
             "arch_sample.csv": "task_class._target_ arch_sample.csv is not a class"}
    for target, message in cases.items():
        with pytest.raises(ConfigError) as exc:
            load_task(job_cfg(target))
        assert message in str(exc.value) and "\n" not in str(exc.value), (target, str(exc.value))
    with pytest.raises(ConfigError, match="bad parameters for task_class arch_sample.ArchSample"):
        load_task(OmegaConf.create({"task_class": {"_target_": "arch_sample.ArchSample", "draws": 3}}))


def test_a_task_option_without_a_class_is_said_when_read_as_data(tmp_path):
    """``plugins.task_target`` on a config folder holding one option that names no class (in a fresh
    interpreter: the names of a group are read once per process)."""
    (tmp_path / "task").mkdir()
    (tmp_path / "task" / "bare.yaml").write_text("# @package _global_\ntask: bare\n")
    code = f"""
from pathlib import Path
from zcnas import plugins
from zcnas.errors import ConfigError
plugins.CONFIG_DIR = Path({str(tmp_path)!r})
for name in ("bare", "search"):
    try:
        plugins.task_target(name)
    except ConfigError as exc:
        print(exc)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert proc.stdout.splitlines() == ["conf/task/bare.yaml has no task_class._target_ (the class that runs it)",
                                        "unknown task 'search'; valid: bare"]


# --- the steps of docs/plugins.md, through the CLI ------------------------------------------------

@pytest.mark.integration
def test_a_task_added_as_the_page_says_runs_through_the_cli(tmp_path, own_task):
    proc = run_cli(tmp_path, own_task, "task=arch_sample", "draws=5")
    (path,) = (tmp_path / "outputs" / "arch_sample").glob("*/result.json")
    assert path.parent.name == "draws=5,task=arch_sample"  # no task_class in it: not an override
    result = json.loads(path.read_text())
    assert result["status"] == "ok" and result["task"] == "arch_sample" and result["space"] == "nats_tss"
    assert result["config"]["task"] == "arch_sample"
    assert result["config"]["task_class"] == {"_target_": "arch_sample.ArchSample"}
    with open(path.parent / "sample.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["arch"] and len(rows) == 6 and result["draws"] == 5
    assert result["distinct"] == len({r[0] for r in rows[1:]})
    assert f"drew 5 architectures of nats_tss, {result['distinct']} distinct" in proc.stdout.splitlines()

    # resumable: launched again it is reused; with its file lost it runs again
    again = run_cli(tmp_path, own_task, "task=arch_sample", "draws=5")
    assert "job already done, skipping" in again.stdout and json.loads(path.read_text()) == result
    (path.parent / "sample.csv").unlink()
    third = run_cli(tmp_path, own_task, "task=arch_sample", "draws=5")
    assert "has lost its sample.csv; kept as result.superseded-" in third.stdout
    assert (path.parent / "sample.csv").is_file() and len(list(path.parent.glob("result.superseded-*.json"))) == 1


@pytest.mark.integration
def test_a_sweep_of_an_own_task_is_named_and_checked_like_the_project_s(tmp_path, own_task):
    run_cli(tmp_path, own_task, "-m", "task=arch_sample", "draws=2,3")
    (sweep,) = (tmp_path / "multirun").iterdir()
    assert re.fullmatch(r"arch_sample-[0-9a-f]+", sweep.name), sweep.name
    results = {p.parent.name: json.loads(p.read_text()) for p in sweep.glob("*/result.json")}
    assert {k: r["draws"] for k, r in results.items() if r["status"] == "ok"} == {
        "draws=2,task=arch_sample": 2, "draws=3,task=arch_sample": 3}
    # its settings take their types from its option (zcnas.schema), and its own errors are one line
    line = one_line_error(run_cli(tmp_path, own_task, "task=arch_sample", "draws=many", check=False))
    assert line == "error: draws must be an integer (default 10), got 'many'"
    line = one_line_error(run_cli(tmp_path, own_task, "task=arch_sample", "draws=0", check=False))
    assert line == "error: draws must be at least 1, got 0"


@pytest.mark.integration
def test_an_unimportable_class_or_one_without_run_is_one_line(tmp_path, own_task):
    line = one_line_error(run_cli(tmp_path, own_task, "task=arch_sample", "task_class._target_=nowhere.Nope",
                                  check=False))
    assert line.startswith("error: task_class._target_ nowhere.Nope: cannot import nowhere"), line
    line = one_line_error(run_cli(tmp_path, own_task, "task=arch_sample", "task_class._target_=broken_task.NoRun",
                                  check=False))
    assert line.startswith("error: task_class._target_ broken_task.NoRun has no run(): a task class has"), line
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("result.json"))
