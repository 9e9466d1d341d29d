"""PyTorch networks of the NATS-Bench topology space (``infer.tiny``, C=16, N=5).

Macro skeleton (Dong et al., NATS-Bench; identical parameter counts):
stem 3x3 conv + BN -> 5 cells (C) -> reduction block -> 5 cells (2C) ->
reduction block -> 5 cells (4C) -> BN -> ReLU -> global average pool -> linear.
"""

from __future__ import annotations

import torch
from torch import nn

from zcnas.space import EDGES, NUM_NODES, Cell, to_cell


class ReLUConvBN(nn.Sequential):
    """``nor_conv_k``: ReLU -> k x k conv (no bias) -> BN (affine, running stats)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


class Zero(nn.Module):
    """``none``: the edge contributes zeros (kept as a module so forward is uniform)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def make_op(name: str, channels: int) -> nn.Module:
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown operation {name!r}")


class CellModule(nn.Module):
    """A cell: node j = sum over i < j of op_{j<-i}(node i); node 3 is the output."""

    def __init__(self, cell: Cell, channels: int):
        super().__init__()
        self.cell = cell
        self.edges = nn.ModuleList(make_op(op, channels) for op in cell.ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for node in range(1, NUM_NODES):
            total = None
            for e, (to, frm) in enumerate(EDGES):
                if to == node:
                    out = self.edges[e](nodes[frm])
                    total = out if total is None else total + out
            nodes.append(total)
        return nodes[-1]


class ReductionBlock(nn.Module):
    """Residual block halving resolution between stages (ResNet basic block)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3)
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class TinyNetwork(nn.Module):
    """The NATS-Bench TSS network for one cell."""

    def __init__(self, cell: Cell | str | int, num_classes: int, channels: int = 16, cells_per_stage: int = 5):
        super().__init__()
        self.cell = to_cell(cell)
        c = channels
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        layers: list[nn.Module] = []
        for stage in range(3):
            if stage > 0:
                layers.append(ReductionBlock(c, 2 * c))
                c *= 2
            layers.extend(CellModule(self.cell, c) for _ in range(cells_per_stage))
        self.cells = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.cells(self.stem(x)))
        return self.classifier(self.pool(x).flatten(1))


def build_network(cell: Cell | str | int, num_classes: int, seed: int | None = None) -> TinyNetwork:
    """A freshly initialized network; with ``seed`` its weights are reproducible."""
    if seed is None:
        return TinyNetwork(cell, num_classes)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TinyNetwork(cell, num_classes)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
