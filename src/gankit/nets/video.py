"""MoCoGAN's nets (Tulyakov et al. 2018), written from the paper: a clip is a content code held
for the whole clip and a motion code per frame from a recurrent net; one 2-D generator draws each
frame from (content, motion). Two critics judge it: an image critic on single frames (are they
images of the data?) and a video critic of 3-D convolutions on the whole clip (does it move as
the data moves?).

LayeredGenerator, the default, keeps MoCoGAN's codes and critics but draws differently: the
content draws sprites once per clip and each frame's motion code moves them (layered sprites in
the manner of layered and spatial-transformer generators), so what a clip shows cannot change
from frame to frame. On moving digits it halves MoCoGAN's FVD in the same CPU time
(docs/video.md).

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
        self.frames = clip_shape[0]
        self.clip_shape = tuple(clip_shape)
        self.content_dim, self.motion_dim, self.noise_dim = content_dim, motion_dim, noise_dim
        self.z_dim = content_dim + self.frames * noise_dim
        self.rnn = nn.GRUCell(noise_dim, motion_dim)
        self.embed = nn.Embedding(num_classes, content_dim) if num_classes else None
        self.frame = self.frame_net(width)

    def frame_net(self, width: int) -> nn.Module:
        """The 2-D generator: (content, motion) -> one frame."""
        return DCGANGenerator(self.clip_shape[1:], self.content_dim + self.motion_dim, width)

    def motion(self, eps: torch.Tensor) -> torch.Tensor:
        """noise [N, T, noise_dim] -> motion codes [N, T, motion_dim]."""
        h = eps.new_zeros(eps.shape[0], self.motion_dim)
        codes = []
        for t in range(eps.shape[1]):
            h = self.rnn(eps[:, t], h)
            codes.append(h)
        return torch.stack(codes, 1)

    def codes(self, z: torch.Tensor, y: Optional[torch.Tensor] = None,
              at: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, torch.Tensor]:
        """z -> the content codes [N, content_dim] (plus the class embedding when conditional)
        and the motion codes [N, T, motion_dim], or with `at` [N, k] only those frames'."""
        n = z.shape[0]
        content = z[:, :self.content_dim]
        if self.embed is not None and y is not None:
            content = content + self.embed(y)
        motion = self.motion(z[:, self.content_dim:].reshape(n, self.frames, self.noise_dim))
        if at is not None:
            motion = motion[torch.arange(n, device=z.device)[:, None], at]
        return content, motion

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None,
                at: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The clips of z, or with `at` (frame indices [N, k]) only those frames [N, k, C, H, W]
        of them: the motion net still runs over every frame, the frame generator only on the
        frames asked for (what an image-critic step needs)."""
        n = z.shape[0]
        content, motion = self.codes(z, y, at)
        t = motion.shape[1]
        codes = torch.cat([content[:, None].expand(n, t, self.content_dim), motion], 2)
        frames = self.frame(codes.reshape(n * t, -1))                  # [N*T, C, H, W]
        return frames.reshape(n, t, *frames.shape[1:])


class LayeredGenerator(VideoGenerator):
    """z [N, z_dim] -> clip [N, T, C, H, W] in [-1, 1], drawn as moving layers: the content code
    draws `layers` sprites (appearance and alpha) and a background once per clip; each frame's
    motion code (the same GRU as VideoGenerator's) gives a pose per sprite (affine, or a shift
    only), and the frame is the sprites, moved by their poses, laid over the background in order. What a clip shows
    cannot change from frame to frame, only where it is: the content stays by construction.
    The poses start near the identity (the sprites stir a little) and learn to move.

    z's layout is VideoGenerator's, so sampling, --same-content/--same-motion and export treat
    both alike."""

    POSES = {"shift": 2, "affine": 6}   # numbers a sprite's pose takes

    def __init__(self, clip_shape: tuple[int, int, int, int], content_dim: int = 48,
                 motion_dim: int = 16, noise_dim: int = 8, width: int = 32,
                 num_classes: int = 0, layers: int = 3, pose: str = "affine"):
        if pose not in self.POSES:
            raise ConfigError(f"unknown pose {pose!r}: choose one of {', '.join(self.POSES)}")
        self.layers, self.pose_kind = layers, pose
        super().__init__(clip_shape, content_dim, motion_dim, noise_dim, width, num_classes)
        _, c, h, w = self.clip_shape
        self.pose = nn.Linear(motion_dim, layers * self.POSES[pose])
        nn.init.normal_(self.pose.weight, std=0.02)   # sprites stir a little from the start
        nn.init.zeros_(self.pose.bias)
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
        self.register_buffer("grid", torch.stack([xs, ys, torch.ones_like(xs)], -1).reshape(-1, 3),
                             persistent=False)                          # [H*W, 3]: (x, y, 1)
        self.register_buffer("eye", torch.tensor([1.0, 0, 0, 0, 1, 0]), persistent=False)

    def frame_net(self, width: int) -> nn.Module:
        """One pass per clip: content -> the background (C) and each layer's appearance (C) and
        alpha (1)."""
        _, c, h, w = self.clip_shape
        return DCGANGenerator((c + self.layers * (c + 1), h, w), self.content_dim, width)

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None,
                at: Optional[torch.Tensor] = None) -> torch.Tensor:
        n = z.shape[0]
        _, c, h, w = self.clip_shape
        content, motion = self.codes(z, y, at)
        t = motion.shape[1]
        drawn = self.frame(content)                                     # [N, c + K(c+1), H, W]
        k = self.layers
        background, sprites = drawn[:, :c], drawn[:, c:].reshape(n, k, c + 1, h, w)
        # alpha in [0, 1], and the appearance premultiplied by it, before moving: what moves in
        # from outside is transparent, and a sprite's edge between pixels blends as it should
        alpha = (sprites[:, :, c:] + 1) / 2
        sprites = torch.cat([sprites[:, :, :c] * alpha, alpha], 2)
        pose = self.pose(motion).reshape(n * t * k, -1)
        if self.pose_kind == "shift":   # a move only: the sprite keeps its size and angle
            pose = torch.cat([torch.zeros_like(pose[:, :2]), pose[:, :1],
                              torch.zeros_like(pose[:, :2]), pose[:, 1:]], 1)
        theta = (pose + self.eye).reshape(n * t * k, 2, 3)
        # where each output pixel reads its sprite from (the inverse map of the sprite's pose)
        grid = (self.grid @ theta.transpose(1, 2)).reshape(n * t * k, h, w, 2)
        sprites = sprites[:, None].expand(n, t, k, c + 1, h, w)
        moved = nn.functional.grid_sample(sprites.reshape(n * t * k, c + 1, h, w), grid,
                                          align_corners=True, padding_mode="zeros")
        moved = moved.reshape(n, t, k, c + 1, h, w)
        frame = background[:, None].expand(n, t, c, h, w)
        for i in range(k):   # "over": each layer in front of those before it
            frame = moved[:, :, i, :c] + (1 - moved[:, :, i, c:]) * frame
        return frame


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


__all__ = ["FrameCritic", "LayeredGenerator", "VideoCritic", "VideoGenerator"]
