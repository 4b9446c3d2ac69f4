"""Content and motion, held apart: `same_motion` clips share their motion codes (the GRU's output
per frame) and differ in content; `same_content` the reverse; from Python and the CLI."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import run

import gankit
from gankit.tasks.video.outputs import clips_uint8

pytestmark = pytest.mark.usefixtures("one_thread")


def _codes(gan, n: int, **flags) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(clips, content codes [n, content_dim], motion codes [n, T, motion_dim]) of
    gan.sample(n, seed=3, **flags): the noise it draws, caught on its way to generate()."""
    seen = []
    generate = gan.task.generate
    gan.task.generate = lambda z, **kw: seen.append(z.clone()) or generate(z, **kw)
    try:
        clips = gan.sample(n, seed=3, **flags)
    finally:
        del gan.task.generate
    (z,) = seen
    G = gan.task.G_ema
    dc = G.content_dim
    with torch.no_grad():
        motion = G.motion(z[:, dc:].reshape(n, G.frames, G.noise_dim))
    return clips, z[:, :dc], motion


def _all_equal(x: torch.Tensor) -> bool:
    return all(torch.equal(x[0], x[i]) for i in range(1, len(x)))


def _all_differ(x: torch.Tensor) -> bool:
    return all(not torch.allclose(x[i], x[j]) for i in range(len(x)) for j in range(i))


def test_same_motion_shares_the_motion_codes_and_not_the_content(video_runs):
    gan = gankit.load_run(video_runs / "plain", weights_only=True, device="cpu")
    clips, content, motion = _codes(gan, 4, same_motion=True)
    assert _all_equal(motion) and _all_differ(content) and _all_differ(clips)
    assert motion.shape == (4, 4, gan.task.G.motion_dim)
    assert not _all_equal(motion[0])          # the code changes from frame to frame: it moves
    free, free_content, free_motion = _codes(gan, 4)
    assert torch.equal(free[0], clips[0])     # the first clip is the one drawn without the flag
    assert torch.equal(free_content, content) and _all_differ(free_motion)
    clips, content, motion = _codes(gan, 4, same_content=True)
    assert _all_equal(content) and _all_differ(motion) and _all_differ(clips)


def test_same_motion_from_the_command_line(video_runs, tmp_path, capsys):
    for name, label in (("plain", None), ("labeled", "1")):
        extra = ["--label", label] if label else []
        code, _, err = run(capsys, "sample", video_runs / name, "--num", 4, "--same-motion",
                           "--output", tmp_path / f"{name}.npz", *extra)
        assert code == 0, err
        gan = gankit.load_run(video_runs / name, weights_only=True, device="cpu")
        labels = gan.labels_for(None if label is None else int(label), 4)
        want = clips_uint8(gan.sample(4, seed=0, same_motion=True, labels=labels))
        with np.load(tmp_path / f"{name}.npz") as saved:
            assert np.array_equal(saved["videos"], want)
            assert label is None or saved["labels"].tolist() == [1] * 4
