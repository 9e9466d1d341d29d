"""Turn the composed job config into the objects a task needs."""

from __future__ import annotations

import os
import re
from typing import Any

from omegaconf import DictConfig, OmegaConf

from zcnas.benchmark import Benchmark, NoBenchmark, backend, configured_benchmark
from zcnas.errors import ConfigError
from zcnas.metrics import Metric, ScoringContext, make_metric
from zcnas.spaces import SearchSpace, make_space
from zcnas.threads import resolve_threads


def as_dict(node: Any) -> dict:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node or {})


def configure_hardware(cfg: DictConfig) -> str:
    """Apply the thread setting (``hardware.threads``: a number, 1 by default, or auto); return the torch device string."""
    import torch

    device = check_hardware(cfg)
    hw = cfg.hardware
    if device.startswith("cuda"):
        # plain fp32 as on the CPU: TF32 convolutions (cuDNN's default) would round the
        # activations to 10-bit mantissas and move scores away from their CPU values
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    # a number as given (null: 1), whatever the load; auto: the cores other processes leave free (zcnas.threads)
    threads, why = resolve_threads(hw.get("threads"))
    if threads != torch.get_num_threads():
        torch.set_num_threads(threads)
    print(f"[zcnas] torch threads: {threads} ({why})", flush=True)
    return device


def check_hardware(cfg: DictConfig) -> str:
    """The device ``hardware`` asks for, checked (and the thread setting with it); a finished job is
    checked too, so a bad value is said even when there is nothing left to run."""
    import torch

    hw = cfg.hardware
    resolve_threads(hw.get("threads"))
    device = str(hw.device)
    if not re.fullmatch(r"cpu|cuda(:\d+)?", device):  # torch would fail later, deep in a metric
        raise ConfigError(f"hardware.device must be cpu, cuda or cuda:<n>, got {device!r}; "
                          "hardware=local runs on the CPU, hardware=gpu on the first GPU")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            "hardware asks for a CUDA device but torch sees none (CPU-only torch build or no GPU); "
            "use hardware=local or install a CUDA build of torch"
        )
    if device.startswith("cuda:") and int(device[5:]) >= torch.cuda.device_count():
        raise ConfigError(f"hardware.device={device}, but torch sees {torch.cuda.device_count()} GPU(s), "
                          "numbered from 0")
    return device


def device_label(device: str) -> str:
    """The device as a roster records it: ``cpu`` or ``cuda (<GPU name>)``."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(torch.device(device))})"
    return device


def build_space(cfg: DictConfig) -> SearchSpace:
    """The job's search space (the ``space`` group, which every composed config has)."""
    node = cfg.get("space")
    if node is None:
        raise ConfigError("the job's config has no space; compose it from conf/ (its defaults choose one) or "
                          "add space=<name>")
    # the class its _target_ names (the user's own for space=custom), space.options its keyword arguments
    return make_space(str(node.get("name")), node.get("_target_"), **as_dict(node.get("options") or {}))


def build_benchmark(cfg: DictConfig, space: SearchSpace | None = None) -> Benchmark:
    """The job's ground truth: the ``benchmark`` group (NATS-Bench's backends) where the space takes it
    from there (``SearchSpace.benchmark_group``), else the space's own table."""
    b = cfg.benchmark
    space = space or build_space(cfg)
    if space.benchmark_group:
        return configured_benchmark(b)
    # the option's backend says how it serves a space with its own table (zcnas.benchmark.base)
    cls = backend(b)
    use = getattr(cls, "space_table", "read")
    if use == "skip":
        return NoBenchmark()
    if use == "refuse":
        why = getattr(cls, "refusal", "") or f"benchmark._target_ {b.get('_target_')} serves NATS-Bench cells only"
        raise ConfigError(f"{why}; space {space.name} takes its "
                          "ground truth from a table (space.table, or benchmark.path=<table>)")
    from zcnas.benchmark.space_table import SpaceTableBenchmark, table_flags, table_settings

    table = cfg.space.get("table")
    path = b.get("path") if b.get("path") else (table.get("path") if table else None)
    if not table or not path:
        if use == "require":
            raise ConfigError(f"space {space.name} has no ground-truth table: set space.table "
                              "(path, arch, accuracy) or use benchmark=none")
        return NoBenchmark()
    arch, accuracy, label = table_settings(table)
    return SpaceTableBenchmark(space, os.path.expanduser(str(path)), arch, accuracy, label, **table_flags(table))


def batch_seed(cfg: DictConfig) -> int:
    """The seed of the scoring batch: ``dataset.batch_seed`` where set, else the job's seed (which also
    seeds the network), so that the batch alone can vary while the networks stay the same."""
    seed = cfg.dataset.get("batch_seed")
    return int(cfg.seed if seed is None else seed)


def build_context(cfg: DictConfig, benchmark: Benchmark | None, device: str,
                  space: SearchSpace | None = None) -> ScoringContext:
    # classes, image size and normalization: the dataset's (fixed for a benchmark, from the data for yours)
    from zcnas.data.dataset import load_dataset

    data = load_dataset(cfg.dataset)

    def load() -> Any:
        return data.scoring_batch(int(cfg.batch_size), batch_seed(cfg))

    return ScoringContext(
        dataset=data.name,
        num_classes=data.num_classes,
        input_size=data.input_size,
        seed=int(cfg.seed),
        device=device,
        batch_loader=load,
        benchmark=benchmark,
        space=space or build_space(cfg),
    )


def build_metric(cfg: DictConfig, context: ScoringContext) -> Metric:
    params = as_dict(cfg.metric)
    name = str(params.pop("name"))
    roster = params.pop("roster", None)
    if roster:
        from zcnas.metrics import metric_class
        from zcnas.metrics.from_roster import RosterScores
        from zcnas.roster import space_identity_meta

        # the roster must be of the job's space: its name and, for a custom space, its class and options
        expected = space_identity_meta(context.space)
        return RosterScores(metric_class(name), context, os.path.expanduser(str(roster)),
                            {**expected, "metric": name, "dataset": context.dataset})
    return make_metric(name, context, **params)
