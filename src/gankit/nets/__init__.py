"""Generator/discriminator families, built by name from a ModelConfig and the data's shape.

Register your own family with `@register_net("name")` on a function
`(data_shape, cfg) -> (G, D)`; it is then usable as `--model name` too.
"""
from __future__ import annotations

from typing import Callable

from torch import nn

from ..config import ModelConfig
from ..errors import ConfigError
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .layers import is_image_shape
from .mlp import MLPDiscriminator, MLPGenerator

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


@register_net("dcgan")
def _dcgan(shape: tuple, cfg: ModelConfig) -> tuple[nn.Module, nn.Module]:
    if not is_image_shape(tuple(shape)):
        raise ConfigError(f"dcgan needs images [C, H, W] with 1 or 3 channels, the data has "
                          f"samples of shape {list(shape)}; use --model mlp")
    width = cfg.width or 32   # measured: on a CPU, 32 reaches a lower FID per minute than 64
    return DCGANGenerator(shape, cfg.z_dim, width), DCGANDiscriminator(shape, width, cfg.d_norm)


def build_nets(cfg: ModelConfig, data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """(G, D) for samples of `data_shape`; G maps [N, z_dim] -> [N, *data_shape], D -> logits [N]."""
    if cfg.model not in NETS:
        raise ConfigError(f"unknown model {cfg.model!r}: choose one of {', '.join(sorted(NETS))}")
    return NETS[cfg.model](tuple(data_shape), cfg)


__all__ = ["NETS", "register_net", "build_nets", "MLPGenerator", "MLPDiscriminator",
           "DCGANGenerator", "DCGANDiscriminator"]
