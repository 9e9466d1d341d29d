"""The Python API: zcnas.build, zcnas.score with several metrics or a DataLoader, zcnas.search, zcnas.train."""

from __future__ import annotations

import inspect
import math
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import zcnas
from tests.test_api import batch, small_model
from zcnas.api import model_metrics
from zcnas.errors import ConfigError, MetricError
from zcnas.spaces.nats_tss.network import build_network, count_parameters


def example(function, marker: str) -> str:
    """The code block after ``marker`` in ``function``'s docstring, up to the next unindented line."""
    doc = inspect.getdoc(function)
    block = doc.split(marker, 1)[1]
    lines = []
    for line in block.splitlines()[1:]:
        if line and not line.startswith(" "):
            break
        lines.append(line)
    return textwrap.dedent("\n".join(lines)).strip() + "\n"


def run_example(code: str, capsys) -> list[str]:
    exec(compile(code, "<docstring>", "exec"), {"__name__": "__docs__"})
    return capsys.readouterr().out.strip().splitlines()


def test_build_example_runs(capsys):
    out = run_example(example(zcnas.build, "Example (runs as is)::"), capsys)
    assert out == ["torch.Size([2, 5])", "344346"]


def test_score_several_metrics_example_runs(capsys):
    out = run_example(example(zcnas.score, "Several metrics, from a DataLoader (runs as is)::"), capsys)
    assert len(out) == 1 and out[0].startswith("{'hook_logdet': ") and "'zen': " in out[0]


def test_train_example_runs(capsys):
    out = run_example(example(zcnas.train, "Example (runs as is; a few seconds on a CPU)::"), capsys)
    accuracy, best, params = out[-1].split()
    assert 0 <= float(accuracy) <= 100 and best in ("1", "2") and int(params) > 0


def test_search_example_runs(capsys):
    out = run_example(example(zcnas.search, "Example (runs as is; the NATS-Bench table of ../shared)::"), capsys)
    arch, score = out[-1].split()
    assert arch.startswith("|") and math.isfinite(float(score))


