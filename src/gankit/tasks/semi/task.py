"""The semi-supervised GAN's phase object: D classifies K classes (a K+1-th "fake" class with its
logit fixed at 0) on labeled images and tells real from fake on unlabeled ones; G learns by
feature matching."""
from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ...config import RunConfig
from ...errors import ConfigError
from ...nets.semi import (
    DEFAULT_WIDTH,
    SemiClassifier,
    SemiGenerator,
    classifier_sizes,
    noise_layers,
)
from ...train.optim import adam_for
from ...train.trainer import Phase
from ..base import TaskBase, seeded_generators
from .options import TASK

MODELS = ("ssl-mlp",)


def unlabeled_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """D's real-vs-fake loss with the fake class's logit fixed at 0: -log D(real) - log(1 -
    D(fake)), D = Z / (Z + 1), halved as in the paper."""
    lse_real, lse_fake = torch.logsumexp(real_logits, 1), torch.logsumexp(fake_logits, 1)
    return 0.5 * (F.softplus(-lse_real).mean() + F.softplus(lse_fake).mean())


def feature_matching(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """Mean squared distance between the batch means of D's features on real and fake images."""
    return (real_features.detach().mean(0) - fake_features.mean(0)).pow(2).mean()


class SemiTask(TaskBase):
    """Named nets {"G", "D"}, one Adam each, phases D (classify + real vs fake) and G (feature
    matching, against D as the D phase left it). D's phase draws its fake batch without G's
    graph; G's phase draws a fresh one."""

    def __init__(self, G: nn.Module, D: nn.Module, cfg: RunConfig, device: torch.device):
        t = cfg.train
        self.cfg, self.device = cfg, device
        self.G, self.D = G.to(device), D.to(device)
        self.nets: dict[str, nn.Module] = {"G": self.G, "D": self.D}
        self.optimizers = adam_for(self.nets, t)
        self.generators = seeded_generators(t.seed, device, "noise", "aux")
        for layer in noise_layers(self.D):   # D's Gaussian noise comes from a saved generator
            layer.generator = self.generators["aux"]
        self.phases = [Phase("D", ("D",), self.d_loss, grad=("D",)),
                       Phase("G", ("G",), self.g_loss)]

    def noise(self, n: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        gen = generator or self.generators["noise"]
        return torch.randn(n, self.cfg.model.z_dim, generator=gen, device=gen.device)

    def d_loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        xu, xl, yl = batch
        with torch.no_grad():
            fake = self.G(self.noise(len(xu)))
        lab_logits = self.D(xl).float()
        sup = F.cross_entropy(lab_logits, yl)
        real_logits, fake_logits = self.D(xu).float(), self.D(fake).float()
        unl = unlabeled_loss(real_logits, fake_logits)
        stats = {"d_sup": sup, "d_unsup": unl,
                 "train_acc": (lab_logits.argmax(1) == yl).float().mean(),
                 # D's belief that an image is real (not named d_real/d_fake: here D winning is
                 # the point, and the divergence guard must not read it as G losing the game)
                 "p_real": torch.sigmoid(torch.logsumexp(real_logits, 1)).mean(),
                 "p_fake": torch.sigmoid(torch.logsumexp(fake_logits, 1)).mean()}
        return sup + unl, stats

    def g_loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        xu = batch[0]
        fake = self.G(self.noise(len(xu)))
        _, real_f = self.D.features(xu)
        _, fake_f = self.D.features(fake)
        loss = feature_matching(real_f.float(), fake_f.float())
        return loss, {"g_loss": loss}

    def critic(self, x: torch.Tensor, y: Optional[torch.Tensor] = None,
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(D's real-vs-fake logit [N] = lse of its class logits, the class logits [N, K]): what
        the report's held-out D loss reads, as it reads an image GAN's D."""
        logits = self.D(x).float()
        return torch.logsumexp(logits, 1), logits

    @torch.no_grad()
    def generate(self, z: torch.Tensor, ema: bool = True, batch: int = 500,
                 labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """G's samples for noise z [N, z_dim] -> [N, *data_shape] on the CPU, in eval mode (G has
        no moving average and draws no classes: `ema` and `labels` are there for the callers of
        an image GAN's generate)."""
        was = self.G.training
        self.G.eval()
        try:
            out = [self.G(z[i:i + batch].to(self.device)).float().cpu()
                   for i in range(0, len(z), batch)]
        finally:
            self.G.train(was)
        return torch.cat(out) if out else torch.empty(0, *self.cfg.data_shape)

    @torch.no_grad()
    def logits(self, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
        """D's class logits [N, K] for samples x [N, *data_shape] in [-1, 1], in eval mode (no
        noise)."""
        was = self.D.training
        self.D.eval()
        try:
            out = [self.D(x[i:i + batch].to(self.device).float()).float().cpu()
                   for i in range(0, len(x), batch)]
        finally:
            self.D.train(was)
        return torch.cat(out) if out else torch.empty(0, self.cfg.num_classes)


def build_nets(cfg: RunConfig) -> tuple[nn.Module, nn.Module]:
    m = cfg.model
    if m.model not in MODELS:
        raise ConfigError(f"--task {TASK} has the model(s) {', '.join(MODELS)}, not {m.model!r}")
    torch.manual_seed(cfg.train.seed)   # the nets' initial weights come from the seed
    w = m.width or DEFAULT_WIDTH   # D: w, w/2, w/4, w/4, w/4
    G = SemiGenerator(cfg.data_shape, m.z_dim, max(w // 2, 1))
    D = SemiClassifier(cfg.data_shape, cfg.num_classes, classifier_sizes(w))
    return G, D
