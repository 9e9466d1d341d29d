"""The ``task=train`` job: train one architecture on the job's dataset (``zcnas.training``)."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import DictConfig

from zcnas.build import as_dict, build_space, configure_hardware
from zcnas.progress import number
from zcnas.tasks import Task
from zcnas.training.target import check_source_fingerprint, resolve_target


class TrainTask(Task):
    """``task=train``: one architecture trained on the job's dataset; resumes from its checkpoint."""

    resumable = True

    def run(self, cfg: DictConfig, output_dir) -> dict:
        from zcnas.training import make_recipe, train_network
        from zcnas.training.data import load_training_data

        check_source_fingerprint(cfg)
        recipe = make_recipe({k: v for k, v in as_dict(cfg.train).items()})
        target = resolve_target(cfg.get("arch"), cfg.get("from_result"), build_space(cfg), cfg.get("C", 16),
                                cfg.get("N", 5))
        if str(cfg.hardware.device).startswith("cuda"):
            # cuBLAS is deterministic only with a fixed workspace, set before CUDA starts
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        device = configure_hardware(cfg)
        data = load_training_data(cfg.dataset)
        _, summary = train_network(target, data, recipe, int(cfg.seed), device, Path(output_dir), bool(cfg.progress))
        return {"task": "train", **summary, "weights": summary["files"]["weights"],
                "source": target.source}

    def summarize(self, result: dict) -> str:
        net, data = result["network"], result["dataset"]
        options = "".join(f", {k}={v}" for k, v in (net.get("options") or {}).items())
        return "\n".join([
            f"trained {net['arch']} ({net['space']}{options}) on {data['name']} "
            f"({data['train_images']} train / {data['test_images']} test images, {net['num_classes']} classes, "
            f"{net['resolution']}x{net['resolution']}), recipe {result['recipe']['name']}, seed {result['seed']}",
            f"  test accuracy after {result['epochs']} epoch{'s' if result['epochs'] != 1 else ''}: "
            f"{number(result['test_accuracy'], '.2f')}% "
            f"(best {number(result['best_test_accuracy'], '.2f')}% at epoch {result['best_epoch']})",
            f"  {result['parameters']:,} parameters; {number(result['training_seconds'], '.1f')} s of training "
            f"({number(result['seconds_per_epoch'], '.2f')} s per epoch on {result['device']})",
        ])

    def outputs_problem(self, output_dir: Path, result: dict) -> str | None:
        if not (Path(output_dir) / str(result.get("weights", "weights.pt"))).is_file():
            return "has lost its trained weights (weights.pt)"
        return None
