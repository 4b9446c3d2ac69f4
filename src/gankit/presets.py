"""Presets: named, measured combinations of options, so a user need not know the literature.

`gankit train --preset NAME` / `gankit.GAN(preset=NAME)`; options given beside a preset win.
What each preset reached on Fashion-MNIST at equal CPU budgets is in docs/benchmarks.md (bench/zoo.py).
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional

from .config import RunConfig, with_options
from .errors import ConfigError


class Preset(NamedTuple):
    summary: str
    options: dict[str, Any]


PRESETS: dict[str, Preset] = {
    "fast-cpu": Preset(
        "the default: DCGAN, non-saturating loss, BatchNorm in D, Adam(4e-4, 0.5, 0.999); the best "
        "FID per CPU-minute in bench/zoo.py on Fashion-MNIST and MNIST", {"lr": 4e-4}),
    "classic": Preset(
        "the DCGAN paper's recipe that the beginner articles copy: the default with Adam at 2e-4",
        {"lr": 2e-4}),
    "sngan": Preset(
        "hinge loss and a spectrally normalized D (Miyato et al. 2018), Adam 2e-4",
        {"loss": "hinge", "d_norm": "spectral", "lr": 2e-4}),
    "wgan-gp": Preset(
        "Wasserstein loss with gradient penalty, 5 critic steps per G step, Adam(1e-4, 0, 0.9) "
        "(Gulrajani et al. 2017); the slowest to improve per CPU-minute in bench/zoo.py",
        {"loss": "wgan-gp", "d_norm": "none", "n_critic": 5, "lr": 1e-4, "beta1": 0.0,
         "beta2": 0.9}),
    "small-data": Preset(
        "for a few hundred to a few thousand images: DiffAugment (translation, cutout) on "
        "everything D sees, so D cannot memorize the training set; Adam 2e-4",
        {"augment": "translation,cutout", "lr": 2e-4}),
    "resnet": Preset(
        "SNGAN-style residual G and D (spectral norm) with the hinge loss: 5x the compute of a "
        "DCGAN step; behind it at 10 CPU-minutes but still improving fastest; Adam 2e-4",
        {"model": "resnet", "loss": "hinge", "lr": 2e-4}),
    "r3gan": Preset(
        "R3GAN (Huang et al. 2024): relativistic pairing loss with R1 and R2 penalties (gamma "
        "0.05 each, lazily every 16 steps) and modernized residual nets without normalization; "
        "Adam(2e-4, 0, 0.99)",
        {"model": "r3gan", "loss": "rpgan", "d_norm": "none", "r1_gamma": 0.05, "r2_gamma": 0.05,
         "lr": 2e-4, "beta1": 0.0, "beta2": 0.99}),
}
DEFAULT_PRESET = "fast-cpu"   # what the config defaults are; a test keeps the two in step


def apply_preset(cfg: RunConfig, name: Optional[str]) -> RunConfig:
    """cfg with the preset's options set (None: unchanged)."""
    if name is None:
        return cfg
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
    return with_options(cfg, **PRESETS[name].options)


def describe_presets() -> str:
    return "\n".join(f"  {name:11s} {p.summary}" for name, p in PRESETS.items())
