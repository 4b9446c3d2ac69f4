"""1-D convolutional residual nets over sequences of token distributions: the generator and critic
of the language model of Gulrajani et al. 2017 ("Improved Training of Wasserstein GANs", §5.3 and
their gan_language.py).

G maps noise [N, z_dim] to logits [N, V, L] (the task turns them into a softmax or a Gumbel-softmax
sample); D maps one-hot real [N, V, L] or soft fake [N, V, L] sequences to one score each [N].
Five residual blocks each, kernel 5, no normalization (a gradient penalty and batch statistics do
not mix), each block's branch scaled by 0.3 as in their code.
"""
from __future__ import annotations

import torch
from torch import nn

BLOCKS = 5


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
