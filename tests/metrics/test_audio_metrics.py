"""Audio GAN metrics: the shipped spectrogram classifiers load, match their manifest and recognise real
held-out clips; FID, inception score, class coverage, confidence and the memorization check order good
and bad "generators" sensibly; bad inputs are refused with one clear error."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
import torch
from helpers import tamper_shipped_weights

from gankit.data.audio import load_audio
from gankit.errors import GanKitError
from gankit.metrics import ExtractorError, MetricError, WeightsChecksumError, shipped_extractors
from gankit.metrics.audio import (
    AudioClassifierExtractor,
    SpecClassifier,
    SpecClassifierConfig,
    audio_scores,
    check_clips,
    confident_share,
    inception_score,
    load_audio_classifier,
    memorization,
    shipped_audio_classifiers,
)

pytestmark = pytest.mark.usefixtures("one_thread")
features_module = importlib.import_module("gankit.metrics.features")
SETS = ["spoken-digits", "notes"]
# least accuracy on the first clip of each class (train, test): the notes classifier meets instruments
# in the test split that it never heard (59% of all 500 test clips right, 98% of the train clips)
MIN_ACCURACY = {"spoken-digits": (0.9, 0.8), "notes": (0.7, 0.4)}
LENGTH = 16384


def tones(n: int, seed: int, freqs: tuple[float, ...] = (220.0, 330.0, 440.0, 660.0)) -> torch.Tensor:
    """n decaying tones [n, 16384] at random onsets, pitches drawn from `freqs` with a little detune."""
    g = np.random.default_rng(seed)
    t = np.arange(LENGTH) / 16000
    out = np.zeros((n, LENGTH), dtype=np.float32)
    for i in range(n):
        f = g.choice(freqs) * g.uniform(0.98, 1.02)
        on = g.uniform(0, 0.2)
        env = (t > on) * np.exp(-(t - on) * g.uniform(2, 6))
        out[i] = 0.5 * env * np.sin(2 * np.pi * f * t + g.uniform(0, 6))
    return torch.from_numpy(out)


def noise(n: int, seed: int, std: float = 0.3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (std * torch.randn(n, LENGTH, generator=g)).clamp(-1, 1)


@pytest.fixture(scope="module")
def untrained() -> AudioClassifierExtractor:
    """A small randomly initialised classifier of 4 classes: enough for the pipeline's mechanics."""
    torch.manual_seed(0)
    config = SpecClassifierConfig(channels=(4, 8, 16, 32), feature_dim=32, num_classes=4, mean=-1.0, std=3.0)
    return AudioClassifierExtractor(SpecClassifier(config), "untrained", "0" * 64, ["a", "b", "c", "d"])


@pytest.fixture(scope="module")
def tiny_sets(tmp_path_factory) -> dict:
    """Each bundled set built with one clip per class and split (the first clips of the full build)."""
    sets = pytest.importorskip("gankit.data.audio_sets")
    out = {}
    for name in SETS:
        folder = tmp_path_factory.mktemp(name)
        try:
            sets.build(name, folder / name, per_class=1, test_per_class=1)
        except GanKitError as e:  # espeak-ng or fluidsynth (or its soundfont) missing
            pytest.skip(f"cannot build {name}: {e}")
        out[name] = load_audio(folder / name, classes=load_audio_classifier(name).classes)
    return out


# ---------------------------------------------------------------- the shipped classifiers


@pytest.mark.parametrize("name", SETS)
def test_shipped_audio_classifier_loads_and_matches_its_manifest(name):
    entry = features_module.read_manifest()[f"audio:{name}"]
    ext = load_audio_classifier(name)
    assert name in shipped_audio_classifiers()
    assert ext.sha256 == entry["sha256"] and ext.name == f"{name}-audio-classifier"
    assert ext.dim == 128 and ext.num_classes == len(entry["classes"]) == len(ext.classes) == 10
    assert (features_module.WEIGHTS_DIR / entry["file"]).stat().st_size < 1_000_000
    assert entry["n_train"] > 0 and entry["test_accuracy"] > 0.5 and entry["seed"] == 0
    assert load_audio_classifier(f"audio:{name}-classifier").sha256 == ext.sha256


