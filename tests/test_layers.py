"""The layers: the studies' statistics, their reports and what the studies share never import torch,
Hydra or OmegaConf; in ``zcnas.studies`` only a study's ``task`` module (its job adapter) may.

Each check imports the modules in a fresh interpreter, so what another test imported cannot hide
a dependency, then lists which of the forbidden packages ended up in ``sys.modules``.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import zcnas.studies
import zcnas.tasks

FORBIDDEN = ("torch", "hydra", "omegaconf")
STUDIES = ("correlation", "ensembles", "search_tables", "hardware")


def modules(package) -> list[str]:
    return sorted(f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__))


def study_modules() -> list[str]:
    """Every module and package under ``zcnas.studies``, the studies' own included."""
    return sorted(m.name for m in pkgutil.walk_packages(zcnas.studies.__path__, "zcnas.studies."))


def torch_free_modules() -> list[str]:
    return [name for name in study_modules() if name.rsplit(".", 1)[-1] != "task"]


def loaded_after_import(names: list[str]) -> list[str]:
    """The forbidden top-level packages in ``sys.modules`` after importing ``names`` in a new process."""
    code = (f"import importlib, json, sys\nfor name in {names!r}:\n    importlib.import_module(name)\n"
            f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(FORBIDDEN)!r})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_packages_are_found():
    found = set(study_modules())
    assert {m.name for m in pkgutil.iter_modules(zcnas.studies.__path__) if m.ispkg} == set(STUDIES)
    for study in STUDIES:
        assert {f"zcnas.studies.{study}.{part}" for part in ("statistics", "report", "task")} <= found
    assert {"zcnas.studies.normalization", "zcnas.studies.rank_correlation", "zcnas.studies.kept",
            "zcnas.studies.portable", "zcnas.studies.ensembles.search_measures"} <= found


@pytest.mark.parametrize("name", ["zcnas.studies", "zcnas.names", *torch_free_modules()])
def test_studies_import_no_torch_hydra_or_omegaconf_outside_their_tasks(name):
    assert loaded_after_import([name]) == []


def test_drawing_a_figure_loads_no_torch():
    code = ("import sys, numpy as np\nfrom zcnas.studies.correlation.statistics import Panel\n"
            "from zcnas.studies.correlation.report import scatter_png\n"
            "png = scatter_png('cifar10', [Panel('m', np.arange(5.0), np.arange(5.0), 1.0)])\n"
            "assert png[:4] == b'\\x89PNG'\nprint('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"


def test_every_task_option_names_its_class_in_the_tasks_or_a_study():
    """Each option of conf/task names the class that runs it (``task_class._target_``, read as data):
    the modules of ``zcnas.tasks`` (but ``inputs``, which studies read rosters with) and each study's
    ``task`` module, every one used; the studies' tasks are exactly the four studies."""
    from zcnas import plugins
    from zcnas.runner import TASK_METHODS
    from zcnas.tasks import Task

    targets = {name: plugins.task_target(name) for name in plugins.names("task")}
    expected = (set(modules(zcnas.tasks)) - {"zcnas.tasks.inputs"}) | {f"zcnas.studies.{s}.task" for s in STUDIES}
    assert {target.rpartition(".")[0] for target in targets.values()} == expected
    assert {name for name, target in targets.items() if target.startswith("zcnas.studies.")} == {
        "correlate", "aggregate", "ensembles", "hw_study"}
    for name, target in targets.items():
        cls = plugins.import_target(target, "task_class._target_")
        assert issubclass(cls, Task) and all(callable(getattr(cls, m, None)) for m in TASK_METHODS), name
