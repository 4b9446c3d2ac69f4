"""Generator/discriminator families, built by name from a ModelConfig and the data's shape.

Register your own family with `@register_net("name")` on a function
`(data_shape, cfg) -> (G, D)`; it is then usable as `--model name` too (from the CLI, name the
module or file that registers it with `--plugins`). With `conditional`, the family's pair is
wrapped: G gets a class embedding beside the noise, D a projection or ACGAN head on its features
(your D needs `features(x)` and a Linear `head`, as gankit's nets have).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from torch import nn

from ..config import ModelConfig
from ..errors import ConfigError
from .conditional import COND_MODES, ConditionalDiscriminator, ConditionalGenerator
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .layers import is_image_shape
from .mlp import MLPDiscriminator, MLPGenerator
from .r3gan import R3Discriminator, R3Generator
from .resnet import ResNetDiscriminator, ResNetGenerator

NetBuilder = Callable[[tuple, ModelConfig], "tuple[nn.Module, nn.Module]"]
NETS: dict[str, NetBuilder] = {}


def register_net(name: str) -> Callable[[NetBuilder], NetBuilder]:
    def deco(fn: NetBuilder) -> NetBuilder:
        NETS[name] = fn
        return fn
    return deco


@register_net("mlp")
def _mlp(shape: tuple, cfg: ModelConfig) -> tuple[nn.Module, nn.Module]:
    width = cfg.width or 256
    return MLPGenerator(shape, cfg.z_dim, width), MLPDiscriminator(shape, width)


def _need_images(name: str, shape: tuple) -> None:
    if not is_image_shape(tuple(shape)):
        raise ConfigError(f"{name} needs images [C, H, W] with 1 or 3 channels, the data has "
                          f"samples of shape {list(shape)}; use --model mlp")


@register_net("dcgan")
def _dcgan(shape: tuple, cfg: ModelConfig) -> tuple[nn.Module, nn.Module]:
    _need_images("dcgan", shape)
    width = cfg.width or 32   # measured: on a CPU, 32 reaches a lower FID per minute than 64
    return (DCGANGenerator(shape, cfg.z_dim, width),
            DCGANDiscriminator(shape, width, cfg.d_norm or "batch"))


@register_net("resnet")
def _resnet(shape: tuple, cfg: ModelConfig) -> tuple[nn.Module, nn.Module]:
    _need_images("resnet", shape)
    width = cfg.width or 32   # SNGAN uses 128-256 on GPUs; 32 keeps a CPU step affordable
    return (ResNetGenerator(shape, cfg.z_dim, width),
            ResNetDiscriminator(shape, width, cfg.d_norm or "spectral"))


@register_net("r3gan")
def _r3gan(shape: tuple, cfg: ModelConfig) -> tuple[nn.Module, nn.Module]:
    _need_images("r3gan", shape)
    if cfg.d_norm not in (None, "none"):
        raise ConfigError("r3gan's nets have no normalization layers (--d-norm none)")
    width = cfg.width or 32
    return R3Generator(shape, cfg.z_dim, width), R3Discriminator(shape, width)


DEFAULT_D_NORM = {"dcgan": "batch", "resnet": "spectral", "r3gan": "none"}


def resolve_model(cfg: ModelConfig) -> ModelConfig:
    """The config with the family's own defaults filled in (what config.json records)."""
    if cfg.d_norm is None and cfg.model in DEFAULT_D_NORM:
        cfg = dataclasses.replace(cfg, d_norm=DEFAULT_D_NORM[cfg.model])
    return cfg


def build_nets(cfg: ModelConfig, data_shape: tuple[int, ...], num_classes: int = 0,
               ) -> tuple[nn.Module, nn.Module]:
    """(G, D) for samples of `data_shape`; G maps [N, z_dim] -> [N, *data_shape], D -> logits [N].

    Conditional: G(z, y) and D(x, y), y class indices in [0, num_classes)."""
    if cfg.model not in NETS:
        raise ConfigError(f"unknown model {cfg.model!r}: choose one of {', '.join(sorted(NETS))}")
    cfg = resolve_model(cfg)
    if not cfg.conditional:
        return NETS[cfg.model](tuple(data_shape), cfg)
    if cfg.cond not in COND_MODES:
        raise ConfigError(f"unknown --cond {cfg.cond!r}: choose one of {', '.join(COND_MODES)}")
    if num_classes < 2:
        raise ConfigError("--conditional needs labeled data with at least 2 classes")
    embed = cfg.z_dim
    G, D = NETS[cfg.model](tuple(data_shape), dataclasses.replace(cfg, z_dim=cfg.z_dim + embed))
    return (ConditionalGenerator(G, num_classes, cfg.z_dim, embed),
            ConditionalDiscriminator(D, num_classes, cfg.cond, spectral=cfg.d_norm == "spectral"))


__all__ = ["NETS", "register_net", "build_nets", "resolve_model", "MLPGenerator",
           "MLPDiscriminator", "DCGANGenerator", "DCGANDiscriminator", "ResNetGenerator",
           "ResNetDiscriminator", "R3Generator", "R3Discriminator", "ConditionalGenerator", "ConditionalDiscriminator"]
