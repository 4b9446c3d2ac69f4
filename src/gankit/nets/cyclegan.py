"""CycleGAN's generator: an image-to-image ResNet (Johnson et al. 2016, as Zhu et al. 2017 use it).

Not the ResNet of nets/resnet.py, which draws images from noise; this one maps an image of one
domain to an image of the same size in another."""
from __future__ import annotations

import torch
from torch import nn


class ReflectResBlock(nn.Module):
    """x + (reflection-padded 3x3 conv, instance norm, ReLU, again without the ReLU)."""

    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c),
                                  nn.ReLU(), nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3),
                                  nn.InstanceNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNetTranslator(nn.Module):
    """c7s1-w, d2w, d4w, n_blocks x R4w, u2w, uw, c7s1-c_out (Johnson et al. 2016); sizes that are
    multiples of 4 come back unchanged."""

    def __init__(self, c_in: int, c_out: int, width: int = 32, n_blocks: int = 6):
        super().__init__()
        w = width
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(c_in, w, 7), nn.InstanceNorm2d(w),
                                   nn.ReLU()]
        for mult in (1, 2):
            layers += [nn.Conv2d(w * mult, w * mult * 2, 3, 2, 1), nn.InstanceNorm2d(w * mult * 2),
                       nn.ReLU()]
        layers += [ReflectResBlock(4 * w) for _ in range(n_blocks)]
        for mult in (4, 2):
            layers += [nn.ConvTranspose2d(w * mult, w * mult // 2, 3, 2, 1, output_padding=1),
                       nn.InstanceNorm2d(w * mult // 2), nn.ReLU()]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(w, c_out, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.depth = 2   # translate pads inputs to a multiple of 2**depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


__all__ = ["ReflectResBlock", "ResNetTranslator"]
