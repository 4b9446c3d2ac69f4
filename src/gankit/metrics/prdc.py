"""Precision and recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al. 2020) on features.

Each sample gets a ball whose radius is the distance to its k-th nearest neighbour in its own set.
precision: share of fake samples inside some real ball;  recall: share of real samples inside some fake
ball;  density: fake samples' real-ball memberships / (k · n_fake) (≈ 1 when the sets match, > 1
when fakes crowd the dense real regions);  coverage: share of real balls holding at least one fake.
"Inside" is distance < radius, as in Naeem et al.'s reference code. Distances come from
torch.cdist in float32, a block of rows at a time, so two 10k x 256 sets take a few seconds on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..metrics.features import MetricError
from ..metrics.fid import as_features

BLOCK = 1024  # rows per cdist block: a [1024, 10k] float32 block is 40 MB


@dataclass
class PRDC:
    """The four scores (each in [0, 1], density in [0, ∞)) and what they were computed from."""

    precision: float
    recall: float
    density: float
    coverage: float
    k: int
    n_real: int
    n_fake: int


def prdc(
    real: torch.Tensor | np.ndarray,
    fake: torch.Tensor | np.ndarray,
    k: int = 5,
    max_n: int | None = None,
    seed: int = 0,
) -> PRDC:
    """Precision, recall, density and coverage of fake features [M, D] against real features [N, D].

    With `max_n`, each set larger than that is first subsampled to `max_n` rows (seeded).
    """
    r = as_features(real, "real features", min_n=k + 1).float()
    f = as_features(fake, "fake features", min_n=k + 1).float()
    if r.shape[1] != f.shape[1]:
        raise MetricError(f"feature dimensions differ: {r.shape[1]} vs {f.shape[1]}")
    if k < 1:
        raise MetricError(f"k must be at least 1, got {k}")
    if max_n is not None:
        gen = torch.Generator().manual_seed(seed)
        if max_n <= k:
            raise MetricError(f"max_n must exceed k={k}, got {max_n}")
        r, f = _subsample(r, max_n, gen), _subsample(f, max_n, gen)
    real_radii, fake_radii = knn_radii(r, k), knn_radii(f, k)  # [N], [M]
    in_real_ball = 0  # fakes inside at least one real ball
    memberships = 0  # (fake, real ball) pairs with the fake inside the ball
    real_in_fake_ball = torch.zeros(len(r), dtype=torch.bool)
    nearest_fake = torch.full((len(r),), float("inf"))
    for start in range(0, len(f), BLOCK):
        d = torch.cdist(f[start : start + BLOCK], r)  # [b, N]
        per_fake = torch.count_nonzero(d < real_radii[None, :], dim=1)  # [b] real balls holding each fake
        in_real_ball += int(torch.count_nonzero(per_fake))
        memberships += int(per_fake.sum())
        real_in_fake_ball |= (d < fake_radii[start : start + BLOCK, None]).any(0)
        nearest_fake = torch.minimum(nearest_fake, d.min(0).values)
    return PRDC(
        precision=in_real_ball / len(f),
        recall=float(real_in_fake_ball.double().mean()),
        density=memberships / (k * len(f)),
        coverage=float((nearest_fake < real_radii).double().mean()),
        k=k,
        n_real=len(r),
        n_fake=len(f),
    )


def knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row of x [N, D] to its k-th nearest other row: [N]."""
    radii = torch.empty(len(x))
    for start in range(0, len(x), BLOCK):
        d = torch.cdist(x[start : start + BLOCK], x)  # [b, N]; each row's own 0 is its 1st neighbour
        radii[start : start + BLOCK] = d.topk(k + 1, dim=1, largest=False).values[:, k]
    return radii


def _subsample(x: torch.Tensor, max_n: int, gen: torch.Generator) -> torch.Tensor:
    if len(x) <= max_n:
        return x
    return x[torch.randperm(len(x), generator=gen)[:max_n]]


def nearest(a: torch.Tensor, b: torch.Tensor, skip_self: bool = False,
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """For each row of a [N, D]: (Euclidean distance to, index of) its nearest row of b [M, D],
    computed 256 rows at a time. skip_self: a is b[:len(a)], and a row may not find itself.
    The memorization checks (gankit.report.memorization, gankit.metrics.audio) measure with it."""
    dists, idx = [], []
    for i in range(0, len(a), 256):
        d = torch.cdist(a[i:i + 256], b)
        if skip_self:
            rows = torch.arange(i, min(i + 256, len(a)))
            d[rows - i, rows] = float("inf")
        v, k = d.min(1)
        dists.append(v)
        idx.append(k)
    return torch.cat(dists), torch.cat(idx)


CLOSE_QUANTILE = 0.01   # memorization: a sample nearer to a training item than 99% of fresh items are
FLAG_SHARE = 0.10       # is "close"; flagged when the share of close samples exceeds 10x the 1% expected


def close_share(fake_dist: torch.Tensor, ref_dist: torch.Tensor) -> tuple[float, float, bool]:
    """The memorization rule of both checks: (share of samples whose nearest-training distance is
    below the reference items' CLOSE_QUANTILE, that threshold, share > FLAG_SHARE)."""
    threshold = float(torch.quantile(ref_dist.double(), CLOSE_QUANTILE))
    share = float((fake_dist.double() < threshold).double().mean())
    return share, threshold, share > FLAG_SHARE
