"""Metrics: the registry maps a metric name to its class."""

from __future__ import annotations

from zcnas.errors import ConfigError
from zcnas.metrics.base import Metric, ScoringContext
from zcnas.metrics.combined import Combined
from zcnas.metrics.counts import Flops, Params, flops_score, params_score
from zcnas.metrics.ensemble import Ensemble, ensemble_scores
from zcnas.metrics.epe_nas import EpeNas, epe_nas_score
from zcnas.metrics.fisher import Fisher, fisher_score
from zcnas.metrics.grad_norm import GradNorm, grad_norm_score
from zcnas.metrics.grasp import Grasp, grasp_score
from zcnas.metrics.jacov import Jacov, jacov_score
from zcnas.metrics.l2_norm import L2Norm, l2_norm_score
from zcnas.metrics.meco import Meco, meco_score
from zcnas.metrics.naswot import HookLogdet, hook_logdet_score, naswot_kernel
from zcnas.metrics.plain import Plain, plain_score
from zcnas.metrics.snip import Snip, snip_score
from zcnas.metrics.synflow import Synflow, synflow_score
from zcnas.metrics.val12 import Val12
from zcnas.metrics.zen import Zen, zen_score
from zcnas.metrics.zico import Zico, zico_score

METRICS: dict[str, type[Metric]] = {
    HookLogdet.name: HookLogdet,
    Snip.name: Snip,
    Synflow.name: Synflow,
    Combined.name: Combined,
    Val12.name: Val12,
    # the proxy zoo (issue 7)
    GradNorm.name: GradNorm,
    Grasp.name: Grasp,
    Fisher.name: Fisher,
    Jacov.name: Jacov,
    L2Norm.name: L2Norm,
    Plain.name: Plain,
    Params.name: Params,
    Flops.name: Flops,
    Zen.name: Zen,
    EpeNas.name: EpeNas,
    Zico.name: Zico,
    Meco.name: Meco,
    Ensemble.name: Ensemble,
}


def metric_class(name: str) -> type[Metric]:
    try:
        return METRICS[name]
    except KeyError:
        raise ConfigError(f"unknown metric {name!r}; valid: {', '.join(sorted(METRICS))}") from None


def make_metric(name: str, context: ScoringContext, **params) -> Metric:
    cls = metric_class(name)
    try:
        return cls(context, **params)
    except TypeError as exc:  # an unknown metric.* key
        raise ConfigError(f"bad parameters for metric {name!r}: {exc}") from None


__all__ = [
    "METRICS",
    "Metric",
    "ScoringContext",
    "ensemble_scores",
    "epe_nas_score",
    "fisher_score",
    "flops_score",
    "grad_norm_score",
    "grasp_score",
    "hook_logdet_score",
    "jacov_score",
    "l2_norm_score",
    "make_metric",
    "meco_score",
    "naswot_kernel",
    "params_score",
    "plain_score",
    "snip_score",
    "synflow_score",
    "zen_score",
    "zico_score",
]
