"""Tiny trained video runs the video tests share (trained once per session, read-only after)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import square_clips

from gankit.tasks.video.facade import VideoGAN

# 4 steps at a high learning rate: G's clips then span [-1, 1] instead of sitting near 0 as at
# initialisation (a near-zero output would make any difference look small)
FAST = dict(frames=4, resolution=16, width=8, batch_size=8, lr=0.02, log_every=1,
            sample_every=100, checkpoint_every=4, eval_every=2, eval_num=8)


@pytest.fixture(scope="session")
def video_runs(tmp_path_factory) -> Path:
    """root/plain: moving-mnist; root/slow: the same at another learning rate; root/labeled: a
    conditional run on two classes of clips. Tests that change a run copy it first."""
    root = tmp_path_factory.mktemp("video-runs")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANKIT_OFFLINE", "1")
        mp.setenv("GANKIT_THREADS", "0")
        mp.setenv("GANKIT_DATA", str(root / "gankit-data"))
        for name, lr in (("plain", 0.02), ("slow", 0.002)):
            VideoGAN("moving-mnist", out=root / name, **{**FAST, "clips": 48, "lr": lr}).fit(
                steps=4, progress=False)
        VideoGAN(square_clips(root / "squares"), out=root / "labeled", conditional=True,
                 **FAST).fit(steps=4, progress=False)
    torch.set_num_threads(before)
    return root
