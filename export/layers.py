"""Building blocks both networks share."""
from __future__ import annotations

import torch
from torch import nn


def conv_bn(cin: int, cout: int, k: int = 1, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    """Convolution + batch norm (+ ReLU): one fused Conv(+Relu) node after export."""
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class Residual(nn.Module):
    """Two 3x3 conv-bn layers added back onto their input (a ResNet basic block).

    The second batch norm starts at zero scale, so a new block is the identity on its ReLU'd
    input: it can be inserted into a trained network without changing what it computes, and
    training then decides what the extra depth is for.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv_bn(channels, channels, 3), conv_bn(channels, channels, 3, act=False))
        nn.init.zeros_(self.body[1][1].weight)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))
