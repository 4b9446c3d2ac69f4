"""Precision / recall / density / coverage on synthetic point clouds, and against a direct computation."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

from gankit.metrics import MetricError, prdc

prdc_module = importlib.import_module("gankit.metrics.prdc")  # the package's `prdc` is the function


def cloud(n: int, seed: int, d: int = 8, scale: float = 1.0, shift: float = 0.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(n, d, generator=g) + shift


def direct_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float, float, float]:
    """The definitions written out with full distance matrices (Naeem et al. 2020, eqs. 1-4)."""

    def dist(a, b):
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    r_real = np.sort(dist(real, real), axis=1)[:, k]  # column 0 is the point itself
    r_fake = np.sort(dist(fake, fake), axis=1)[:, k]
    d = dist(fake, real)  # [M, N]
    inside = d < r_real[None, :]
    precision = inside.any(1).mean()
    recall = (d < r_fake[:, None]).any(0).mean()
    density = inside.sum() / (k * len(fake))
    coverage = (d.min(0) < r_real).mean()
    return precision, recall, density, coverage


@pytest.mark.parametrize("k", [1, 5])
def test_prdc_matches_the_definitions(monkeypatch, k):
    monkeypatch.setattr(prdc_module, "BLOCK", 37)  # several blocks, the last one partial
    real, fake = cloud(200, 0, d=4), cloud(150, 1, d=4, scale=0.8, shift=0.3)
    got = prdc(real, fake, k=k)
    expected = direct_prdc(real.double().numpy(), fake.double().numpy(), k)
    assert (got.precision, got.recall, got.density, got.coverage) == pytest.approx(expected, abs=1e-9)
    assert (got.k, got.n_real, got.n_fake) == (k, 200, 150)


def test_identical_distributions_score_near_one():
    scores = prdc(cloud(3000, 2), cloud(3000, 3))
    assert scores.precision > 0.9 and scores.recall > 0.9 and scores.coverage > 0.9
    assert scores.density == pytest.approx(1.0, abs=0.1)


def test_a_shifted_cloud_loses_precision():
    same, shifted = prdc(cloud(3000, 4), cloud(3000, 5)), prdc(cloud(3000, 4), cloud(3000, 5, shift=1.5))
    assert shifted.precision < 0.5 * same.precision
    assert shifted.density < 0.5 and shifted.coverage < 0.5


def test_a_shrunken_cloud_keeps_precision_but_loses_recall():
    # a mode-collapsing generator: every sample is plausible, but only the centre of the data is reached
    scores = prdc(cloud(3000, 6), cloud(3000, 7, scale=0.3))
    assert scores.precision > 0.95
    assert scores.recall < 0.2 and scores.coverage < 0.5
    assert scores.density > 1.0  # fakes crowd the dense centre


def test_subsampling_is_seeded_and_bounded():
    real, fake = cloud(500, 8), cloud(400, 9)
    a, b = prdc(real, fake, max_n=100, seed=1), prdc(real, fake, max_n=100, seed=1)
    assert a == b and (a.n_real, a.n_fake) == (100, 100)
    assert prdc(real, fake, max_n=100, seed=2) != a


def test_thousands_of_points_in_256_dims_run():
    # the shape of a real evaluation (10k x 10k takes a few seconds on a CPU; timing lives in bench/)
    scores = prdc(cloud(4000, 10, d=256), cloud(3000, 11, d=256))
    assert 0 < scores.precision <= 1 and 0 < scores.coverage <= 1


@pytest.mark.parametrize(
    "real, fake, kwargs",
    [
        (torch.zeros(10, 3), torch.zeros(10, 4), {}),  # dimensions differ
        (torch.zeros(5, 3), torch.zeros(10, 3), {"k": 5}),  # fewer than k + 1 samples
        (torch.zeros(10, 3), torch.zeros(10, 3), {"k": 0}),
        (torch.zeros(10, 3), torch.zeros(10, 3), {"k": 3, "max_n": 3}),
    ],
)
def test_bad_inputs_raise_metric_error(real, fake, kwargs):
    with pytest.raises(MetricError):
        prdc(real, fake, **kwargs)


def test_close_share_flags_only_above_ten_times_the_expected_share():
    from gankit.metrics.prdc import close_share
    ref = torch.arange(1, 1001, dtype=torch.float32)   # 1% quantile: 10.99
    fresh = torch.arange(1, 1001, dtype=torch.float32).flip(0)
    share, threshold, flagged = close_share(fresh, ref)
    assert threshold == pytest.approx(10.99) and share == pytest.approx(0.010) and not flagged
    at_limit = torch.cat([torch.zeros(100), torch.full((900,), 500.0)])   # 10% close: not above
    assert close_share(at_limit, ref)[2] is False
    copies = torch.cat([torch.zeros(101), torch.full((899,), 500.0)])
    share, _, flagged = close_share(copies, ref)
    assert share == pytest.approx(0.101) and flagged is True
