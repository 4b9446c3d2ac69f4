"""The video task (MoCoGAN) on tiny Moving MNIST: its nets, its outputs, its motion scores, and
the commands a user runs on it. (Resume and weights-only loading: tests/test_task_contract.py.)"""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from helpers import one_error, run
from PIL import Image

from gankit.errors import ConfigError
from gankit.nets.video import FrameCritic, LayeredGenerator, VideoCritic, VideoGenerator
from gankit.tasks.video.facade import VideoGAN
from gankit.tasks.video.outputs import FRAME_MS, write_clips
from gankit.tasks.video.scores import temporal_scores

TINY = dict(clips=48, frames=4, resolution=16, width=8, batch_size=8)


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """One torch thread: the machine is shared (see tests/conftest.py)."""


@pytest.mark.parametrize("Net", [VideoGenerator, LayeredGenerator])
@pytest.mark.parametrize("shape, classes", [((4, 1, 16, 16), 0), ((6, 3, 28, 28), 3)])
def test_nets_take_and_give_clips(shape, classes, Net):
    G, Di, Dv = (Net(shape, width=8, num_classes=classes), FrameCritic(shape[1:], 8),
                 VideoCritic(shape, 8, num_classes=classes))
    y = torch.arange(2) % 3 if classes else None
    clips = G(torch.randn(2, G.z_dim), y)
    assert clips.shape == (2, *shape) and clips.abs().max() <= 1
    assert Di(clips[:, 0]).shape == (2,) and Dv(clips, y).shape == (2,)


def test_content_and_motion_are_separate_codes():
    gan = VideoGAN("moving-mnist", out=None, **TINY)
    both = gan.sample(3, seed=0, same_content=True, same_motion=True)
    assert torch.equal(both[0], both[1]) and torch.equal(both[0], both[2])
    content = gan.sample(3, seed=0, same_content=True)
    motion = gan.sample(3, seed=0, same_motion=True)
    assert not torch.equal(content[0], content[1]) and not torch.equal(motion[0], motion[1])
    assert torch.equal(gan.sample(2, seed=5), gan.sample(2, seed=5))


def test_clips_from_a_python_array_make_a_run():
    own = np.random.default_rng(0).integers(0, 256, (20, 4, 16, 16), dtype=np.uint8)
    gan = VideoGAN(own, out=None, width=8, batch_size=8)
    assert gan.config.data.dataset == "<clips from Python>"
    assert gan.sample(2, seed=0).shape == (2, 4, 1, 16, 16)


def _squares(n: int = 32, frames: int = 6) -> torch.Tensor:
    """Clips of a bright square moving one pixel a frame on black: [n, frames, 1, 16, 16]."""
    clips = -torch.ones(n, frames, 1, 16, 16)
    for i in range(n):
        y = i % 10
        for t in range(frames):
            clips[i, t, 0, y:y + 5, 2 + t:7 + t] = 1
    return clips


def test_motion_scores_tell_still_and_flickering_clips_from_moving_ones():
    moving = _squares()
    same = temporal_scores(moving, moving)
    assert same["motion_gap"] == 0 and same["frozen"] == 0 and same["motion"] > 0
    still = temporal_scores(moving[:, :1].expand_as(moving), moving)   # the first frame, held
    assert still["frozen"] == 1 and still["motion"] == 0 and still["motion_gap"] == 1
    g = torch.Generator().manual_seed(0)
    flicker = temporal_scores(torch.rand(moving.shape, generator=g) * 2 - 1, moving)
    assert flicker["motion_gap"] > 1 and flicker["accel_gap"] > 1 and flicker["frozen"] == 0


def test_clips_are_written_as_npz_gif_and_a_folder(tmp_path):
    clips = torch.rand(3, 5, 1, 8, 8) * 2 - 1
    write_clips(clips, tmp_path / "c.npz", labels=torch.tensor([0, 1, 1]))
    with np.load(tmp_path / "c.npz") as z:
        assert z["videos"].shape == (3, 5, 8, 8, 1) and z["videos"].dtype == np.uint8
        assert z["labels"].tolist() == [0, 1, 1]
    write_clips(clips, tmp_path / "c.gif")
    assert Image.open(tmp_path / "c.gif").n_frames == 5
    write_clips(clips, tmp_path / "each")
    assert len(list((tmp_path / "each").glob("*.gif"))) == 3
    with pytest.raises(ConfigError, match="already exists"):
        write_clips(clips, tmp_path / "c.gif")
    with pytest.raises(ConfigError, match="FILE.gif"):
        write_clips(clips, tmp_path / "c.png")


