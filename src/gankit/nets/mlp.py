"""The fully-connected GAN of the beginner articles, sized from the data.

Works for images (flattened, tanh output in [-1, 1]) and for plain vectors such as 2-D toy points
(linear output).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .layers import Reshape, SequentialCritic, init_weights, is_image_shape


class MLPGenerator(nn.Module):
    """z [N, z_dim] -> sample [N, *data_shape]."""

    def __init__(self, data_shape: tuple[int, ...], z_dim: int = 64, width: int = 256):
        super().__init__()
        self.z_dim, self.data_shape = z_dim, tuple(data_shape)
        out = math.prod(data_shape)
        image = is_image_shape(self.data_shape)
        layers: list[nn.Module] = [nn.Linear(z_dim, width), nn.LeakyReLU(0.2),
                                   nn.Linear(width, width * 2), nn.LeakyReLU(0.2)]
        if image:  # images need more capacity than toy points; the articles' 256-512-1024 shape
            layers += [nn.Linear(width * 2, width * 4), nn.LeakyReLU(0.2)]
        layers += [nn.Linear(layers[-2].out_features, out)]
        if image:
            layers.append(nn.Tanh())
        layers.append(Reshape(*self.data_shape))
        self.net = nn.Sequential(*layers)
        if image:
            init_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class MLPDiscriminator(SequentialCritic):
    """sample [N, *data_shape] -> logit [N]."""

    def __init__(self, data_shape: tuple[int, ...], width: int = 256):
        super().__init__()
        inp = math.prod(data_shape)
        image = is_image_shape(tuple(data_shape))
        hidden = [width * 4, width * 2] if image else [width, width]
        layers: list[nn.Module] = [nn.Flatten()]
        for h in hidden:
            layers += [nn.Linear(inp, h), nn.LeakyReLU(0.2)]
            inp = h
        layers.append(nn.Linear(inp, 1))
        self.net = nn.Sequential(*layers)
        if image:
            init_weights(self)

