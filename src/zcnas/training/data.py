"""The images a training job reads: train and test arrays of a dataset, with its facts.

The one place training meets ``zcnas.data``; everything else in ``zcnas.training`` takes a
``TrainingData``.  A source with a single split (an ``.npz`` file, such as the shared samples) is
split here: a fixed tenth of its images, chosen by a seed of its own, is held out for testing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from zcnas.errors import DataError

#: share of a single-split source held out as its test set
HOLDOUT = 0.1


@dataclass
class TrainingData:
    name: str
    x_train: np.ndarray  # uint8 N x H x W x 3
    y_train: np.ndarray  # int64
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    resolution: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    note: str = ""
    identity: dict | None = None  # the dataset's identity as zcnas.data records it

    def fingerprint(self) -> str:
        """sha256 of the arrays read: a resumed job checks it trains on the same data."""
        digest = hashlib.sha256()
        for a in (self.x_train, self.y_train, self.x_test, self.y_test):
            digest.update(f"{a.dtype}{a.shape}".encode())
            digest.update(np.ascontiguousarray(a).tobytes())
        return digest.hexdigest()

    def describe(self) -> dict:
        return {"name": self.name, "num_classes": self.num_classes, "resolution": self.resolution,
                "train_images": len(self.y_train), "test_images": len(self.y_test),
                "mean": list(self.mean), "std": list(self.std), "sha256": self.fingerprint(),
                **({"identity": self.identity} if self.identity else {}),
                **({"note": self.note} if self.note else {})}


def holdout(x: np.ndarray, y: np.ndarray, fraction: float = HOLDOUT):
    """(train x, train y, test x, test y): a fixed ``fraction`` of the images (at least one) held out."""
    if len(y) < 2:
        raise DataError(f"training needs at least 2 images (some to train on, some to test on), got {len(y)}")
    order = np.random.default_rng(0).permutation(len(y))
    n_test = min(len(y) - 1, max(1, round(fraction * len(y))))
    test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
    return x[train], y[train], x[test], y[test]


def load_training_data(ds) -> TrainingData:
    """Train and test images of the dataset the config node ``ds`` (``cfg.dataset``) names.

    Through ``zcnas.data.load_dataset``: a benchmark dataset or the user's own (folder, npz,
    torchvision), with its classes, image size and normalization.  A benchmark dataset read from
    an ``.npz`` sample has one split: a fixed tenth is held out (``holdout``).
    """
    from zcnas.data import load_dataset

    data = load_dataset(ds)
    x, y = data.train_arrays()
    note = ""
    if data.one_split:
        x, y, x_test, y_test = holdout(x, y)
        note = f"single-split source: {len(y_test)} of its {len(y) + len(y_test)} images held out as the test set"
    else:
        x_test, y_test = data.test_arrays()
    h, w = data.image_size
    if h != w:
        raise DataError(f"the images of {data.name} are {h}x{w}; training takes square images: "
                        "pass dataset.resolution=<pixels> to resize them")
    return TrainingData(data.name, x, np.asarray(y, np.int64), x_test, np.asarray(y_test, np.int64),
                        int(data.num_classes), int(h), tuple(data.mean), tuple(data.std), note,
                        identity=data.identity())
