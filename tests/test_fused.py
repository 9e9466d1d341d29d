"""One pass, many proxies (zcnas.metrics.fused): every score equals the metric's own, bit for bit.

The fused scorer builds one network and shares passes between metrics; the NATS network's pruned
forward pass turns into the full one as soon as meco or fisher hook it, so the gradient metrics
then take their gradients from the full pass.  Every comparison here is exact equality (NaN
equal to NaN): no metric is an exception.  The CLI test checks that a several-metric score job
writes, per metric, the roster a single-metric job writes, and resumes per metric.
"""

from __future__ import annotations

import ast
import json
import math
import random
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from cli import run_cli
from nats_samples import DISCONNECTED_CELL, POOL_CELL, cifar10_sample
from zcnas.metrics import ScoringContext, defaults, make_metric, metric_class, names
from zcnas.metrics import fused as fused_module, shared_pass as shared_pass_module
from zcnas.metrics.base import LABELS, SHARED_PASS, WEIGHT_GRADIENTS, declare
from zcnas.metrics.epe_nas import epe_nas_score
from zcnas.metrics.fisher import fisher_score
from zcnas.metrics.fused import FusedScorer, shared_scores
from zcnas.metrics.grad_norm import grad_norm_score
from zcnas.metrics.grasp import grasp_score
from zcnas.metrics.jacov import jacov_score
from zcnas.metrics.meco import meco_score
from zcnas.metrics.model_passes import EngineMetric, weight_gradient_sum
from zcnas.metrics.naswot import hook_logdet_score
from zcnas.metrics.plain import plain_score
from zcnas.metrics.snip import snip_score
from zcnas.roster import read_roster
from zcnas.spaces.nats_tss.cells import is_disconnected, sample_cell, to_cell

#: the proxy zoo: every metric that computes a score of a network (val12, combined and ensemble
#: are scored by their own metric objects inside FusedScorer, untouched)
ZOO = ["hook_logdet", "synflow", "snip", "grad_norm", "plain", "fisher", "grasp", "jacov", "epe_nas", "meco",
       "zico", "zen", "l2_norm", "params", "flops"]
#: the metrics of the shared pass, as their classes declare
SHARED = tuple(n for n in names() if metric_class(n).fusion in SHARED_PASS)
SETTINGS = {"zen": {"batch_size": 8}}  # a light Gaussian batch, as tests/test_zoo.py uses


def same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@pytest.fixture(scope="module")
def batch():
    x, y = cifar10_sample(32)
    return x[:16], y[:16]  # 16 real images: light on a shared CPU; every class-pair need of epe_nas is met


@pytest.fixture(scope="module")
def context(batch):
    return ScoringContext(dataset="cifar10", num_classes=10, input_size=32, seed=0, batch_loader=lambda: batch)


CELLS = [
    to_cell(DISCONNECTED_CELL),  # none edges, output unreachable from the input
    to_cell(POOL_CELL),  # average pools, a none edge, skip connections
    sample_cell(random.Random(8)),  # a seeded random cell (convs of both sizes, skips, a none edge)
]


def singles(names, context, arch):
    return {n: make_metric(n, context, **SETTINGS.get(n, {})).score_cell(arch) for n in names}


def assert_equal(got: dict, expected: dict, what: str) -> None:
    assert set(got) == set(expected)
    wrong = {n: (got[n], expected[n]) for n in expected if not same(got[n], expected[n])}
    assert not wrong, f"{what}: {wrong}"


def test_cells_cover_the_cases():
    assert is_disconnected(CELLS[0]) and "none" in CELLS[0].ops
    assert "avg_pool_3x3" in CELLS[1].ops and "none" in CELLS[1].ops


@pytest.mark.slow
@pytest.mark.parametrize("cell", CELLS, ids=["disconnected", "pools", "random"])
def test_the_whole_zoo_fused_equals_each_metric_alone(cell, context):
    scorer = FusedScorer(ZOO, context, SETTINGS)
    got = scorer.score_cell(cell)
    assert list(got) == ZOO
    assert_equal(got, singles(ZOO, context, cell), str(cell))
    # the seconds: every member's share, adding up to the cell's wall time
    assert set(scorer.seconds) == set(ZOO) and all(s >= 0 for s in scorer.seconds.values())
    assert sum(scorer.seconds.values()) == pytest.approx(scorer.cell_seconds, rel=1e-9)
    if cell is CELLS[2]:  # scoring changes nothing a later cell would see: the same scores again
        assert_equal(scorer.score_cell(cell), got, "rescored")


