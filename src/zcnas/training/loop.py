"""The training loop: deterministic for a seed on a device, checkpointed every epoch, resumable.

Everything random is drawn from a generator seeded by ``(seed, epoch)`` at the start of each
epoch -- the order of the images, the crop offsets, the flips -- so an epoch does the same
whether the run started at epoch 0 or resumed before it.  Its state after an epoch is the
network's and the optimizer's state dicts (momentum buffers included) and the history: all
saved, tensors and plain values only, to ``checkpoint.pt`` with ``torch.save`` to a temporary
file and ``os.replace``, and read back with ``weights_only=True``.  A run killed at any point
and relaunched therefore ends with the very weights of one never interrupted.

Bit-for-bit equality needs the same device and the same number of CPU threads
(``hardware.threads=<n>``): float sums are grouped by thread.  On CUDA, cuDNN is put in its
deterministic mode.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zcnas.training.data import TrainingData
from zcnas.training.recipe import Recipe

CHECKPOINT = "checkpoint.pt"
#: the columns of history.csv, one row per epoch
COLUMNS = ("epoch", "lr", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds")


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    # a distinct stream per (seed, epoch), independent of what ran before
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def normalize(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 N x H x W x 3 -> float N x 3 x H x W, on the 0-1 scale, per-channel standardized (as the batch)."""
    x = images.permute(0, 3, 1, 2).float().div_(255)
    return ((x - mean) / std).contiguous()


def augment(images: torch.Tensor, padding: int, flip: bool, gen: torch.Generator) -> torch.Tensor:
    """Random crop after zero padding, then random horizontal flip (uint8 N x H x W x 3 in and out)."""
    n, h, w, _ = images.shape
    if padding:
        padded = F.pad(images, (0, 0, padding, padding, padding, padding))  # black borders, as torchvision pads
        top = torch.randint(0, 2 * padding + 1, (n,), generator=gen)
        left = torch.randint(0, 2 * padding + 1, (n,), generator=gen)
        rows = (top[:, None] + torch.arange(h))[:, :, None]
        cols = (left[:, None] + torch.arange(w))[:, None, :]
        images = padded[torch.arange(n)[:, None, None], rows, cols]
    if flip:
        flipped = torch.rand(n, generator=gen) < 0.5
        images = torch.where(flipped[:, None, None, None], images.flip(2), images)
    return images


def save_checkpoint(path: Path, state: dict) -> None:
    """``torch.save`` to a temporary file in the same folder, then ``os.replace``: never a partial file."""
    tmp = path.with_name(f".{path.name}.{socket.gethostname()}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load_checkpoint(path: Path) -> dict | None:
    """The saved state, or None when the file is not a readable checkpoint of ours."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return None
    return state if isinstance(state, dict) and state.get("format") == 1 else None


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, mean, std, batch_size: int,
             device: str) -> tuple[float, float]:
    """(mean cross-entropy, accuracy in %) of ``model`` in eval mode on uint8 images ``x``."""
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(y), batch_size):
            xb = normalize(x[i:i + batch_size], mean, std).to(device)
            yb = y[i:i + batch_size].to(device)
            out = model(xb)
            loss += float(F.cross_entropy(out, yb, reduction="sum"))
            correct += int((out.argmax(1) == yb).sum())
    return loss / len(y), 100.0 * correct / len(y)


def fit(model: nn.Module, data: TrainingData, recipe: Recipe, seed: int, device: str = "cpu",
        checkpoint: Path | None = None, identity: dict | None = None,
        on_epoch: Callable[[dict], None] | None = None, log: Callable[[str], None] = print) -> dict:
    """Train ``model`` (in place) by ``recipe``; returns ``{"history": [...], "seconds": ..., "resumed_from": e}``.

    ``checkpoint``: the file saved after every epoch and resumed from when it holds the same
    ``identity`` (what the run is: architecture, data, recipe, seed); one of another run is
    set aside and training starts over.  ``on_epoch`` sees each epoch's row.
    """
    if device.startswith("cuda"):
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                                weight_decay=recipe.weight_decay, nesterov=recipe.nesterov)
    identity = dict(identity or {})
    history: list[dict] = []
    seconds, start_epoch = 0.0, 0
    if checkpoint is not None and checkpoint.exists():
        state = load_checkpoint(checkpoint)
        if state is not None and state.get("identity") == identity and state["epoch"] <= recipe.epochs:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            history, seconds, start_epoch = list(state["history"]), float(state["seconds"]), int(state["epoch"])
            log(f"[zcnas] resuming from {checkpoint} after epoch {start_epoch}/{recipe.epochs}")
        else:
            kept = checkpoint.with_name(f"checkpoint.superseded-{int(time.time())}.pt")
            checkpoint.rename(kept)
            log(f"[zcnas] {checkpoint} is not a checkpoint of this run; kept as {kept.name}, starting over")

    mean = torch.tensor(data.mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(data.std, dtype=torch.float32).view(1, 3, 1, 1)
    x_train, y_train = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    x_test, y_test = torch.from_numpy(data.x_test), torch.from_numpy(data.y_test)
    padding = recipe.padding(x_train.shape[1])
    for epoch in range(start_epoch, recipe.epochs):
        t0 = time.perf_counter()
        lr = recipe.lr_at(epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        gen = epoch_generator(seed, epoch)
        order = torch.randperm(len(y_train), generator=gen)
        model.train()
        total_loss, correct = 0.0, 0
        for i in range(0, len(order), recipe.batch_size):
            idx = order[i:i + recipe.batch_size]
            xb = normalize(augment(x_train[idx], padding, recipe.flip, gen), mean, std).to(device)
            yb = y_train[idx].to(device)
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += float(loss.detach()) * len(idx)
            correct += int((out.detach().argmax(1) == yb).sum())
        test_loss, test_acc = evaluate(model, x_test, y_test, mean, std, recipe.eval_batch_size, device)
        spent = time.perf_counter() - t0
        seconds += spent
        row = {"epoch": epoch + 1, "lr": lr, "train_loss": total_loss / len(order),
               "train_accuracy": 100.0 * correct / len(order), "test_loss": test_loss,
               "test_accuracy": test_acc, "seconds": spent}
        history.append(row)
        if checkpoint is not None:
            save_checkpoint(checkpoint, {"format": 1, "identity": identity, "epoch": epoch + 1,
                                         "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                         "history": history, "seconds": seconds})
        if on_epoch is not None:
            on_epoch(row)
    return {"history": history, "seconds": seconds, "resumed_from": start_epoch}


def history_csv(history: list[dict]) -> bytes:
    lines = [",".join(COLUMNS)]
    for row in history:
        lines.append(",".join(str(row[c]) if c == "epoch" else repr(float(row[c])) for c in COLUMNS))
    return ("\n".join(lines) + "\n").encode()


def curve_png(history: list[dict], title: str) -> bytes:
    """Loss and accuracy per epoch, train and test, as a PNG (matplotlib's Agg canvas, no global state)."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    epochs = np.array([r["epoch"] for r in history])
    fig = Figure(figsize=(9, 3.5), layout="constrained")
    FigureCanvasAgg(fig)
    loss_ax, acc_ax = fig.subplots(1, 2)
    for split in ("train", "test"):
        loss_ax.plot(epochs, [r[f"{split}_loss"] for r in history], marker=".", label=split)
        acc_ax.plot(epochs, [r[f"{split}_accuracy"] for r in history], marker=".", label=split)
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (loss_ax, acc_ax):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()
