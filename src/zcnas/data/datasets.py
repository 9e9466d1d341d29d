"""The three NATS-Bench datasets: classes, image size and normalization.

This is the one home of these facts.  The config's dataset group
(``conf/dataset/*.yaml``) only says which dataset and where its images are;
the networks' classes and input size and the batch's normalization all come
from the spec here (``zcnas.schema.dataset_spec``).

Mean and std are per channel (R, G, B) on the 0-1 scale, the constants the
NATS-Bench / NASWOT code normalizes with (written there on the 0-255 scale).
"""

from __future__ import annotations

from dataclasses import dataclass

from zcnas.errors import ConfigError


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset's images look like and how to normalize them."""

    name: str
    num_classes: int
    input_size: int  # images are input_size x input_size x 3
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def _scaled(values: tuple[float, float, float]) -> tuple[float, float, float]:
    return tuple(v / 255 for v in values)  # type: ignore[return-value]


_SPECS = {
    spec.name: spec
    for spec in (
        DatasetSpec("cifar10", 10, 32, _scaled((125.3, 123.0, 113.9)), _scaled((63.0, 62.1, 66.7))),
        DatasetSpec("cifar100", 100, 32, _scaled((129.3, 124.1, 112.4)), _scaled((68.2, 65.4, 70.4))),
        DatasetSpec(
            "ImageNet16-120", 120, 16,
            _scaled((122.68, 116.66, 104.01)), _scaled((63.22, 61.26, 65.09)),
        ),
    )
}

#: Dataset names, spelled as NATS-Bench spells them.
DATASETS = tuple(_SPECS)


def get_spec(name: str) -> DatasetSpec:
    """The spec of ``name`` (``cifar10``, ``cifar100`` or ``ImageNet16-120``)."""
    # Case-insensitive, since "imagenet16-120" is an easy slip on a command line.
    for key, spec in _SPECS.items():
        if isinstance(name, str) and name.lower() == key.lower():
            return spec
    raise ConfigError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")
