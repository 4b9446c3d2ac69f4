"""The audio GANs of Donahue, McAuley & Puckette 2019 ("Adversarial Audio Synthesis").

WaveGAN works on the waveform: G maps noise to [N, 1, L] through a dense layer and five 1-D
transposed convolutions (kernel 25, stride 4), each multiplying the length by 4 (16 -> 16,384
for the default clip); D mirrors it with strided 1-D convolutions, leaky ReLU (0.2) and phase
shuffle after every layer but the last: each example's activations are shifted by a random
-n..n samples (the edges reflected), so D cannot tell real from fake by the periodic artifacts of
transposed convolutions' phase. No normalization (WGAN-GP's gradient penalty and batch statistics
do not mix).

SpecGAN works on log-magnitude spectrograms, 128 x 128 (gankit.data.audio.log_spectrogram,
normalized per frequency bin), with the DCGAN-like 2-D nets of the same paper: kernel 5, stride 2,
five layers; its samples become audio by Griffin-Lim.

`width` is the paper's model size d (they use 64); the channel counts are d, 2d, 4d, 8d, 16d.
Conditional nets take class labels: G gets a learned class embedding concatenated to its noise,
D adds the projection term <embed(y), features> (Miyato & Koyama 2018) to its score.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

LAYERS = 5
KERNEL_1D, STRIDE_1D = 25, 4
KERNEL_2D, STRIDE_2D = 5, 2


def phase_shuffle(x: torch.Tensor, n: int, generator: Optional[torch.Generator] = None,
                  ) -> torch.Tensor:
    """Shift each example of x [N, C, L] by its own random -n..n samples, filling the gap by
    reflection; the length is kept, and n = 0 returns x itself."""
    if n <= 0:
        return x
    batch, _, length = x.shape
    shifts = torch.randint(-n, n + 1, (batch,), generator=generator,
                           device=generator.device if generator is not None else x.device)
    padded = F.pad(x, (n, n), mode="reflect")
    # example i takes padded[..., n - s_i : n - s_i + L]: a shift of s_i to the right
    idx = (n - shifts.to(x.device))[:, None] + torch.arange(length, device=x.device)[None]
    return padded.gather(2, idx[:, None, :].expand(-1, x.shape[1], -1))


class PhaseShuffle(nn.Module):
    def __init__(self, n: int):
        super().__init__()
        self.n = n
        self.generator: Optional[torch.Generator] = None   # set by the task for reproducibility

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return phase_shuffle(x, self.n, self.generator) if self.training else x

    def extra_repr(self) -> str:
        return f"n={self.n}"


def _base_length(length: int, stride: int) -> int:
    base, rest = divmod(length, stride ** LAYERS)
    if rest or base < 1:
        raise ValueError(f"the clip length must be a multiple of {stride ** LAYERS}, got {length}")
    return base


class _Conditioning(nn.Module):
    """The class inputs of a conditional net: G's label embedding, D's projection embedding."""

    def __init__(self, num_classes: int, dim: int):
        super().__init__()
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, dim) if num_classes else None

    def forward(self, y: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        if self.embed is None:
            return None
        if y is None:
            raise ValueError("a conditional net needs class labels")
        return self.embed(y)


class WaveGANGenerator(nn.Module):
    """noise [N, z_dim] (and labels [N]) -> clips [N, 1, length] in [-1, 1]."""

    def __init__(self, length: int, z_dim: int = 100, width: int = 64, num_classes: int = 0):
        super().__init__()
        self.z_dim, self.length = z_dim, length
        self.base = _base_length(length, STRIDE_1D)
        chans = [width * 2 ** (LAYERS - 1 - i) for i in range(LAYERS)] + [1]   # 16d ... d, 1
        self.cond = _Conditioning(num_classes, z_dim)
        self.fc = nn.Linear(z_dim * (2 if num_classes else 1), chans[0] * self.base)
        self.chans0 = chans[0]
        self.ups = nn.ModuleList(
            nn.ConvTranspose1d(chans[i], chans[i + 1], KERNEL_1D, STRIDE_1D,
                               padding=KERNEL_1D // 2 - 1, output_padding=1)
            for i in range(LAYERS))

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        e = self.cond(y)
        h = self.fc(z if e is None else torch.cat([z, e], 1))
        h = F.relu(h.view(-1, self.chans0, self.base))
        for i, up in enumerate(self.ups):
            h = up(h)
            h = torch.tanh(h) if i == LAYERS - 1 else F.relu(h)
        return h


class WaveGANDiscriminator(nn.Module):
    """clips [N, 1, length] (and labels [N]) -> scores [N]."""

    def __init__(self, length: int, width: int = 64, num_classes: int = 0, shuffle: int = 2):
        super().__init__()
        self.base = _base_length(length, STRIDE_1D)
        chans = [1] + [width * 2 ** i for i in range(LAYERS)]                  # 1, d ... 16d
        self.convs = nn.ModuleList(
            nn.Conv1d(chans[i], chans[i + 1], KERNEL_1D, STRIDE_1D, padding=KERNEL_1D // 2 - 1)
            for i in range(LAYERS))
        self.shuffles = nn.ModuleList(PhaseShuffle(shuffle) for _ in range(LAYERS - 1))
        feat = chans[-1] * self.base
        self.fc = nn.Linear(feat, 1)
        self.cond = _Conditioning(num_classes, feat)

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = x
        for i, conv in enumerate(self.convs):
            h = F.leaky_relu(conv(h), 0.2)
            if i < LAYERS - 1:
                h = self.shuffles[i](h)
        h = h.flatten(1)
        out = self.fc(h).squeeze(1)
        e = self.cond(y)
        return out if e is None else out + (e * h).sum(1)


class SpecGANGenerator(nn.Module):
    """noise [N, z_dim] (and labels [N]) -> normalized spectrograms [N, 1, 128, 128] in [-1, 1]."""

    def __init__(self, size: int = 128, z_dim: int = 100, width: int = 64, num_classes: int = 0):
        super().__init__()
        self.z_dim = z_dim
        self.base = _base_length(size, STRIDE_2D)
        chans = [width * 2 ** (LAYERS - 1 - i) for i in range(LAYERS)] + [1]
        self.chans0 = chans[0]
        self.cond = _Conditioning(num_classes, z_dim)
        self.fc = nn.Linear(z_dim * (2 if num_classes else 1), chans[0] * self.base ** 2)
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(chans[i], chans[i + 1], KERNEL_2D, STRIDE_2D,
                               padding=KERNEL_2D // 2, output_padding=1)
            for i in range(LAYERS))

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        e = self.cond(y)
        h = self.fc(z if e is None else torch.cat([z, e], 1))
        h = F.relu(h.view(-1, self.chans0, self.base, self.base))
        for i, up in enumerate(self.ups):
            h = up(h)
            h = torch.tanh(h) if i == LAYERS - 1 else F.relu(h)
        return h


class SpecGANDiscriminator(nn.Module):
    """normalized spectrograms [N, 1, 128, 128] (and labels [N]) -> scores [N]."""

    def __init__(self, size: int = 128, width: int = 64, num_classes: int = 0):
        super().__init__()
        self.base = _base_length(size, STRIDE_2D)
        chans = [1] + [width * 2 ** i for i in range(LAYERS)]
        self.convs = nn.ModuleList(
            nn.Conv2d(chans[i], chans[i + 1], KERNEL_2D, STRIDE_2D, padding=KERNEL_2D // 2)
            for i in range(LAYERS))
        feat = chans[-1] * self.base ** 2
        self.fc = nn.Linear(feat, 1)
        self.cond = _Conditioning(num_classes, feat)

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = x
        for conv in self.convs:
            h = F.leaky_relu(conv(h), 0.2)
        h = h.flatten(1)
        out = self.fc(h).squeeze(1)
        e = self.cond(y)
        return out if e is None else out + (e * h).sum(1)
