"""pix2pix's phase object: G (U-Net) and D (PatchGAN) on the shared trainer, D judging (A, B)
pairs, G trained on the adversarial loss of `--loss` + `--l1-weight` x L1(G(A), B); and
run_padded, how a translation net is run on pictures of any size."""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ...config import RunConfig
from ...errors import ConfigError
from ...nets.unet import SeededDropout
from ...objectives import get_objective
from ...train.optim import adam_for
from ...train.trainer import Phase
from ..base import TaskBase, seeded_generators
from .data import pad_end


@torch.no_grad()
def run_padded(net: nn.Module, x: torch.Tensor, device: torch.device, batch: int = 16
               ) -> torch.Tensor:
    """A fully convolutional net on inputs [N, C, H, W] of any size: padded (reflect) to a
    multiple of 2**net.depth, run in eval mode in batches, cropped back; the output on the CPU."""
    m = 2 ** net.depth
    h, w = x.shape[-2:]
    ph, pw = (-h) % m, (-w) % m
    was = net.training
    net.eval()
    try:
        out = []
        for i in range(0, len(x), batch):
            xi = pad_end(x[i:i + batch].to(device).float(), ph, pw)
            out.append(net(xi)[..., :h, :w].float().cpu())
    finally:
        net.train(was)
    return torch.cat(out)


class Pix2PixTask(TaskBase):
    """Nets G (U-Net) and D (PatchGAN); phases D then G; G's output is reused by the G phase."""

    def __init__(self, G: nn.Module, D: nn.Module, cfg: RunConfig, device: torch.device):
        t, lc = cfg.train, cfg.loss
        self.cfg, self.device = cfg, device
        self.G, self.D = G.to(device), D.to(device)
        self.nets: dict[str, nn.Module] = {"G": self.G, "D": self.D}
        self.optimizers = adam_for({"G": self.G, "D": self.D}, t)
        # --loss none: L1 only, D never trained (the no-GAN ablation of the benchmark)
        self.objective = None if lc.loss == "none" else get_objective(lc.loss)
        if self.objective is not None and self.objective.needs_penalty:
            raise ConfigError(f"--loss {lc.loss} needs a gradient penalty, which pix2pix does not "
                              f"have: use ns, lsgan, hinge or none (L1 only)")
        self.generators = seeded_generators(t.seed, device, "dropout")
        for m in self.G.modules():   # G's dropout is its noise: seeded, and saved with the run
            if isinstance(m, SeededDropout):
                m.generator = self.generators["dropout"]
        self.phases = [Phase("D", ("D",), self.d_loss, grad=("D", "G")),
                       Phase("G", ("G",), self.g_loss)]
        if self.objective is None:
            self.phases = [Phase("G", ("G",), self.g_loss)]
        self._fake: Optional[torch.Tensor] = None

    def d_loss(self, batch: tuple[torch.Tensor, torch.Tensor]):  # noqa: ANN201
        a, b = batch
        fake = self.G(a)
        self._fake = fake
        real_logits = self.D(torch.cat([a, b], 1)).float()
        fake_logits = self.D(torch.cat([a, fake.detach()], 1)).float()
        loss = self.objective.d_loss(real_logits, fake_logits)
        return loss, {"d_loss": loss, "d_real": torch.sigmoid(real_logits).mean(),
                      "d_fake": torch.sigmoid(fake_logits).mean()}

    def g_loss(self, batch: tuple[torch.Tensor, torch.Tensor]):  # noqa: ANN201
        a, b = batch
        fake, self._fake = self._fake, None
        if self.objective is None:   # L1 only
            fake = self.G(a)
            l1 = (fake.float() - b.float()).abs().mean()
            loss = self.cfg.options.l1_weight * l1
            return loss, {"g_loss": loss, "g_l1": l1}
        adv = self.objective.g_loss(self.D(torch.cat([a, fake], 1)).float())
        l1 = (fake.float() - b.float()).abs().mean()
        loss = adv + self.cfg.options.l1_weight * l1
        return loss, {"g_loss": loss, "g_adv": adv, "g_l1": l1}

    def translate(self, a: torch.Tensor) -> torch.Tensor:
        return run_padded(self.G, a, self.device)
