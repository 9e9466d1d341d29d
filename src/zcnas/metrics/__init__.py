"""Metrics: the registry maps a metric name to its class."""

from __future__ import annotations

from zcnas.errors import ConfigError
from zcnas.metrics.base import Metric, ScoringContext
from zcnas.metrics.synflow import Synflow, synflow_score

METRICS: dict[str, type[Metric]] = {
    Synflow.name: Synflow,
}


def make_metric(name: str, context: ScoringContext, **params) -> Metric:
    try:
        cls = METRICS[name]
    except KeyError:
        raise ConfigError(f"unknown metric {name!r}; valid: {', '.join(sorted(METRICS))}") from None
    return cls(context, **params)


__all__ = ["METRICS", "Metric", "ScoringContext", "make_metric", "synflow_score"]
