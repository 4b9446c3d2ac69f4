"""CycleGAN's phase object: two translators and two critics, least-squares adversarial losses, the
cycle-consistency and identity losses, D trained on a history of 50 generated images, and the
learning rate decaying linearly to zero over the second half of training."""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ...config import RunConfig
from ...errors import ConfigError
from ...objectives import get_objective
from ...train.optim import adam_for
from ...train.trainer import Phase
from ..base import TaskBase, seeded_generators
from ..translate.task import run_padded

POOL = 50


class HistoryPool:
    """Up to `size` past generated images. Each new image goes in; half the time (once full) D
    sees an old one in its place, so D does not chase only G's latest mistakes (Shrivastava et al.
    2017). Its content and generator are saved with the run."""

    def __init__(self, size: int, generator: torch.Generator):
        self.size, self.gen = size, generator
        self.images: Optional[torch.Tensor] = None   # [n, C, H, W]

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return batch
        out = []
        for img in batch.detach():
            n = 0 if self.images is None else len(self.images)
            if n < self.size:
                self.images = img[None].clone() if self.images is None else \
                    torch.cat([self.images, img[None]])
                out.append(img)
            elif float(torch.rand((), generator=self.gen)) < 0.5:
                k = int(torch.randint(n, (), generator=self.gen))
                out.append(self.images[k].clone())
                self.images[k] = img
            else:
                out.append(img)
        return torch.stack(out)


class CycleTask(TaskBase):
    """Nets G_AB, G_BA (ResNet translators) and D_A, D_B (PatchGAN); phases G then D, D on the
    history pools' images; the learning rate decays over the second half of --steps."""

    def __init__(self, nets: dict[str, nn.Module], cfg: RunConfig, device: torch.device):
        t, lc = cfg.train, cfg.loss
        self.cfg, self.device = cfg, device
        self.nets = {k: v.to(device) for k, v in nets.items()}
        self.G_AB, self.G_BA = self.nets["G_AB"], self.nets["G_BA"]
        self.G = self.G_AB   # what Translator.translate uses (A -> B)
        self.D_A, self.D_B = self.nets["D_A"], self.nets["D_B"]
        # one Adam per net (Adam is per parameter, so this equals one over both G's, and lets the
        # trainer switch gradients per net)
        self.optimizers = adam_for(self.nets, t)
        self.base_lr = {name: opt.param_groups[0]["lr"] for name, opt in self.optimizers.items()}
        self.objective = get_objective(lc.loss)
        if self.objective.needs_penalty:
            raise ConfigError(f"--loss {lc.loss} needs a gradient penalty, which CycleGAN does not "
                              f"have: use lsgan (its default), ns or hinge")
        # (the pools' draws are on the CPU, whatever the device)
        self.generators = seeded_generators(t.seed, torch.device("cpu"), "pool")
        self.pools = {"A": HistoryPool(POOL, self.generators["pool"]),
                      "B": HistoryPool(POOL, self.generators["pool"])}
        self.phases = [Phase("G", ("G_AB", "G_BA"), self.g_loss),
                       Phase("D", ("D_A", "D_B"), self.d_loss)]
        self._fakes: Optional[tuple[torch.Tensor, torch.Tensor]] = None

    def g_loss(self, batch: tuple[torch.Tensor, torch.Tensor]):  # noqa: ANN201
        a, b = batch
        lam = self.cfg.options.cycle_weight
        fake_b, fake_a = self.G_AB(a), self.G_BA(b)
        adv = (self.objective.g_loss(self.D_B(fake_b).float())
               + self.objective.g_loss(self.D_A(fake_a).float()))
        cycle = (self.G_BA(fake_b) - a).abs().mean() + (self.G_AB(fake_a) - b).abs().mean()
        loss = adv + lam * cycle
        stats = {"g_loss": loss, "g_adv": adv, "cycle": cycle}
        if self.cfg.options.identity_weight > 0 and a.shape[1] == b.shape[1]:
            ident = (self.G_AB(b) - b).abs().mean() + (self.G_BA(a) - a).abs().mean()
            loss = loss + self.cfg.options.identity_weight * lam * ident
            stats["identity"] = ident
        self._fakes = (fake_a.detach(), fake_b.detach())
        return loss, stats

    def d_loss(self, batch: tuple[torch.Tensor, torch.Tensor]):  # noqa: ANN201
        a, b = batch
        fake_a, fake_b = self._fakes
        self._fakes = None
        fake_a, fake_b = self.pools["A"](fake_a), self.pools["B"](fake_b)
        ra, fa = self.D_A(a).float(), self.D_A(fake_a).float()
        rb, fb = self.D_B(b).float(), self.D_B(fake_b).float()
        # halved, as in the paper: D learns more slowly than G
        loss = 0.5 * (self.objective.d_loss(ra, fa) + self.objective.d_loss(rb, fb))
        return loss, {"d_loss": loss, "d_real": torch.sigmoid(torch.cat([ra, rb])).mean(),
                      "d_fake": torch.sigmoid(torch.cat([fa, fb])).mean()}

    def end_step(self, step: int, nimg: int) -> None:
        """Linear decay to zero over the second half of --steps (a function of the step, so a
        resumed run follows the same schedule)."""
        total = self.cfg.train.steps
        if not total:
            return
        frac = min(1.0, max(0.0, (total - step) / (total / 2)))
        for name, opt in self.optimizers.items():
            for group in opt.param_groups:
                group["lr"] = self.base_lr[name] * frac

    def translate(self, x: torch.Tensor, net: Optional[nn.Module] = None) -> torch.Tensor:
        return run_padded(net or self.G_AB, x, self.device)

    def state(self):  # noqa: ANN201
        tensors, meta = super().state()
        tensors["pools"] = {k: p.images for k, p in self.pools.items() if p.images is not None}
        return tensors, meta

    def load(self, tensors: dict, meta: dict, weights_only: bool = False) -> None:
        super().load(tensors, meta, weights_only)
        if weights_only:
            return
        for name, pool in self.pools.items():
            got = tensors.get("pools", {}).get(name)
            pool.images = got.to(self.device) if got is not None else None
        self.end_step(int(meta.get("step", 0)), 0)   # the schedule's learning rate at this step
