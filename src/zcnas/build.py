"""Turn the composed job config into the objects a task needs."""

from __future__ import annotations

import os
from typing import Any

from omegaconf import DictConfig, OmegaConf

from zcnas.benchmark import Benchmark, make_benchmark
from zcnas.errors import ConfigError
from zcnas.metrics import Metric, ScoringContext, make_metric
from zcnas.schema import dataset_spec
from zcnas.threads import resolve_threads


def as_dict(node: Any) -> dict:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node or {})


def configure_hardware(cfg: DictConfig) -> str:
    """Apply the thread setting (``hardware.threads``: a number, or auto); return the torch device string."""
    import torch

    hw = cfg.hardware
    device = str(hw.device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            "hardware asks for a CUDA device but torch sees none (CPU-only torch build or no GPU); "
            "use hardware=local or install a CUDA build of torch"
        )
    if device.startswith("cuda"):
        # plain fp32 as on the CPU: TF32 convolutions (cuDNN's default) would round the
        # activations to 10-bit mantissas and move scores away from their CPU values
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    # a number as given; auto (or null): the cores other processes leave free (zcnas.threads)
    threads, why = resolve_threads(hw.get("threads"))
    if threads != torch.get_num_threads():
        torch.set_num_threads(threads)
    print(f"[zcnas] torch threads: {threads} ({why})", flush=True)
    return device


def device_label(device: str) -> str:
    """The device as a roster records it: ``cpu`` or ``cuda (<GPU name>)``."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(torch.device(device))})"
    return device


def build_benchmark(cfg: DictConfig) -> Benchmark:
    b = cfg.benchmark
    return make_benchmark(str(b.kind), b.get("path"), b.get("table_path"))


def build_context(cfg: DictConfig, benchmark: Benchmark | None, device: str) -> ScoringContext:
    ds = cfg.dataset
    # classes and image size are facts of the dataset: from its spec, as the batch's normalization is
    spec = dataset_spec(ds)

    def load() -> Any:
        from zcnas.data import load_batch

        return load_batch(
            str(ds.name),
            os.path.expanduser(str(ds.data_path)),
            batch_size=int(cfg.batch_size),
            seed=int(cfg.seed),
            split=str(ds.split),
            download=bool(ds.download),
        )

    return ScoringContext(
        dataset=str(ds.name),
        num_classes=spec.num_classes,
        input_size=spec.input_size,
        seed=int(cfg.seed),
        device=device,
        batch_loader=load,
        benchmark=benchmark,
    )


def build_metric(cfg: DictConfig, context: ScoringContext) -> Metric:
    params = as_dict(cfg.metric)
    name = str(params.pop("name"))
    roster = params.pop("roster", None)
    if roster:
        from zcnas.metrics import metric_class
        from zcnas.metrics.from_roster import RosterScores

        return RosterScores(metric_class(name), context, os.path.expanduser(str(roster)),
                            {"metric": name, "dataset": context.dataset})
    return make_metric(name, context, **params)
