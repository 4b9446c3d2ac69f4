"""The image GAN's run: its nets, phase object and device, for a new run or one rebuilt from its
directory."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import torch
from torch import nn

from ...config import RunConfig
from ...nets import build_nets
from ...run import Run, RunEnv
from ...train import distributed, speed
from .task import GANTask


def image_run(cfg: RunConfig, G: Optional[nn.Module], D: Optional[nn.Module], *,
              out: Union[str, Path, None] = None, run_dir: Optional[Path] = None) -> Run:
    """The image GAN's run for `cfg`: its nets (from the seed, or the user's G and D), task and
    device (a torchrun rank's, with the nets broadcast from rank 0)."""
    if G is None:
        torch.manual_seed(cfg.train.seed)   # the nets' initial weights come from the seed
        G, D = build_nets(cfg.model, cfg.data_shape, cfg.num_classes)
    env = RunEnv.for_config(cfg)
    speed.set_memory_format([G, D], cfg.train.memory_format, cfg.data_shape)
    speed.check_precision(cfg.train.precision)   # bad values fail now, not when fit starts
    speed.resolve_compile_mode(cfg.train.compile, env.device)
    task = GANTask(G, D, cfg, env.device)
    distributed.reseed_for_rank(task.generators, cfg.train.seed, env.dist.rank)
    task.world = env.dist.world
    if env.dist.enabled:
        distributed.broadcast_nets(task.nets.values())
    return Run(cfg, task, env, None, out=out, run_dir=run_dir)
