"""Optimizers built the fast way: fused Adam where this PyTorch has it (CPU and CUDA since 2.4),
else the multi-tensor (foreach) form; both give the same update."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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
    return {name: adam(net.parameters(), lr_for(name, train), betas) for name, net in nets.items()}


def lr_for(name: str, train: Any) -> float:
    return train.lr if name.startswith("G") else train.lr_d or train.lr


def set_learning_rates(optimizers: dict[str, torch.optim.Optimizer], train: Any) -> None:
    """Put a resumed run's --lr / --lr-d into its optimizers (a checkpoint brings back the old
    ones with the Adam moments)."""
    for name, opt in optimizers.items():
        for group in opt.param_groups:
            group["lr"] = lr_for(name, train)