# which pass a subset takes: pruned with ReLU hooks (no meco/fisher), no autograd (no gradient
# metric), the full pass (fisher), grasp with and without the rest
SUBSETS = [
    ["hook_logdet", "snip", "grad_norm", "plain", "grasp", "jacov", "epe_nas"],
    ["meco", "hook_logdet"],
    ["fisher", "snip"],
    ["jacov", "zico", "l2_norm", "synflow"],
    ["grasp"],
]


@pytest.mark.slow
@pytest.mark.parametrize("names", SUBSETS, ids=["+".join(s) for s in SUBSETS])
def test_subsets_take_other_passes_and_still_equal_the_singles(names, context):
    scorer = FusedScorer(names, context, {k: v for k, v in SETTINGS.items() if k in names})
    for cell in (CELLS[0], CELLS[2]):
        assert_equal(scorer.score_cell(cell), singles(names, context, cell), f"{names} on {cell}")


def test_only_scores_the_members_asked_for(context):
    scorer = FusedScorer(["params", "l2_norm", "synflow"], context)
    got = scorer.score_cell(CELLS[2], only=["synflow", "params"])
    assert list(got) == ["params", "synflow"] and set(scorer.seconds) == {"params", "synflow"}
    assert_equal(got, singles(["params", "synflow"], context, CELLS[2]), "only")


def test_a_metric_that_cannot_share_is_scored_alone(context):
    # channels_last rounds BatchNorm's sums otherwise: that hook_logdet keeps its own network
    scorer = FusedScorer(["hook_logdet", "snip"], context, {"hook_logdet": {"layout": "channels_last"}})
    assert scorer.routes == {"hook_logdet": "own", "snip": "shared"}
    cell = CELLS[1]
    got = scorer.score_cell(cell)
    assert got["hook_logdet"] == make_metric("hook_logdet", context, layout="channels_last").score_cell(cell)
    assert got["snip"] == make_metric("snip", context).score_cell(cell)
    assert scorer.describe()["hook_logdet"] == {"name": "hook_logdet", "layout": "channels_last"}


def test_bad_member_lists_are_one_line_errors(context):
    from zcnas.errors import ConfigError

    with pytest.raises(ConfigError, match="more than once"):
        FusedScorer(["snip", "snip"], context)
    with pytest.raises(ConfigError, match="not among the metrics"):
        FusedScorer(["snip"], context, {"zen": {"repeat": 2}})
    with pytest.raises(ConfigError, match="bad parameters"):
        FusedScorer(["zen"], context, {"zen": {"bogus": 1}})


# ---------------------------------------------------------------- any nn.Module


class Shared(nn.Module):
    """A conv applied twice (snip counts its weight once per module, fisher once per call), an in-place ReLU."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 6, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(6)
        self.twice = nn.Conv2d(6, 6, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.head = nn.Linear(6, 4)
        self.alias = nn.Linear(6, 4)
        self.alias.weight = self.head.weight  # one weight, two modules

    def forward(self, x):
        x = self.relu(self.bn(self.conv(x)))
        x = self.relu(self.twice(self.twice(x)))
        x = x.mean(dim=(2, 3))
        return self.head(x) + 0.5 * self.alias(x)


def test_shared_scores_on_any_module_equal_the_model_level_functions():
    model = Shared()
    torch.manual_seed(1)
    x, y = torch.randn(8, 3, 6, 6), torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    expected = {"hook_logdet": hook_logdet_score(model, x), "meco": meco_score(model, x, **defaults("meco")),
                "fisher": fisher_score(model, x, y), "snip": snip_score(model, x, y),
                "grad_norm": grad_norm_score(model, x, y), "plain": plain_score(model, x, y),
                "grasp": grasp_score(model, x, y), "jacov": jacov_score(model, x),
                "epe_nas": epe_nas_score(model, x, y)}
    assert set(expected) == set(SHARED)
    assert_equal(shared_scores(model, x, y, SHARED), expected, "all")
    assert_equal(shared_scores(model, x, y, ["meco"], {"meco": {"layers": "leaves"}}),
                 {"meco": meco_score(model, x, layers="leaves")}, "meco leaves")
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # left as it was
    assert all(p.grad is None for p in model.parameters())


# ---------------------------------------------------------------- the shared pass is the members' own


def _squares(w: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return g.to(torch.float64).pow(2).sum()


def squared_gradient_score(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Σ ‖∂L/∂W‖², a metric that only this test defines."""
    return weight_gradient_sum(model, x, y, "squared_gradients", _squares)


