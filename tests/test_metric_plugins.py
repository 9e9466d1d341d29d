"""Metrics are plug-ins: a conf/metric/ option names the class, which declares its facts, and each
parameter's default is stated once, in that option."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
import torch
from torch import nn

import zcnas
from zcnas import plugins
from zcnas.errors import ConfigError
from zcnas.metrics import defaults, metric_class, names
from zcnas.metrics.base import FUSIONS, NEEDS, Metric
from zcnas.metrics.zen import zen_of_batch


@pytest.mark.parametrize("name", names())
def test_every_option_names_a_class_that_declares_its_facts(name):
    assert plugins.target("metric", name).startswith("zcnas.metrics.")
    cls = metric_class(name)
    assert issubclass(cls, Metric) and cls.declared(), name  # its own declaration, not a base's
    assert cls.name == name and cls.needs in NEEDS and cls.fusion in (*FUSIONS, None)
    assert (cls.model_score is None) == bool(cls.cells_only), name  # a model function, or why not


@pytest.mark.parametrize("name", names())
def test_a_default_is_stated_only_in_the_option(name):
    cls = metric_class(name)
    own = inspect.signature(cls.__init__).parameters
    for key in defaults(name):
        assert key in own, f"{name}: conf/metric/{name}.yaml sets {key}, which {cls.__name__} does not take"
        assert own[key].default is inspect.Parameter.empty, f"{cls.__name__}.__init__ repeats {key}'s default"
    if cls.model_score is not None:
        function = inspect.signature(cls.model_score).parameters
        for key in set(defaults(name)) & set(cls.param_names()):
            assert function[key].default is inspect.Parameter.empty, f"{name}'s model function repeats {key}'s default"


def test_listing_and_checking_names_imports_no_metric():
    code = ("import sys; from zcnas import plugins; from zcnas.roster.validate import _metric_names; "
            "assert 'zen' in _metric_names(); plugins.check('metric', 'zen'); "
            "assert not [m for m in sys.modules if m.startswith('zcnas.metrics')], sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_api_takes_its_defaults_from_the_option():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(4, 2))
    x = torch.randn(4, 3, 8, 8)
    zen = {k: v for k, v in defaults("zen").items() if k in ("alpha", "repeat", "norm")}
    assert zcnas.score(model, x, metric="zen") == zen_of_batch(model, x, **zen)
    assert zcnas.score(model, x, metrics=["zen"], settings={"zen": {"seed": 1}}) == {
        "zen": zen_of_batch(model, x, **zen, seed=1)}
    with pytest.raises(ConfigError, match="unknown metric 'nope'; valid: combined, ensemble"):
        zcnas.score(model, x, metric="nope")
