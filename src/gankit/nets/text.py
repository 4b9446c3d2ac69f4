"""Nets for text GANs over sequences of token distributions [N, V, L].

1-D convolutional residual nets: the generator and critic of the language model of Gulrajani et
al. 2017 ("Improved Training of Wasserstein GANs", §5.3 and their gan_language.py).

G maps noise [N, z_dim] to logits [N, V, L] (the task turns them into a softmax or a Gumbel-softmax
sample); D maps one-hot real [N, V, L] or soft fake [N, V, L] sequences to one score each [N].
Five residual blocks each, kernel 5, no normalization (a gradient penalty and batch statistics do
not mix), each block's branch scaled by 0.3 as in their code.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..data.text import END, PAD

BLOCKS = 5
EMBED = 64     # the LSTM generator's input embedding (PAD doubles as its start token)


class ResBlock1d(nn.Module):
    def __init__(self, width: int, kernel: int = 5):
        super().__init__()
        self.body = nn.Sequential(nn.ReLU(), nn.Conv1d(width, width, kernel, padding=kernel // 2),
                                  nn.ReLU(), nn.Conv1d(width, width, kernel, padding=kernel // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:   # [N, width, L]
        return x + 0.3 * self.body(x)


class TextGenerator(nn.Module):
    """noise [N, z_dim] -> logits [N, vocab, length]."""

    def __init__(self, vocab: int, length: int, z_dim: int, width: int, blocks: int = BLOCKS):
        super().__init__()
        self.z_dim, self.width, self.length = z_dim, width, length
        self.fc = nn.Linear(z_dim, width * length)
        self.blocks = nn.Sequential(*[ResBlock1d(width) for _ in range(blocks)])
        self.out = nn.Conv1d(width, vocab, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(-1, self.width, self.length)
        return self.out(self.blocks(h))


class TextCritic(nn.Module):
    """sequences of token distributions [N, vocab, length] -> scores [N]."""

    def __init__(self, vocab: int, length: int, width: int, blocks: int = BLOCKS):
        super().__init__()
        self.inp = nn.Conv1d(vocab, width, 1)
        self.blocks = nn.Sequential(*[ResBlock1d(width) for _ in range(blocks)])
        self.fc = nn.Linear(width * length, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.inp(x))
        return self.fc(h.flatten(1)).squeeze(1)


def gumbel_noise(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Standard Gumbel noise -log(-log U), from our own generator (F.gumbel_softmax draws from the
    global RNG, which a checkpoint does not hold)."""
    u = torch.rand(shape, generator=generator, device=generator.device).clamp_min(1e-10)  # [0, 1)
    return -torch.log((-torch.log(u)).clamp_min(1e-10))


class TextLSTMGenerator(nn.Module):
    """An autoregressive character (or word) LSTM: it reads the previous unit and gives the logits
    of the next. `forward` is teacher forcing (maximum likelihood); `sample` draws whole
    sequences, optionally with their Gumbel-softmax relaxation for a discriminator.

    The start token is PAD (never a unit of an item). The net is never trained to emit PAD (the
    likelihood ignores padding), so sampling forbids it; every position after the first end mark
    becomes PAD, the form of the real sequences."""

    def __init__(self, vocab: int, length: int, width: int, embed: int = EMBED):
        super().__init__()
        self.vocab, self.length, self.width = vocab, length, width
        self.emb = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, width, batch_first=True)
        self.out = nn.Linear(width, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: ids [N, L] (units, END, PAD...) -> logits [N, V, L] of each position
        given the ones before it."""
        start = torch.full_like(ids[:, :1], PAD)
        h, _ = self.lstm(self.emb(torch.cat([start, ids[:, :-1]], 1)))   # [N, L, width]
        return self.out(h).transpose(1, 2)

    def sample(self, n: int, generator: torch.Generator, tau: Optional[float] = None
               ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """n sequences: ids [N, L] (Gumbel-max: exact draws from the net's distribution) and, with
        a temperature tau, their Gumbel-softmax relaxation [N, V, L] (same noise), differentiable
        in the net's weights. The next input is the drawn unit itself (not the soft vector)."""
        device = self.out.weight.device
        x, state = torch.full((n, 1), PAD, dtype=torch.long, device=device), None
        ids, soft = [], []
        for _ in range(self.length):
            h, state = self.lstm(self.emb(x), state)
            logits = self.out(h[:, 0]).float()                               # [N, V]
            logits[:, PAD] = float("-inf")
            noisy = logits + gumbel_noise(tuple(logits.shape), generator)
            x = noisy.argmax(1, keepdim=True)                                # [N, 1]
            ids.append(x)
            if tau is not None:
                soft.append(torch.softmax(noisy / tau, 1))
        ids_t = torch.cat(ids, 1)
        after = (ids_t == END).long().cumsum(1) - (ids_t == END).long() > 0  # past the end mark
        ids_t = ids_t.masked_fill(after, PAD)
        if tau is None:
            return ids_t, None
        pad = F.one_hot(torch.tensor(PAD, device=device), self.vocab).float()   # [V]
        soft_t = torch.stack(soft, 2)                                        # [N, V, L]
        soft_t = torch.where(after[:, None, :], pad[None, :, None], soft_t)
        return ids_t, soft_t
