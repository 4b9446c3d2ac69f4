"""The task the shared trainer walks for a table run: CTGAN's two phases over a TableModel, and
its batch source."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ...penalties import gradient_penalty
from ...train.trainer import Phase
from ..base import TaskBase
from .model import TableModel

# --- the task the shared trainer walks ----------------------------------------------------------
# The trainer walks two phases per step: the packed critic D learns to tell conditioned real rows
# from G's rows (WGAN-GP), then G learns to fool D and to produce the value its condition asks for.
# The batch source is RowSampler, CTGAN's training-by-sampling: each batch row carries a condition
# (one value of one discrete column, drawn by log-frequency) and a real row that holds that value.

class RowSampler:
    """Batches [B, dim + cond_dim] = real rows next to the condition each one satisfies."""

    world = 1   # one process

    def __init__(self, gan: TableModel, x: torch.Tensor, batch_size: int,
                 rng: np.random.Generator):
        self.gan, self.x, self.batch_size, self.rng = gan, x, batch_size, rng

    def next(self) -> torch.Tensor:
        cond, cols, vals = self.gan.sample_cond(self.batch_size, self.rng, training=True)
        rows = self.x[torch.from_numpy(self.gan.real_rows(cols, vals, self.rng))]
        return torch.cat([rows, torch.from_numpy(cond)], 1)

    def __len__(self) -> int:
        return len(self.x)

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return {}, {"rng": self.rng.bit_generator.state}

    def load(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self.rng.bit_generator.state = meta["rng"]


class TableGANTask(TaskBase):
    """Named nets {"G", "D"}, Adam optimizers (CTGAN's betas) and the D, G phases."""

    def __init__(self, gan: TableModel, rng: np.random.Generator):
        t = gan.cfg.train
        self.gan, self.rng, self.gp_weight = gan, rng, gan.cfg.loss.gp_weight
        self.nets: dict[str, nn.Module] = {"G": gan.generator, "D": gan.critic}
        betas = (t.beta1, t.beta2)
        self.optimizers = {
            "G": torch.optim.Adam(gan.generator.parameters(), t.lr, betas=betas,
                                  weight_decay=1e-6),
            "D": torch.optim.Adam(gan.critic.parameters(), t.lr_d or t.lr, betas=betas)}
        # the critic's dropout draws from torch's global generator: saved with the run's
        # generators, so that a resumed run goes on exactly
        self.generators = {"noise": torch.Generator().manual_seed(t.seed),
                           "dropout": torch.default_generator}
        self.phases = [Phase("D", ("D",), self.d_loss), Phase("G", ("G",), self.g_loss)]

    def fake(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(G's rows after activation [B, dim], its logits [B, dim]) for conditions [B, cond]."""
        gen = self.generators["noise"]
        z = torch.randn(cond.shape[0], self.gan.noise_dim, generator=gen)
        logits = self.gan.generator(torch.cat([z, cond], 1))
        return self.gan.activate(logits, gen), logits

    def d_loss(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Wasserstein critic loss on packs of rows + gradient penalty on packed mixtures."""
        gan = self.gan
        real, cond = batch[:, :gan.dim], batch[:, gan.dim:]
        with torch.no_grad():
            fake, _ = self.fake(cond)
        real_p, fake_p = gan.pack(real, cond), gan.pack(fake, cond)
        gp = gradient_penalty(gan.critic, real_p, fake_p, self.generators["noise"])
        w = gan.critic(real_p).mean() - gan.critic(fake_p).mean()
        return -w + self.gp_weight * gp, {"wasserstein": w.detach(), "gp": gp.detach()}

    def g_loss(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Fool the critic, and produce the asked value (cross-entropy) for fresh conditions."""
        gan = self.gan
        cond, cols, vals = gan.sample_cond(batch.shape[0], self.rng, training=True)
        c = torch.from_numpy(cond)
        fake, logits = self.fake(c)
        adv = -gan.critic(gan.pack(fake, c)).mean()
        cond_loss = gan.cond_loss(logits, cols, vals)
        return adv + cond_loss, {"g_adv": adv.detach(), "g_cond": cond_loss.detach()}


__all__ = ["RowSampler", "TableGANTask"]
