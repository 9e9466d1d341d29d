"""The torch network of a NAS-Bench-101 cell (Ying et al., ICML 2019), for 32x32 or any input size.
Imported only by ``NasBench101.build_network``, so the space itself stays torch-free.

Stem 3x3 conv (3->128) + BN + ReLU; three stacks of three modules (the cell), with a 2x2 max-pool
(stride 2) before the second and third stack, where the channels double (128, 256, 512); global
average pool and a linear classifier.  As the original TensorFlow code: convs have no bias (BN
follows), every conv is conv + BN + ReLU, BN eps 1e-5 and TF momentum 0.997 (torch's 0.003).
PyTorch's default initialisation; plain ``nn.ReLU`` modules, which metrics such as NASWOT hook.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from zcnas.spaces.nas_bench_101.space import Nb101Cell, vertex_channels

STEM_CHANNELS = 128
NUM_STACKS = 3
MODULES_PER_STACK = 3


def conv_bn_relu(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(c_out, eps=1e-5, momentum=0.003), nn.ReLU())


def make_op(op: str, channels: int) -> nn.Module:
    if op == "maxpool3x3":
        return nn.MaxPool2d(3, stride=1, padding=1)
    return conv_bn_relu(channels, channels, 3 if op == "conv3x3-bn-relu" else 1)


class Module(nn.Module):
    """One cell: vertex t sums its interior inputs (cut to its channels) and a 1x1 projection of
    the module input when fed by it, then runs its op; the output concatenates the vertices feeding
    it, plus a projection of the input to ``c_out`` when the input feeds the output directly."""

    def __init__(self, cell: Nb101Cell, c_in: int, c_out: int):
        super().__init__()
        self.matrix, n = cell.matrix, cell.num_vertices
        self.channels = vertex_channels(cell.matrix, c_in, c_out)
        # keys are vertex numbers; a projection exists only where the input feeds that vertex
        self.proj = nn.ModuleDict({str(t): conv_bn_relu(c_in, self.channels[t], 1)
                                   for t in range(1, n) if cell.matrix[0][t]})
        self.ops = nn.ModuleDict({str(t): make_op(cell.ops[t], self.channels[t]) for t in range(1, n - 1)})

    def forward(self, x: Tensor) -> Tensor:
        m, n = self.matrix, len(self.matrix)
        values = [x]
        for t in range(1, n - 1):
            c = self.channels[t]
            # a vertex may feed a vertex with one channel less (the remainder split): cut it
            inputs = [values[s][:, :c] for s in range(1, t) if m[s][t]]
            if m[0][t]:
                inputs.append(self.proj[str(t)](x))
            values.append(self.ops[str(t)](sum(inputs[1:], inputs[0])))
        feeders = [values[t] for t in range(1, n - 1) if m[t][n - 1]]
        out = torch.cat(feeders, 1) if feeders else None
        if m[0][n - 1]:
            projected = self.proj[str(n - 1)](x)
            out = projected if out is None else out + projected
        return out


class Nb101Network(nn.Module):
    """``resolution``: the input size it is built for (any size runs: global pooling)."""

    def __init__(self, cell: Nb101Cell, num_classes: int, resolution: int = 32):
        super().__init__()
        self.resolution = resolution
        layers, channels = [conv_bn_relu(3, STEM_CHANNELS, 3)], STEM_CHANNELS
        for stack in range(NUM_STACKS):
            c_in = channels
            if stack > 0:
                # ceil_mode: TF's 'same' pooling keeps the odd pixel (no effect on even sizes)
                layers.append(nn.MaxPool2d(2, stride=2, ceil_mode=True))
                channels *= 2
            for _ in range(MODULES_PER_STACK):
                layers.append(Module(cell, c_in, channels))
                c_in = channels
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x).mean((2, 3)))