def _playing_ms(gif) -> int:
    """How long a GIF plays: frames a still stretch holds are one picture with a longer time
    (Pillow merges repeated frames), so this, not the count of pictures, says its length."""
    with Image.open(gif) as img:
        total = 0
        for i in range(img.n_frames):
            img.seek(i)
            total += img.info["duration"]
    return total


def test_train_sample_eval_report_and_info_from_the_command_line(tmp_path, capsys):
    r = tmp_path / "run"
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()]
    code, _, err = run(capsys, "train", "--task", "video", "--dataset", "moving-mnist",
                       "--steps", 4, "--sample-every", 2, "--eval-every", 4, "--eval-num", 8,
                       "--out", r, *flags)
    assert code == 0, err
    logged = [json.loads(line) for line in (r / "metrics.jsonl").read_text().splitlines()]
    assert any("fvd" in rec and "identity" in rec for rec in logged)   # --eval-every's scores
    assert "fvd" in json.loads((r / "checkpoints" / "best.json").read_text())   # best by fvd
    assert (r / "samples" / "step-0000004.gif").is_file() and "samples/step-0000004.gif" in err
    code, _, err = run(capsys, "sample", r, "--num", 4, "--same-content", "--output",
                       tmp_path / "walk.gif")
    assert code == 0 and _playing_ms(tmp_path / "walk.gif") == 4 * FRAME_MS, err
    code, out, err = run(capsys, "eval", r, "--num", 8, "--json")
    scores = json.loads(out)
    assert code == 0 and {"motion", "motion_real", "frozen", "frame_fid", "fvd", "identity",
                          "identity_real", "identity_rigid"} <= set(scores), err
    assert scores["motion_real"]["value"] > 0   # the held-out digits move
    code, _, err = run(capsys, "report", r, "--output", tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert code == 0 and 'id="clips"' in page and "data:image/gif;base64," in page, err
    code, out, _ = run(capsys, "info", r, "--json")
    assert json.loads(out)["latest_samples"].endswith(".gif")
    one_error(capsys, "sample", r, "--num", 2, "--output", tmp_path / "x.png", match="FILE.gif")


def test_augmentation_moves_every_frame_of_a_clip_alike():
    """DiffAugment on clips shifts and cuts out the same way in every frame: a still clip stays
    still (augmenting adds no motion), and real and fake clips see one policy."""
    gan = VideoGAN("moving-mnist", out=None, augment="translation,cutout", **TINY)
    still = _squares(8, 4)[:, :1].expand(8, 4, 1, 16, 16).contiguous()
    out = gan.task.augment(still)
    assert not torch.equal(out, still)                       # it did change the clips
    assert torch.equal(out, out[:, :1].expand_as(out))       # but not from frame to frame
    with pytest.raises(ConfigError, match="color"):
        VideoGAN("moving-mnist", out=None, augment="color", **TINY)


@pytest.mark.parametrize("norm", ["batch", "spectral", "none"])
def test_critic_norms_and_r1_train(norm):
    """Each critic normalization trains with the lazy R1 phase; R1 is logged for both critics
    and the critics' weights move."""
    gan = VideoGAN("moving-mnist", out=None, d_norm=norm, r1_gamma=1.0, r1_every=2,
                   critic_frames=3, **TINY)
    before = [p.detach().clone() for p in gan.task.D_vid.parameters()]
    gan.fit(steps=2, progress=False)
    assert any(not torch.equal(a, b) for a, b in zip(before, gan.task.D_vid.parameters()))
    assert "R1" in [p.name for p in gan.task.phases]
    loss, stats = gan.task.r1_loss(_squares(8, 4))
    assert {"r1_img", "r1_vid"} <= set(stats) and float(loss) > 0 and torch.isfinite(loss)
    idx = gan.task._index(torch.zeros(5, 4, 1, 16, 16))
    assert idx.shape == (5, 3) and all(len(set(row.tolist())) == 3 for row in idx)


class _Square(torch.nn.Module):
    """A content net that draws, whatever the code: a black background and one sprite, a white
    4 x 4 square at rows 6-9, columns 2-5, opaque there and transparent elsewhere."""

    def forward(self, content: torch.Tensor) -> torch.Tensor:
        out = -torch.ones(len(content), 3, 16, 16)       # background, appearance, alpha
        out[:, 1:, 6:10, 2:6] = 1
        return out


def test_layered_frames_move_the_sprites_their_content_drew():
    """What a layered clip shows is drawn once: at the identity pose every frame is the first,
    whatever the motion noise; a pose that moves one pixel a frame moves the sprite, unchanged,
    one pixel a frame."""
    G = LayeredGenerator((4, 1, 16, 16), width=8, layers=1).eval()
    z = torch.randn(2, G.z_dim)
    with torch.no_grad():
        assert not torch.equal(G(z)[:, 0], G(z)[:, 1])          # the sprites stir from the start
        G.pose.weight.zero_()                                    # the identity pose
        still = G(z)
        assert torch.equal(still, still[:, :1].expand_as(still))
        G.frame = _Square()
        G.motion = lambda eps: torch.arange(4.0)[None, :, None].expand(len(eps), 4, 16)
        G.pose.weight[2, 0] = -2 / 15   # x reads from t pixels to the left (1 px: 2 / 15)
        clips = G(z)
    for t in range(4):
        want = -torch.ones(16, 16)
        want[6:10, 2 + t:6 + t] = 1
        assert torch.allclose(clips[0, t, 0], want, atol=1e-5), t


def test_a_shift_pose_moves_sprites_without_resizing_them():
    """pose="shift": a sprite's pose is a move only, so however the motion code sets it, the
    sprite covers the same area in every frame (bilinear moves keep it), where an affine pose
    may grow or shrink it."""
    torch.manual_seed(0)
    area = {}
    for pose in ("shift", "affine"):
        G = LayeredGenerator((6, 1, 16, 16), width=8, layers=1, pose=pose).eval()
        assert G.pose.out_features == G.POSES[pose]
        G.frame = _Square()
        with torch.no_grad():
            torch.nn.init.normal_(G.pose.weight, std=0.03)   # about a pixel
            clips = G(torch.randn(4, G.z_dim))
        area[pose] = ((clips + 1) / 2).sum((2, 3, 4))               # [N, T]: the square's pixels
        assert not torch.equal(clips[:, 0], clips[:, 1])               # it moved
    torch.testing.assert_close(area["shift"], torch.full((4, 6), 16.0), atol=1e-3, rtol=0)
    assert (area["affine"] - 16).abs().max() > 0.5
    with pytest.raises(ConfigError, match="unknown pose 'spin'"):
        LayeredGenerator((6, 1, 16, 16), pose="spin")


@pytest.mark.parametrize("Net", [VideoGenerator, LayeredGenerator])
def test_image_steps_draw_only_the_judged_frames(Net):
    """G(z, at=idx) is exactly those frames of G(z); a run with video_every=3 trains whole clips
    on every third step only and both critics still learn."""
    G = Net((5, 1, 16, 16), width=8).eval()
    z = torch.randn(3, G.z_dim)
    idx = torch.tensor([[0, 4], [2, 3], [1, 1]])
    with torch.no_grad():
        whole, some = G(z), G(z, at=idx)
    assert some.shape == (3, 2, 1, 16, 16)
    assert torch.allclose(some, whole[torch.arange(3)[:, None], idx], atol=1e-6)
    if Net is LayeredGenerator:
        return
    gan = VideoGAN("moving-mnist", out=None, video_every=3, **TINY)
    steps, d_phase = [], gan.task.phases[0]

    def d_loss(batch):
        loss, stats = gan.task.d_loss(batch)
        steps.append("d_vid" in stats)
        return loss, stats
    gan.task.phases[0] = dataclasses.replace(d_phase, loss=d_loss)
    vid = [p.detach().clone() for p in gan.task.D_vid.parameters()]
    img = [p.detach().clone() for p in gan.task.D_img.parameters()]
    gan.fit(steps=4, progress=False)
    assert steps == [True, False, False, True]
    assert any(not torch.equal(a, b) for a, b in zip(vid, gan.task.D_vid.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(img, gan.task.D_img.parameters()))


def test_show_puts_a_playing_grid_on_a_notebook_page():
    """show(n) outside a notebook returns the view: one embedded GIF of the n clips."""
    import base64
    import io
    import re
    gan = VideoGAN("moving-mnist", out=None, **TINY)
    page = gan.show(6, seed=0)._repr_html_()
    data = base64.b64decode(re.search(r'data:image/gif;base64,([^"]+)"', page).group(1))
    gif = Image.open(io.BytesIO(data))
    from gankit.tasks.video.outputs import grid_frames
    grid = grid_frames(gan.sample(6, seed=0), 4)                  # [T, H, W(, C)]: 4 + 2 clips
    assert _playing_ms(io.BytesIO(data)) == TINY["frames"] * FRAME_MS and len(grid) == 4
    assert gif.size == (2 * grid.shape[2], 2 * grid.shape[1])     # shown at twice the size
