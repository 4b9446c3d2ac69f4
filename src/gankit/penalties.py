"""Regularisers on the discriminator's input gradient, as functions of (D, inputs).

Inputs are images [N, C, H, W] or vectors [N, D] (any [N, ...] works: norms are taken over every
dimension but the first). D maps a batch to logits [N] (or [N, 1]). Both penalties build their graph
with `create_graph=True`, so the returned scalar can be added to D's loss and backpropagated into
D's parameters. Neither penalty reaches back into the inputs: they are detached first, so a caller
may pass G's output without paying for a backward pass through G.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch


def _input_grad(D: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """dD(x)_i / dx_i for every sample i, kept differentiable w.r.t. D's parameters. [N, ...]"""
    if x.dtype in (torch.bfloat16, torch.float16):
        x = x.float()
    x = x.detach().requires_grad_(True)
    with torch.autocast(x.device.type, enabled=False):   # full precision under bf16 autocast
        logits = D(x)                               # [N] or [N, 1]
    # Samples are independent, so the gradient of the sum is each logit's gradient w.r.t. its input.
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    return grad


def gradient_penalty(D: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor,
                     generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): mean_i (||grad_x D(x_i)||_2 - 1)^2 at random interpolates
    x_i = eps_i * real_i + (1 - eps_i) * fake_i, with eps_i ~ U[0, 1) drawn per sample from
    `generator` (the global RNG when None). Unweighted: the caller multiplies by lambda (10 in the
    paper). Returns a scalar."""
    n = real.shape[0]
    shape = (n,) + (1,) * (real.dim() - 1)          # [N, 1, 1, 1] for images, [N, 1] for vectors
    device = generator.device if generator is not None else real.device
    eps = torch.rand(shape, generator=generator, device=device, dtype=real.dtype).to(real.device)
    x = eps * real.detach() + (1 - eps) * fake.detach()
    grad = _input_grad(D, x)
    norms = grad.flatten(1).norm(2, dim=1)          # [N]
    return (norms - 1).square().mean()


def r1_penalty(D: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): mean_i ||grad_x D(x_i)||_2^2 over real samples x_i.

    Unweighted and not lazy-scaled: the caller multiplies by gamma / 2 and, when the penalty is
    applied only every k steps (StyleGAN2's lazy regularisation), also by k, so that its average
    strength matches applying it every step. Pass the same (augmented) reals that D sees."""
    grad = _input_grad(D, real)
    return grad.square().flatten(1).sum(1).mean()
