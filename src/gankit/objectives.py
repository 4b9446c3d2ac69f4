"""Adversarial losses as pure functions of discriminator logits.

Each objective is a pair (d_loss(real_logits, fake_logits), g_loss(fake_logits)) of batch means over
logits [N]. The BCE family is written with softplus so no sigmoid is ever taken and then logged:
log(sigmoid(x)) = -softplus(-x), and log(1 - sigmoid(x)) = -softplus(x), exact and finite for any
logit.

Registered names: "ns" (non-saturating, the default), "minimax", "lsgan", "hinge", "wgan-gp"
(alias "wgan"), "rpgan" (relativistic pairing). An objective whose `needs_penalty` is "gp" is only
meaningful with a gradient penalty on D (see `gankit.penalties.gradient_penalty`); the trainer adds
it. A `relativistic` objective scores each fake against a real partner: its g_loss takes
(fake_logits, real_logits), so the task must show D a real batch in the G phase too.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import torch
import torch.nn.functional as F

from .errors import ConfigError


class Objective(NamedTuple):
    d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    g_loss: Callable[[torch.Tensor], torch.Tensor]
    # Which regulariser the D loss relies on: "gp" (WGAN-GP's gradient penalty) or None.
    needs_penalty: Optional[str] = None
    # g_loss(fake_logits, real_logits): each fake is judged against a real partner
    relativistic: bool = False


def bce_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))), averaged: the discriminator's binary cross-entropy."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def ns_g_loss(fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating: -log D(G(z)). Strong gradients when D confidently rejects the fakes."""
    return F.softplus(-fake).mean()


def minimax_g_loss(fake: torch.Tensor) -> torch.Tensor:
    """The original minimax form: minimise log(1 - D(G(z))). Saturates early in training."""
    return -F.softplus(fake).mean()


def lsgan_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Least squares (Mao et al. 2017), targets real = 1, fake = 0:
    0.5 * mean((real - 1)^2) + 0.5 * mean(fake^2).

    The 0.5 factors are the paper's (a = 0, b = 1, c = 1 with 1/2 in front of each expectation);
    they halve the gradients relative to a plain MSE and change nothing else.
    """
    return 0.5 * (real - 1).square().mean() + 0.5 * fake.square().mean()


def lsgan_g_loss(fake: torch.Tensor) -> torch.Tensor:
    """Least squares for G: 0.5 * mean((fake - 1)^2), pushing fake logits to the real target 1."""
    return 0.5 * (fake - 1).square().mean()


def hinge_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Hinge (Lim & Ye 2017; SAGAN, BigGAN): mean(relu(1 - real)) + mean(relu(1 + fake)).
    Zero (and no gradient) for reals scored above +1 and fakes below -1."""
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def hinge_g_loss(fake: torch.Tensor) -> torch.Tensor:
    """Hinge for G: -mean(fake), unbounded; the same G loss as WGAN."""
    return -fake.mean()


def wgan_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Wasserstein critic: mean(fake) - mean(real), the negative of the estimated W1 distance.
    Unbounded without a Lipschitz constraint: use it with `gradient_penalty` (WGAN-GP)."""
    return fake.mean() - real.mean()


def wgan_g_loss(fake: torch.Tensor) -> torch.Tensor:
    """Wasserstein generator: -mean(fake)."""
    return -fake.mean()


def rp_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Relativistic pairing (Jolicoeur-Martineau 2019; the loss of R3GAN, Huang et al. 2024):
    mean softplus(-(real_i - fake_i)) = -log sigmoid(real_i - fake_i): D wants each real scored
    above its paired fake, by a margin, rather than each on its own side of a fixed line."""
    return F.softplus(fake - real).mean()


def rp_g_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Relativistic pairing for G: mean softplus(real_i - fake_i), each fake above its real."""
    return F.softplus(real - fake).mean()


OBJECTIVES: dict[str, Objective] = {
    "ns": Objective(bce_d_loss, ns_g_loss),
    "minimax": Objective(bce_d_loss, minimax_g_loss),
    "lsgan": Objective(lsgan_d_loss, lsgan_g_loss),
    "hinge": Objective(hinge_d_loss, hinge_g_loss),
    "wgan-gp": Objective(wgan_d_loss, wgan_g_loss, needs_penalty="gp"),
    "rpgan": Objective(rp_d_loss, rp_g_loss, relativistic=True),
}
ALIASES = {"non-saturating": "ns", "nonsaturating": "ns", "bce": "ns", "standard": "ns",
           "wgan": "wgan-gp", "relativistic": "rpgan"}


def register_objective(name: str, d_loss: Callable, g_loss: Callable,
                       needs_penalty: Optional[str] = None, relativistic: bool = False) -> None:
    """Make a loss pair usable by name (`--loss name`). `needs_penalty="gp"` asks the trainer to add
    the WGAN-GP gradient penalty to the D loss; `relativistic=True` means g_loss takes
    (fake_logits, real_logits)."""
    OBJECTIVES[name] = Objective(d_loss, g_loss, needs_penalty, relativistic)


def get_objective(name: str, pairs: bool = False) -> Objective:
    """The objective named `name`; a relativistic one only where the task can pair (`pairs`)."""
    key = ALIASES.get(name, name)
    if key not in OBJECTIVES:
        raise ConfigError(f"unknown loss {name!r}: choose one of {', '.join(sorted(OBJECTIVES))}")
    if OBJECTIVES[key].relativistic and not pairs:
        raise ConfigError(f"--loss {name} judges each fake against a real partner; this task has "
                          f"no real partner for its fakes (use it with the image GAN)")
    return OBJECTIVES[key]
