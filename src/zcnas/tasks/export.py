"""The ``task=export`` job: write a network (trained or freshly initialized) in every format it can."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig

from zcnas.build import build_space
from zcnas.errors import ConfigError
from zcnas.io import write_json
from zcnas.tasks import Task
from zcnas.training.target import check_source_fingerprint, resolve_target


class ExportTask(Task):
    """``task=export``: a network written in every format it can be, each reloaded and checked."""

    def run(self, cfg: DictConfig, output_dir) -> dict:
        import torch

        from zcnas.api import build
        from zcnas.export import FORMATS, export_network

        start = time.perf_counter()
        output_dir = Path(output_dir)
        check_source_fingerprint(cfg)
        target = resolve_target(cfg.get("arch"), cfg.get("from_result"), build_space(cfg), cfg.get("C", 16),
                                cfg.get("N", 5))
        formats = cfg.get("formats")
        # an empty or null list is not "all of them": say which to write
        if isinstance(formats, str) or not isinstance(formats, Sequence) or not formats:
            raise ConfigError(f"formats must list the files to write, e.g. formats=[state_dict,onnx] (any of "
                              f"{', '.join(FORMATS)}), got {formats!r}")
        formats = list(formats)
        twice = sorted({str(f) for f in formats if formats.count(f) > 1})
        if twice:
            raise ConfigError(f"formats lists {', '.join(twice)} more than once")
        if target.weights is not None:  # a train job's network: its classes, resolution and weights
            num_classes, resolution = target.num_classes, target.resolution
            mean, std = (target.normalization or {}).get("mean"), (target.normalization or {}).get("std")
        else:
            from zcnas.data import load_dataset

            data = load_dataset(cfg.dataset)
            h, w = data.image_size
            if h != w:
                raise ConfigError(f"the images of {data.name} are {h}x{w}; networks take square images: "
                                  "pass dataset.resolution=<pixels>")
            num_classes, resolution, mean, std = int(data.num_classes), int(h), list(data.mean), list(data.std)

        def rebuild():
            return build(target.arch, target.space, num_classes=num_classes, resolution=resolution,
                         seed=int(cfg.seed), **target.options)

        model = rebuild()
        if target.weights is not None:
            try:
                state = torch.load(target.weights, map_location="cpu", weights_only=True)
                model.load_state_dict(state)
            except Exception as exc:
                raise ConfigError(f"{target.weights}: not the weights of this network "
                                  f"({(str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]}); rerun the train job") from None
        # the check batch: fixed by the seed, two images so that BatchNorm-free shapes are exercised too
        example = torch.randn(2, 3, resolution, resolution, generator=torch.Generator().manual_seed(int(cfg.seed)))
        report = export_network(model, example, output_dir, formats, rebuild)
        network = {**target.describe(), "num_classes": num_classes, "resolution": resolution,
                   "trained": target.weights is not None,
                   "parameters": sum(p.numel() for p in model.parameters())}
        if target.weights is not None:
            network["weights_from"] = str(target.weights)
        if mean is not None:
            network.update(mean=mean, std=std)
        # how to rebuild the state_dict's network: zcnas.build(arch, space, num_classes, resolution, **options)
        write_json(output_dir / "network.json", network)
        failed = [f for f, r in report.items() if "skipped" not in r and not r["ok"]]
        if failed:
            raise ConfigError(f"exported {', '.join(failed)} but the reloaded network's outputs differ "
                              f"(see {output_dir}); please report this")
        return {"task": "export", "network": network, "formats": report, "wall_seconds": time.perf_counter() - start}

    def summarize(self, result: dict) -> str:
        net = result["network"]
        lines = [f"export of {net['arch']} ({net['space']}, {net['num_classes']} classes, "
                 f"{net['resolution']}x{net['resolution']}, {'trained' if net['trained'] else 'initial'} weights)"]
        for fmt, r in result["formats"].items():
            if "skipped" in r:
                lines.append(f"  {fmt}: skipped ({r['skipped']})")
            else:
                how = f", {r['method']}" if "method" in r else ""
                check = ("outputs equal" if r.get("equal") else r.get("note")
                         or f"outputs within tolerance, max |diff| {r['max_abs_diff']:.2e}")
                lines.append(f"  {fmt}: {r['file']} ({check}{how})")
        return "\n".join(lines)
