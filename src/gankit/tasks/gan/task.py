"""The GAN task: one generator, one discriminator, an EMA of the generator; unconditional, or
class-conditional when the batches carry labels.

Phases per step: D learns to tell the real batch from G(z) (plus a gradient penalty for wgan-gp);
then, every `n_critic` steps, G learns to fool D; every `r1_every` steps a lazy R1 penalty on real
images. The fake batch is drawn once per step and reused by the D and G phases (G has not changed
in between), which saves one generator forward pass per step. With `augment`, D only ever sees
DiffAugment-ed images, real and fake alike. Conditional: the batch is (images, labels), the fake
batch gets the real batch's labels (so generated classes follow the data's class frequencies), and
D is called as D(x, y); an ACGAN D also returns class logits: D minimises their cross-entropy on
real images, G on its fakes. (The original ACGAN also trains D's classifier on fakes; measured
here, that lets G and D agree on a private code for the class, and samples stop looking like their
class: 0% label accuracy on Fashion-MNIST.)
"""
from __future__ import annotations

import copy
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ...config import RunConfig
from ...diffaugment import diff_augment, parse_policy
from ...errors import ConfigError
from ...objectives import get_objective
from ...penalties import gradient_penalty, r1_penalty
from ...train.optim import adam_for
from ...train.trainer import Phase
from ..base import GeneratorTask, seeded_generators


