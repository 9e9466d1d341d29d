"""A training recipe: the optimizer, the learning-rate schedule and the augmentation (``train`` group).

Plain Python (no torch): the values are checked here once, each with a one-line error.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from zcnas.errors import ConfigError


@dataclass(frozen=True)
class Recipe:
    """SGD with (Nesterov) momentum and weight decay, a cosine learning rate per epoch, random crop and flip.

    The learning rate of epoch e (0-based) is ``eta_min + (lr - eta_min) * (1 + cos(pi * e / epochs)) / 2``,
    constant within the epoch, as NATS-Bench's scheduler sets it (``conf/train/nats_bench.yaml``).
    """

    name: str = "custom"
    epochs: int = 5
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    eta_min: float = 0.0
    crop_padding: int | None = None  # None: resolution // 8 (4 at 32x32, 2 at 16x16, as NATS-Bench)
    flip: bool = True
    eval_batch_size: int = 512

    def lr_at(self, epoch: int) -> float:
        return self.eta_min + (self.lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.epochs)) / 2

    def padding(self, resolution: int) -> int:
        return resolution // 8 if self.crop_padding is None else self.crop_padding

    def as_dict(self) -> dict:
        return asdict(self)


KEYS = tuple(f.name for f in fields(Recipe))


def make_recipe(values: dict) -> Recipe:
    """The recipe of a ``train`` config node (or a plain dict); a one-line ``ConfigError`` for a bad value."""
    values = dict(values or {})
    unknown = sorted(set(values) - set(KEYS))
    if unknown:
        raise ConfigError(f"unknown training setting(s) {', '.join('train.' + k for k in unknown)}; "
                          f"valid: {', '.join(KEYS)}")
    for key in ("epochs", "batch_size", "eval_batch_size"):
        if key in values:
            _integer(key, values[key], 1)
    if values.get("crop_padding") is not None:
        _integer("crop_padding", values["crop_padding"], 0)
    for key in ("lr", "momentum", "weight_decay", "eta_min"):
        if key in values:
            value = values[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"train.{key} must be a number >= 0, got {value!r}")
            values[key] = float(value)
    for key in ("nesterov", "flip"):
        if key in values and not isinstance(values[key], bool):
            raise ConfigError(f"train.{key} must be true or false, got {values[key]!r}")
    recipe = Recipe(**values)
    if recipe.nesterov and recipe.momentum == 0:
        raise ConfigError("train.nesterov=true needs train.momentum > 0 (Nesterov momentum); set one or the other")
    if recipe.eta_min > recipe.lr:
        raise ConfigError(f"train.eta_min ({recipe.eta_min}) must not exceed train.lr ({recipe.lr})")
    return recipe


def _integer(key: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"train.{key} must be an integer >= {low}, got {value!r}")