@declare(needs=LABELS, model_score=squared_gradient_score, fusion=WEIGHT_GRADIENTS)
class SquaredGradients(EngineMetric):
    """A fusable metric outside zcnas: its module (this one) states how its score follows from the pass."""

    derived = 0  # how many scores came from the shared pass

    @classmethod
    def from_shared_pass(cls, shared, state) -> float:
        cls.derived += 1
        return shared.weight_sum(shared.weights, _squares)


def test_a_metric_defined_elsewhere_joins_the_shared_pass(context):
    target = {"squared_gradients": {"_target_": f"{__name__}.SquaredGradients"}}
    scorer = FusedScorer(["snip", "squared_gradients", "grasp"], context, target)
    assert scorer.routes == {"snip": "shared", "squared_gradients": "shared", "grasp": "shared"}
    before = SquaredGradients.derived
    cell = CELLS[2]
    got = scorer.score_cell(cell)
    assert SquaredGradients.derived == before + 1  # from the shared pass, not its own passes
    alone = SquaredGradients(context).score_cell(cell)
    assert got["squared_gradients"] == alone and alone > 0
    assert_equal({n: got[n] for n in ("snip", "grasp")}, singles(["snip", "grasp"], context, cell), "beside it")
    assert sum(scorer.seconds.values()) == pytest.approx(scorer.cell_seconds, rel=1e-9)

    model = Shared()
    torch.manual_seed(1)
    x, y = torch.randn(8, 3, 6, 6), torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    fused = shared_scores(model, x, y, ["fisher", "squared_gradients"], classes={"squared_gradients": SquaredGradients})
    assert_equal(fused, {"fisher": fisher_score(model, x, y), "squared_gradients": squared_gradient_score(model, x, y)},
                 "any module")


def test_a_metric_of_the_shared_pass_must_state_its_derivation():
    class Silent(EngineMetric):
        pass

    with pytest.raises(ValueError, match="must define from_shared_pass"):
        declare(needs=LABELS, model_score=squared_gradient_score, fusion=WEIGHT_GRADIENTS)(Silent)
    assert not Silent.declared()
    declare(needs=LABELS, model_score=squared_gradient_score, fusion="network")(Silent)  # its own score_network


