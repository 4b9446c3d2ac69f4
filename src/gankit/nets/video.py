"""MoCoGAN's nets (Tulyakov et al. 2018), written from the paper: a clip is a content code held
for the whole clip and a motion code per frame from a recurrent net; one 2-D generator draws each
frame from (content, motion). Two critics judge it: an image critic on single frames (are they
images of the data?) and a video critic of 3-D convolutions on the whole clip (does it move as
the data moves?).

Clips inside the library are floats [N, T, C, H, W] in [-1, 1].
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ..errors import ConfigError
from .dcgan import D_NORMS, DCGANDiscriminator, DCGANGenerator, plan
from .layers import init_weights, spectral_normalize


class VideoGenerator(nn.Module):
    """z [N, z_dim] -> clip [N, T, C, H, W] in [-1, 1] (labels [N] when conditional).

    z is one flat vector per clip, so that seeds, EMA sampling and export treat it as any
    generator's noise: its first `content_dim` entries are the content code, the rest T noise
    vectors of `noise_dim` that a GRU turns into the motion codes, frame by frame."""

    def __init__(self, clip_shape: tuple[int, int, int, int], content_dim: int = 48,
                 motion_dim: int = 16, noise_dim: int = 8, width: int = 32,
                 num_classes: int = 0):
        super().__init__()
        self.frames, *frame_shape = clip_shape
        self.clip_shape = tuple(clip_shape)
        self.content_dim, self.motion_dim, self.noise_dim = content_dim, motion_dim, noise_dim
        self.z_dim = content_dim + self.frames * noise_dim
        self.rnn = nn.GRUCell(noise_dim, motion_dim)
        self.embed = nn.Embedding(num_classes, content_dim) if num_classes else None
        self.frame = DCGANGenerator(tuple(frame_shape), content_dim + motion_dim, width)

    def motion(self, eps: torch.Tensor) -> torch.Tensor:
        """noise [N, T, noise_dim] -> motion codes [N, T, motion_dim]."""
        h = eps.new_zeros(eps.shape[0], self.motion_dim)
        codes = []
        for t in range(eps.shape[1]):
            h = self.rnn(eps[:, t], h)
            codes.append(h)
        return torch.stack(codes, 1)

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None,
                at: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The clips of z, or with `at` (frame indices [N, k]) only those frames [N, k, C, H, W]
        of them: the motion net still runs over every frame, the frame generator only on the
        frames asked for (what an image-critic step needs)."""
        n, t = z.shape[0], self.frames
        content = z[:, :self.content_dim]
        if self.embed is not None and y is not None:
            content = content + self.embed(y)
        motion = self.motion(z[:, self.content_dim:].reshape(n, t, self.noise_dim))
        if at is not None:
            motion = motion[torch.arange(n, device=z.device)[:, None], at]
            t = at.shape[1]
        codes = torch.cat([content[:, None].expand(n, t, self.content_dim), motion], 2)
        frames = self.frame(codes.reshape(n * t, -1))                  # [N*T, C, H, W]
        return frames.reshape(n, t, *frames.shape[1:])


class FrameCritic(nn.Module):
    """The image critic: frames [N, C, H, W] -> logit [N] (a DCGAN critic)."""

    def __init__(self, frame_shape: tuple[int, int, int], width: int = 32, norm: str = "none"):
        super().__init__()
        self.net = DCGANDiscriminator(frame_shape, width, norm=norm)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.net(frames)


class VideoCritic(nn.Module):
    """The video critic: clip [N, T, C, H, W] -> logit [N] (labels [N]: a projection term).

    3-D convolutions halve the frame's side down to the DCGAN base (4 or 7) and, after the
    first layer, the clip's length while it is longer than 2; features are averaged over what
    is left of time and space."""

    def __init__(self, clip_shape: tuple[int, int, int, int], width: int = 32,
                 num_classes: int = 0, norm: str = "none"):
        super().__init__()
        if norm not in D_NORMS:
            raise ConfigError(f"unknown --d-norm {norm!r}: choose one of {', '.join(D_NORMS)}")
        t, c, h, _ = clip_shape
        _, downs = plan(h)
        layers: list[nn.Module] = []
        ch_in, ch = c, width
        for i in range(downs):
            step_t = 2 if i > 0 and t > 2 else 1
            layers.append(nn.Conv3d(ch_in, ch, (3, 4, 4), (step_t, 2, 2), (1, 1, 1),
                                    bias=not (norm == "batch" and i > 0)))
            if norm == "batch" and i > 0:   # as the DCGAN critic: not on the first layer
                layers.append(nn.BatchNorm3d(ch))
            layers.append(nn.LeakyReLU(0.2, True))
            t = (t - 1) // step_t + 1
            ch_in, ch = ch, min(ch * 2, width * 8)
        self.net = nn.Sequential(*layers)
        self.out = nn.Linear(ch_in, 1)
        self.embed = nn.Embedding(num_classes, ch_in) if num_classes else None
        init_weights(self)
        if norm == "spectral":   # after init, as the DCGAN critic
            spectral_normalize(self.modules(), (nn.Conv3d, nn.Linear))

    def forward(self, clip: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = self.net(clip.transpose(1, 2)).mean((2, 3, 4))              # [N, features]
        logit = self.out(h).squeeze(1)
        if self.embed is not None and y is not None:
            logit = logit + (self.embed(y) * h).sum(1)
        return logit


__all__ = ["FrameCritic", "VideoCritic", "VideoGenerator"]
