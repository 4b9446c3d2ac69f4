"""Optimizers built the fast way: fused Adam where this PyTorch has it (CPU and CUDA since 2.4),
else the multi-tensor (foreach) form; both give the same update."""
from __future__ import annotations

from typing import Iterable

import torch


def adam(params: Iterable[torch.nn.Parameter], lr: float, betas: tuple[float, float]
         ) -> torch.optim.Optimizer:
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except (RuntimeError, TypeError, ValueError):   # older torch, or a device without a fused kernel
        return torch.optim.Adam(params, lr=lr, betas=betas, foreach=True)
