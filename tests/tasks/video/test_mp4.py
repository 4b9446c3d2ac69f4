"""MP4 clips both ways: written by `gankit sample` (a grid that plays, or one file per clip)
through PyAV, and read back by the video task's data loader, damaged files included."""
from __future__ import annotations

import random
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import one_error, run

from gankit.errors import ConfigError, DataError, GanKitError, GanKitWarning
from gankit.tasks.video.data import load_clips, read_clip
from gankit.tasks.video.outputs import clips_uint8, grid_frames, mp4_bytes, write_clips

av = pytest.importorskip("av")   # in the test extras; gankit itself never needs it


def _moving_squares(n: int = 3, frames: int = 6, side: int = 16) -> torch.Tensor:
    """Clips [n, frames, 1, side, side] in [-1, 1]: a bright square moving one pixel a frame."""
    clips = -torch.ones(n, frames, 1, side, side)
    for i in range(n):
        for t in range(frames):
            clips[i, t, 0, 2 + i:8 + i, 1 + t:7 + t] = 1
    return clips


def _frames(path: Path) -> np.ndarray:
    """Every frame of a video file as PyAV decodes it: uint8 [T, H, W, 3]."""
    with av.open(str(path)) as box:
        return np.stack([f.to_ndarray(format="rgb24") for f in box.decode(video=0)])


def _close(got: np.ndarray, want: np.ndarray) -> None:
    """H.264 is lossy: near the pixels on average, and every square where it was."""
    got, want = got.astype(float), want.astype(float)
    assert got.shape == want.shape
    assert np.abs(got - want).mean() < 8 and ((got > 127) == (want > 127)).mean() > 0.97


def test_a_grid_mp4_plays_every_clip_and_a_folder_holds_one_per_clip(tmp_path):
    clips = _moving_squares()
    out = write_clips(clips, tmp_path / "grid.mp4")
    with av.open(str(out)) as box:
        stream = box.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.average_rate == 10
        assert stream.codec_context.pix_fmt == "yuv420p"
    grid = grid_frames(clips)                         # [T, H', W', 1]
    _close(_frames(out)[..., :1], grid)
    labels = torch.tensor([1, 0, 1])
    write_clips(clips, tmp_path / "each", labels=labels, fmt="mp4")
    files = sorted((tmp_path / "each").iterdir())
    assert [p.name for p in files] == ["000000-class1.mp4", "000001-class0.mp4",
                                       "000002-class1.mp4"]
    for path, want in zip(files, clips_uint8(clips)):
        _close(_frames(path)[..., :1], want)
    write_clips(clips, tmp_path / "gifs")             # a folder's default stays GIF
    assert [p.suffix for p in (tmp_path / "gifs").iterdir()] == [".gif"] * 3
    assert not list(tmp_path.rglob(".*tmp*"))         # written under a temporary name, renamed


def test_odd_sides_are_padded_to_what_h264_takes(tmp_path):
    frames = clips_uint8(_moving_squares(1, 4, side=15))[0][:, :, :9]   # [4, 15, 9, 1]
    (tmp_path / "odd.mp4").write_bytes(mp4_bytes(frames))
    got = _frames(tmp_path / "odd.mp4")
    assert got.shape == (4, 16, 10, 3)
    _close(got[:, :15, :9, :1], frames)


def test_mp4_refusals_are_one_line_and_write_nothing(tmp_path, monkeypatch):
    clips = _moving_squares(2, 3)
    (tmp_path / "mine.mp4").write_bytes(b"keep me")
    with pytest.raises(ConfigError, match="already exists"):
        write_clips(clips, tmp_path / "mine.mp4")
    with pytest.raises(ConfigError, match="--format mp4 names the files of a directory"):
        write_clips(clips, tmp_path / "c.gif", fmt="mp4")
    with pytest.raises(ConfigError, match="unknown clip format 'avi'"):
        write_clips(clips, tmp_path / "d", fmt="avi")
    (tmp_path / "dir.mp4").mkdir()
    with pytest.raises(ConfigError, match="is a directory"):
        write_clips(clips, tmp_path / "dir.mp4", overwrite=True)
    monkeypatch.setitem(sys.modules, "av", None)      # PyAV not installed
    for output, fmt in ((tmp_path / "g.mp4", None), (tmp_path / "folder", "mp4")):
        with pytest.raises(ConfigError, match="pip install av") as e:
            write_clips(clips, output, fmt=fmt)
        assert "\n" not in str(e.value) and not output.exists()
    assert (tmp_path / "mine.mp4").read_bytes() == b"keep me"


def test_sample_writes_mp4_from_the_command_line(video_runs, tmp_path, capsys, monkeypatch):
    r = video_runs / "plain"
    code, _, err = run(capsys, "sample", r, "--num", 4, "--output", tmp_path / "clips.mp4")
    assert code == 0 and "wrote 4 samples" in err, err
    assert len(_frames(tmp_path / "clips.mp4")) == 4                     # the run's 4 frames
    code, _, err = run(capsys, "sample", r, "--num", 3, "--output", tmp_path / "each",
                       "--format", "mp4")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "each").iterdir()) == [
        "000000.mp4", "000001.mp4", "000002.mp4"]
    one_error(capsys, "sample", r, "--num", 2, "--output", tmp_path / "clips.mp4",
              match="--overwrite")
    one_error(capsys, "sample", r, "--num", 2, "--output", tmp_path / "x.npz", "--format", "mp4",
              match="--format mp4 names the files of a directory")
    monkeypatch.setitem(sys.modules, "av", None)
    one_error(capsys, "sample", r, "--num", 2, "--output", tmp_path / "new.mp4",
              match="pip install av")
    assert not (tmp_path / "new.mp4").exists()


