"""Drawing samples from a run whose task is a GANTask (the image and audio GANs): `Sampling`,
mixed into their facades."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch

from ...errors import ConfigError


class Sampling:
    """Drawing from a run whose task is a GANTask (the image and audio GANs): noise from a seed,
    class labels checked against the run's classes."""

    def sample(self, n: int, seed: Optional[int] = None, ema: bool = True,
               labels: Any = None) -> torch.Tensor:
        """n samples [n, *data_shape] on the CPU; images are floats in [-1, 1].

        With a seed the same samples come back every time; `ema=False` uses the raw generator.
        A conditional GAN draws the classes in `labels` (one int for all, or n of them); without
        them, every class equally often (`balanced_labels(n)`).
        """
        n = int(n)
        y = self.labels_for(labels, n)
        gen = torch.Generator(self.device)
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(int(seed))
        return self.task.generate(self.task.noise(n, gen), ema=ema, labels=y)

    def balanced_labels(self, n: int) -> torch.Tensor:
        """The class labels a conditional sample of n uses by default: 0, 1, …, K-1, 0, 1, …"""
        return self.task.balanced_labels(int(n))

    def labels_for(self, labels: Any, n: int) -> Optional[torch.Tensor]:
        """The class labels [n] that `sample(n, labels=labels)` draws (None: unconditional)."""
        if labels is None:
            return self.balanced_labels(n) if self.config.model.conditional else None
        if not self.config.model.conditional:
            raise ConfigError("this GAN is not conditional: it was trained without --conditional, "
                              "so it cannot draw a given class")
        try:
            y = torch.as_tensor(labels)
        except (TypeError, ValueError, RuntimeError):
            raise ConfigError(f"labels must be class numbers, got {labels!r}") from None
        if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
            raise ConfigError(f"labels must be whole class numbers, got {y.dtype}")
        y = y.long().reshape(-1)
        if y.numel() == 1:
            y = y.expand(n)
        if y.numel() != n:
            raise ConfigError(f"got {y.numel()} labels for {n} samples")
        k = self.config.num_classes
        bad = y[(y < 0) | (y >= k)]
        if bad.numel():
            raise ConfigError(f"label {int(bad[0])} is out of range: this GAN has classes 0 to "
                              f"{k - 1}")
        return y.clone()

    def sample_uint8(self, n: int, seed: Optional[int] = None, labels: Any = None) -> np.ndarray:
        """n images as uint8 [n, H, W, C], the format of image files and .npz."""
        from ...viz import to_uint8
        return to_uint8(self.sample(n, seed, labels=labels))

