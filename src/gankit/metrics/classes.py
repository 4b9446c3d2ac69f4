"""Class coverage: which classes a generator produces, judged by a classifier's probabilities.

Rule for "covered": class c is covered when its share of the generated samples (by predicted class)
is at least MIN_SHARE (10%) of its share in the data. With 10 balanced classes a class needs ≥ 1% of
the samples, so a handful of stray predictions for a dropped mode do not count as covering it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..metrics.features import MetricError

MIN_SHARE = 0.1  # of the class's expected share
SMOOTHING = 0.5  # pseudo-count added to every generated class count before the KL (Jeffreys prior)


@dataclass
class ClassCoverage:
    """Predicted-class histogram of generated samples and how it compares with the data's classes."""

    histogram: list[int]  # [K] generated samples per predicted class
    covered: int  # classes meeting the MIN_SHARE rule
    num_classes: int
    kl: float  # KL(data || generated) in nats, generated counts smoothed
    confidence: float  # mean max-probability: low when samples look like no class in particular
    n_fake: int


def class_distribution(labels: torch.Tensor | np.ndarray, num_classes: int) -> torch.Tensor:
    """Share of each class float64 [K] among integer labels [N]."""
    y = torch.as_tensor(labels).long().flatten()
    if len(y) == 0 or int(y.min()) < 0 or int(y.max()) >= num_classes:
        raise MetricError(f"labels must be integers in 0..{num_classes - 1}")
    return torch.bincount(y, minlength=num_classes).double() / len(y)


def class_coverage(
    probs: torch.Tensor | np.ndarray,
    data_distribution: torch.Tensor | np.ndarray,
    min_share: float = MIN_SHARE,
    smoothing: float = SMOOTHING,
) -> ClassCoverage:
    """Coverage of generated samples' class probabilities [N, K] against the data's class shares [K].

    `data_distribution` may be counts or shares; it is normalised. Classes absent from the data are
    neither required nor counted as covered.
    """
    p = torch.as_tensor(probs).detach().cpu().double()
    expected = torch.as_tensor(data_distribution).detach().cpu().double().flatten()
    if p.ndim != 2 or len(p) == 0 or p.shape[1] != len(expected):
        raise MetricError(
            f"class_coverage needs probabilities [N, K] and a distribution [K]; got {tuple(p.shape)} and {tuple(expected.shape)}"
        )
    if not torch.isfinite(p).all() or (expected < 0).any() or expected.sum() <= 0:
        raise MetricError("class_coverage: probabilities must be finite and the distribution non-negative")
    expected = expected / expected.sum()
    counts = torch.bincount(p.argmax(1), minlength=p.shape[1]).double()  # [K]
    share = counts / len(p)
    present = expected > 0
    # the 1e-9 slack keeps exact boundary cases (10 of 1,000 vs 10% of 0.1) from failing by rounding
    covered = int(((share >= min_share * expected * (1 - 1e-9)) & present).sum())
    smoothed = (counts + smoothing) / (len(p) + smoothing * len(counts))
    kl = float((expected[present] * (expected[present] / smoothed[present]).log()).sum())
    return ClassCoverage(
        histogram=[int(c) for c in counts],
        covered=covered,
        num_classes=int(present.sum()),
        kl=max(kl, 0.0),
        confidence=float(p.max(1).values.mean()),
        n_fake=len(p),
    )