def test_image_extractor_listing_is_unchanged_by_the_audio_entries():
    assert shipped_extractors() == ["fashion-mnist", "mnist"]
    with pytest.raises(ExtractorError, match="unknown extractor"):
        features_module.load_shipped_extractor("audio:notes")


def test_a_corrupted_audio_weights_file_is_refused(tmp_path, monkeypatch):
    tamper_shipped_weights(tmp_path, monkeypatch, "audio:notes")
    with pytest.raises(WeightsChecksumError, match="SHA-256"):
        load_audio_classifier("notes")
    load_audio_classifier("spoken-digits")  # the intact file beside it still loads


def test_an_unknown_audio_classifier_names_the_shipped_ones():
    with pytest.raises(ExtractorError, match="spoken-digits"):
        load_audio_classifier("birdsong")


@pytest.mark.parametrize("name", SETS)
def test_shipped_classifiers_recognise_real_clips(tiny_sets, name):
    data = tiny_sets[name]
    ext = load_audio_classifier(name)
    train_pred = ext.predict_proba(data.train).argmax(1)
    held_pred = ext.predict_proba(data.held).argmax(1)  # unseen voices / instruments
    min_train, min_held = MIN_ACCURACY[name]
    assert (train_pred == data.train_labels).double().mean() >= min_train
    assert (held_pred == data.held_labels).double().mean() >= min_held


@pytest.mark.parametrize("name", SETS)
def test_real_clips_score_better_than_noise(tiny_sets, name):
    data = tiny_sets[name]
    real = audio_scores(data.train, name, reference=data.held, requested_labels=data.train_labels)
    bad = audio_scores(noise(10, seed=1), name, reference=data.held)
    assert real["fid"].value < bad["fid"].value
    assert real["inception_score"].value > bad["inception_score"].value
    assert real["label_accuracy"].value >= MIN_ACCURACY[name][0]
    assert real["classes"].value >= 7 and bad["classes"].value <= 3
    assert real["fid"].protocol["extractor_sha256"] == load_audio_classifier(name).sha256


# ---------------------------------------------------------------- scores of probabilities


def test_inception_score_is_k_for_confident_uniform_predictions_and_1_for_one_class():
    k = 10
    confident_uniform = torch.eye(k).repeat(20, 1)  # [200, 10], every class equally often
    assert inception_score(confident_uniform)[0] == pytest.approx(k, rel=1e-6)
    assert inception_score(confident_uniform)[1] == pytest.approx(0, abs=1e-9)
    one_class = torch.eye(k)[torch.zeros(200, dtype=torch.long)]
    assert inception_score(one_class)[0] == pytest.approx(1.0)
    unsure = torch.full((200, k), 1.0 / k)
    assert inception_score(unsure)[0] == pytest.approx(1.0)
    sorted_by_class = torch.eye(k).repeat_interleave(20, 0)  # each split sees one class: IS 1 ...
    assert inception_score(sorted_by_class)[0] == pytest.approx(1.0)
    assert inception_score(sorted_by_class, seed=0)[0] > 0.6 * k  # ... unless shuffled first


def test_inception_score_refuses_what_is_not_probabilities():
    with pytest.raises(MetricError, match="sum to 1"):
        inception_score(torch.rand(50, 4) + 1)
    with pytest.raises(MetricError, match="splits"):
        inception_score(torch.eye(4), splits=10)


def test_confident_share_counts_top_probabilities_at_the_threshold():
    probs = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7]])
    assert confident_share(probs) == pytest.approx(0.5)


def test_class_coverage_counts_classes_with_half_their_fair_share(untrained, monkeypatch):
    # 100 samples over 4 classes: fair share 25, covered from 12.5 on
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 13 + [3] * 7)
    probs = torch.eye(4)[labels] * 0.9 + 0.025
    monkeypatch.setattr(untrained, "proba_from_features", lambda feats: probs)
    result = audio_scores(tones(100, seed=0), untrained)
    assert result["classes"].value == 3
    assert result["classes"].extra["histogram"] == {"a": 50, "b": 30, "c": 13, "d": 7}
    assert result["confident"].value == 1.0
    assert set(result) == {"inception_score", "classes", "confident"}  # no reference, no train


