"""Residual generator and discriminator in the style of SNGAN (Miyato et al. 2018) for small images.

Generator: a linear map to a base x base grid, then one up-block per doubling (BN, ReLU, 2x nearest
upsample, 3x3 conv, BN, ReLU, 3x3 conv, plus an upsampled 1x1 shortcut), then BN, ReLU, a 3x3 conv
to the image channels and tanh. Discriminator: a first block that downsamples straight from the
image, further down-blocks, one block at the final size, ReLU, sum over space, a linear logit.
Channel width is constant, as in SNGAN's 32-px nets; the data sets the number of blocks (28 px: two
doublings from 7x7; 32 px: three from 4x4; 64 px: four).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from .dcgan import image_plan
from .layers import SequentialCritic


class UpBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(ch), nn.BatchNorm2d(ch)
        self.conv1, self.conv2 = nn.Conv2d(ch, ch, 3, 1, 1), nn.Conv2d(ch, ch, 3, 1, 1)
        self.skip = nn.Conv2d(ch, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(x, scale_factor=2, mode="nearest")
        h = self.conv1(F.interpolate(F.relu(self.bn1(x)), scale_factor=2, mode="nearest"))
        return self.skip(up) + self.conv2(F.relu(self.bn2(h)))


class DownBlock(nn.Module):
    """Residual block of D; `first` takes the image itself (no ReLU before the first conv)."""

    def __init__(self, c_in: int, ch: int, down: bool = True, first: bool = False):
        super().__init__()
        self.down, self.first = down, first
        self.conv1, self.conv2 = nn.Conv2d(c_in, ch, 3, 1, 1), nn.Conv2d(ch, ch, 3, 1, 1)
        self.skip = nn.Conv2d(c_in, ch, 1) if (c_in != ch or down) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(x if self.first else F.relu(x))
        h = self.conv2(F.relu(h))
        s = x
        if self.first:   # pool first, then 1x1: same result, 4x fewer multiply-adds
            s = self.skip(F.avg_pool2d(x, 2))
        elif self.skip is not None:
            s = self.skip(s)
        if self.down:
            h = F.avg_pool2d(h, 2)
            if not self.first:
                s = F.avg_pool2d(s, 2)
        return h + s


class SumPool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x).sum(dim=(2, 3))


class ResNetGenerator(nn.Module):
    """z [N, z_dim] -> image [N, C, H, W] in [-1, 1]."""

    def __init__(self, data_shape: tuple[int, ...], z_dim: int = 128, width: int = 64):
        super().__init__()
        c, base, n = image_plan(data_shape, "resnet")
        self.z_dim, self.data_shape, self.base, self.width = z_dim, tuple(data_shape), base, width
        self.fc = nn.Linear(z_dim, width * base * base)
        self.blocks = nn.Sequential(*[UpBlock(width) for _ in range(n)])
        self.out = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, c, 3, 1, 1),
                                 nn.Tanh())
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.fc(z).view(-1, self.width, self.base, self.base)
        return self.out(self.blocks(x))


class ResNetDiscriminator(SequentialCritic):
    """image [N, C, H, W] -> logit [N]; `norm` is "spectral" (SNGAN) or "none"."""

    def __init__(self, data_shape: tuple[int, ...], width: int = 64, norm: str = "spectral"):
        super().__init__()
        c, _, n = image_plan(data_shape, "resnet")
        if norm not in ("spectral", "none"):
            raise ConfigError(f"the resnet discriminator takes --d-norm spectral or none, got "
                              f"{norm!r}")
        blocks: list[nn.Module] = [DownBlock(c, width, first=True)]
        blocks += [DownBlock(width, width) for _ in range(n - 1)]
        blocks += [DownBlock(width, width, down=False), SumPool(), nn.Linear(width, 1)]
        self.net = nn.Sequential(*blocks)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
                if norm == "spectral":
                    nn.utils.parametrizations.spectral_norm(m)
