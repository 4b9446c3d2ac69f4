"""Feature extractors: shipped weights load, match their manifest and classify as recorded; inputs of any
size and channel count are accepted; the user's own network can be wrapped; reference features are cached."""

from __future__ import annotations

import importlib

import pytest
import torch
import torch.nn.functional as F
from helpers import tamper_shipped_weights
from torch import nn

from gankit.data import data_root
from gankit.errors import GanKitError
from gankit.metrics import (
    ExtractorError,
    UserExtractor,
    WeightsChecksumError,
    evaluate,
    load_extractor,
    reference_features,
    shipped_extractors,
)

features_module = importlib.import_module("gankit.metrics.features")
SHIPPED = ["mnist", "fashion-mnist"]


def manifest() -> dict:
    return features_module.read_manifest()


def accuracy(probs: torch.Tensor, labels: torch.Tensor) -> float:
    return float((probs.argmax(1) == labels).double().mean())


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_extractor_loads_and_matches_its_manifest(extractor, name):
    entry = manifest()[name]
    ext = extractor(name)
    assert name in shipped_extractors()
    assert ext.name == f"{name}-classifier" and ext.sha256 == entry["sha256"]
    assert ext.dim == 256 and ext.num_classes == 10
    path = features_module.WEIGHTS_DIR / entry["file"]
    assert path.stat().st_size < 1_000_000  # fp16 weights: small enough to ship in the wheel
    assert entry["n_train"] > 0 and entry["seed"] == 0 and entry["epochs"] > 0
    assert load_extractor(f"{name}-classifier").sha256 == ext.sha256  # the suffix is accepted


def test_mnist_classifier_reaches_its_recorded_test_accuracy(split, extractor):
    test = split("mnist", "test")
    acc = accuracy(extractor("mnist").predict_proba(test.images), test.labels)
    assert acc == pytest.approx(manifest()["mnist"]["test_accuracy"], abs=0.005)
    assert acc > 0.95


def test_fashion_classifier_reaches_its_recorded_test_accuracy(fashion_feats, extractor):
    probs = extractor("fashion-mnist").proba_from_features(fashion_feats["test"])  # [10000, 10]
    acc = accuracy(probs, fashion_feats["test_labels"])
    assert acc == pytest.approx(manifest()["fashion-mnist"]["test_accuracy"], abs=0.005)
    assert acc > 0.88


def test_a_corrupted_weights_file_is_refused(tmp_path, monkeypatch):
    tamper_shipped_weights(tmp_path, monkeypatch, "mnist")  # one flipped byte in the middle
    with pytest.raises(WeightsChecksumError, match="SHA-256") as err:
        load_extractor("mnist")
    assert isinstance(err.value, GanKitError)
    load_extractor("fashion-mnist")  # the intact file beside it still loads


def test_unknown_extractor_names_the_known_ones():
    with pytest.raises(ExtractorError, match="fashion-mnist"):
        load_extractor("cifar10")


def test_uint8_and_float_images_give_the_same_features(split, extractor):
    images = split("mnist", "test").images[:64]
    ext = extractor("mnist")
    as_float = images.float() / 127.5 - 1
    torch.testing.assert_close(ext.features(images), ext.features(as_float))
    torch.testing.assert_close(ext.features(images, batch_size=7), ext.features(images), rtol=1e-4, atol=1e-5)


def test_rgb_images_of_another_size_are_resized_and_converted(split, extractor):
    test = split("mnist", "test")
    ext = extractor("mnist")
    big_rgb = F.interpolate(test.images.float(), size=64, mode="bilinear").round().clamp(0, 255)
    big_rgb = big_rgb.to(torch.uint8).expand(-1, 3, -1, -1)  # [500, 3, 64, 64]
    assert accuracy(ext.predict_proba(big_rgb), test.labels) > 0.93
    note = ext.input_note(tuple(big_rgb.shape))
    assert "gray" in note and "64x64 resized to 28x28" in note
    assert ext.input_note(tuple(test.images.shape)) is None


@pytest.mark.parametrize(
    "images",
    [torch.zeros(4, 28, 28), torch.zeros(4, 2, 28, 28), torch.zeros(0, 1, 28, 28),
     torch.full((4, 1, 28, 28), 255.0), torch.zeros(4, 1, 28, 28, dtype=torch.int32)],
)  # fmt: skip
def test_bad_images_raise_extractor_error(extractor, images):
    with pytest.raises(ExtractorError):
        extractor("mnist").features(images)


def test_user_extractor_wraps_a_module():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(2))  # features [B, 4, 2, 2] → [B, 16]
    ext = UserExtractor(net, "my-net")
    images = torch.randint(0, 256, (10, 3, 32, 32), dtype=torch.uint8)
    feats = ext.features(images, batch_size=4)
    assert feats.shape == (10, 16) and ext.dim == 16 and feats.dtype == torch.float32
    before = ext.sha256
    with torch.no_grad():
        net[0].bias += 1
    assert UserExtractor(net, "my-net").sha256 != before  # new weights, new cache key
    with pytest.raises(ExtractorError, match="not a classifier"):
        ext.predict_proba(images)
    with pytest.raises(ExtractorError):
        UserExtractor(lambda x: x, "not-a-module")


def test_reference_features_are_cached_by_extractor_hash(extractor, monkeypatch, recwarn):
    ext = extractor("mnist")
    first = reference_features("mnist", "test", ext)
    path = data_root() / "stats" / f"mnist-test-{ext.sha256[:16]}.safetensors"
    assert path.is_file() and first.shape == (500, 256)
    assert not list(path.parent.glob(".*tmp"))  # written atomically: no temporary left behind

    with monkeypatch.context() as m:
        m.setattr(type(ext), "features", lambda *a, **k: pytest.fail("cache not used"))
        torch.testing.assert_close(reference_features("mnist", "test", ext), first, rtol=0, atol=0)

    other = UserExtractor(nn.Sequential(nn.Flatten(), nn.Linear(784, 8)), "tiny")
    assert reference_features("mnist", "test", other).shape == (500, 8)
    assert (data_root() / "stats" / f"mnist-test-{other.sha256[:16]}.safetensors").is_file()

    path.write_bytes(b"not a safetensors file")  # a damaged cache is recomputed
    torch.testing.assert_close(reference_features("mnist", "test", ext), first)


def test_evaluate_scores_real_digits_and_records_the_protocol(split, extractor, recwarn):
    train = split("mnist", "train").images
    fake = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:500]]  # real digits
    results = evaluate(fake, "mnist", "test", extractor=extractor("mnist"), seed=3)
    assert set(results) == {"fid", "kid", "precision", "recall", "density", "coverage", "classes"}
    assert results["classes"].value == 10 and results["precision"].value > 0.8
    protocol = results["fid"].protocol
    assert protocol["metric"] == "fid" and protocol["extractor"] == "mnist-classifier"
    assert protocol["extractor_sha256"] == manifest()["mnist"]["sha256"]
    assert (protocol["n_real"], protocol["n_fake"], protocol["reference_split"]) == (500, 500, "test")
    assert protocol["seed"] == 3 and protocol["gankit_version"] and protocol["preprocessing"] is None
    blurred = F.avg_pool2d(fake.float(), 3, 1, 1).to(torch.uint8)
    assert evaluate(blurred, "mnist", metrics=["fid"])["fid"].value > 2 * results["fid"].value
