"""What scores a job's architectures, and what its rosters record about it.

A job scores the ``metric`` group (``metrics`` null, the default) with that metric's own engine, or
the metrics of a ``metrics=[...]`` list together with ``zcnas.metrics.fused.FusedScorer`` (one
network, shared passes, each score equal to the metric's own).  Both are used through one
interface: ``metrics`` (name -> metric), ``score_cell(arch, only)`` -> {name: score},
``seconds`` (name -> that metric's share of the last call's time) and ``recorded_cost(name, arch)``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from omegaconf import DictConfig

from zcnas.build import as_dict, build_metric, device_label
from zcnas.errors import ConfigError
from zcnas.metrics import ScoringContext
from zcnas.provenance import code_version
from zcnas.roster import space_meta
from zcnas.spaces import SearchSpace
from zcnas.threads import last_decision


class SingleScorer:
    """One metric scored by its own engine (``metric.score_cell``), through the interface of
    ``FusedScorer``: a single-metric job computes each score exactly as that metric alone does."""

    def __init__(self, metric):
        self.metric = metric
        self.metrics = {metric.name: metric}
        self.seconds: dict[str, float] = {}

    def score_cell(self, arch, only=None) -> dict[str, float]:
        start = time.perf_counter()
        score = self.metric.score_cell(arch)
        self.seconds = {self.metric.name: time.perf_counter() - start}
        return {self.metric.name: score}

    def recorded_cost(self, name: str, arch) -> float | None:
        return self.metric.recorded_cost(arch)


def build_scorer(cfg: DictConfig, names: list[str] | None, context: ScoringContext):
    """The ``metric`` group's metric alone (``names`` None), or a ``FusedScorer`` of ``names``."""
    if names is None:
        return SingleScorer(build_metric(cfg, context))
    from zcnas.metrics.fused import FusedScorer

    return FusedScorer(names, context, metric_settings(cfg, names))


def metric_names(cfg: DictConfig) -> list[str] | None:
    """The job's ``metrics`` list (registered metric names, each once), or None to score the ``metric`` group."""
    names = cfg.get("metrics")
    if names is None:
        return None
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise ConfigError(f"metrics must be a list of metric names, e.g. 'metrics=[hook_logdet,snip]', got {names!r}")
    names = [str(n) for n in names]
    if not names:
        raise ConfigError("metrics must name at least one metric (or be null to score the metric group)")
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise ConfigError(f"metrics lists {', '.join(doubled)} more than once")
    from zcnas import plugins

    for n in names:
        plugins.check("metric", n)  # an unknown name: one line listing the valid ones
    return names


def metric_settings(cfg: DictConfig, names: list[str]) -> dict[str, dict]:
    """Each metric's settings: its ``conf/metric/<name>.yaml`` (without ``name``), then ``metric_settings.<name>``."""
    from omegaconf import OmegaConf

    from zcnas.config import CONFIG_DIR

    overrides = cfg.get("metric_settings")
    if overrides is not None and not isinstance(overrides, Mapping):
        raise ConfigError(f"metric_settings must map metrics to their settings, e.g. "
                          f"+metric_settings.zen.repeat=2, got {overrides!r}")
    overrides = as_dict(overrides) if overrides is not None else {}
    stray = sorted(set(overrides) - set(names))
    if stray:
        raise ConfigError(f"metric_settings names {', '.join(stray)}, which is not among metrics={names}")
    settings = {}
    for name in names:
        path = CONFIG_DIR / "metric" / f"{name}.yaml"
        base = OmegaConf.to_container(OmegaConf.load(path), resolve=True) if path.is_file() else {}
        base = dict(base or {})
        base.pop("name", None)
        extra = overrides.get(name) or {}
        if not isinstance(extra, Mapping):
            raise ConfigError(f"metric_settings.{name} must map settings to values, got {extra!r}")
        base.update(extra)
        settings[name] = base
    return settings


def roster_meta(cfg: DictConfig, metric, device: str, space: SearchSpace) -> dict:
    import torch

    import zcnas

    meta = {
        **space_meta(space),
        "metric": metric.name,
        "dataset": str(cfg.dataset.name),
        "seed": None if metric.needs_benchmark else int(cfg.seed),
        "batch_size": int(cfg.batch_size) if metric.needs_data else None,
        "settings": metric.describe(),
        "share_isomorphic": bool(cfg.share_isomorphic),
        "zcnas_version": zcnas.__version__,
        "code": code_version(),  # git commit and whether the tree was dirty
        "torch_version": torch.__version__,
        "device": device_label(device),
        # floating-point sums can round differently with another thread count (zico by up to 1.4 %);
        # informational, as the two below: shards of other thread counts still merge
        "torch_threads": torch.get_num_threads(),
        "threads_policy": (last_decision() or (None, None))[1],
        # hook_logdet's C Cᵀ kernel (zcnas.metrics.naswot_kernels): both give the same integers
        "naswot_kernel": None,
    }
    if metric.needs_data:
        # the scores are functions of the image batch: another data file gives other scores
        from zcnas.data.batch import batch_sha256
        from zcnas.metrics.naswot_kernels import kernel_for

        meta["data_sha256"] = batch_sha256(*metric.context.batch)
        if cfg.dataset.get("batch_seed") is not None:  # the batch was drawn with its own seed
            meta["batch_seed"] = int(cfg.dataset.batch_seed)
        meta["naswot_kernel"] = kernel_for(device)
    return meta
