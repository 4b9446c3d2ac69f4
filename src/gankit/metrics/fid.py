"""Fréchet distance (FID) and kernel inception distance (KID) between two feature sets [N, D].

Everything is computed in float64. The matrix square root goes through symmetric eigendecompositions
with eigenvalues clipped at 0, so rank-deficient covariances (fewer samples than dimensions, dead
ReLU units) give a finite, non-negative distance instead of NaN or a complex number.
"""

from __future__ import annotations

import numpy as np
import torch

from ..metrics.features import MetricError

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000


def as_features(feats: torch.Tensor | np.ndarray, name: str = "features", min_n: int = 2) -> torch.Tensor:
    """A float64 CPU tensor [N, D] with N ≥ min_n and only finite values, or a MetricError."""
    x = torch.as_tensor(feats).detach().cpu()
    if x.ndim != 2:
        raise MetricError(f"{name} must be a matrix [N, D], got shape {tuple(x.shape)}")
    if len(x) < min_n:
        raise MetricError(f"{name}: need at least {min_n} samples, got {len(x)}")
    x = x.double()
    if not torch.isfinite(x).all():
        raise MetricError(f"{name} contain NaN or infinite values")
    return x


def feature_stats(feats: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean [D] and unbiased covariance [D, D] (float64) of features [N, D]."""
    x = as_features(feats)
    mu = x.mean(0)
    centred = x - mu
    sigma = centred.T @ centred / (len(x) - 1)
    return mu, sigma


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> float:
    """||mu1 - mu2||² + tr(S1) + tr(S2) - 2 tr(sqrt(S1 S2)) for Gaussians with means [D], covariances [D, D].

    tr(sqrt(S1 S2)) = tr(sqrt(A)) with A = sqrt(S1) S2 sqrt(S1): A is symmetric PSD and similar to
    S1 S2, so its clipped eigenvalues give the trace without a non-symmetric sqrtm.
    """
    mu1, mu2, s1, s2 = (torch.as_tensor(t).detach().cpu().double() for t in (mu1, mu2, sigma1, sigma2))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        shapes = [tuple(t.shape) for t in (mu1, sigma1, mu2, sigma2)]
        raise MetricError(f"frechet_distance needs means [D] and covariances [D, D]; got shapes {shapes}")
    if not all(torch.isfinite(t).all() for t in (mu1, mu2, s1, s2)):
        raise MetricError("frechet_distance: the statistics contain NaN or infinite values")
    s1, s2 = ((s + s.T).numpy() / 2 for s in (s1, s2))  # symmetric up to rounding; eigh wants it exactly
    tr1, tr2 = np.trace(s1), np.trace(s2)
    # constant features (dead ReLUs) give all-zero rows of S1; they add only zero eigenvalues to A, and
    # leaving them out is exact and avoids LAPACK's very slow path on exactly-zero blocks
    live = np.any(s1 != 0, axis=1)
    s1, s2 = s1[np.ix_(live, live)], s2[np.ix_(live, live)]
    w, v = np.linalg.eigh(s1)
    sqrt_s1 = (v * np.sqrt(w.clip(min=0))) @ v.T  # [D, D]
    a = sqrt_s1 @ s2 @ sqrt_s1
    tr_covmean = np.sqrt(np.linalg.eigvalsh((a + a.T) / 2).clip(min=0)).sum()
    diff = (mu1 - mu2).numpy()
    value = diff @ diff + tr1 + tr2 - 2 * tr_covmean
    return max(float(value), 0.0)  # rounding can leave -1e-12 for identical statistics


def fid(feats_a: torch.Tensor | np.ndarray, feats_b: torch.Tensor | np.ndarray) -> float:
    """Fréchet distance between the Gaussians fitted to features [Na, D] and [Nb, D]."""
    a, b = as_features(feats_a, "features a"), as_features(feats_b, "features b")
    if a.shape[1] != b.shape[1]:
        raise MetricError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")
    return frechet_distance(*feature_stats(a), *feature_stats(b))


def kid(
    feats_a: torch.Tensor | np.ndarray,
    feats_b: torch.Tensor | np.ndarray,
    subsets: int = KID_SUBSETS,
    subset_size: int = KID_SUBSET_SIZE,
    seed: int = 0,
) -> tuple[float, float]:
    """KID: unbiased MMD² with kernel k(x, y) = (x·y / D + 1)³, as (mean, std) over random subsets.

    Each subset draws `subset_size` rows (clipped to the smaller sample) from each set without
    replacement; the draws come from a torch.Generator seeded with `seed`.
    """
    a, b = as_features(feats_a, "features a"), as_features(feats_b, "features b")
    if a.shape[1] != b.shape[1]:
        raise MetricError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")
    if subsets < 1:
        raise MetricError(f"kid needs at least one subset, got subsets={subsets}")
    m = min(subset_size, len(a), len(b))
    gen = torch.Generator().manual_seed(seed)
    values = torch.empty(subsets, dtype=torch.float64)
    for i in range(subsets):
        x = a[torch.randperm(len(a), generator=gen)[:m]]  # [m, D]
        y = b[torch.randperm(len(b), generator=gen)[:m]]
        values[i] = _mmd2_unbiased(x, y)
    std = float(values.std()) if subsets > 1 else 0.0
    return float(values.mean()), std


def _mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Unbiased MMD² of samples x, y [m, D] under the cubic polynomial kernel (diagonals left out)."""
    m, d = x.shape
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    within = (k_xx.sum() - k_xx.diagonal().sum() + k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return within - 2 * k_xy.mean()