def test_importing_zcnas_stays_cheap():
    code = ("import sys, zcnas; assert 'torch' not in sys.modules; zcnas.build; zcnas.train; zcnas.search; "
            "assert 'torch' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_build_defaults_are_the_scored_network():
    a, b = zcnas.build(9930, seed=3), build_network(9930, 10, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert count_parameters(zcnas.build(0, num_classes=100)) == 135156  # NATS-Bench's count
    small = zcnas.build(0, num_classes=5, resolution=48, C=8, N=1)
    assert count_parameters(small) < count_parameters(zcnas.build(0, num_classes=5, C=8, N=2))
    assert small(torch.randn(1, 3, 48, 48)).shape == (1, 5)


@pytest.mark.parametrize("kwargs, message", [
    ({"resolution": 30}, "resolution must be a multiple of 4"),
    ({"C": 0}, "C must be an integer >= 1"),
    ({"width": 3}, "unknown network option(s) width"),
    ({"num_classes": 0}, "num_classes must be an integer >= 1"),
    ({"space": "nas_bench_macro", "C": 8}, "C size NATS-Bench networks"),
    ({"space": "nope"}, "unknown space 'nope'"),
])
def test_build_refuses_in_one_line(kwargs, message):
    arch = kwargs.pop("arch", 5)
    with pytest.raises(ConfigError) as info:
        zcnas.build(arch, **kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_several_metrics_equal_their_single_scores():
    model, (x, y) = small_model(), batch()
    names = sorted(model_metrics())
    together = zcnas.score(model, (x, y), metrics=names)
    assert list(together) == names
    for name in names:
        assert together[name] == zcnas.score(model, (x, y), metric=name), name
    with_settings = zcnas.score(model, (x, y), metrics=["zen", "snip"], settings={"zen": {"seed": 1}})
    assert with_settings["zen"] == zcnas.score(model, x, metric="zen", seed=1)
    assert zcnas.score(model, (x, y), metric=["snip", "synflow"]) == {k: together[k] for k in ("snip", "synflow")}


def test_a_dataloader_is_scored_on_its_first_batch():
    model, (x, y) = small_model(), batch(16)
    loader = DataLoader(TensorDataset(x, y), batch_size=8)
    assert zcnas.score(model, loader, metric="snip") == zcnas.score(model, (x[:8], y[:8]), metric="snip")
    images_only = DataLoader(TensorDataset(x), batch_size=8)
    with pytest.raises(TypeError, match="batch must be a tensor x"):
        zcnas.score(model, images_only, metric="synflow")  # a 1-tuple: neither x nor (x, y)
    with pytest.raises(MetricError, match="yields no batch"):
        zcnas.score(model, DataLoader(TensorDataset(x[:0], y[:0]), batch_size=8))


@pytest.mark.parametrize("kwargs, error, message", [
    ({"metrics": ["snip", "snip"]}, ConfigError, "metrics lists snip more than once"),
    ({"metrics": ["nope"]}, ConfigError, "unknown metric 'nope'"),
    ({"metrics": []}, ConfigError, "names no metric"),
    ({"metrics": ["snip"], "metric": "zen"}, ConfigError, "not both"),
    ({"metrics": ["snip"], "settings": {"zen": {}}}, ConfigError, "settings given for zen"),
    ({"metrics": ["zen"], "settings": {"zen": {"nope": 1}}}, ConfigError, "unknown parameter(s) nope"),
    ({"metric": "snip", "settings": {}}, ConfigError, "settings= goes with metrics"),
])
def test_bad_metric_lists_are_one_line(kwargs, error, message):
    model, (x, y) = small_model(), batch()
    with pytest.raises(error) as info:
        zcnas.score(model, (x, y), **kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_labels_are_required_in_a_list_too():
    model, (x, _) = small_model(), batch()
    with pytest.raises(MetricError, match="metric 'snip' needs labels"):
        zcnas.score(model, x, metrics=["synflow", "snip"])


@pytest.mark.parametrize("space", ["nats_tss", "nas_bench_macro", "nas_bench_101"])
def test_building_with_a_seed_leaves_the_callers_random_state(space):
    import random

    from zcnas.spaces import make_space

    sp = make_space(space)
    arch = sp.sample(random.Random(0))
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    a = zcnas.build(arch, space=space, seed=0)
    b = sp.build_network(arch, 10, 32, seed=0)  # the space's own builder too
    assert torch.equal(torch.get_rng_state(), before)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_search_and_train_give_back_the_callers_thread_count():
    import numpy as np

    original = torch.get_num_threads()
    mine = 3 if original != 3 else 2  # a job runs on hardware.threads=1
    torch.set_num_threads(mine)
    try:
        zcnas.search(metric="synflow", search="random", dataset="cifar10", seed=0, n=3)
        assert torch.get_num_threads() == mine
        x, y = np.zeros((8, 8, 8, 3), dtype=np.uint8), np.arange(8) % 2
        zcnas.train(0, data=(x, y, x, y), C=4, N=1, epochs=1, batch_size=4)
        assert torch.get_num_threads() == mine
    finally:
        torch.set_num_threads(original)


def test_scoring_a_model_with_dropout_keeps_the_callers_random_state():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Dropout(0.5),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    x, y = torch.randn(8, 3, 16, 16), torch.randint(0, 4, (8,))
    torch.manual_seed(99)
    before = torch.get_rng_state()
    first = zcnas.score(model, (x, y), metrics=["snip", "grad_norm"])
    assert zcnas.score(model, (x, y), metric="fisher") is not None
    assert torch.equal(torch.get_rng_state(), before)
    assert zcnas.score(model, (x, y), metrics=["snip", "grad_norm"]) == first  # the same draws again
