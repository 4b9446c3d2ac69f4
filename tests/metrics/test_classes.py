"""Class coverage: synthetic probabilities, and real digits judged by the shipped mnist classifier."""

from __future__ import annotations

import math

import pytest
import torch

from gankit.metrics import MetricError, class_coverage, class_distribution

UNIFORM = torch.full((10,), 0.1)


def one_hot(labels: list[int] | torch.Tensor, k: int = 10, confidence: float = 1.0) -> torch.Tensor:
    """Probabilities [N, k] that put `confidence` on each label and spread the rest evenly."""
    y = torch.as_tensor(labels)
    p = torch.full((len(y), k), (1 - confidence) / (k - 1))
    p[torch.arange(len(y)), y] = confidence
    return p


def test_a_uniform_generator_covers_every_class_with_zero_kl():
    cov = class_coverage(one_hot(torch.arange(1000) % 10), UNIFORM)
    assert cov.covered == cov.num_classes == 10
    assert cov.kl == pytest.approx(0.0, abs=1e-12)
    assert cov.histogram == [100] * 10 and cov.confidence == pytest.approx(1.0)


def test_a_generator_of_three_classes_covers_three():
    cov = class_coverage(one_hot(torch.tensor([2, 5, 7]).repeat(300), confidence=0.8), UNIFORM)
    assert cov.covered == 3
    assert cov.kl > 1.0  # most of the data's mass sits on classes with (smoothed) ~0 generated share
    assert cov.confidence == pytest.approx(0.8)


def test_the_covered_rule_is_ten_percent_of_the_expected_share():
    # 10 balanced classes: a class needs >= 1% of the samples; 9 of 1000 is not enough, 10 is
    labels = [0] * 9 + [1] * 10 + [2] * 981
    cov = class_coverage(one_hot(labels), UNIFORM)
    assert cov.histogram[:3] == [9, 10, 981] and cov.covered == 2


def test_kl_uses_smoothed_generated_shares():
    labels = [0] * 600 + [1] * 400
    cov = class_coverage(one_hot(labels, k=2), torch.tensor([1, 1]))  # counts are normalised too
    gen = [600.5 / 1001, 400.5 / 1001]
    expected = 0.5 * math.log(0.5 / gen[0]) + 0.5 * math.log(0.5 / gen[1])
    assert cov.kl == pytest.approx(expected, rel=1e-9)


def test_classes_absent_from_the_data_are_not_required():
    data = torch.tensor([0.5, 0.5, 0.0])
    cov = class_coverage(one_hot([0, 1] * 50, k=3), data)
    assert cov.covered == cov.num_classes == 2


def test_class_distribution_counts_labels():
    torch.testing.assert_close(class_distribution(torch.tensor([0, 0, 2, 1]), 4),
                               torch.tensor([0.5, 0.25, 0.25, 0.0], dtype=torch.float64))
    with pytest.raises(MetricError):
        class_distribution(torch.tensor([0, 4]), 4)


def test_shape_mismatch_raises_metric_error():
    with pytest.raises(MetricError):
        class_coverage(torch.rand(5, 10), torch.ones(9))


def test_real_digits_of_three_classes_cover_three(split, extractor):
    mnist = extractor("mnist")
    test = split("mnist", "test")
    data = class_distribution(split("mnist", "train").labels, 10)
    all_probs = mnist.predict_proba(test.images)  # [500, 10]
    full = class_coverage(all_probs, data)
    assert full.covered == 10 and full.kl < 0.02 and full.confidence > 0.9
    three = torch.isin(test.labels, torch.tensor([3, 4, 8]))
    partial = class_coverage(all_probs[three], data)
    assert partial.covered == 3 and partial.kl > 0.5
