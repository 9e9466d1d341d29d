"""Metrics: the registry maps a metric name to its class."""

from __future__ import annotations

from zcnas.errors import ConfigError
from zcnas.metrics.base import Metric, ScoringContext
from zcnas.metrics.combined import Combined
from zcnas.metrics.naswot import HookLogdet, hook_logdet_score, naswot_kernel
from zcnas.metrics.snip import Snip, snip_score
from zcnas.metrics.synflow import Synflow, synflow_score
from zcnas.metrics.val12 import Val12

METRICS: dict[str, type[Metric]] = {
    HookLogdet.name: HookLogdet,
    Snip.name: Snip,
    Synflow.name: Synflow,
    Combined.name: Combined,
    Val12.name: Val12,
}


def make_metric(name: str, context: ScoringContext, **params) -> Metric:
    try:
        cls = METRICS[name]
    except KeyError:
        raise ConfigError(f"unknown metric {name!r}; valid: {', '.join(sorted(METRICS))}") from None
    try:
        return cls(context, **params)
    except TypeError as exc:  # an unknown metric.* key
        raise ConfigError(f"bad parameters for metric {name!r}: {exc}") from None


__all__ = [
    "METRICS",
    "Metric",
    "ScoringContext",
    "hook_logdet_score",
    "make_metric",
    "naswot_kernel",
    "snip_score",
    "synflow_score",
]
