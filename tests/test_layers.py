"""The layers: the analysis layer (and the renderers) never import torch, Hydra or OmegaConf.

Each check imports the modules in a fresh interpreter, so what another test imported cannot hide
a dependency, then lists which of the forbidden packages ended up in ``sys.modules``.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import zcnas.analysis
import zcnas.reports
import zcnas.tasks

FORBIDDEN = ("torch", "hydra", "omegaconf")


def modules(package) -> list[str]:
    return sorted(f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__))


def loaded_after_import(names: list[str]) -> list[str]:
    """The forbidden top-level packages in ``sys.modules`` after importing ``names`` in a new process."""
    code = (f"import importlib, json, sys\nfor name in {names!r}:\n    importlib.import_module(name)\n"
            f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(FORBIDDEN)!r})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_packages_are_found():
    assert {"zcnas.analysis.normalization", "zcnas.analysis.correlation", "zcnas.analysis.search_tables",
            "zcnas.analysis.ensemble_study", "zcnas.analysis.correlation_study"} <= set(modules(zcnas.analysis))
    assert "zcnas.reports.figures" in modules(zcnas.reports)


@pytest.mark.parametrize("name", ["zcnas.analysis", "zcnas.names", *modules(zcnas.analysis)])
def test_analysis_layer_imports_no_torch_hydra_or_omegaconf(name):
    assert loaded_after_import([name]) == []


@pytest.mark.parametrize("name", ["zcnas.reports", *modules(zcnas.reports)])
def test_renderers_import_no_torch_hydra_or_omegaconf(name):
    assert loaded_after_import([name]) == []


def test_drawing_a_figure_loads_no_torch():
    code = ("import sys, numpy as np\nfrom zcnas.analysis.correlation_study import Panel\n"
            "from zcnas.reports.figures import scatter_png\n"
            "png = scatter_png('cifar10', [Panel('m', np.arange(5.0), np.arange(5.0), 1.0)])\n"
            "assert png[:4] == b'\\x89PNG'\nprint('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"


def test_tasks_are_where_the_runner_looks():
    from zcnas.runner import TASKS, task_functions

    assert {f"zcnas.{module}" for module in TASKS.values()} == set(modules(zcnas.tasks)) - {"zcnas.tasks.inputs"}
    for task in TASKS:
        run, summarize = task_functions(task)
        assert run.__name__ == f"run_{task}_job" and summarize.__name__ == f"summarize_{task}"
