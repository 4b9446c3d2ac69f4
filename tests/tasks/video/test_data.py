"""The video task's data: Moving MNIST made offline, and the user's clips (arrays, GIF folders,
frame folders, class folders) read, windowed, resized; damaged files skipped or one GanKitError."""
from __future__ import annotations

import hashlib
import io
import random
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data import load_dataset
from gankit.errors import DataError, GanKitError, GanKitWarning
from gankit.tasks.video.data import Clips, bounce_paths, load_clips, moving_mnist

pytestmark = pytest.mark.filterwarnings("ignore:mnist. could not get:gankit.errors.GanKitWarning")


def _digest(image: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()


# ---------------------------------------------------------------- Moving MNIST


def test_moving_mnist_shapes_dtype_and_seeded():
    clips, labels = moving_mnist(12, frames=6, size=48, digits=3, seed=5)
    assert clips.shape == (12, 6, 1, 48, 48) and clips.dtype == torch.uint8
    assert labels.shape == (12, 3) and labels.dtype == torch.int64
    assert 0 <= int(labels.min()) and int(labels.max()) <= 9
    again, again_labels = moving_mnist(12, frames=6, size=48, digits=3, seed=5)
    assert torch.equal(clips, again) and torch.equal(labels, again_labels)
    other, _ = moving_mnist(12, frames=6, size=48, digits=3, seed=6)
    assert not torch.equal(clips, other)
    test, _ = moving_mnist(12, "test", frames=6, size=48, digits=3, seed=5)
    assert not torch.equal(clips, test)


def test_moving_mnist_test_digits_are_never_train_digits():
    # size 28 leaves no room to move: each one-frame clip is exactly one MNIST digit
    train = {_digest(img[0].numpy()) for img in load_dataset("mnist", "train").images}
    test = {_digest(img[0].numpy()) for img in load_dataset("mnist", "test").images}
    clips, labels = moving_mnist(200, "test", frames=1, size=28, digits=1)
    seen = {_digest(clip[0, 0].numpy()) for clip in clips}
    assert seen <= test and not seen & train
    clips, _ = moving_mnist(200, "train", frames=1, size=28, digits=1)
    assert {_digest(clip[0, 0].numpy()) for clip in clips} <= train


def test_moving_mnist_digits_move_at_a_tenth_of_the_free_range_and_stay_inside():
    size, frames = 64, 20
    clips, _ = moving_mnist(40, frames=frames, size=size, digits=1, seed=1)
    speed = (size - 28) / 10
    steps, still = [], 0
    for clip in clips[:, :, 0].numpy():
        # the whole digit moves, so its ink's bounding box moves by the same integer step
        boxes = []
        for frame in clip:
            ys, xs = np.nonzero(frame)
            boxes.append((ys.min(), xs.min()))
        # motion: only a bounce can land a digit back on its last pixel position
        still += sum(np.array_equal(a, b) for a, b in zip(clip[:-1], clip[1:]))
        steps += [np.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(boxes[:-1], boxes[1:])]
    steps = np.array(steps)
    assert still <= 0.05 * len(steps)
    assert steps.max() <= speed + 1.5      # rounding: at most half a pixel on each axis, each end
    assert abs(np.median(steps) - speed) <= 1.5    # a bounce shortens only its own step
    # the corners themselves: inside [0, size - 28], exact speed away from the edges
    corners = bounce_paths(np.random.default_rng(0), 50, frames, 2, size - 28)
    assert corners.min() >= 0 and corners.max() <= size - 28
    step = np.hypot(*np.moveaxis(np.diff(corners, axis=2), -1, 0))
    assert np.all(step <= speed + 1.5) and abs(np.median(step) - speed) <= 1.0


def test_moving_mnist_rejects_bad_arguments():
    for kwargs in ({"n": 0}, {"n": 2, "size": 27}, {"n": 2, "frames": 0}, {"n": 2, "digits": 0},
                   {"n": 2, "split": "valid"}, {"n": 2.5}):
        with pytest.raises(DataError) as e:
            moving_mnist(**kwargs)
        assert "\n" not in str(e.value)


# ---------------------------------------------------------------- arrays


def _ramp(n: int, t: int, h: int = 8, w: int = 8) -> np.ndarray:
    """Clips [n, t, h, w] whose frame k of clip i is all (i * 16 + k) % 256: traceable windows."""
    values = (np.arange(n)[:, None] * 16 + np.arange(t)[None]) % 256
    return np.broadcast_to(values[:, :, None, None], (n, t, h, w)).astype(np.uint8)


def test_npy_gray_clips_hold_out_every_tenth():
    np.save("clips.npy", _ramp(20, 5))
    clips = load_clips("clips.npy")
    assert isinstance(clips, Clips)
    assert clips.train.shape == (18, 5, 1, 8, 8) and clips.test.shape == (2, 5, 1, 8, 8)
    assert clips.train.dtype == torch.uint8 and clips.train_labels is None and clips.classes == []
    assert clips.test[:, 0, 0, 0, 0].tolist() == [9 * 16, 19 * 16 % 256]
    assert "18 train + 2 test" in clips.note and "\n" not in clips.note


def test_npz_with_labels_and_test_split_and_float_color():
    rng = np.random.default_rng(0)
    videos = rng.random((6, 4, 10, 12, 3)).astype(np.float32)
    np.savez("clips.npz", videos=videos, labels=np.array([0, 1, 2, 0, 1, 2]),
             videos_test=rng.integers(0, 256, (3, 4, 10, 12, 3), dtype=np.uint8),
             test_labels=[2, 2, 0])
    clips = load_clips("clips.npz")
    assert clips.train.shape == (6, 4, 3, 10, 12) and clips.test.shape == (3, 4, 3, 10, 12)
    assert torch.equal(clips.train_labels, torch.tensor([0, 1, 2, 0, 1, 2]))
    assert clips.test_labels.tolist() == [2, 2, 0] and clips.classes == ["0", "1", "2"]
    expect = torch.from_numpy((videos * 255).round().astype(np.uint8)).permute(0, 1, 4, 2, 3)
    assert torch.equal(clips.train, expect)


def test_tensor_windows_skipping_and_resizing():
    # clips of 3 to 9 frames (as a folder would give); frames=6 keeps one window of each long one
    long = torch.from_numpy(_ramp(4, 9, 16, 24).copy())
    clips = load_clips(long, frames=6, size=8, seed=3)
    assert clips.train.shape == (4, 6, 1, 8, 8) and clips.test.shape[0] == 0
    for i, clip in enumerate(clips.train):
        frame_values = clip[:, 0, 4, 4].tolist()
        start = frame_values[0] - i * 16
        assert frame_values == [i * 16 + start + k for k in range(6)] and 0 <= start <= 3
    assert torch.equal(load_clips(long, frames=6, size=8, seed=3).train, clips.train)
    with pytest.raises(DataError, match="no clip has 10 frames: the longest has 9; pass a lower"):
        load_clips(long, frames=10)


def test_array_errors_are_one_data_error():
    bad = {
        "rank": np.zeros((4, 8, 8), np.uint8),
        "channels": np.zeros((2, 3, 8, 8, 2), np.uint8),
        "nan": np.full((2, 3, 8, 8), np.nan, np.float32),
        "inf": np.full((2, 3, 8, 8), np.inf),
        "range": np.full((2, 3, 8, 8), 2.0),
        "dtype": np.zeros((2, 3, 8, 8), "U1"),
        "bool": np.zeros((2, 3, 8, 8), bool),
        "int16": np.full((2, 3, 8, 8), 3, np.int16),
        "zero frames": np.zeros((2, 0, 8, 8), np.uint8),
        "ragged": [np.zeros((3, 8, 8)), np.zeros((2, 8, 8))],
    }
    for why, array in bad.items():
        with pytest.raises(DataError) as e:
            load_clips(array)
        assert "\n" not in str(e.value), why
    for kwargs in ({"frames": 0}, {"size": -1}, {"frames": True}):
        with pytest.raises(DataError):
            load_clips(_ramp(2, 3), **kwargs)
    np.save("objects.npy", np.array([None, 1], dtype=object))
    with pytest.raises(DataError):
        load_clips("objects.npy")


# ---------------------------------------------------------------- folders


def _gif(frames: int, side: int = 16, color: bool = False, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    shape = (side, side, 3) if color else (side, side)
    images = [Image.fromarray(rng.integers(0, 256, shape, np.uint8)) for _ in range(frames)]
    buf = io.BytesIO()
    images[0].save(buf, "GIF", save_all=True, append_images=images[1:], duration=40, loop=0)
    return buf.getvalue()


def test_gif_class_folders_make_labels_and_skip_short_clips():
    for cls, lengths in (("cats", (5, 6, 3)), ("dogs", (7, 5))):
        (Path("gifs") / cls).mkdir(parents=True)
        for i, t in enumerate(lengths):
            (Path("gifs") / cls / f"{i}.gif").write_bytes(_gif(t, seed=i))
    (Path("gifs") / ".DS_Store").write_bytes(b"\0\1")
    clips = load_clips("gifs", frames=5)
    assert clips.classes == ["cats", "dogs"]
    assert clips.train.shape == (4, 5, 1, 16, 16)      # the 3-frame clip is skipped
    assert clips.train_labels.tolist() == [0, 0, 1, 1] and clips.test.shape[0] == 0
    assert "skipped 1 shorter than 5 frames" in clips.note
    clips = load_clips("gifs")                          # frames: the shortest clip's length
    assert clips.train.shape[:2] == (5, 3)


def test_gif_frames_read_exactly_and_color_mixes_to_rgb():
    Path("mixed").mkdir()
    (Path("mixed") / "gray.gif").write_bytes(_gif(4))
    (Path("mixed") / "color.gif").write_bytes(_gif(4, color=True))
    clips = load_clips("mixed")
    assert clips.train.shape == (2, 4, 3, 16, 16)
    with Image.open("mixed/gray.gif") as img:
        img.seek(2)
        third = np.array(img.convert("L"))
    gray = clips.train[1]     # sorted by name: color.gif, gray.gif
    assert torch.equal(gray[2, 0], torch.from_numpy(third)) and torch.equal(gray[:, 0], gray[:, 1])


def test_a_gif_that_holds_a_picture_reads_back_every_frame(tmp_path):
    """GIF files store a picture shown for several frames once, with a longer duration (Pillow
    merges repeated frames so): reading counts it as that many frames again."""
    from gankit.tasks.video.data import read_clip
    from gankit.tasks.video.outputs import write_clips
    clips = -torch.ones(1, 6, 1, 8, 8)
    for t, x in enumerate([0, 0, 0, 1, 2, 2]):               # still, moving, still again
        clips[0, t, 0, 2:5, x:x + 3] = 1
    write_clips(clips, tmp_path / "held.gif")
    with Image.open(tmp_path / "held.gif") as img:
        assert img.n_frames == 3                              # what the file holds
    back = read_clip(tmp_path / "held.gif")                  # one clip in a grid's border
    assert back.shape[:2] == (6, 1)
    same = [torch.equal(back[t], back[t + 1]) for t in range(5)]
    assert same == [True, True, False, False, True]          # every frame, in its place


def test_frame_folders_train_test_split_and_resizing():
    rng = np.random.default_rng(0)
    for split, count in (("train", 3), ("test", 2)):
        for c in range(count):
            folder = Path("frames") / split / f"clip{c}"
            folder.mkdir(parents=True)
            for k in range(4):
                frame = rng.integers(0, 256, (20, 30, 3), np.uint8)
                Image.fromarray(frame).save(folder / f"{k:03d}.png")
    clips = load_clips("frames")
    assert clips.train.shape == (3, 4, 3, 20, 30) and clips.test.shape == (2, 4, 3, 20, 30)
    first = np.array(Image.open("frames/train/clip0/000.png"))
    assert torch.equal(clips.train[0, 0], torch.from_numpy(first).permute(2, 0, 1))
    assert load_clips("frames", size=12).train.shape == (3, 4, 3, 12, 12)
    # a frame of another size inside one clip: one DataError naming it
    Image.fromarray(rng.integers(0, 256, (10, 10, 3), np.uint8)).save("frames/train/clip1/002.png")
    with pytest.raises(DataError, match="clip1/002.png"):
        load_clips("frames")


def test_folder_errors():
    Path("empty").mkdir()
    with pytest.raises(DataError, match="no clips"):
        load_clips("empty")
    Path("sizes").mkdir()
    (Path("sizes") / "a.gif").write_bytes(_gif(3, side=16))
    (Path("sizes") / "b.gif").write_bytes(_gif(3, side=20))
    with pytest.raises(DataError, match="pass --resolution"):
        load_clips("sizes")
    assert load_clips("sizes", size=8).train.shape == (2, 3, 1, 8, 8)
    with pytest.raises(DataError):
        load_clips("nowhere")
    Path("bad").mkdir()
    (Path("bad") / "a.gif").write_bytes(b"GIF89a")
    with pytest.raises(DataError, match="could be read"):
        load_clips("bad")


def test_mp4_without_a_reader_says_what_to_install(monkeypatch):
    for name in ("av", "imageio", "imageio.v3", "imageio_ffmpeg"):
        monkeypatch.setitem(sys.modules, name, None)     # import fails
    Path("mp4").mkdir()
    (Path("mp4") / "a.mp4").write_bytes(b"\0" * 64)
    with pytest.raises(DataError, match="pip install av") as e:
        load_clips("mp4")
    assert "\n" not in str(e.value)


# ---------------------------------------------------------------- fuzz


def _mutants(data: bytes, seed: int, flips: int = 30) -> list[bytes]:
    rng = random.Random(seed)
    out = [data[:k] for k in sorted({0, 1, 4, 8, 16, 40, len(data) // 2, len(data) - 1})]
    for _ in range(flips):
        b = bytearray(data)
        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        out.append(bytes(b))
    return out


@pytest.mark.parametrize("color", [False, True])
def test_damaged_gif_beside_good_ones_is_read_skipped_or_one_gankit_error(color):
    mutants = _mutants(_gif(4, side=12, color=color, seed=7), seed=int(color))
    assert len(mutants) >= 30
    skipped = 0
    for i, data in enumerate(mutants):
        folder = Path("fuzz")
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        for k in range(2):
            (folder / f"good{k}.gif").write_bytes(_gif(4, side=12, seed=k))
        (folder / "bad.gif").write_bytes(data)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                clips = load_clips(folder, frames=3)
            assert clips.train.shape[0] + clips.test.shape[0] in (2, 3), i
            said = [w for w in caught if issubclass(w.category, GanKitWarning)]
            if clips.train.shape[0] + clips.test.shape[0] == 2 and "unreadable" in clips.note:
                skipped += 1
                assert len(said) == 1 and "\n" not in str(said[0].message), i
        except GanKitError as e:
            assert "\n" not in str(e), (i, str(e))
        except Exception as e:  # noqa: BLE001 - the point of the test
            pytest.fail(f"case {i}: {type(e).__name__}: {e}")
    assert skipped >= 5     # the truncated ones at least


def test_damaged_frame_skips_its_clip_and_npz_label_errors():
    rng = np.random.default_rng(0)
    for c in range(3):
        (Path("shots") / f"c{c}").mkdir(parents=True)
        for k in range(3):
            Image.fromarray(rng.integers(0, 256, (8, 8), np.uint8)).save(f"shots/c{c}/{k}.png")
    Path("shots/c1/1.png").write_bytes(b"\x89PNG\r\n")
    with pytest.warns(GanKitWarning, match="skipped 1 of 3 clips"):
        clips = load_clips("shots")
    assert clips.train.shape == (2, 3, 1, 8, 8) and "1 unreadable" in clips.note
    np.savez("nolabels.npz", videos=_ramp(3, 2), labels=[0, 1, 0], test=_ramp(2, 2))
    with pytest.raises(DataError, match="test_labels"):
        load_clips("nolabels.npz")
    np.savez("badlabels.npz", videos=_ramp(3, 2), labels=[0.5, 1, 0])
    with pytest.raises(DataError, match="labels must be integers"):
        load_clips("badlabels.npz")
