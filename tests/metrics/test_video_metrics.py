"""The shipped clip network (gankit.metrics.video): loaded only when its file matches the manifest,
takes any clip of at least 4 frames at any side, and the digit sets and identity computed from its
frame head. (What the scores say about real and broken clips: tests/tasks/video/test_scores.py.)"""

from __future__ import annotations

import pytest
import torch
from helpers import tamper_shipped_weights

from gankit.metrics import ExtractorError, WeightsChecksumError, load_extractor, shipped_extractors
from gankit.metrics import features as features_module
from gankit.metrics.video import (
    ORDERS,
    digit_sets,
    identity,
    load_video_extractor,
    shipped_video_extractors,
)


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """One torch thread: the machine is shared (see tests/conftest.py)."""


def test_shipped_clip_network_loads_and_matches_its_manifest():
    entry = features_module.read_manifest()["video:moving-mnist"]
    ext = load_video_extractor("moving-mnist")
    assert shipped_video_extractors() == ["moving-mnist"] and ext.name == "moving-mnist-clip-net"
    assert ext.sha256 == entry["sha256"] and ext.dim == 128 and entry["orders"] == list(ORDERS)
    assert (features_module.WEIGHTS_DIR / entry["file"]).stat().st_size < 1_000_000
    heads = {"clip_digits", "frame_digits", "order", *(f"order_{o}" for o in ORDERS)}
    assert heads <= set(entry["accuracy"]) and all(set(entry["accuracy"][h]) == {"train", "test"} for h in heads)
    assert entry["seed"] == 0 and entry["torch"] and entry["date"]
    assert load_video_extractor("video:moving-mnist").sha256 == ext.sha256
    assert shipped_extractors() == ["fashion-mnist", "mnist"]  # image extractors: not this one
    with pytest.raises(ExtractorError, match="unknown extractor"):
        load_extractor("video:moving-mnist")


def test_a_changed_clip_network_file_is_refused(tmp_path, monkeypatch):
    tamper_shipped_weights(tmp_path, monkeypatch, "video:moving-mnist", flip=0x01)  # one bit
    with pytest.raises(WeightsChecksumError, match="SHA-256"):
        load_video_extractor("moving-mnist")
    load_extractor("mnist")  # the intact files beside it still load


def test_an_unknown_video_extractor_names_the_shipped_one():
    with pytest.raises(ExtractorError, match="moving-mnist"):
        load_video_extractor("kinetics")


@pytest.mark.parametrize("shape", [(2, 4, 1, 16, 16), (2, 7, 3, 64, 48), (1, 20, 1, 32, 32)])
def test_any_clip_of_four_frames_or_more_at_any_side_fits(shape):
    ext = load_video_extractor()
    clips = torch.rand(shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    out = ext.outputs(clips)
    assert out.features.shape == (shape[0], 128) and out.frame_probs.shape == (shape[0], shape[1], 10)
    assert torch.isfinite(out.features).all()
    note = ext.input_note(shape) or ""
    assert ("resized to 32x32" in note) == (shape[3:] != (32, 32)) and ("gray" in note) == (shape[2] == 3)
    assert torch.equal(ext.outputs(clips.clone()).features, out.features)  # eval mode: deterministic


@pytest.mark.parametrize("bad, match", [
    (torch.zeros(2, 3, 1, 32, 32), "at least 4"),
    (torch.zeros(2, 8, 32, 32), r"\[N, T, C, H, W\]"),
    (torch.full((2, 8, 1, 32, 32), 3.0), r"\[-1, 1\]"),
])  # fmt: skip
def test_clips_it_cannot_take_are_one_error(bad, match):
    with pytest.raises(ExtractorError, match=match):
        load_video_extractor().outputs(bad)


def test_digit_sets_and_identity_by_hand():
    p = torch.tensor([
        [0.9, 0.8, 0.1, 0, 0, 0, 0, 0, 0, 0],  # digits 0 and 1
        [0.8, 0.9, 0.1, 0, 0, 0, 0, 0, 0, 0],  # the same set, the other way round
        [0.9, 0.3, 0.1, 0, 0, 0, 0, 0, 0, 0],  # only 0 is sure: a set of one (two 0s, say)
        [0.2, 0.3, 0.1, 0, 0, 0, 0, 0, 0, 0],  # nothing sure: the top one still counts
    ])  # fmt: skip
    assert digit_sets(p, 2).tolist() == [0b11, 0b11, 0b01, 0b10]
    assert digit_sets(p, 1).tolist() == [0b01, 0b10, 0b01, 0b10]
    classes = torch.tensor([[3, 3, 1, 3], [5, 6, 7, 8], [2, 2, 2, 2]])
    torch.testing.assert_close(identity(classes), torch.tensor([0.75, 0.25, 1.0], dtype=torch.float64))
