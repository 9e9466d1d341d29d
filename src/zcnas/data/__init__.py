"""Image data for the data-dependent zero-cost metrics.

``load_batch(name, data_path)`` gives the normalized batch a metric scores on;
``load_images`` and the readers give the raw uint8 images; ``get_spec`` the
dataset's classes, image size and normalization.
"""

from zcnas.data.batch import DuplicateImagesWarning, load_batch, make_batch
from zcnas.data.datasets import DATASETS, DatasetSpec, get_spec
from zcnas.data.readers import (
    CIFAR_FILES,
    CIFAR_URL,
    SPLITS,
    download_cifar,
    load_images,
    read_cifar,
    read_imagenet16,
    read_npz,
)

__all__ = [
    "CIFAR_FILES",
    "CIFAR_URL",
    "DATASETS",
    "SPLITS",
    "DatasetSpec",
    "DuplicateImagesWarning",
    "download_cifar",
    "get_spec",
    "load_batch",
    "load_images",
    "make_batch",
    "read_cifar",
    "read_imagenet16",
    "read_npz",
]