# ---------------------------------------------------------------- reading MP4 back


def _mp4_folder(root: Path, n: int = 4, frames: int = 6) -> list[np.ndarray]:
    """root/clipK.mp4 of moving squares; returns their uint8 frames [T, H, W, 1]."""
    root.mkdir(parents=True)
    clips = clips_uint8(_moving_squares(n, frames))
    for k, clip in enumerate(clips):
        (root / f"clip{k}.mp4").write_bytes(mp4_bytes(clip))
    return list(clips)


def test_load_clips_reads_mp4_files(tmp_path):
    want = _mp4_folder(tmp_path / "mp4s")
    clips = load_clips(tmp_path / "mp4s")
    assert clips.train.shape == (4, 6, 1, 16, 16) and clips.train.dtype == torch.uint8
    for got, clip in zip(clips.train, want):      # gray stays one channel; pixels near
        _close(got.permute(0, 2, 3, 1).numpy(), clip)
    assert load_clips(tmp_path / "mp4s", frames=4, size=8).train.shape == (4, 4, 1, 8, 8)


def _cut(data: bytes) -> list[bytes]:
    """Truncations (where an interrupted copy stops) and bit flips of an MP4."""
    rng = random.Random(0)
    out = [data[:k] for k in (0, 8, 64, len(data) // 3, len(data) // 2, len(data) - 100)]
    for _ in range(10):
        b = bytearray(data)
        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        out.append(bytes(b))
    return out


def test_a_damaged_mp4_beside_good_ones_is_read_or_skipped_with_one_warning(tmp_path):
    good = _mp4_folder(tmp_path / "good", n=2)
    skipped = 0
    for i, data in enumerate(_cut((tmp_path / "good" / "clip0.mp4").read_bytes())):
        folder = tmp_path / f"case{i}"
        shutil.copytree(tmp_path / "good", folder)
        (folder / "zbad.mp4").write_bytes(data)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                clips = load_clips(folder, frames=4)
        except GanKitError as e:
            assert "\n" not in str(e), (i, str(e))
            continue
        said = [w for w in caught if issubclass(w.category, GanKitWarning)]
        assert len(clips.train) + len(clips.test) in (len(good), len(good) + 1), i
        if len(clips.train) + len(clips.test) == len(good) and "unreadable" in clips.note:
            skipped += 1
            assert len(said) == 1 and "zbad.mp4" in str(said[0].message), i
            assert "\n" not in str(said[0].message)
    assert skipped >= 4    # the truncations that cut off the index at least


def test_a_lone_damaged_mp4_is_one_line(tmp_path):
    _mp4_folder(tmp_path / "good", n=1)
    half = (tmp_path / "good" / "clip0.mp4").read_bytes()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "cut.mp4").write_bytes(half[: len(half) // 2])
    with pytest.raises(DataError, match="could be read") as e:
        load_clips(tmp_path / "bad")
    assert "\n" not in str(e.value) and "cut.mp4" in str(e.value)
    with pytest.raises(ValueError):               # what the folder reader skips
        read_clip(tmp_path / "bad" / "cut.mp4")
    with pytest.raises(DataError, match="expected a folder of clips") as e:   # a file, not a set
        load_clips(tmp_path / "good" / "clip0.mp4")
    assert "\n" not in str(e.value)


# ---------------------------------------------------------------- WebM, AVI, MOV, MKV


def _encode(frames: np.ndarray, path: Path, codec: str) -> None:
    """frames uint8 [T, H, W, 1] as a video file of `codec` in path's container, via PyAV."""
    with av.open(str(path), "w") as box:
        stream = box.add_stream(codec, rate=10)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        for frame in frames:
            rgb = np.repeat(frame, 3, axis=2)
            box.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        box.mux(stream.encode())


@pytest.mark.parametrize("suffix, codec", [(".webm", "libvpx"), (".webm", "libvpx-vp9"),
                                           (".avi", "mpeg4"), (".avi", "mjpeg"),
                                           (".mov", "h264"), (".mkv", "ffv1")])
def test_webm_avi_mov_and_mkv_clips_are_read_and_damage_is_one_line(tmp_path, suffix, codec):
    try:
        av.codec.Codec(codec, "w")
    except Exception:  # noqa: BLE001 - a PyAV build without this encoder
        pytest.skip(f"this PyAV has no {codec} encoder")
    want = clips_uint8(_moving_squares(3, 6))
    folder = tmp_path / "clips"
    folder.mkdir()
    for k, clip in enumerate(want):
        _encode(clip, folder / f"clip{k}{suffix}", codec)
    clips = load_clips(folder)
    assert clips.train.shape == (3, 6, 1, 16, 16)     # every frame, gray kept as one channel
    for got, clip in zip(clips.train, want):
        _close(got.permute(0, 2, 3, 1).numpy(), clip)
    data = (folder / f"clip0{suffix}").read_bytes()
    (folder / f"zcut{suffix}").write_bytes(data[: len(data) // 3])
    with warnings.catch_warnings(record=True) as caught:   # read what survives, or skip it
        warnings.simplefilter("always")
        clips = load_clips(folder, frames=2)
    assert len(clips.train) + len(clips.test) in (3, 4)
    assert all("\n" not in str(w.message) for w in caught)
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / f"cut{suffix}").write_bytes(data[:64])
    with pytest.raises(DataError) as e:
        load_clips(lone)
    assert "\n" not in str(e.value) and f"cut{suffix}" in str(e.value)
