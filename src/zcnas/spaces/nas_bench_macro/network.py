"""The torch network of a NAS-Bench-Macro architecture (Su et al., CVPR 2021), for 32x32 or any
input size.  Imported only by ``NasBenchMacro.build_network``, so the space itself stays torch-free.

Stem 3x3 conv (3->32) + BN + ReLU; 8 layers as ``zcnas.spaces.nas_bench_macro.space.PLAN`` says; head 1x1 conv
to 1280 + BN + ReLU, global average pool, linear.  Convs have no bias; PyTorch's default
initialisation throughout; plain ``nn.ReLU`` modules, which metrics such as NASWOT hook.
"""

from __future__ import annotations

from torch import Tensor, nn

from zcnas.spaces.nas_bench_macro.space import HEAD_CHANNELS, MBCONV, PLAN, STEM_CHANNELS


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1, relu: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers, nn.ReLU()) if relu else nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expansion, kxk depthwise (carries the stride), linear 1x1
    projection; the input is added back when the shape is kept."""

    def __init__(self, c_in: int, c_out: int, stride: int, expansion: int, kernel: int):
        super().__init__()
        hidden = expansion * c_in
        self.body = nn.Sequential(
            conv_bn(c_in, hidden, 1),
            conv_bn(hidden, hidden, kernel, stride, groups=hidden),
            conv_bn(hidden, c_out, 1, relu=False),
        )
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x) if self.residual else self.body(x)


def make_layer(op: int, c_in: int, c_out: int, stride: int) -> nn.Module:
    """Layer code ``op`` at a position of shape (c_in, c_out, stride)."""
    if op in MBCONV:
        return InvertedResidual(c_in, c_out, stride, *MBCONV[op])
    if stride != 1 or c_in != c_out:  # an identity cannot change the shape: a 1x1 conv does
        return conv_bn(c_in, c_out, 1, stride, relu=False)
    return nn.Identity()


class MacroNetwork(nn.Module):
    """``resolution``: the input size it is built for (any size runs: global pooling)."""

    def __init__(self, arch: tuple[int, ...], num_classes: int, resolution: int = 32):
        super().__init__()
        self.arch = tuple(arch)
        self.resolution = resolution
        self.stem = conv_bn(3, STEM_CHANNELS, 3)
        self.layers = nn.Sequential(*(make_layer(op, *shape) for op, shape in zip(self.arch, PLAN)))
        self.head = conv_bn(PLAN[-1][1], HEAD_CHANNELS, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(HEAD_CHANNELS, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.head(self.layers(self.stem(x)))
        return self.classifier(self.pool(x).flatten(1))
