"""DCGAN (Radford et al. 2016): transposed-conv generator, strided-conv discriminator.

Sized from the data: the image side must be base * 2**k with base 4 or 7 (16, 28, 32, 56, 64, 128,
...), so 28-px MNIST starts from 7x7 and is never padded to 32.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from .layers import Reshape, SequentialCritic, init_weights, spectral_normalize


def plan(resolution: int) -> tuple[int, int]:
    """(base side, number of 2x up/down-samplings) for a square image of `resolution` px."""
    for base in (4, 7):
        n, side = 0, resolution
        while side > base and side % 2 == 0:
            side, n = side // 2, n + 1
        if side == base and n >= 1:
            return base, n
    raise ConfigError(f"dcgan needs a square image of base*2^k px with base 4 or 7 (e.g. 28, 32, "
                      f"64), got {resolution}; pass --resolution 32")


def image_plan(data_shape: tuple[int, ...], family: str) -> tuple[int, int, int]:
    """(channels, base side, number of doublings) for a square image shape (C, H, W)."""
    c, h, w = data_shape
    if h != w:
        raise ConfigError(f"{family} needs square images, got {h}x{w}")
    return (c, *plan(h))


class DCGANGenerator(nn.Module):
    """z [N, z_dim] -> image [N, C, H, W] in [-1, 1]."""

    def __init__(self, data_shape: tuple[int, ...], z_dim: int = 64, width: int = 64):
        super().__init__()
        c, base, n = image_plan(data_shape, "dcgan")
        self.z_dim, self.data_shape = z_dim, tuple(data_shape)
        ch = width * 2 ** (n - 1)   # widest at the bottom, halving on the way up
        layers: list[nn.Module] = [nn.Linear(z_dim, ch * base * base, bias=False),
                                   Reshape(ch, base, base), nn.BatchNorm2d(ch), nn.ReLU(True)]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, c, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


D_NORMS = ("none", "batch", "spectral")


class DCGANDiscriminator(SequentialCritic):
    """image [N, C, H, W] -> logit [N].

    Default without normalization: D sees real and fake batches separately, and batch statistics
    would let it tell them apart by the batch rather than the image (`norm="batch"` is the DCGAN
    paper's choice, `norm="spectral"` bounds D's Lipschitz constant).
    """

    def __init__(self, data_shape: tuple[int, ...], width: int = 64, norm: str = "none"):
        super().__init__()
        c, base, n = image_plan(data_shape, "dcgan")
        if norm not in D_NORMS:
            raise ConfigError(f"unknown --d-norm {norm!r}: choose one of {', '.join(D_NORMS)}")
        layers: list[nn.Module] = [nn.Conv2d(c, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        ch = width
        for _ in range(n - 1):
            layers.append(nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=norm != "batch"))
            if norm == "batch":   # the DCGAN paper's D: BatchNorm on every layer but the first
                layers.append(nn.BatchNorm2d(ch * 2))
            layers.append(nn.LeakyReLU(0.2, True))
            ch *= 2
        layers += [nn.Flatten(), nn.Linear(ch * base * base, 1)]
        self.net = nn.Sequential(*layers)
        init_weights(self)
        if norm == "spectral":
            spectral_normalize(self.net, (nn.Conv2d, nn.Linear))

