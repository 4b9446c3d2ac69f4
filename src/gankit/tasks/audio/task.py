"""The audio GAN's nets and phase object: the image path's DCGAN nets on mel spectrograms, or
WaveGAN's or SpecGAN's (gankit.nets.audio), trained by the shared GANTask."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional, Union

import torch

from ...config import RunConfig
from ...nets import build_nets
from ...nets.audio import (
    PhaseShuffle,
    SpecGANDiscriminator,
    SpecGANGenerator,
    WaveGANDiscriminator,
    WaveGANGenerator,
)
from ...run import Run
from ..gan.task import GANTask
from .options import DEFAULT_WIDTH

PHASE_SHUFFLE = 2


def audio_run(cfg: RunConfig, *, out: Union[str, Path, None] = None,
              run_dir: Optional[Path] = None) -> Run:
    """The audio GAN's run for a resolved config: nets from the seed, task, device."""
    m = cfg.model
    width, k = m.width or DEFAULT_WIDTH[m.model], cfg.num_classes
    torch.manual_seed(cfg.train.seed)   # the nets' initial weights come from the seed
    if m.model == "mel":   # the image path's nets, conditional wrappers included
        G, D = build_nets(dataclasses.replace(m, model="dcgan"), cfg.data_shape, k)
    elif m.model == "wavegan":
        length = cfg.data_shape[-1]
        G = WaveGANGenerator(length, m.z_dim, width, k)
        D = WaveGANDiscriminator(length, width, k, PHASE_SHUFFLE)
    else:
        G = SpecGANGenerator(cfg.data_shape[-1], m.z_dim, width, k)
        D = SpecGANDiscriminator(cfg.data_shape[-1], width, k)
    run = Run.for_task(cfg, lambda device: GANTask(G, D, cfg, device),
                       one_process="the audio GAN", out=out, run_dir=run_dir)
    for module in run.task.D.modules():   # phase shuffle draws from a checkpointed generator
        if isinstance(module, PhaseShuffle):
            module.generator = run.task.generators["aux"]
    return run


__all__ = ["audio_run"]
