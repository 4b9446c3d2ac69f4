"""Class-conditional wrappers around any unconditional generator/discriminator pair.

Generator: a learned class embedding is joined to the noise, so the inner generator is built for
`z_dim + embed_dim` inputs (Mirza & Osindero 2014, with an embedding in place of the one-hot).

Discriminator, two ways on the same features h = D.features(x):
- "projection" (Miyato & Koyama 2018): logit = head(h) + <embed(y), h>. The class enters as an
  inner product with the features, which keeps the objective's form and is what SNGAN/BigGAN use.
- "acgan" (Odena et al. 2017): logit = head(h) as usual, plus class logits from a second linear head;
  both D and G also minimise the classification loss.
"""
from __future__ import annotations

from typing import Union

import torch
from torch import nn

from ..errors import ConfigError

COND_MODES = ("projection", "acgan")


class ConditionalGenerator(nn.Module):
    """(z [N, z_dim], y [N] int) -> sample [N, ...], with `inner` a generator of z_dim + embed_dim."""

    def __init__(self, inner: nn.Module, num_classes: int, z_dim: int, embed_dim: int):
        super().__init__()
        self.inner, self.z_dim, self.num_classes = inner, z_dim, num_classes
        self.data_shape = getattr(inner, "data_shape", None)
        self.embed = nn.Embedding(num_classes, embed_dim)
        # Each class starts as a vector of norm about 1, one more direction beside the noise: with
        # N(0, 1) entries (norm 8 at 64 dims) G learned to ignore z, one image per class (measured).
        nn.init.normal_(self.embed.weight, 0.0, embed_dim ** -0.5)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.inner(torch.cat([z, self.embed(y)], dim=1))


class ConditionalDiscriminator(nn.Module):
    """(x, y) -> logit [N] ("projection") or (logit [N], class logits [N, K]) ("acgan").

    `inner` must have `features(x) -> [N, F]` and a `head` Linear(F, 1) (gankit's nets do).
    """

    def __init__(self, inner: nn.Module, num_classes: int, mode: str = "projection",
                 spectral: bool = False):
        super().__init__()
        if mode not in COND_MODES:
            raise ConfigError(f"unknown --cond {mode!r}: choose one of {', '.join(COND_MODES)}")
        if not (hasattr(inner, "features") and isinstance(getattr(inner, "head", None), nn.Linear)):
            raise ConfigError("a conditional discriminator needs `features(x)` and a Linear `head`")
        self.inner, self.mode, self.num_classes = inner, mode, num_classes
        dim = inner.head.in_features
        if mode == "projection":
            self.embed: nn.Module = nn.Embedding(num_classes, dim)
            nn.init.normal_(self.embed.weight, 0.0, 0.02)
        else:
            self.embed = nn.Linear(dim, num_classes)
            nn.init.normal_(self.embed.weight, 0.0, 0.02)
            nn.init.zeros_(self.embed.bias)
        if spectral:   # the class head obeys the same Lipschitz bound as the rest of D
            nn.utils.parametrizations.spectral_norm(self.embed)

    def forward(self, x: torch.Tensor, y: torch.Tensor,
                ) -> Union[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        h = self.inner.features(x)
        logit = self.inner.head(h).squeeze(1)
        if self.mode == "projection":
            return logit + (self.embed(y) * h).sum(1)
        return logit, self.embed(h)