class GANTask(GeneratorTask):
    def __init__(self, G: nn.Module, D: nn.Module, cfg: RunConfig, device: torch.device):
        t = cfg.train
        self.cfg, self.device = cfg, device
        self.z_dim = int(getattr(G, "z_dim", cfg.model.z_dim))
        self.conditional = cfg.model.conditional
        self.num_classes = cfg.num_classes
        self.G, self.D = G.to(device), D.to(device)
        self.nets: dict[str, nn.Module] = {"G": self.G, "D": self.D}
        self.G_ema: Optional[nn.Module] = None
        if t.ema_halflife > 0:
            self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
            self.nets["G_ema"] = self.G_ema
        self.optimizers = adam_for({"G": self.G, "D": self.D}, t)
        lc = cfg.loss
        self.objective = get_objective(lc.loss, pairs=True)
        self.policy = parse_policy(lc.augment)
        if lc.n_critic < 1 or lc.r1_every < 1:
            raise ConfigError("--n-critic and --r1-every must be at least 1")
        if self.policy and len(cfg.data_shape) != 3:
            raise ConfigError(f"--augment works on images; these samples have shape "
                              f"{list(cfg.data_shape)}")
        self.generators = seeded_generators(t.seed, device, "noise", "aux")
        self.phases = [Phase("D", ("D",), self.d_loss, grad=("D", "G")),
                       Phase("G", ("G",), self.g_loss, every=lc.n_critic)]
        if lc.r1_gamma > 0 or lc.r2_gamma > 0:   # lazy regularization: a phase of its own,
            # scaled by its interval
            self.phases.append(Phase("R1", ("D",), self.r1_loss, every=lc.r1_every))
        self._fake: Optional[torch.Tensor] = None
        self._labels: Optional[torch.Tensor] = None

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        """DiffAugment: the same random transforms are applied to real and fake batches alike."""
        return diff_augment(x, self.policy, self.generators["aux"]) if self.policy else x

    def _generate(self, net: nn.Module, z: torch.Tensor, y: Optional[torch.Tensor]) -> torch.Tensor:
        return net(z, y) if self.conditional else net(z)

    def critic(self, x: torch.Tensor, y: Optional[torch.Tensor],
                ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """(logits [N], class logits [N, K] or None) of D on x, as fp32 (bf16 under --precision
        bf16): every objective computes in fp32."""
        if not self.conditional:
            return self.D(x).float(), None
        out = self.D(x, y)
        if isinstance(out, tuple):
            return out[0].float(), out[1].float()
        return out.float(), None

    def d_loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        real, y = self._split(batch)
        g_step_now = self._step % self.cfg.loss.n_critic == 0
        with torch.set_grad_enabled(g_step_now):   # keep G's graph only if the G phase runs now
            fake = self._generate(self.G, self.noise(real.shape[0]), y)
        self._fake, self._labels = (fake, y) if g_step_now else (None, None)
        real_logits, real_cls = self.critic(self.augment(real), y)
        fake_logits, fake_cls = self.critic(self.augment(fake.detach()), y)
        loss = self.objective.d_loss(real_logits, fake_logits)
        stats = {"d_loss": loss, "d_real": torch.sigmoid(real_logits).mean(),
                 "d_fake": torch.sigmoid(fake_logits).mean()}
        if real_cls is not None:   # ACGAN: D learns the classes of real images only (see above)
            cls = F.cross_entropy(real_cls, y)
            stats["d_cls"] = cls
            loss = loss + cls
        if self.objective.needs_penalty == "gp":
            gp = gradient_penalty(lambda x: self.critic(x, y)[0], real, fake.detach(),
                                  self.generators["aux"])
            stats["gp"] = gp
            loss = loss + self.cfg.loss.gp_weight * gp
        return loss, stats

    def g_loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        fake, y = self._fake, self._labels
        self._fake = self._labels = None
        logits, cls = self.critic(self.augment(fake), y)
        if self.objective.relativistic:   # each fake is judged against a real partner
            with torch.no_grad():
                real_logits = self.critic(self.augment(self._split(batch)[0]), y)[0]
            loss = self.objective.g_loss(logits, real_logits)
        else:
            loss = self.objective.g_loss(logits)
        stats = {"g_loss": loss}
        if cls is not None:
            stats["g_cls"] = F.cross_entropy(cls, y)
            loss = loss + stats["g_cls"]
        return loss, stats

    def r1_loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """R1 on real images and R2 on generated ones (gamma / 2 each, times the interval)."""
        real, y = self._split(batch)
        lc, stats = self.cfg.loss, {}
        loss = torch.zeros((), device=real.device)
        if lc.r1_gamma > 0:
            stats["r1"] = r1_penalty(lambda x: self.critic(x, y)[0], self.augment(real))
            loss = loss + lc.r1_gamma / 2 * stats["r1"]
        if lc.r2_gamma > 0:
            with torch.no_grad():
                fake = self._generate(self.G, self.noise(real.shape[0]), y)
            stats["r2"] = r1_penalty(lambda x: self.critic(x, y)[0], self.augment(fake))
            loss = loss + lc.r2_gamma / 2 * stats["r2"]
        return loss * lc.r1_every, stats

    def end_step(self, step: int, nimg: int) -> None:
        """Move the EMA generator toward G (GeneratorTask.follow), counting the images of this
        step over all processes."""
        self._step = step
        self.follow(self.cfg.train.batch_size * self.world, self.cfg.train.ema_halflife, nimg)

    @property
    def sampler_net(self) -> nn.Module:
        return self.G_ema if self.G_ema is not None else self.G

    def balanced_labels(self, n: int) -> torch.Tensor:
        """0, 1, …, K-1, 0, 1, …: n class labels, every class equally often (±1)."""
        return torch.arange(n) % max(self.num_classes, 1)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, ema: bool = True, batch: int = 500,
                 labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Samples for noise z [N, z_dim] -> [N, *data_shape] on the CPU, nets in eval mode.
        A conditional G draws class `labels` [N] (default: balanced classes)."""
        net = self.sampler_net if ema else self.G
        if self.conditional and labels is None:
            labels = self.balanced_labels(len(z))
        was_training = net.training
        net.eval()
        try:
            out = []
            for i in range(0, len(z), batch):
                y = labels[i:i + batch].to(self.device) if self.conditional else None
                out.append(self._generate(net, z[i:i + batch].to(self.device), y).float().cpu())
        finally:
            net.train(was_training)
        return torch.cat(out) if out else torch.empty(0, *self.cfg.data_shape)
