"""Optimizers built the fast way: fused Adam where this PyTorch has it (CPU and CUDA since 2.4),
else the multi-tensor (foreach) form; both give the same update."""
from __future__ import annotations

from typing import Any, Iterable

import torch


def adam(params: Iterable[torch.nn.Parameter], lr: float, betas: tuple[float, float]
         ) -> torch.optim.Optimizer:
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except (RuntimeError, TypeError, ValueError):   # older torch, or a device without a fused kernel
        return torch.optim.Adam(params, lr=lr, betas=betas, foreach=True)


def adam_for(nets: dict[str, torch.nn.Module], train: Any) -> dict[str, torch.optim.Optimizer]:
    """One Adam per net, from a TrainConfig: --lr for generators (names starting with G), --lr-d
    (else --lr) for the rest, betas (--beta1, --beta2)."""
    betas = (train.beta1, train.beta2)
    return {name: adam(net.parameters(), train.lr if name.startswith("G") else
                       train.lr_d or train.lr, betas) for name, net in nets.items()}