# ---------------------------------------------------------------- FID and memorization, any classifier


def test_fid_and_memorization_on_an_untrained_classifier(untrained):
    train, held = tones(60, seed=0), tones(60, seed=1)
    fresh = tones(40, seed=2)
    copies = train[:40] + 1e-5 * noise(40, seed=3, std=1.0)  # copies, up to 16-bit rounding
    fresh_scores = audio_scores(fresh, untrained, reference=held, train=train)
    copy_scores = audio_scores(copies, untrained, reference=held, train=train)
    noise_scores = audio_scores(noise(40, seed=4), untrained, reference=held, train=train)
    assert fresh_scores["fid"].value < noise_scores["fid"].value
    assert copy_scores["memorization"].extra["flagged"] and copy_scores["memorization"].value > 0.9
    assert not fresh_scores["memorization"].extra["flagged"]
    assert fresh_scores["memorization"].protocol["n_real"] == 60  # the training clips
    assert fresh_scores["fid"].protocol["n_real"] == 60 and fresh_scores["fid"].protocol["n_fake"] == 40


def test_memorization_without_held_out_clips_uses_leave_one_out():
    g = torch.Generator().manual_seed(0)
    train = torch.randn(200, 16, generator=g)
    fresh = torch.randn(100, 16, generator=g)
    assert memorization(train[:50], train)["flagged"]
    memo = memorization(fresh, train)
    assert not memo["flagged"] and "each vs the rest" in memo["reference"]


def test_a_reference_folder_gives_test_and_train_clips(untrained, tmp_path):
    from gankit.data.audio import write_wav

    for split, seed in (("train", 0), ("test", 1)):
        for i, clip in enumerate(tones(8, seed)):
            folder = tmp_path / "set" / split / "abcd"[i % 4]
            folder.mkdir(parents=True, exist_ok=True)
            write_wav(folder / f"{i}.wav", clip)
    result = audio_scores(tones(20, seed=2), untrained, reference=tmp_path / "set")
    assert {"fid", "memorization"} <= set(result)
    assert result["fid"].protocol["reference"] == str(tmp_path / "set")


def test_clips_of_another_length_are_fitted_and_noted(untrained):
    clips = tones(4, seed=0)
    short = untrained.features(clips[:, :8000])
    assert short.shape == (4, 32)
    assert untrained.input_note((4, 8000)) == "clips of 8000 samples padded with silence to 16384"
    assert untrained.input_note((4, LENGTH)) is None


# ---------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "clips, match",
    [
        (torch.zeros(2, 1, LENGTH), r"\[N, L\]"),
        (torch.zeros(0, LENGTH), "no clips"),
        (torch.zeros(2, LENGTH, dtype=torch.int16), "float"),
        (torch.full((2, LENGTH), math.nan), "NaN"),
        (torch.full((2, LENGTH), 2.0), r"\[-1, 1\]"),
        (torch.zeros(2, 100), "too short"),
        ("clips.wav", r"\[N, L\]"),
    ],
)
def test_bad_clips_are_refused(untrained, clips, match):
    with pytest.raises(ExtractorError, match=match) as err:
        audio_scores(clips, untrained)
    assert isinstance(err.value, GanKitError)


def test_bad_reference_and_labels_are_refused(untrained):
    clips = tones(10, seed=0)
    with pytest.raises(ExtractorError, match="reference clips"):
        audio_scores(clips, untrained, reference=torch.full((10, LENGTH), 3.0))
    with pytest.raises(MetricError, match="one label"):
        audio_scores(clips, untrained, requested_labels=torch.zeros(3, dtype=torch.long))
    assert check_clips(clips.numpy()).dtype == torch.float32  # numpy arrays are accepted