def _code_strings(path: Path) -> set[str]:
    """The string constants of a module's code (its docstrings left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return {n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return ({n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
            | {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names})


@pytest.mark.parametrize("module", [fused_module, shared_pass_module], ids=["fused", "shared_pass"])
def test_the_shared_pass_names_no_metric(module):
    from zcnas import plugins

    path = Path(module.__file__)
    metric_modules = {plugins.target("metric", n).rpartition(".")[0] for n in names()}
    assert not _code_strings(path) & set(names()), "a metric's name in the code of the shared pass"
    assert not _imports(path) & metric_modules, "a metric's module imported by the shared pass"
    # the check sees what it looks for: a metric's module does name itself
    assert "snip" in _code_strings(Path(sys.modules[metric_class("snip").__module__].__file__))


# ---------------------------------------------------------------- another space


@pytest.mark.slow
def test_nas_bench_macro_architecture(batch):
    from zcnas.spaces import make_space

    space = make_space("nas_bench_macro")
    context = ScoringContext(dataset="cifar10", num_classes=10, input_size=32, seed=0, batch_loader=lambda: batch,
                             space=space)
    names = ["hook_logdet", "snip", "fisher", "jacov", "zico", "synflow", "l2_norm", "flops", "params"]
    arch = space.sample(random.Random(3))
    got = FusedScorer(names, context).score_cell(arch)
    assert_equal(got, singles(names, context, arch), space.format(arch))


# ---------------------------------------------------------------- the score job

FUSED = ["task=score", "metrics=[params,synflow,hook_logdet]", "sample=3", "benchmark=none", "batch_size=16",
         "hardware.threads=1"]


def single_job(tmp_path: Path, metric: str) -> Path:
    run_cli(tmp_path, "task=score", f"metric={metric}", "sample=3", "benchmark=none", "batch_size=16",
            "hardware.threads=1")
    (folder,) = [p for p in (tmp_path / "outputs" / "score").iterdir() if f"metric={metric}," in p.name]
    return folder / "roster.parquet"


@pytest.mark.integration
def test_score_job_writes_one_roster_per_metric_and_resumes_per_metric(tmp_path):
    names = ["params", "synflow", "hook_logdet"]
    run_cli(tmp_path, *FUSED)
    (job,) = [p for p in (tmp_path / "outputs" / "score").iterdir() if "metrics=" in p.name]
    result = json.loads((job / "result.json").read_text())
    assert result["metrics"] == names and result["architectures"] == 3
    assert result["rosters"] == {n: str(job / f"roster_{n}.parquet") for n in names}
    fused = {n: read_roster(job / f"roster_{n}.parquet") for n in names}
    for n in names:
        alone = read_roster(single_job(tmp_path, n))
        assert fused[n].scores() == alone.scores(), n
        assert fused[n].meta == alone.meta, n  # the metadata a single-metric job records
        assert (fused[n].rows["source"] == "computed").all() and (fused[n].rows["seconds"] > 0).all()

    # a finished job is skipped; with a roster missing it runs again and rebuilds it from its chunks
    assert "job already done" in run_cli(tmp_path, *FUSED).stdout
    (job / "roster_synflow.parquet").unlink()
    again = run_cli(tmp_path, *FUSED).stdout
    assert "has no roster_synflow.parquet" in again and "scoring 0 of 3" in again, again
    assert read_roster(job / "roster_synflow.parquet").scores() == fused["synflow"].scores()

    # a metric whose chunks are gone is scored again, the others are resumed
    (job / "result.json").unlink()
    for p in (job / "chunks" / "hook_logdet").glob("part-*.parquet"):
        p.unlink()
    partial = run_cli(tmp_path, *FUSED).stdout
    assert "params: 0, synflow: 0, hook_logdet: 3 to score" in partial, partial
    assert all(read_roster(job / f"roster_{n}.parquet").scores() == fused[n].scores() for n in names)

    # task=merge groups the rosters by their metadata, whatever their file names
    merged = run_cli(tmp_path, "task=merge", f"merge.inputs=[{tmp_path}/outputs/score/**/roster_*.parquet]",
                     f"merge.output_dir={tmp_path}/merged").stdout
    assert merged.count("merged 1 roster(s)") == 3, merged
    assert read_roster(tmp_path / "merged" / "synflow_cifar10.parquet").scores() == fused["synflow"].scores()


def test_sharded_sharing_job_equals_single_metric_jobs(compose_cfg, tmp_path):
    import pandas as pd

    from zcnas.runner import run_job
    from zcnas.spaces.nats_tss.cells import representatives

    rep = representatives()
    reps = [r for r in sorted(set(rep.values())) if sum(1 for v in rep.values() if v == r) >= 3][:2]
    members = sorted(i for i in range(15625) if rep[i] in reps)
    common = (f"indices={members}", "share_isomorphic=true", "checkpoint_every=2", "num_shards=2",
              "hardware.threads=1", "benchmark=none")
    for shard in range(2):
        fused = run_job(compose_cfg("task=score", "metrics=[synflow,params]", *common, f"shard={shard}"),
                        tmp_path / f"fused{shard}")
        assert fused["metrics"] == ["synflow", "params"]
        for name in ("synflow", "params"):
            run_job(compose_cfg("task=score", f"metric={name}", *common, f"shard={shard}"), tmp_path / f"{name}{shard}")
            alone = read_roster(tmp_path / f"{name}{shard}" / "roster.parquet")
            got = read_roster(tmp_path / f"fused{shard}" / f"roster_{name}.parquet")
            assert got.meta == alone.meta
            pd.testing.assert_frame_equal(got.rows.drop(columns="seconds"), alone.rows.drop(columns="seconds"))
            assert (got.rows["source"] == "shared").any()
            assert (got.rows.loc[got.rows["source"] == "shared", "seconds"] == 0).all()
