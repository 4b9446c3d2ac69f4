"""Fréchet distance and KID on synthetic features, against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from gankit.metrics import MetricError, feature_stats, fid, frechet_distance, kid


def gaussian(n: int, d: int, seed: int, shift: float = 0.0, mix: bool = False) -> torch.Tensor:
    """n samples [n, d] of a Gaussian; `mix` gives it a random full covariance."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    if mix:
        x = x @ (torch.eye(d, dtype=torch.float64) + 0.3 * torch.randn(d, d, generator=g, dtype=torch.float64))
    return x + shift


def scipy_fid(a: np.ndarray, b: np.ndarray) -> float:
    """The textbook formula with scipy's general matrix square root."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize("d", [2, 16, 64])
def test_fid_matches_scipy_sqrtm(d):
    a, b = gaussian(3000, d, 0), gaussian(2000, d, 1, shift=0.25, mix=True)
    expected = scipy_fid(a.numpy(), b.numpy())
    assert fid(a, b) == pytest.approx(expected, rel=1e-6)


def test_fid_matches_eigenvalues_of_product():
    # tr(sqrt(S1 S2)) = sum of sqrt of the (real, non-negative) eigenvalues of S1 S2
    a, b = gaussian(1500, 32, 2, mix=True), gaussian(1500, 32, 3, shift=-0.5, mix=True)
    (mu1, s1), (mu2, s2) = feature_stats(a), feature_stats(b)
    eig = np.linalg.eigvals(s1.numpy() @ s2.numpy()).real.clip(min=0)
    expected = float(((mu1 - mu2) ** 2).sum() + s1.trace() + s2.trace()) - 2 * np.sqrt(eig).sum()
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-6)


def test_feature_stats_are_mean_and_unbiased_covariance():
    x = gaussian(500, 8, 4, mix=True)
    mu, sigma = feature_stats(x.float())  # float32 in, float64 out
    assert mu.dtype == sigma.dtype == torch.float64
    torch.testing.assert_close(mu, x.mean(0), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(sigma, torch.from_numpy(np.cov(x.numpy(), rowvar=False)), rtol=1e-5, atol=1e-6)


def test_fid_of_a_set_with_itself_is_zero():
    x = gaussian(1000, 64, 5, mix=True)
    assert fid(x, x) == pytest.approx(0.0, abs=1e-8)


def test_rank_deficient_covariances_give_a_finite_non_negative_distance():
    # 10 samples in 64 dims: both covariances have rank 9; ReLU features also have all-zero columns
    a, b = gaussian(10, 64, 6), gaussian(10, 64, 7).clamp(min=0)
    b[:, :20] = 0
    for x, y in [(a, b), (b, a), (a, a), (b, b), (a, a + 1e-9)]:
        value = fid(x, y)
        assert np.isfinite(value) and value >= 0
    assert fid(a, a) == pytest.approx(0.0, abs=1e-8)


def test_fid_is_symmetric_and_grows_with_the_shift():
    a = gaussian(2000, 16, 8)
    values = [fid(a, gaussian(2000, 16, 9, shift=s)) for s in (0.0, 0.5, 1.0, 2.0)]
    assert values == sorted(values) and values[0] < 0.2  # finite-sample bias of ~d²/n
    assert values[-1] == pytest.approx(16 * 4, rel=0.05)  # ||mu1 - mu2||² = 16 dims x 2²
    assert fid(a, gaussian(500, 16, 9)) == pytest.approx(fid(gaussian(500, 16, 9), a), rel=1e-9)


@pytest.mark.parametrize(
    "a, b",
    [
        (torch.zeros(5, 3), torch.zeros(5, 4)),  # dimensions differ
        (torch.zeros(1, 3), torch.zeros(5, 3)),  # one sample has no covariance
        (torch.zeros(5), torch.zeros(5, 3)),  # not a matrix
        (torch.full((5, 3), float("nan")), torch.zeros(5, 3)),
    ],
)
def test_bad_features_raise_metric_error(a, b):
    with pytest.raises(MetricError):
        fid(a, b)


def test_kid_of_one_distribution_is_near_zero():
    a, b = gaussian(2000, 32, 10), gaussian(2000, 32, 11)
    mean, std = kid(a, b, subsets=50, subset_size=500)
    assert abs(mean) < 2 * std


def test_kid_of_a_shifted_distribution_is_clearly_positive():
    a, b = gaussian(2000, 32, 12), gaussian(2000, 32, 13, shift=0.3)
    mean, std = kid(a, b, subsets=50, subset_size=500)
    assert mean > 10 * std > 0


def test_kid_is_seeded_and_clips_the_subset_size():
    a, b = gaussian(300, 8, 14), gaussian(200, 8, 15, shift=0.2)
    assert kid(a, b, subsets=5, seed=3) == kid(a, b, subsets=5, seed=3)
    assert kid(a, b, subsets=5, seed=3) != kid(a, b, subsets=5, seed=4)
    # subset_size 1000 is clipped to 200: then every subset of b is all of b
    mean, _ = kid(a[:200], b, subsets=3)
    assert np.isfinite(mean)


def test_kid_matches_a_direct_unbiased_mmd():
    a, b = gaussian(40, 5, 16), gaussian(40, 5, 17, shift=0.4)
    (mean, std) = kid(a, b, subsets=1, subset_size=40)  # one subset = all samples, in some order

    def k(x, y):
        return (x @ y / 5 + 1) ** 3

    m = 40
    xx = sum(k(a[i], a[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(b[i], b[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(a[i], b[j]) for i in range(m) for j in range(m)) / m**2
    assert mean == pytest.approx(float(xx + yy - 2 * xy), rel=1e-9)
    assert std == 0.0
