"""NATS cells with known properties and the CIFAR-10 development batch, shared by the metric tests."""

from __future__ import annotations

from shared_data import shared_data_dir

CONV_CELL = "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|"
POOL_CELL = "|avg_pool_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"
# Output node unreachable from the input, yet the conv on edge 1<-0 still sees (and hooks) the stem output.
DISCONNECTED_CELL = "|none~0|+|nor_conv_1x1~0|none~1|+|none~0|avg_pool_3x3~1|none~2|"
EMPTY_CELL = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


def cifar10_sample(batch_size: int = 128):
    """The seeded batch (seed 0) of the shared CIFAR-10 sample; skips the test when the shared data is missing."""
    from zcnas.data import load_batch

    return load_batch("cifar10", str(shared_data_dir() / "samples" / "cifar10_sample.npz"), batch_size, 0)
