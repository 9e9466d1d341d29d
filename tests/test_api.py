"""zcnas.score: any nn.Module, the documented example, and the model left as it was."""

from __future__ import annotations

import inspect
import math
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

import zcnas
from zcnas.api import model_metrics
from zcnas.config import CONFIG_DIR
from zcnas.errors import ConfigError, MetricError
from zcnas.metrics import metric_class, names
from zcnas.metrics.base import Metric, declare
from zcnas.metrics.snip import snip_score

# metrics that only make sense on NATS cells: zcnas.score refuses them in one line
CELLS_ONLY = {"combined", "ensemble", "val12"}

DOCS = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"


def docs_example() -> str:
    """The python block of docs/metrics.md's "Scoring any PyTorch model" section."""
    text = DOCS.read_text()
    section = text.split("## Scoring any PyTorch model", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def docstring_example() -> str:
    doc = inspect.getdoc(zcnas.score)
    block = doc.split("Example (runs as is; no torchvision needed)::", 1)[1]
    return textwrap.dedent(block).strip() + "\n"


def test_the_documented_example_runs_and_matches_the_docstring(capsys):
    code = docs_example()
    assert code == docstring_example()
    exec(compile(code, str(DOCS), "exec"), {"__name__": "__docs__"})
    lines = capsys.readouterr().out.split()
    assert len(lines) == 4 and all(math.isfinite(float(v)) for v in lines)


def test_importing_zcnas_does_not_import_torch():
    code = "import sys, zcnas; assert 'torch' not in sys.modules; zcnas.score; assert 'torch' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        zcnas.nope  # noqa: B018


def small_model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4),
    )


def batch(n: int = 8):
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, 3, 8, 8, generator=g), torch.tensor([0, 1, 2, 3] * (n // 4))


@pytest.mark.parametrize("metric", sorted(model_metrics()))
def test_every_metric_leaves_the_model_as_it_was(metric):
    model = small_model()
    model.eval()
    model[4].weight.requires_grad_(False)  # a frozen layer stays frozen
    model[0].weight.grad = torch.full_like(model[0].weight, 7.0)  # an accumulated gradient is kept
    before = {k: v.clone() for k, v in model.state_dict().items()}
    value = zcnas.score(model, batch(), metric=metric)
    assert isinstance(value, float) and math.isfinite(value), value
    assert zcnas.score(model, batch(), metric=metric) == value  # deterministic
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert not any(m.training for m in model.modules())
    assert not model[4].weight.requires_grad and model[0].weight.requires_grad
    assert torch.equal(model[0].weight.grad, torch.full_like(model[0].weight, 7.0))
    assert all(p.grad is None for n, p in model.named_parameters() if n != "0.weight")


def test_same_implementation_as_the_metrics():
    model, (x, y) = small_model(), batch()
    assert zcnas.score(model, (x, y), metric="snip") == snip_score(model, x, y)


def test_score_and_config_group_name_the_same_metrics():
    configs = {path.stem: OmegaConf.load(path).name for path in (CONFIG_DIR / "metric").glob("*.yaml")}
    assert all(stem == name for stem, name in configs.items()), configs
    assert set(configs) == set(names())
    assert set(model_metrics()) == set(names()) - CELLS_ONLY
    for name in names():
        cls = metric_class(name)
        assert cls.name == name and cls.higher_is_better
        assert cls.needs_data == (cls.needs in ("data", "labels")), name
        assert cls.needs_benchmark == (cls.needs == "benchmark"), name
    model, (x, y) = small_model(), batch()
    for name in CELLS_ONLY:
        with pytest.raises(ConfigError, match=f"metric '{name}' cannot score an arbitrary model") as info:
            zcnas.score(model, (x, y), metric=name)
        assert "\n" not in str(info.value)


def test_declarations_are_checked():
    class Dummy(Metric):
        def score_cell(self, cell):
            return 0.0

    with pytest.raises(ValueError, match="either model_score or cells_only"):
        declare(needs="shape")
    with pytest.raises(ValueError, match="needs must be one of"):
        declare(needs="images", model_score=len)
    with pytest.raises(ValueError, match="fusion must be one of"):
        declare(needs="shape", model_score=len, fusion="somewhere")
    Dummy.needs_data = True  # a class stating its own attributes must agree with its declaration
    with pytest.raises(ValueError, match="Dummy.needs_data = True, but its declaration gives False"):
        declare(needs="shape", model_score=len)(Dummy)
    assert not Dummy.declared()


def test_data_free_metrics_use_only_the_shape():
    model, (x, y) = small_model(), batch()
    shape_only = {name for name, cls in model_metrics().items() if cls.needs == "shape"}
    assert shape_only == {"synflow", "zen", "params", "flops", "l2_norm"}
    for metric in sorted(shape_only):
        assert zcnas.score(model, x, metric=metric) == zcnas.score(model, (3 * x + 1, y), metric=metric)
    assert zcnas.score(model, x, metric="flops") == 8 * 8 * 8 * 27 + 4 * 4 * 8 * 72 + 8 * 4
    assert zcnas.score(model, x, metric="params") == sum(p.numel() for p in model.parameters())
    assert zcnas.score(model, x, metric="zen", seed=1) != zcnas.score(model, x, metric="zen", seed=2)


def test_labels_are_required_where_needed():
    model, (x, _) = small_model(), batch()
    labelled = {name for name, cls in model_metrics().items() if cls.needs == "labels"}
    assert labelled == {"snip", "grad_norm", "grasp", "fisher", "plain", "epe_nas", "zico"}
    for metric in sorted(labelled):
        with pytest.raises(MetricError, match=f"metric '{metric}' needs labels"):
            zcnas.score(model, x, metric=metric)
        with pytest.raises(MetricError, match="needs labels"):
            zcnas.score(model, (x, None), metric=metric)


def test_models_a_metric_cannot_handle():
    x = torch.randn(4, 3, 8, 8)
    no_relu = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Tanh(), nn.Flatten())
    with pytest.raises(MetricError, match="hook_logdet needs nn.ReLU modules") as info:
        zcnas.score(no_relu, x)
    assert "\n" not in str(info.value)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(192, 10), nn.ReLU(), nn.Linear(10, 3))
    with pytest.raises(MetricError, match="meco needs convolutional feature maps"):
        zcnas.score(mlp, x, metric="meco")
    with pytest.raises(MetricError, match="snip needs nn.Conv2d or nn.Linear"):
        zcnas.score(nn.Flatten(), (x, torch.zeros(4, dtype=torch.long)), metric="snip")


def test_bad_arguments():
    model, (x, y) = small_model(), batch()
    with pytest.raises(ConfigError, match="unknown metric 'nope'; valid: .*hook_logdet"):
        zcnas.score(model, x, metric="nope")
    with pytest.raises(ConfigError, match="unknown parameter\\(s\\) beta for metric 'zen'; valid: alpha, repeat"):
        zcnas.score(model, x, metric="zen", beta=1)
    with pytest.raises(ConfigError, match="valid: none"):
        zcnas.score(model, x, metric="synflow", seed=1)
    for metric in ("combined", "ensemble", "val12"):
        with pytest.raises(ConfigError, match=f"metric '{metric}' cannot score an arbitrary model"):
            zcnas.score(model, x, metric=metric)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        zcnas.score("model", x)
    with pytest.raises(TypeError, match="pair \\(x, y\\)"):
        zcnas.score(model, [x, y, y])
    with pytest.raises(ConfigError, match="zico's num_batches"):
        zcnas.score(model, (x, y), metric="zico", num_batches=1)
