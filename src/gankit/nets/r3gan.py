"""The modernized residual nets of R3GAN (Huang et al. 2024, "The GAN is dead; long live the GAN!"),
sized for small images.

What makes them "modern" (the paper's ConvNeXt-like steps, kept here):
- no normalization layers anywhere, in G or in D;
- inverted-bottleneck residual blocks: a 1x1 conv widens by EXPANSION, a grouped 3x3 conv
  (GROUP channels per group) mixes space, a 1x1 conv narrows back; leaky ReLU between;
- fix-up initialization: the last conv of every residual branch starts at zero, so each block
  starts as the identity, and the branches' first convs are scaled down with the number of
  blocks (L^(-1/4) for branches of three layers), so depth does not blow up the signal;
- resampling apart from the blocks: bilinear upsampling (G) and 2x2 average pooling (D), with a
  1x1 conv where the channel count changes.

G: z -> linear -> [C, base, base] -> blocks -> (upsample, 1x1, blocks) per doubling -> 1x1 conv to
the image channels -> tanh (the paper has no tanh; gankit's images live in [-1, 1]).
D mirrors it: 1x1 conv from the image -> (blocks, pool, 1x1) per halving -> blocks -> linear logit.
The widths double toward the small end as in the DCGAN nets (`width` at full size), and the image
side is base * 2**k with base 4 or 7 (28 px: 7 -> 14 -> 28), see nets/dcgan.plan.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .dcgan import image_plan
from .layers import Reshape, SequentialCritic

EXPANSION = 2      # inverted bottleneck: the 3x3 conv works on 2x the channels
GROUP = 16         # channels per group of the grouped 3x3 conv
SLOPE = 0.2        # leaky ReLU


class Block(nn.Module):
    """x + conv1x1(act(grouped conv3x3(act(conv1x1(x))))), starting as the identity. [N, C, H, W]"""

    def __init__(self, ch: int, n_blocks: int):
        super().__init__()
        wide = ch * EXPANSION
        self.widen = nn.Conv2d(ch, wide, 1)
        self.mix = nn.Conv2d(wide, wide, 3, 1, 1, groups=max(wide // GROUP, 1))
        self.narrow = nn.Conv2d(wide, ch, 1)
        for conv in (self.widen, self.mix):   # He init, scaled down with depth (fix-up)
            nn.init.kaiming_normal_(conv.weight, a=SLOPE, nonlinearity="leaky_relu")
            nn.init.zeros_(conv.bias)
        self.widen.weight.data.mul_(n_blocks ** -0.25)
        nn.init.zeros_(self.narrow.weight)
        nn.init.zeros_(self.narrow.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.widen(x), SLOPE)
        h = F.leaky_relu(self.mix(h), SLOPE)
        return x + self.narrow(h)


class Resample(nn.Module):
    """2x bilinear upsampling or 2x2 average pooling, then a 1x1 conv if the width changes."""

    def __init__(self, c_in: int, c_out: int, up: bool):
        super().__init__()
        self.up = up
        self.proj = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False) if self.up \
            else F.avg_pool2d(x, 2)
        return self.proj(x)


def widths(width: int, n: int) -> list[int]:
    """Channels from the small end (base px) up to the full size: width * 2**(n-1) ... width."""
    return [width * 2 ** (n - 1 - i) for i in range(n)]


class R3Generator(nn.Module):
    """z [N, z_dim] -> image [N, C, H, W] in [-1, 1]."""

    def __init__(self, data_shape: tuple[int, ...], z_dim: int = 64, width: int = 32,
                 blocks: int = 1):
        super().__init__()
        c, base, n = image_plan(data_shape, "r3gan")
        self.z_dim, self.data_shape = z_dim, tuple(data_shape)
        chs = widths(width, n)
        total = blocks * (n + 1)
        layers: list[nn.Module] = [nn.Linear(z_dim, chs[0] * base * base), Reshape(chs[0], base, base)]
        layers += [Block(chs[0], total) for _ in range(blocks)]
        for c_in, c_out in zip(chs, chs[1:] + chs[-1:]):
            layers.append(Resample(c_in, c_out, up=True))
            layers += [Block(c_out, total) for _ in range(blocks)]
        layers += [nn.LeakyReLU(SLOPE), nn.Conv2d(chs[-1], c, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        nn.init.normal_(self.net[0].weight, 0.0, 1.0 / math.sqrt(z_dim))
        nn.init.zeros_(self.net[0].bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class R3Discriminator(SequentialCritic):
    """image [N, C, H, W] -> logit [N]; `features` and `head` for the conditional wrappers."""

    def __init__(self, data_shape: tuple[int, ...], width: int = 32, blocks: int = 1):
        super().__init__()
        c, base, n = image_plan(data_shape, "r3gan")
        chs = widths(width, n)[::-1]                   # full size first
        total = blocks * (n + 1)
        layers: list[nn.Module] = [nn.Conv2d(c, chs[0], 1)]
        for c_in, c_out in zip(chs, chs[1:] + chs[-1:]):
            layers += [Block(c_in, total) for _ in range(blocks)]
            layers.append(Resample(c_in, c_out, up=False))
        layers += [Block(chs[-1], total) for _ in range(blocks)]
        layers += [nn.LeakyReLU(SLOPE), nn.Flatten(), nn.Linear(chs[-1] * base * base, 1)]
        self.net = nn.Sequential(*layers)


__all__ = ["R3Discriminator", "R3Generator"]
