"""Every test runs offline, with an empty dataset cache and a scratch working directory."""
from __future__ import annotations

import math

import pytest
import torch


@pytest.fixture(autouse=True)
def _offline(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_OFFLINE", "1")
    monkeypatch.setenv("GANKIT_DATA", str(tmp_path / "gankit-data"))
    monkeypatch.chdir(tmp_path)


def ring_of_gaussians(n: int, modes: int = 8, radius: float = 2.0, std: float = 0.02,
                      seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n points [n, 2] from `modes` Gaussians on a circle, and the centres [modes, 2]."""
    g = torch.Generator().manual_seed(seed)
    angles = torch.arange(modes) * (2 * math.pi / modes)
    centres = radius * torch.stack([angles.cos(), angles.sin()], 1)
    k = torch.randint(0, modes, (n,), generator=g)
    return centres[k] + std * torch.randn(n, 2, generator=g), centres


@pytest.fixture
def ring():
    return ring_of_gaussians
