"""Metrics: each is an option of the ``metric`` config group (``zcnas.plugins``).

``conf/metric/<name>.yaml`` names the metric's class (``_target_``) and states its parameters'
defaults; the class states its facts (``zcnas.metrics.base.declare``).  The metrics are the
options' names; a metric's module is imported only when that metric is asked for by name.
"""

from __future__ import annotations

from zcnas import plugins
from zcnas.errors import ConfigError, MetricError
from zcnas.metrics.base import Metric, ScoringContext

GROUP = "metric"
#: keys of a metric option that are not its class's parameters: its name, and the roster a job may
#: read its scores from instead (``zcnas.build.build_metric``)
NOT_PARAMETERS = ("name", "roster")


def names() -> tuple[str, ...]:
    """Every metric's name: the options of conf/metric/ (nothing imported)."""
    return plugins.names(GROUP)


def defaults(name: str) -> dict:
    """Metric ``name``'s parameters and their defaults, as its option states them."""
    return {k: v for k, v in plugins.option(GROUP, name).items() if k not in NOT_PARAMETERS}


def _named(cls: object, name: str, what: str) -> type[Metric]:
    """``cls``, checked to be a declared metric class, carrying ``name`` (its option's name)."""
    if not (isinstance(cls, type) and issubclass(cls, Metric) and cls.declared()):
        raise ConfigError(f"{what} must name a zcnas.metrics.base.Metric subclass declared with "
                          f"@declare(...), got {cls!r}")
    own = vars(cls).get("name")
    if own and own != name:
        raise ConfigError(f"{what}: class {cls.__name__} is already metric {own!r}, not {name!r}")
    cls.name = name
    return cls


def metric_class(name: str) -> type[Metric]:
    """The class of metric ``name``, imported: for a name the user's config or call chose."""
    return _named(plugins.load(GROUP, name), name, f"conf/metric/{name}.yaml's _target_")


def make_metric(name: str, context: ScoringContext, **params) -> Metric:
    """Metric ``name`` for ``context``, its option's defaults with ``params`` overriding them.  Where
    ``params`` hold a ``_target_`` (a job's composed ``metric``), the class it names is built with
    ``params`` alone: the user's config chose it, and Hydra has filled in its defaults."""
    target = params.pop("_target_", None)
    if target:
        cls = _named(plugins.import_target(target, "metric._target_"), name, "metric._target_")
    else:
        cls = metric_class(name)
        params = {**defaults(name), **params}
    if not cls.can_score(context.space):  # before building it (combined scores a reference set)
        why = cls.cells_only or "it scores no network"
        raise MetricError(f"metric {name} cannot score architectures of space {context.space.name}: {why}")
    return plugins.build(lambda **kw: cls(context, **kw), params, f"metric {name!r}")


__all__ = ["Metric", "ScoringContext", "defaults", "make_metric", "metric_class", "names"]
