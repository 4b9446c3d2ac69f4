"""The video GAN's phases (MoCoGAN's, for either generator): the image critic judges
`critic_frames` random frames of each clip (the paper: one), the video critic the whole clip;
both learn in one D phase, then G learns to fool both. The fake clips drawn for D are reused by
the G phase of the same step (G has not changed in between), which saves one generator pass per
step. With `video_every` N, the steps between whole-clip steps train the image critic alone on
only the frames it judges. Optional: clip-consistent DiffAugment, a lazy R1 phase on both
critics. A moving average of G samples.
"""
from __future__ import annotations

import copy
from typing import Any, Optional

import torch
from torch import nn

from ...config import RunConfig
from ...diffaugment import diff_augment, parse_policy
from ...errors import ConfigError
from ...nets.video import FrameCritic, LayeredGenerator, VideoCritic, VideoGenerator
from ...objectives import get_objective
from ...penalties import r1_penalty
from ...train.optim import adam_for
from ...train.trainer import Phase
from ..base import GeneratorTask, seeded_generators
from .options import MODELS


def build_nets(cfg: RunConfig) -> tuple[nn.Module, nn.Module, nn.Module]:
    """G, the frame critic and the video critic for `cfg` (initial weights from its seed)."""
    o, m = cfg.options, cfg.model
    if m.model not in MODELS:
        raise ConfigError(f"unknown video model {m.model!r}: the video task has "
                          f"{', '.join(MODELS)}")
    torch.manual_seed(cfg.train.seed)
    classes = cfg.num_classes if m.conditional else 0
    if m.model == "layered":
        G: VideoGenerator = LayeredGenerator(cfg.data_shape, o.content_dim, o.motion_dim,
                                             o.noise_dim, m.width, classes, o.layers, o.pose)
    else:
        G = VideoGenerator(cfg.data_shape, o.content_dim, o.motion_dim, o.noise_dim, m.width,
                           classes)
    norm = m.d_norm or "none"
    return (G, FrameCritic(tuple(cfg.data_shape[1:]), m.width, norm),
            VideoCritic(cfg.data_shape, m.width, classes, norm))


