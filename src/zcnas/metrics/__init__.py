"""Metrics: each is declared once (``register`` in ``zcnas.metrics.base``);
the registry below and ``zcnas.score`` are derived from the declarations.

Importing a metric module registers it, so every metric module is imported
here.  ``combined`` and ``ensemble`` state their own class attributes and are
declared here: both only make sense on NATS cells.
"""

from __future__ import annotations

from zcnas.errors import ConfigError, MetricError
from zcnas.metrics.base import DATA, MEMBERS, SPECS, Metric, MetricSpec, ScoringContext, register
from zcnas.metrics.combined import Combined
from zcnas.metrics.counts import flops_score, params_score
from zcnas.metrics.ensemble import Ensemble, ensemble_scores
from zcnas.metrics.epe_nas import epe_nas_score
from zcnas.metrics.fisher import fisher_score
from zcnas.metrics.grad_norm import grad_norm_score
from zcnas.metrics.grasp import grasp_score
from zcnas.metrics.jacov import jacov_score
from zcnas.metrics.l2_norm import l2_norm_score
from zcnas.metrics.meco import meco_score
from zcnas.metrics.naswot import hook_logdet_score, naswot_kernel
from zcnas.metrics.plain import plain_score
from zcnas.metrics.snip import snip_score
from zcnas.metrics.synflow import synflow_score
from zcnas.metrics.val12 import Val12  # noqa: F401  (registers val12)
from zcnas.metrics.zen import zen_score
from zcnas.metrics.zico import zico_score

_MEMBERS_HINT = "score its members one by one instead (see zcnas.metrics.ensemble.ensemble_scores)"
register("combined", needs=DATA, higher_is_better=True,
         cells_only=f"it normalizes hook_logdet and synflow against a reference set of NATS-Bench cells; "
                    f"{_MEMBERS_HINT}")(Combined)
register("ensemble", needs=MEMBERS, higher_is_better=True,
         cells_only=f"it normalizes its members against a reference set of NATS-Bench cells; {_MEMBERS_HINT}")(Ensemble)

#: name -> the cell-level class the jobs build
METRICS: dict[str, type[Metric]] = {name: spec.metric for name, spec in SPECS.items()}


def metric_spec(name: str) -> MetricSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise ConfigError(f"unknown metric {name!r}; valid: {', '.join(sorted(SPECS))}") from None


def metric_class(name: str) -> type[Metric]:
    return metric_spec(name).metric


def make_metric(name: str, context: ScoringContext, **params) -> Metric:
    cls = metric_class(name)
    other_space = context.via_networks
    if other_space and cls.score_network is Metric.score_network:  # before building it (combined scores a reference set)
        why = SPECS[name].cells_only or "it scores NATS-Bench cells only"
        raise MetricError(f"metric {name} cannot score architectures of space {context.space.name}: {why}")
    try:
        metric = cls(context, **params)
    except TypeError as exc:  # an unknown metric.* key
        raise ConfigError(f"bad parameters for metric {name!r}: {exc}") from None
    if other_space:
        from zcnas.metrics.model_passes import SpaceNetworkMetric

        return SpaceNetworkMetric(metric)  # scores the space's networks (one line if it cannot)
    return metric


__all__ = [
    "METRICS",
    "SPECS",
    "Metric",
    "MetricSpec",
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
    "metric_class",
    "metric_spec",
    "naswot_kernel",
    "params_score",
    "plain_score",
    "snip_score",
    "synflow_score",
    "zen_score",
    "zico_score",
]
