"""GANs for text: words, names, short sentences from a plain text file, one item per line.

    gankit train --task text --dataset words.txt --steps 20000           # characters
    gankit train --task text --dataset sentences.txt --unit word --vocab-size 2000
    gankit sample runs/words-resnet1d-001 --num 100 --output words.txt
    gankit eval runs/words-resnet1d-001                                 # n-gram JSD, valid, novel

Three text models (`--text-model`):

mle-gan (the default; a maximum-likelihood warm start, then a RelGAN-style adversarial phase):
G is an autoregressive LSTM. For the first `--mle-steps` steps the only phase is maximum
likelihood (next-unit cross-entropy, Adam 2e-3); then D, a 1-D conv resnet, and G play a
relativistic pairing GAN (`--loss rpgan`: D scores each real item above its paired fake), one D
step per G step, Adam(1e-4), G keeping `--mle-weight` times the likelihood loss beside it. D sees
G's own draws as one-hot sequences, the form of real data; G's gradient comes through their
Gumbel-softmax relaxation (straight through), its temperature falling from 1 to `--tau-min`
over the adversarial steps. Measured on words (bench/text.py): when D saw the soft relaxations
themselves it told them from one-hot data by their softness, and G collapsed onto one word
within a thousand steps; without the likelihood term the game made its warm start's n-gram and
validity scores worse.

softmax (Gulrajani et al. 2017, the WGAN-GP language model): G maps noise to a softmax over the
vocabulary at every position of a fixed-length sequence, [N, V, L]; D scores one-hot real
sequences against those softmaxes; Wasserstein loss, gradient penalty 10, 5 critic steps per G
step, Adam(1e-4, 0.5, 0.9). A sample is the argmax at each position, read up to the end mark.
`gumbel`: the same nets, D seeing Gumbel-softmax samples of G's logits instead.

Temperatures and phases are functions of the step (never of the clock), so a resumed run anneals
and switches phase exactly as an uninterrupted one.

Data, vocabulary, padding and the held-out split: see gankit.data.text. Scores: gankit.metrics.text.
The run directory also holds vocab.json (the units in id order), so sampling needs no data.

This module: the phase object (TextTask) and its nets; options.py: the flags and recipes;
facade.py: TextGAN and its runs.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ...config import RunConfig
from ...data.text import END, PAD
from ...errors import ConfigError
from ...nets.text import TextCritic, TextGenerator, TextLSTMGenerator, gumbel_noise
from ...objectives import get_objective
from ...penalties import gradient_penalty
from ...train.optim import adam_for
from ...train.trainer import Phase
from ..base import TaskBase, seeded_generators
from .options import D_WIDTH_MLE, DEFAULT_WIDTH, MLE_LR


def temperature(step: int, tau_min: float, tau_steps: int) -> float:
    """Gumbel-softmax temperature at a step: 1 at step 0, falling geometrically to tau_min at
    tau_steps, tau_min after."""
    return max(tau_min, tau_min ** (max(step, 0) / max(tau_steps, 1)))


class TextTask(TaskBase):
    """Nets G and D, phases as a function of the step. softmax and gumbel: G noise -> logits
    [N, V, L]; D every step, G every n_critic steps. mle-gan: G an LSTM; the phase MLE alone
    while step < mle_steps, then D and G. D scores sequences [N, V, L] -> [N]. The fake batch
    of a step is reused by its G phase."""

    def __init__(self, G: nn.Module, D: nn.Module, cfg: RunConfig, device: torch.device):
        t, lc = cfg.train, cfg.loss
        self.cfg, self.device = cfg, device
        self.G, self.D = G.to(device), D.to(device)
        self.nets: dict[str, nn.Module] = {"G": self.G, "D": self.D}
        self.optimizers = adam_for({"G": self.G, "D": self.D}, t)
        self.objective = get_objective(lc.loss, pairs=True)   # G's phase sees the real batch
        if lc.n_critic < 1:
            raise ConfigError("--n-critic must be at least 1")
        self.generators = seeded_generators(t.seed, device, "noise", "aux")
        self.adversarial = [Phase("D", ("D",), self.d_loss, grad=("D", "G")),
                            Phase("G", ("G",), self.g_loss, every=lc.n_critic)]
        self.warm_start = [Phase("MLE", ("G",), self.mle_loss)]
        self._fake: Optional[torch.Tensor] = None
        self._real_s: Optional[torch.Tensor] = None
        if self.in_mle():
            self._set_g_lr(MLE_LR)

    @property
    def model(self) -> str:
        return self.cfg.options.text_model

    @property
    def mle_steps(self) -> int:
        return (self.cfg.options.mle_steps or 0) if self.model == "mle-gan" else 0

    def in_mle(self, step: Optional[int] = None) -> bool:
        return (self._step if step is None else step) < self.mle_steps

    @property
    def phases(self) -> list[Phase]:
        """What the trainer walks at the current step: the warm start, then the game."""
        return self.warm_start if self.in_mle() else self.adversarial

    def _set_g_lr(self, lr: float) -> None:
        for group in self.optimizers["G"].param_groups:
            group["lr"] = lr

    def tau(self, step: Optional[int] = None) -> float:
        """The Gumbel-softmax temperature: it starts falling when the adversarial phase starts."""
        o = self.cfg.options
        step = self._step if step is None else step
        return temperature(step - self.mle_steps, o.tau_min, o.tau_steps or 1)

    def noise(self, n: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        gen = generator or self.generators["noise"]
        return torch.randn(n, self.G.z_dim, generator=gen, device=gen.device)

    def fake(self, n: int) -> torch.Tensor:
        """What D sees of G [N, V, L]: a softmax of its logits, or a Gumbel-softmax sample."""
        if self.model == "mle-gan":
            # straight through: D sees the drawn one-hot sequence, the form of real data (a soft
            # relaxation D can tell by its softness alone, and G then collapses to beat that);
            # G's gradient is the relaxation's
            ids, soft = self.G.sample(n, self.generators["noise"], self.tau())
            hard = F.one_hot(ids, soft.shape[1]).transpose(1, 2).to(soft.dtype)
            return hard + soft - soft.detach()
        logits = self.G(self.noise(n)).float()
        if self.model == "gumbel":
            logits = (logits + gumbel_noise(tuple(logits.shape), self.generators["noise"])) \
                / self.tau()
        return torch.softmax(logits, dim=1)

    def mle_loss(self, real: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Next-unit cross-entropy (nats per unit) of the real batch [N, V, L], padding ignored."""
        ids = real.argmax(1)                                                 # [N, L]
        loss = F.cross_entropy(self.G(ids).float(), ids, ignore_index=PAD)
        return loss, {"mle_loss": loss}

    def d_loss(self, real: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        g_step_now = self._step % self.cfg.loss.n_critic == 0
        with torch.set_grad_enabled(g_step_now):   # keep G's graph only if the G phase runs now
            fake = self.fake(real.shape[0])
        self._fake = fake if g_step_now else None
        real_s, fake_s = self.D(real).float(), self.D(fake.detach()).float()
        loss = self.objective.d_loss(real_s, fake_s)
        if self.objective.relativistic and g_step_now:   # G's fakes are paired with these reals
            self._real_s = real_s.detach()
        # real minus fake score: the critic's estimate of the Wasserstein distance under wgan-gp
        stats = {"d_loss": loss, "w_dist": real_s.mean() - fake_s.mean()}
        if self.objective.needs_penalty == "gp":
            gp = gradient_penalty(self.D, real, fake.detach(), self.generators["aux"])
            stats["gp"] = gp
            loss = loss + self.cfg.loss.gp_weight * gp
        return loss, stats

    def g_loss(self, real: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        fake, self._fake = self._fake, None
        fake_s = self.D(fake).float()
        if self.objective.relativistic:
            # the reals' scores from this step's D phase (before D's update), as paired there
            loss = self.objective.g_loss(fake_s, self._real_s)
        else:
            loss = self.objective.g_loss(fake_s)
        stats = {"g_loss": loss}
        if self.model == "mle-gan" and self.cfg.options.mle_weight:
            mle, _ = self.mle_loss(real)
            stats["mle_loss"] = mle
            loss = loss + self.cfg.options.mle_weight * mle
        if self.model != "softmax":
            stats["tau"] = torch.tensor(self.tau())
        return loss, stats

    def end_step(self, step: int, nimg: int) -> None:
        if step == self.mle_steps and self.mle_steps and self._step < step:
            # the game starts: G's own Adam afresh, at the adversarial learning rate
            self.optimizers["G"].state.clear()
            self._set_g_lr(self.cfg.train.lr)
        super().end_step(step, nimg)

    @torch.no_grad()
    def generate_ids(self, n: int, generator: torch.Generator, batch: int = 1000
                     ) -> torch.Tensor:
        """Token ids [n, L]. mle-gan: ancestral draws; softmax: the argmax at each position of
        G(noise); gumbel: a categorical draw at each position (Gumbel-max). All from `generator`."""
        out = []
        for i in range(0, n, batch):
            m = min(batch, n - i)
            if self.model == "mle-gan":
                ids = self.G.sample(m, generator)[0]
                ids[:, -1] = END           # cut at max_len, as the sequences D sees are
                out.append(ids.cpu())
                continue
            logits = self.G(self.noise(m, generator)).float()
            if self.model == "gumbel":
                logits = logits + gumbel_noise(tuple(logits.shape), generator)
            out.append(logits.argmax(1).cpu())
        return torch.cat(out) if out else torch.empty(0, self.G.length, dtype=torch.long)

    def load(self, tensors: dict, meta: dict, weights_only: bool = False) -> None:
        super().load(tensors, meta, weights_only)   # G's lr comes with its optimizer
        # the step with the weights alone too: the phase and the temperature follow it
        self._step = int(meta.get("step", 0))


def build_nets(cfg: RunConfig) -> tuple[nn.Module, nn.Module]:
    """G and D of a resolved config (data_shape (V, L)), their initial weights from the seed."""
    vocab, length = cfg.data_shape
    m = cfg.model
    width = m.width or DEFAULT_WIDTH[cfg.options.text_model]
    torch.manual_seed(cfg.train.seed)
    if cfg.options.text_model == "mle-gan":
        return TextLSTMGenerator(vocab, length, width), TextCritic(vocab, length, D_WIDTH_MLE)
    return TextGenerator(vocab, length, m.z_dim, width), TextCritic(vocab, length, width)


__all__ = ["TextTask", "build_nets", "temperature"]
