"""One fixed batch of real images, the input of the data-dependent metrics.

Zero-cost metrics score an untrained network on a single batch, so the batch
is drawn once, deterministically from a seed, from distinct images and without
augmentation, and normalized like NATS-Bench (per-channel mean/std, 0-1 scale).
"""

from __future__ import annotations

import hashlib
import os
import warnings

import numpy as np
import torch

from zcnas.data.datasets import DatasetSpec, get_spec
from zcnas.data.readers import load_images
from zcnas.errors import ConfigError, DataError


class DuplicateImagesWarning(UserWarning):
    """The batch holds byte-identical images (NASWOT's kernel becomes singular)."""


def make_batch(
    x: np.ndarray, y: np.ndarray, spec: DatasetSpec, batch_size: int = 128, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Choose ``batch_size`` distinct images of ``x`` by ``seed`` and normalize them.

    Returns a float tensor B×3×H×W and a long tensor of B labels.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    size = spec.input_size
    if x.dtype != np.uint8 or x.shape[1:] != (size, size, 3) or len(x) != len(y):
        raise DataError(
            f"{spec.name} batch needs uint8 images N×{size}×{size}×3 and N labels, "
            f"got {x.dtype} {x.shape} and {len(y)} labels"
        )
    if batch_size > len(x):
        raise ConfigError(
            f"batch_size={batch_size} is larger than the {len(x)} images available; "
            "lower batch_size or point dataset.data_path at more data"
        )

    # Without replacement: the indices are distinct, so only duplicates
    # already present in the data can repeat an image.
    index = np.random.default_rng(seed).choice(len(x), size=batch_size, replace=False)
    return normalize_batch(x[index], np.asarray(y)[index], spec.mean, spec.std, spec.name)


def normalize_batch(images: np.ndarray, labels: np.ndarray, mean, std, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Chosen uint8 images B×H×W×3 as the float batch B×3×H×W, normalized per channel (0-1 scale)."""
    repeats = len(images) - len({image.tobytes() for image in images})
    if repeats:
        warnings.warn(
            f"the {name} batch holds {repeats} repeated (byte-identical) image(s): the NASWOT "
            "kernel becomes singular (log-determinant -inf) with repeated images; use data without "
            "duplicates or another seed",
            DuplicateImagesWarning,
            stacklevel=3,
        )

    mean = torch.tensor(tuple(mean), dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(tuple(std), dtype=torch.float32).view(1, 3, 1, 1)
    batch = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255)
    batch = ((batch - mean) / std).contiguous()
    return batch, torch.from_numpy(np.asarray(labels).astype(np.int64))


def balanced_choice(labels: np.ndarray, batch_size: int, seed: int) -> np.ndarray:
    """``batch_size`` distinct indices of ``labels``, as even over the classes as the data allows.

    Classes take turns (in an order drawn from ``seed``), each giving its next image in a seeded
    shuffle; a class that runs out drops out, so a small class never repeats an image.
    """
    rng = np.random.default_rng(seed)
    classes = rng.permutation(np.unique(labels))
    queues = [list(rng.permutation(np.flatnonzero(labels == c))) for c in classes]
    chosen: list[int] = []
    while len(chosen) < batch_size and any(queues):
        for queue in queues:
            if queue and len(chosen) < batch_size:
                chosen.append(int(queue.pop()))
    return rng.permutation(np.asarray(chosen, dtype=np.int64))


def load_batch(
    name: str,
    data_path: str | os.PathLike,
    batch_size: int = 128,
    seed: int = 0,
    split: str = "train",
    download: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``load_images`` then ``make_batch``: the batch the metrics score on."""
    x, y = load_images(name, data_path, split=split, download=download)
    return make_batch(x, y, get_spec(name), batch_size=batch_size, seed=seed)


def batch_sha256(x: torch.Tensor, y: torch.Tensor) -> str:
    """A fingerprint of the batch a metric scores: equal exactly when images, labels and shapes are.

    Scores of data-dependent metrics are functions of this batch, so a roster records it
    (``data_sha256``) and a resumed job refuses chunks scored on another batch.
    """
    digest = hashlib.sha256()
    for tensor in (x, y):
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
