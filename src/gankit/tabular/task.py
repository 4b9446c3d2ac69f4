"""TableGAN as a task of the shared trainer (`gankit.train.trainer`): nets, optimizers, phases.

The trainer walks two phases per step: the packed critic D learns to tell conditioned real rows
from G's rows (WGAN-GP), then G learns to fool D and to produce the value its condition asks for.
The batch source is `RowSampler`, CTGAN's training-by-sampling: each batch row carries a condition
(one value of one discrete column, drawn by log-frequency) and a real row that holds that value.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ..penalties import gradient_penalty
from ..train.trainer import Phase

if TYPE_CHECKING:
    from .synth import TableGAN


class RowSampler:
    """Batches [B, dim + cond_dim] = real rows next to the condition each one satisfies."""

    world = 1   # one process

    def __init__(self, gan: "TableGAN", x: torch.Tensor, batch_size: int,
                 rng: np.random.Generator):
        self.gan, self.x, self.batch_size, self.rng = gan, x, batch_size, rng

    def next(self) -> torch.Tensor:
        cond, cols, vals = self.gan._sample_cond(self.batch_size, self.rng, training=True)
        rows = self.x[torch.from_numpy(self.gan._real_rows(cols, vals, self.rng))]
        return torch.cat([rows, torch.from_numpy(cond)], 1)

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return {}, {"rng": self.rng.bit_generator.state}

    def load(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self.rng.bit_generator.state = meta["rng"]


class TableGANTask:
    """Named nets {"G", "D"}, Adam optimizers (CTGAN's betas) and the D, G phases."""

    def __init__(self, gan: "TableGAN", rng: np.random.Generator):
        cfg = gan.config
        self.gan, self.rng = gan, rng
        self.nets: dict[str, nn.Module] = {"G": gan.generator, "D": gan.critic}
        self.optimizers = {
            "G": torch.optim.Adam(gan.generator.parameters(), cfg.lr, betas=(0.5, 0.9),
                                  weight_decay=1e-6),
            "D": torch.optim.Adam(gan.critic.parameters(), cfg.lr_d or cfg.lr, betas=(0.5, 0.9))}
        self.generators = {"noise": torch.Generator().manual_seed(cfg.seed)}
        self.phases = [Phase("D", ("D",), self.d_loss), Phase("G", ("G",), self.g_loss)]

    def fake(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(G's rows after activation [B, dim], its logits [B, dim]) for conditions [B, cond]."""
        gen = self.generators["noise"]
        z = torch.randn(cond.shape[0], self.gan.config.noise_dim, generator=gen)
        logits = self.gan.generator(torch.cat([z, cond], 1))
        return self.gan._activate(logits, gen), logits

    def d_loss(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Wasserstein critic loss on packs of rows + gradient penalty on packed mixtures."""
        gan = self.gan
        real, cond = batch[:, :gan.dim], batch[:, gan.dim:]
        with torch.no_grad():
            fake, _ = self.fake(cond)
        real_p, fake_p = gan._pack(real, cond), gan._pack(fake, cond)
        gp = gradient_penalty(gan.critic, real_p, fake_p, self.generators["noise"])
        w = gan.critic(real_p).mean() - gan.critic(fake_p).mean()
        return -w + gan.config.gp_weight * gp, {"wasserstein": w.detach(), "gp": gp.detach()}

    def g_loss(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Fool the critic, and produce the asked value (cross-entropy) for fresh conditions."""
        gan = self.gan
        cond, cols, vals = gan._sample_cond(batch.shape[0], self.rng, training=True)
        c = torch.from_numpy(cond)
        fake, logits = self.fake(c)
        adv = -gan.critic(gan._pack(fake, c)).mean()
        cond_loss = gan._cond_loss(logits, cols, vals)
        return adv + cond_loss, {"g_adv": adv.detach(), "g_cond": cond_loss.detach()}

    def end_step(self, step: int, nimg: int) -> None:
        pass
