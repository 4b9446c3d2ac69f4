"""Small shared pieces of the nets."""
from __future__ import annotations

import torch
from torch import nn


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """DCGAN initialisation: N(0, 0.02) weights, BatchNorm scale N(1, 0.02), zero biases."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


def spectral_normalize(modules, kinds: tuple[type, ...]) -> None:
    """Spectral norm (Miyato et al. 2018) on each of `modules` that is one of `kinds`, after
    init: the parametrization rescales whatever weights it gets."""
    for m in modules:
        if isinstance(m, kinds):
            nn.utils.parametrizations.spectral_norm(m)


def is_image_shape(shape: tuple[int, ...]) -> bool:
    """(C, H, W) with 1 or 3 channels is an image; anything else is a flat vector."""
    return len(shape) == 3 and shape[0] in (1, 3)


class Reshape(nn.Module):
    def __init__(self, *shape: int):
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class SequentialCritic(nn.Module):
    """A discriminator whose `self.net` is a Sequential ending in a Linear to one logit.

    `features` (everything under that layer) and `head` (the layer) let a conditional wrapper put
    a projection or a classifier head on the same features.
    """

    net: nn.Sequential

    @property
    def head(self) -> nn.Linear:
        return self.net[-1]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net[:-1](x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)
