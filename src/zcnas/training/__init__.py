"""Training a network of any space on any dataset: ``task=train`` and ``zcnas.train``.

``train_network`` builds the network (``zcnas.build``), trains it by a recipe
(``zcnas.training.recipe``, the ``train`` config group) with the resumable loop of
``zcnas.training.loop``, and writes what a train job leaves in its folder: ``weights.pt`` (the
final state_dict), ``history.csv`` (loss and accuracy per epoch), ``learning_curve.png`` and,
while it runs, ``checkpoint.pt``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from zcnas.training.data import TrainingData
from zcnas.training.recipe import Recipe, make_recipe
from zcnas.training.target import WEIGHTS, Target

HISTORY = "history.csv"
CURVE = "learning_curve.png"

__all__ = ["CURVE", "HISTORY", "WEIGHTS", "Recipe", "Target", "TrainingData", "make_recipe", "train_network"]


def train_network(target: Target, data: TrainingData, recipe: Recipe, seed: int = 0, device: str = "cpu",
                  output_dir: Path | None = None, progress: bool = False,
                  log: Callable[[str], None] = print):
    """(the trained network, a summary): ``target``'s network trained on ``data`` by ``recipe``.

    With ``output_dir``, checkpoints every epoch there (a relaunch resumes) and writes the files of
    the module docstring; the summary is what a train job's result.json holds.
    """
    import torch

    from zcnas.api import build
    from zcnas.io import atomic_write_bytes
    from zcnas.progress import number, progress_bar
    from zcnas.training.loop import CHECKPOINT, curve_png, fit, history_csv, save_checkpoint

    started = time.perf_counter()
    model = build(target.arch, target.space, num_classes=data.num_classes, resolution=data.resolution,
                  seed=seed, **target.options)
    parameters = sum(p.numel() for p in model.parameters())
    arch = target.space.format(target.arch)
    network = {"space": target.space.name, "arch": arch, "index": target.space.index(target.arch),
               "options": dict(target.options), "num_classes": data.num_classes, "resolution": data.resolution,
               "mean": list(data.mean), "std": list(data.std), "parameters": parameters}
    identity = {"network": {k: network[k] for k in ("space", "arch", "options", "num_classes", "resolution")},
                "data": data.fingerprint(), "recipe": recipe.as_dict(), "seed": seed,
                "device": torch.device(device).type}
    out = Path(output_dir) if output_dir is not None else None
    checkpoint = out / CHECKPOINT if out is not None else None
    if data.note:
        log(f"[zcnas] note: {data.name}: {data.note}")

    with progress_bar(recipe.epochs, f"train {data.name}", progress) as bar:
        if hasattr(bar, "unit"):
            bar.unit = "epoch"

        def on_epoch(row: dict) -> None:
            bar.update(1)
            bar.set_postfix_str(f"loss {number(row['train_loss'], '.3f')}, test {number(row['test_accuracy'], '.2f')}%",
                                refresh=False)
            log(f"[zcnas] epoch {row['epoch']}/{recipe.epochs}: lr {row['lr']:.4g}, train loss "
                f"{row['train_loss']:.4f}, train {row['train_accuracy']:.2f}%, test loss {row['test_loss']:.4f}, "
                f"test {row['test_accuracy']:.2f}% ({row['seconds']:.1f} s)")

        fitted = fit(model, data, recipe, seed, device, checkpoint, identity, on_epoch, log)
        if fitted["resumed_from"]:
            bar.update(fitted["resumed_from"])
    history = fitted["history"]
    last = history[-1]
    best = max(history, key=lambda r: r["test_accuracy"])  # the first epoch reaching the best
    if out is not None:
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        save_checkpoint(out / WEIGHTS, state)  # the same atomic torch.save, tensors only
        atomic_write_bytes(out / HISTORY, history_csv(history))
        atomic_write_bytes(out / CURVE, curve_png(history, f"{arch} on {data.name} ({recipe.name})"))
    summary = {
        "network": network,
        "dataset": data.describe(),
        "recipe": recipe.as_dict(),
        "seed": seed,
        "device": device,
        "epochs": recipe.epochs,
        "test_accuracy": last["test_accuracy"],
        "test_loss": last["test_loss"],
        "train_accuracy": last["train_accuracy"],
        "train_loss": last["train_loss"],
        "best_epoch": best["epoch"],
        "best_test_accuracy": best["test_accuracy"],
        "parameters": parameters,
        "training_seconds": fitted["seconds"],
        "seconds_per_epoch": fitted["seconds"] / max(len(history), 1),
        "wall_seconds": time.perf_counter() - started,
        "resumed_from_epoch": fitted["resumed_from"],
        "history": history,
    }
    if out is not None:
        summary["files"] = {"weights": WEIGHTS, "history": HISTORY, "curve": CURVE, "checkpoint": CHECKPOINT}
    return model, summary