class VideoTask(GeneratorTask):
    def __init__(self, nets: tuple[nn.Module, nn.Module, nn.Module], cfg: RunConfig,
                 device: torch.device):
        self.cfg, self.device = cfg, device
        G, D_img, D_vid = (net.to(device) for net in nets)
        self.G, self.D_img, self.D_vid = G, D_img, D_vid
        self.z_dim, self.conditional = G.z_dim, cfg.model.conditional
        self.nets: dict[str, nn.Module] = {"G": G, "D_img": D_img, "D_vid": D_vid}
        self.G_ema: Optional[nn.Module] = None
        if cfg.train.ema_halflife > 0:
            self.G_ema = copy.deepcopy(G).eval().requires_grad_(False)
            self.nets["G_ema"] = self.G_ema
        self.optimizers = adam_for({"G": G, "D_img": D_img, "D_vid": D_vid}, cfg.train)
        self.objective = get_objective(cfg.loss.loss, pairs=True)
        if self.objective.needs_penalty or self.objective.relativistic:
            raise ConfigError(f"--loss {cfg.loss.loss} is not offered for video yet: use ns or "
                              f"hinge")
        lc = cfg.loss
        self.policy = parse_policy(lc.augment)
        if "color" in self.policy:
            raise ConfigError("--augment for clips takes translation and cutout (the same for "
                              "every frame of a clip); color is not offered")
        self.generators = seeded_generators(cfg.train.seed, device, "noise", "aux")
        self.phases = [Phase("D", ("D_img", "D_vid"), self.d_loss, grad=("D_img", "D_vid", "G")),
                       Phase("G", ("G",), self.g_loss)]
        if lc.r1_gamma > 0:   # lazy regularization, scaled by its interval
            self.phases.append(Phase("R1", ("D_img", "D_vid"), self.r1_loss, every=lc.r1_every))
        self._fake: Optional[tuple[torch.Tensor, Optional[torch.Tensor], bool]] = None

    def augment(self, clips: torch.Tensor) -> torch.Tensor:
        """DiffAugment on clips [N, T, C, H, W]: one shift and one cutout per clip, the same in
        every frame (frames folded into channels), so augmenting never adds motion."""
        if not self.policy:
            return clips
        n, t, c, h, w = clips.shape
        out = diff_augment(clips.reshape(n, t * c, h, w), self.policy, self.generators["aux"])
        return out.reshape(n, t, c, h, w)

    def _frames(self, clips: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Frames idx [N, k] of each clip [N, T, C, H, W] -> [N * k, C, H, W]."""
        rows = torch.arange(len(clips), device=clips.device)[:, None]
        return clips[rows, idx].flatten(0, 1)

    def _judge(self, clips: torch.Tensor, idx: torch.Tensor, y: Optional[torch.Tensor]
               ) -> tuple[torch.Tensor, torch.Tensor]:
        clips = self.augment(clips)
        return (self.D_img(self._frames(clips, idx)).float(),
                self.D_vid(clips, y).float())

    def _index(self, clips: torch.Tensor) -> torch.Tensor:
        """`critic_frames` distinct random frame indices per clip [N, k]: the image critic's."""
        aux, t = self.generators["aux"], clips.shape[1]
        k = min(self.cfg.options.critic_frames, t)
        keys = torch.rand(len(clips), t, generator=aux, device=aux.device)
        return keys.argsort(1)[:, :k].to(clips.device)

    def video_step(self) -> bool:
        """Whether this step trains on whole clips (both critics); the others are image steps:
        G draws only the frames the image critic judges (`video_every`)."""
        return self._step % self.cfg.options.video_every == 0

    def d_loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        real, y = self._split(batch)
        idx = self._index(real)
        z = self.noise(len(real))
        if not self.video_step():
            fake = self.G(z, y, at=idx)                  # [N, k, C, H, W], kept for the G phase
            self._fake = (fake, y, False)
            real_img = self.D_img(self._frames(self.augment(real), idx)).float()
            fake_img = self.D_img(self.augment(fake.detach()).flatten(0, 1)).float()
            loss = self.objective.d_loss(real_img, fake_img)
            return loss, {"d_loss": loss, "d_img": loss}
        fake = self.G(z, y)                              # kept with its graph for the G phase
        self._fake = (fake, y, True)
        real_img, real_vid = self._judge(real, idx, y)
        fake_img, fake_vid = self._judge(fake.detach(), idx, y)
        loss_img = self.objective.d_loss(real_img, fake_img)
        loss_vid = self.objective.d_loss(real_vid, fake_vid)
        return loss_img + loss_vid, {
            "d_loss": loss_img + loss_vid, "d_img": loss_img, "d_vid": loss_vid,
            "d_real": torch.sigmoid(real_vid).mean(), "d_fake": torch.sigmoid(fake_vid).mean()}

    def g_loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        fake, y, whole = self._fake
        self._fake = None
        if not whole:                                    # an image step: frames only
            loss = self.objective.g_loss(self.D_img(self.augment(fake).flatten(0, 1)).float())
            return loss, {"g_loss": loss, "g_img": loss}
        fake_img, fake_vid = self._judge(fake, self._index(fake), y)
        loss_img, loss_vid = self.objective.g_loss(fake_img), self.objective.g_loss(fake_vid)
        return loss_img + loss_vid, {"g_loss": loss_img + loss_vid, "g_img": loss_img,
                                     "g_vid": loss_vid}

    def r1_loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """R1 on real clips for both critics (gamma / 2 each, times the interval)."""
        real, y = self._split(batch)
        real = self.augment(real)
        idx = self._index(real)
        r1_img = r1_penalty(lambda x: self.D_img(x).float(), self._frames(real, idx))
        r1_vid = r1_penalty(lambda x: self.D_vid(x, y).float(), real)
        lc = self.cfg.loss
        loss = lc.r1_gamma / 2 * (r1_img + r1_vid) * lc.r1_every
        return loss, {"r1_img": r1_img, "r1_vid": r1_vid}

    def balanced_labels(self, n: int) -> torch.Tensor:
        """0, 1, …, K-1, 0, 1, …: n class labels, every class equally often (±1)."""
        return torch.arange(n) % max(self.cfg.num_classes, 1)

    def end_step(self, step: int, nimg: int) -> None:
        super().end_step(step, nimg)
        self.follow(self.cfg.train.batch_size, self.cfg.train.ema_halflife, nimg)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, ema: bool = True, labels: Optional[torch.Tensor] = None,
                 batch: int = 64) -> torch.Tensor:
        """Clips for noise z [N, z_dim] -> [N, T, C, H, W] on the CPU, nets in eval mode."""
        net = self.G_ema if ema and self.G_ema is not None else self.G
        was = net.training
        net.eval()
        try:
            out = [net(z[i:i + batch].to(self.device),
                       None if labels is None else labels[i:i + batch].to(self.device)
                       ).float().cpu() for i in range(0, len(z), batch)]
        finally:
            net.train(was)
        return torch.cat(out) if out else torch.empty(0, *self.cfg.data_shape)


__all__ = ["VideoTask", "build_nets"]
