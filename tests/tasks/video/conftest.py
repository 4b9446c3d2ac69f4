"""Tiny trained video runs the video tests share (trained once per session, read-only after)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.tasks.video.facade import VideoGAN

# 4 steps at a high learning rate: G's clips then span [-1, 1] instead of sitting near 0 as at
# initialisation (a near-zero output would make any difference look small)
FAST = dict(frames=4, resolution=16, width=8, batch_size=8, lr=0.02, log_every=1,
            sample_every=100, checkpoint_every=4, eval_every=2, eval_num=8)


def square_clips(root: Path) -> Path:
    """Two class folders of 6-frame GIFs: a square moving right, or down."""
    for k, axis in enumerate(("right", "down")):
        (root / axis).mkdir(parents=True)
        for i in range(5):
            frames = []
            for t in range(6):
                a = np.zeros((16, 16), np.uint8)
                y, x = (2 + i, 2 + 2 * t) if k == 0 else (2 + 2 * t, 2 + i)
                a[y:y + 4, x:x + 4] = 255
                frames.append(Image.fromarray(a))
            frames[0].save(root / axis / f"{i}.gif", save_all=True, append_images=frames[1:])
    return root


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
