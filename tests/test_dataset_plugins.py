"""A dataset is a plug-in: its YAML option's ``_target_`` names its class.

The steps of docs/plugins.md, "A dataset", followed as written: its module and option in a folder of
one's own, its toy data made by its command, and its search run through the CLI; the same class named
on the command line (``dataset=custom``); and the one-line errors of a bad class or setting.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

import pytest

from cli import ROOT, one_line_error, run_cli
from zcnas.data.dataset import dataset_settings, load_dataset
from zcnas.errors import ConfigError
from zcnas.jobs import config_changes

PAGE = ROOT / "docs" / "plugins.md"
FAST = ("hardware.threads=1",)


def code_blocks(language: str) -> list[str]:
    """The ``language`` code blocks of docs/plugins.md's section "A dataset"."""
    section = re.search(r"^## A dataset\n(.*?)(?=^## |\Z)", PAGE.read_text(), re.S | re.M).group(1)
    blocks = re.findall(rf"^ *```{language}\n(.*?)^ *```", section, re.S | re.M)
    assert blocks, f"docs/plugins.md, 'A dataset', has no {language} block"
    return [re.sub(r"^   ", "", b, flags=re.M) for b in blocks]  # the list item's indent


@pytest.fixture
def own_dataset(tmp_path, monkeypatch):
    """The page's module and option in a folder of one's own, its toy data made by the page's first
    command there; the arguments of its second command (``python run.py ...``), ``$PWD`` that folder."""
    mine = tmp_path / "mine"
    (mine / "conf" / "dataset").mkdir(parents=True)
    (mine / "npy_classes.py").write_text(code_blocks("python")[0])
    (mine / "conf" / "dataset" / "npy.yaml").write_text(code_blocks("yaml")[0])
    make_data, command = code_blocks("bash")[0].strip().splitlines()
    subprocess.run(["bash", "-c", make_data.replace("python -c", f"{shlex.quote(sys.executable)} -c")],
                   cwd=mine, check=True)
    monkeypatch.setenv("PYTHONPATH", str(mine))
    monkeypatch.setenv("ZCNAS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.syspath_prepend(str(mine))
    monkeypatch.delitem(sys.modules, "npy_classes", raising=False)  # this test's copy of the page's module
    words = shlex.split(command.replace("$PWD", str(mine)))
    assert words[:3] == ["PYTHONPATH=.", "python", "run.py"], words
    return mine, words[3:]


def result_of(tmp_path, pattern: str = "*") -> dict:
    (path,) = (tmp_path / "outputs" / "search").glob(f"{pattern}/result.json")
    return json.loads(path.read_text())


@pytest.mark.integration
def test_the_page_s_dataset_runs_a_search_on_its_data(tmp_path, own_dataset):
    mine, args = own_dataset
    assert "metric=hook_logdet" in args  # a metric that scores the images
    proc = run_cli(tmp_path, *args, *FAST)
    result = result_of(tmp_path)
    data = result["data"]
    assert result["dataset"] == data["name"] == "npy" and result["visited"] == 20
    assert data["kind"] == "npy_classes.NpyClasses" and data["benchmark"] is None
    assert data["path"] == str(mine / "toy") and data["fingerprint"] not in ("none", "missing")
    # two classes of 30: the option's val_fraction=0.2 holds out 6 of each
    assert (data["num_classes"], data["image_size"], data["class_names"]) == (2, [16, 16], ["cat", "dog"])
    assert data["counts"] == {"train": 48, "test": 12}
    assert result["config"]["dataset"]["_target_"] == "npy_classes.NpyClasses"
    assert "kind" not in result["config"]["dataset"]
    assert "test_accuracy" not in result["best"] and "rank" not in result["best"]
    assert all(score is not None for score in result["trace"]["score"])
    assert "test accuracy: none (your own data" in proc.stdout


@pytest.mark.integration
def test_dataset_custom_names_the_class_on_the_command_line(tmp_path, own_dataset):
    """``dataset=custom dataset._target_=...`` and the settings the own option states are the same job's data."""
    mine, _ = own_dataset
    common = ("metric=hook_logdet", "batch_size=32", "search.n=4", *FAST)
    run_cli(tmp_path, "dataset=custom", "dataset._target_=npy_classes.NpyClasses", "dataset.name=npy",
            f"dataset.path={mine / 'toy'}", "dataset.val_fraction=0.2", *common)
    run_cli(tmp_path, f"hydra.searchpath=[file://{mine / 'conf'}]", "dataset=npy", f"dataset.path={mine / 'toy'}",
            *common)
    custom, option = result_of(tmp_path, "*dataset=custom*"), result_of(tmp_path, "*dataset=npy*")
    assert custom["data"] == option["data"] and custom["data"]["kind"] == "npy_classes.NpyClasses"
    assert custom["trace"]["score"] == option["trace"]["score"]  # the same batch of the same images
    assert "test_accuracy" not in custom["best"]


@pytest.mark.integration
@pytest.mark.parametrize("overrides, message", [
    (("dataset=custom",), "error: dataset=custom needs dataset._target_, the class path of your own dataset"),
    (("dataset=custom", "dataset._target_=nowhere.Nothing", "dataset.path=/tmp"),
     "error: dataset._target_ nowhere.Nothing: cannot import nowhere"),
    (("dataset=custom", "dataset._target_=strict.Strict", "dataset.path=/tmp"),
     "error: bad parameters for dataset._target_ strict.Strict: "),
    (("dataset.kind=folder",), "error: unknown setting dataset.kind: a dataset option names its class by "
                               "dataset._target_; choose the option (dataset=folder)"),
])
def test_a_bad_class_or_setting_is_one_line(tmp_path, monkeypatch, overrides, message):
    # a class that takes a setting no option states
    (tmp_path / "strict.py").write_text(
        "from zcnas.data.user import NpzDataset\n\n"
        "class Strict(NpzDataset):\n"
        "    def __init__(self, *, shots, **settings):\n"
        "        super().__init__(**settings)\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    line = one_line_error(run_cli(tmp_path, "metric=synflow", "search.n=2", *overrides, *FAST, check=False))
    assert line.startswith(message), line
    if "strict" in message:
        assert "shots" in line, line


@pytest.mark.integration
def test_an_own_option_needs_its_folder(tmp_path, own_dataset):
    line = one_line_error(run_cli(tmp_path, "dataset=npy", "metric=synflow", "search.n=2", *FAST, check=False))
    assert line.startswith("error: unknown dataset 'npy'; valid: ") and "custom" in line, line


def test_the_page_s_class_in_python_and_what_it_may_not_do(own_dataset):
    mine, _ = own_dataset
    data = load_dataset("custom", _target_="npy_classes.NpyClasses", name="npy", path=str(mine / "toy"),
                        val_fraction=0.2)
    x, y = data.train_arrays()
    assert x.shape == (48, 16, 16, 3) and sorted(set(y.tolist())) == [0, 1] and data.benchmark is None
    assert data.kind == "npy_classes.NpyClasses" and data.facts()["class_names"] == ["cat", "dog"]
    with pytest.raises(ConfigError, match=r"^dataset=npy_classes.NpyClasses needs dataset.path=<folder of .npy files>$"):
        load_dataset("custom", _target_="npy_classes.NpyClasses", path=None)
    with pytest.raises(ConfigError, match=r"^dataset=npy_classes.NpyClasses reads dataset.path, not dataset.data_path"):
        load_dataset("custom", _target_="npy_classes.NpyClasses", path=str(mine / "toy"), data_path="/x")
    with pytest.raises(ConfigError, match=r"^dataset._target_ pathlib.Path is not a dataset class"):
        load_dataset("custom", _target_="pathlib.Path", path=str(mine / "toy"))
    with pytest.raises(ConfigError, match=r"^dataset.kind cannot be set: .* dataset._target_"):
        load_dataset({**dataset_settings("folder", path=str(mine)), "kind": "folder"})


def test_a_class_of_ones_own_never_gets_a_benchmarks_accuracies(own_dataset, monkeypatch):
    import npy_classes

    class Claims(npy_classes.NpyClasses):
        benchmark = "cifar10"

    monkeypatch.setattr(npy_classes, "Claims", Claims, raising=False)
    mine, _ = own_dataset
    with pytest.raises(ConfigError, match=r"claims the accuracies of benchmark cifar10; only "
                                          r"zcnas.data.benchmark.BenchmarkDataset has them"):
        load_dataset("custom", _target_="npy_classes.Claims", path=str(mine / "toy"), val_fraction=0.2)


def test_the_shipped_options_record_the_kinds_they_always_did(tmp_path):
    """The kind is part of what results and rosters record and of the facts cache's key."""
    kinds = {"cifar10": "benchmark", "cifar100": "benchmark", "ImageNet16-120": "benchmark",
             "folder": "folder", "npz": "npz", "torchvision": "torchvision"}
    from zcnas import plugins

    for option, kind in kinds.items():
        cls = plugins.import_target(plugins.target("dataset", option), "dataset._target_")
        assert cls.kind == kind, option
    assert plugins.target("dataset", "custom") is None  # the user's class
    assert load_dataset("cifar10", data_path=str(tmp_path / "absent.npz")).identity()["kind"] == "benchmark"


def test_loading_a_dataset_imports_its_class_only():
    code = ("import sys; from zcnas.data.dataset import load_dataset; "
            "load_dataset('cifar10', data_path='/nowhere.npz'); print('zcnas.data.user' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert proc.stdout.strip() == "False"


def test_a_job_folder_written_with_dataset_kind_still_answers_the_job(compose_cfg):
    """Results written before datasets named their class record ``dataset.kind`` and no ``_target_``:
    keys that only one side has are ignored, so such a finished job is not run again."""
    from omegaconf import OmegaConf

    current = OmegaConf.to_container(compose_cfg("metric=hook_logdet"), resolve=True)
    dataset = {k: v for k, v in current["dataset"].items() if k != "_target_"}
    previous = {**current, "dataset": {"name": dataset.pop("name"), "kind": "benchmark", **dataset}}
    assert current["dataset"]["_target_"] == "zcnas.data.benchmark.BenchmarkDataset"
    assert config_changes(previous, current) == []
    other = {**previous, "dataset": {**previous["dataset"], "name": "cifar100"}}
    assert config_changes(other, current) == ["dataset.name"]


@pytest.mark.integration
def test_a_finished_benchmark_job_recorded_with_dataset_kind_is_done(tmp_path):
    args = ("metric=synflow", "search.n=2", *FAST)
    run_cli(tmp_path, *args)
    (path,) = (tmp_path / "outputs" / "search").glob("*/result.json")
    result = json.loads(path.read_text())
    dataset = result["config"]["dataset"]
    assert dataset.pop("_target_") == "zcnas.data.benchmark.BenchmarkDataset"
    result["config"]["dataset"] = {"name": dataset.pop("name"), "kind": "benchmark", **dataset}
    path.write_text(json.dumps(result))
    assert "job already done" in run_cli(tmp_path, *args).stdout
