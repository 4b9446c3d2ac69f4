"""Adversarial losses as pure functions of discriminator logits.

Each objective is a pair (d_loss(real_logits, fake_logits), g_loss(fake_logits)). Written with
softplus so no sigmoid is ever taken and then logged: log(sigmoid(x)) = -softplus(-x), and
log(1 - sigmoid(x)) = -softplus(x), exact and finite for any logit.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F

from .errors import ConfigError


class Objective(NamedTuple):
    d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    g_loss: Callable[[torch.Tensor], torch.Tensor]


def bce_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))), averaged: the discriminator's binary cross-entropy."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def ns_g_loss(fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating: -log D(G(z)). Strong gradients when D confidently rejects the fakes."""
    return F.softplus(-fake).mean()


def minimax_g_loss(fake: torch.Tensor) -> torch.Tensor:
    """The original minimax form: minimise log(1 - D(G(z))). Saturates early in training."""
    return -F.softplus(fake).mean()


OBJECTIVES: dict[str, Objective] = {
    "ns": Objective(bce_d_loss, ns_g_loss),
    "minimax": Objective(bce_d_loss, minimax_g_loss),
}
ALIASES = {"non-saturating": "ns", "nonsaturating": "ns", "bce": "ns", "standard": "ns"}


def register_objective(name: str, d_loss: Callable, g_loss: Callable) -> None:
    """Make a loss pair usable by name (`--loss name`)."""
    OBJECTIVES[name] = Objective(d_loss, g_loss)


def get_objective(name: str) -> Objective:
    key = ALIASES.get(name, name)
    if key not in OBJECTIVES:
        raise ConfigError(f"unknown loss {name!r}: choose one of {', '.join(sorted(OBJECTIVES))}")
    return OBJECTIVES[key]
