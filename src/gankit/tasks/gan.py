"""The unconditional GAN task: one generator, one discriminator, an EMA of the generator.

Phases per step: D learns to tell the real batch from G(z) (plus a gradient penalty for wgan-gp);
then, every `n_critic` steps, G learns to fool D; every `r1_every` steps a lazy R1 penalty on real
images. The fake batch is drawn once per step and reused by the D and G phases (G has not changed
in between), which saves one generator forward pass per step. With `augment`, D only ever sees
DiffAugment-ed images, real and fake alike.
"""
from __future__ import annotations

import copy
from typing import Any, Optional

import torch
from torch import nn

from ..augment import diff_augment, parse_policy
from ..config import RunConfig
from ..errors import ConfigError
from ..objectives import get_objective
from ..penalties import gradient_penalty, r1_penalty
from ..train.optim import adam
from ..train.trainer import Phase


class GANTask:
    def __init__(self, G: nn.Module, D: nn.Module, cfg: RunConfig, device: torch.device):
        t = cfg.train
        self.cfg, self.device = cfg, device
        self.z_dim = int(getattr(G, "z_dim", cfg.model.z_dim))
        self.G, self.D = G.to(device), D.to(device)
        self.nets: dict[str, nn.Module] = {"G": self.G, "D": self.D}
        self.G_ema: Optional[nn.Module] = None
        if t.ema_halflife > 0:
            self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
            self.nets["G_ema"] = self.G_ema
        betas = (t.beta1, t.beta2)
        self.optimizers = {"G": adam(self.G.parameters(), t.lr, betas),
                           "D": adam(self.D.parameters(), t.lr_d or t.lr, betas)}
        lc = cfg.loss
        self.objective = get_objective(lc.loss)
        self.policy = parse_policy(lc.augment)
        if lc.n_critic < 1 or lc.r1_every < 1:
            raise ConfigError("--n-critic and --r1-every must be at least 1")
        if self.policy and len(cfg.data_shape) != 3:
            raise ConfigError(f"--augment works on images; these samples have shape "
                              f"{list(cfg.data_shape)}")
        self.generators = {"noise": torch.Generator(device).manual_seed(t.seed * 2 + 1),
                           "aux": torch.Generator(device).manual_seed(t.seed * 2 + 2)}
        self.phases = [Phase("D", ("D",), self.d_loss, grad=("D", "G")),
                       Phase("G", ("G",), self.g_loss, every=lc.n_critic)]
        if lc.r1_gamma > 0:   # lazy regularization: a phase of its own, scaled by its interval
            self.phases.append(Phase("R1", ("D",), self.r1_loss, every=lc.r1_every))
        self._fake: Optional[torch.Tensor] = None
        self._step = 0

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        """DiffAugment: the same random transforms are applied to real and fake batches alike."""
        return diff_augment(x, self.policy, self.generators["aux"]) if self.policy else x

    def noise(self, n: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        gen = generator or self.generators["noise"]
        return torch.randn(n, self.z_dim, generator=gen, device=gen.device)

    def d_loss(self, real: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        g_step_now = self._step % self.cfg.loss.n_critic == 0
        with torch.set_grad_enabled(g_step_now):   # keep G's graph only if the G phase runs now
            fake = self.G(self.noise(real.shape[0]))
        self._fake = fake if g_step_now else None
        # Logits as fp32 (bf16 under --precision bf16): every objective computes in fp32.
        real_logits = self.D(self.augment(real)).float()
        fake_logits = self.D(self.augment(fake.detach())).float()
        loss = self.objective.d_loss(real_logits, fake_logits)
        stats = {"d_loss": loss, "d_real": torch.sigmoid(real_logits).mean(),
                 "d_fake": torch.sigmoid(fake_logits).mean()}
        if self.objective.needs_penalty == "gp":
            gp = gradient_penalty(self.D, real, fake.detach(), self.generators["aux"])
            stats["gp"] = gp
            loss = loss + self.cfg.loss.gp_weight * gp
        return loss, stats

    def g_loss(self, real: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        fake, self._fake = self._fake, None
        loss = self.objective.g_loss(self.D(self.augment(fake)).float())
        return loss, {"g_loss": loss}

    def r1_loss(self, real: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        r1 = r1_penalty(self.D, self.augment(real))
        lc = self.cfg.loss
        return r1 * (lc.r1_gamma / 2 * lc.r1_every), {"r1": r1}

    @torch.no_grad()
    def end_step(self, step: int, nimg: int) -> None:
        """Move the EMA generator toward G. The half-life ramps up with training (StyleGAN2-ADA's
        rule: at most 5% of the images seen so far), so short runs are not stuck at their start."""
        self._step = step
        if self.G_ema is None:
            return
        batch = self.cfg.train.batch_size
        halflife = min(self.cfg.train.ema_halflife, nimg * 0.05)
        beta = 0.5 ** (batch / max(halflife, 1e-8))
        ema_p, p = list(self.G_ema.parameters()), list(self.G.parameters())
        torch._foreach_lerp_(ema_p, p, 1.0 - beta)
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)

    @property
    def sampler_net(self) -> nn.Module:
        return self.G_ema if self.G_ema is not None else self.G

    @torch.no_grad()
    def generate(self, z: torch.Tensor, ema: bool = True, batch: int = 500) -> torch.Tensor:
        """Samples for noise z [N, z_dim] -> [N, *data_shape] on the CPU, nets in eval mode."""
        net = self.sampler_net if ema else self.G
        was_training = net.training
        net.eval()
        try:
            out = [net(z[i:i + batch].to(self.device)).float().cpu() for i in range(0, len(z), batch)]
        finally:
            net.train(was_training)
        return torch.cat(out) if out else torch.empty(0, *self.cfg.data_shape)

    # --- checkpoint contents -------------------------------------------------------------
    def state(self) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
        from ..train.state import optimizer_state
        tensors = {name: net.state_dict() for name, net in self.nets.items()}
        meta: dict[str, Any] = {}
        for name, opt in self.optimizers.items():
            tensors[f"opt_{name}"], meta[f"opt_{name}"] = optimizer_state(opt)
        tensors["rng"] = {k: g.get_state() for k, g in self.generators.items()}
        return tensors, meta

    def load(self, tensors: dict[str, dict[str, torch.Tensor]], meta: dict[str, Any],
             weights_only: bool = False) -> None:
        from ..train.state import load_module_state, load_optimizer_state
        for name, net in self.nets.items():
            if name in tensors:
                load_module_state(net, tensors[name], name)
        if weights_only:
            return
        self._step = int(meta.get("step", 0))
        for name, opt in self.optimizers.items():
            load_optimizer_state(opt, tensors.get(f"opt_{name}", {}), meta[f"opt_{name}"])
        for k, g in self.generators.items():
            g.set_state(tensors["rng"][k])
