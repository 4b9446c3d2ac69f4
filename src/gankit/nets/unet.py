"""pix2pix's nets (Isola et al. 2017): a U-Net generator and a PatchGAN discriminator.

U-Net: an encoder that halves the size down to 1x1 with 4x4 stride-2 convolutions, a decoder that
doubles it back, and a skip connection from each encoder level to the decoder level of the same
size, so fine detail (edges, texture) need not squeeze through the bottleneck. Dropout in the
first decoder levels plays the role of noise. Being fully convolutional, it translates images of
any size that is a multiple of 2**depth (`translate` pads to that).

PatchGAN: a convolutional D whose output is a grid of real/fake logits, each judging one patch
(70x70 pixels with 3 layers); averaged, it asks for local realism, which the L1 term alone blurs.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn


def unet_depth(size: int) -> int:
    depth = int(round(math.log2(size)))
    if 2 ** depth != size or not 16 <= size <= 512:
        raise ValueError(f"the U-Net works on square crops of 16 to 512 px, a power of two; got {size}")
    return depth


class SeededDropout(nn.Module):
    """Dropout drawing its masks from `self.generator` (when set) rather than the global RNG, so
    that a checkpoint can hold the RNG state and a resumed run sees the same masks."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self.generator: Optional[torch.Generator] = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.empty_like(x).bernoulli_(1 - self.p, generator=self.generator)
        return x * keep / (1 - self.p)


class UNetGenerator(nn.Module):
    """[N, c_in, S, S] in [-1, 1] -> [N, c_out, S, S] in [-1, 1]; S a multiple of 2**depth."""

    def __init__(self, c_in: int, c_out: int, size: int, width: int = 32, max_mult: int = 8,
                 dropout: float = 0.5):
        super().__init__()
        self.depth = unet_depth(size)
        self.c_in, self.c_out = c_in, c_out
        chans = [width * min(2 ** i, max_mult) for i in range(self.depth)]   # encoder outputs
        self.down = nn.ModuleList()
        for i, c in enumerate(chans):
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2)]
            layers.append(nn.Conv2d(c_in if i == 0 else chans[i - 1], c, 4, 2, 1,
                                    bias=i in (0, self.depth - 1)))
            if 0 < i < self.depth - 1:   # none on the input level, none at 1x1 (no statistics)
                layers.append(nn.BatchNorm2d(c))
            self.down.append(nn.Sequential(*layers))
        self.up = nn.ModuleList()
        for i in reversed(range(self.depth)):   # decoder level i mirrors encoder level i
            c_from = chans[i] if i == self.depth - 1 else 2 * chans[i]
            last = i == 0
            c_to = c_out if last else chans[i - 1]
            layers = [nn.ReLU(), nn.ConvTranspose2d(c_from, c_to, 4, 2, 1, bias=last)]
            if last:
                layers.append(nn.Tanh())
            else:
                layers.append(nn.BatchNorm2d(c_to))
                if self.depth - 1 - i < 3 and i > 1 and dropout > 0:   # the three innermost
                    layers.append(SeededDropout(dropout))
            self.up.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        x = skips.pop()
        for k, layer in enumerate(self.up):
            if k > 0:
                x = torch.cat([x, skips.pop()], 1)
            x = layer(x)
        return x


class PatchDiscriminator(nn.Module):
    """[N, c_in, H, W] -> patch logits [N, h, w] (c_in: input and output images, concatenated)."""

    def __init__(self, c_in: int, width: int = 32, n_layers: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(c_in, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        c = width
        for i in range(1, n_layers + 1):
            c_next = width * min(2 ** i, 8)
            stride = 2 if i < n_layers else 1
            layers += [nn.Conv2d(c, c_next, 4, stride, 1, bias=False), nn.BatchNorm2d(c_next),
                       nn.LeakyReLU(0.2)]
            c = c_next
        layers.append(nn.Conv2d(c, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)
