"""Image data: every dataset behind one interface, and the batch the data-dependent metrics score on.

``load_dataset(cfg.dataset)`` gives a ``Dataset`` (``zcnas.data.dataset``), of the class the option's
``_target_`` names: the benchmark datasets (cifar10, cifar100, ImageNet16-120:
``zcnas.data.benchmark``) and the user's own (an image folder, an ``.npz``, a torchvision dataset, a
class of the user's: ``zcnas.data.user``) alike.  ``load_batch(name, data_path)`` gives a benchmark
dataset's normalized batch; ``load_images`` and the readers the raw uint8 images; ``get_spec`` a
benchmark dataset's classes, image size and normalization.

Names are imported on first use, so that ``zcnas.data.fingerprint`` (which a config resolver
imports) loads neither numpy nor torch.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "DuplicateImagesWarning": "batch", "load_batch": "batch", "make_batch": "batch",
    "DATASETS": "datasets", "DatasetSpec": "datasets", "get_spec": "datasets",
    "CIFAR_FILES": "readers", "CIFAR_URL": "readers", "SPLITS": "readers", "download_cifar": "readers",
    "load_images": "readers", "read_cifar": "readers", "read_imagenet16": "readers", "read_npz": "readers",
    "Dataset": "dataset", "load_dataset": "dataset", "dataset_identity": "dataset", "dataset_settings": "dataset",
    "BenchmarkDataset": "benchmark", "UserDataset": "user", "FolderDataset": "user", "NpzDataset": "user",
    "TorchvisionDataset": "user", "array_source": "images",
    "cache_dir": "fingerprint",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
