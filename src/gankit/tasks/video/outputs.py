"""Writing clips out: animated GIFs or MP4 videos (one clip, or a grid of clips playing together),
.npz arrays of uint8 [N, T, H, W, C] under `videos`, or a folder of GIFs or MP4s; never over a file
by accident, and each file written under a temporary name, then renamed into place.

MP4 is H.264 through PyAV (`pip install av`, an optional extra: gankit[video]); GIF needs nothing
beyond Pillow, so it stays the default."""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from ...errors import ConfigError
from ...outputs import check_output_kind, refuse_overwrite
from ...viz import make_grid, to_uint8

FRAME_MS = 100   # 10 frames per second, Moving MNIST's pace
FORMATS = ("gif", "mp4")   # what a directory of clips holds, one file per clip
# visually lossless H.264 (crf 17) in the pixel format every player and browser decodes
MP4_CODEC, MP4_PIXELS, MP4_CRF = "libx264", "yuv420p", "17"


def clips_uint8(clips: torch.Tensor) -> np.ndarray:
    """Clips [N, T, C, H, W] in [-1, 1] -> uint8 [N, T, H, W, C]."""
    n, t = clips.shape[:2]
    return to_uint8(clips.reshape(n * t, *clips.shape[2:])).reshape(n, t, *clips.shape[3:],
                                                                   clips.shape[2])


def gif_bytes(frames: np.ndarray, scale: int = 1) -> bytes:
    """uint8 frames [T, H, W, C] -> an animated GIF that loops (gray stays gray)."""
    from PIL import Image
    if scale > 1:
        frames = frames.repeat(scale, 1).repeat(scale, 2)
    pics = [Image.fromarray(f[..., 0] if f.shape[-1] == 1 else f) for f in frames]
    buf = io.BytesIO()
    pics[0].save(buf, format="GIF", save_all=True, append_images=pics[1:], duration=FRAME_MS,
                 loop=0)
    return buf.getvalue()


def mp4_bytes(frames: np.ndarray) -> bytes:
    """uint8 frames [T, H, W, C] -> an H.264 MP4 at 10 frames a second (PyAV's own ffmpeg).
    yuv420p needs even sides: an odd side gets its last row or column repeated once."""
    av = require_av()
    h, w = frames.shape[1:3]
    frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    if frames.shape[-1] == 1:
        frames = frames.repeat(3, -1)
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as box:
        stream = box.add_stream(MP4_CODEC if MP4_CODEC in av.codecs_available else "mpeg4",
                                rate=1000 // FRAME_MS)
        stream.width, stream.height, stream.pix_fmt = w + w % 2, h + h % 2, MP4_PIXELS
        if stream.codec_context.name == MP4_CODEC:
            stream.options = {"crf": MP4_CRF}
        for frame in frames:
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            box.mux(stream.encode(picture))
        box.mux(stream.encode())   # flush the encoder's delayed frames
    return buf.getvalue()


def require_av() -> Any:
    """The `av` module (PyAV), or one ConfigError line saying how to install it."""
    try:
        import av
    except ImportError:
        raise ConfigError("writing MP4 needs PyAV: pip install av (or pip install "
                          "'gankit[video]'), or write GIFs instead") from None
    return av


def grid_frames(clips: torch.Tensor, nrow: Optional[int] = None) -> np.ndarray:
    """Clips [N, T, C, H, W] -> the frames [T, H', W', C] of one grid in which they all play."""
    frames = clips_uint8(clips)
    return np.stack([make_grid(frames[:, t], nrow) for t in range(frames.shape[1])])


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` under a temporary name, then rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_clips(clips: torch.Tensor, output: Path, overwrite: bool = False,
                labels: Optional[torch.Tensor] = None, fmt: Optional[str] = None) -> Path:
    """FILE.npz: `videos` uint8 [N, T, H, W, C] (+ `labels`); FILE.gif or FILE.mp4: one grid in
    which every clip plays; a directory (a name without suffix): one file per clip, GIF or
    (`fmt="mp4"`) MP4, named with its class when there are labels."""
    output = Path(output)
    suffix = _check_output(output, fmt)
    if suffix or (output.exists() and any(output.iterdir())):
        refuse_overwrite(output, overwrite)
    if ".mp4" in (suffix, f".{fmt}"):
        require_av()   # before anything is written
    if suffix == ".npz":
        arrays = {"videos": clips_uint8(clips)}
        if labels is not None:
            arrays["labels"] = labels.numpy().astype(np.int64)
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        write_atomic(output, buf.getvalue())
    elif suffix:
        write_atomic(output, ENCODERS[suffix](grid_frames(clips)))
    else:
        ext = f".{fmt or 'gif'}"
        output.mkdir(parents=True, exist_ok=True)
        for i, frames in enumerate(clips_uint8(clips)):
            name = f"{i:06d}" if labels is None else f"{i:06d}-class{int(labels[i])}"
            write_atomic(output / f"{name}{ext}", ENCODERS[ext](frames))
    return output


def _check_output(output: Path, fmt: Optional[str]) -> str:
    """The output's suffix, once it is one a video run writes (and `fmt` agrees with it)."""
    if not output.parent.is_dir():
        raise ConfigError(f"--output {output}: no such directory {output.parent}")
    check_output_kind(output)
    suffix = output.suffix.lower()
    if suffix not in (".npz", *ENCODERS, ""):
        raise ConfigError(f"a video run's samples are clips: write them to FILE.npz, FILE.gif, "
                          f"FILE.mp4 or a directory (one GIF or MP4 per clip), not {suffix}")
    if suffix in ENCODERS and output.is_dir():
        raise ConfigError(f"--output {output} is a directory, not a {suffix} file")
    if fmt is not None and fmt not in FORMATS:
        raise ConfigError(f"unknown clip format {fmt!r}: use {' or '.join(FORMATS)}")
    if fmt is not None and suffix and suffix != f".{fmt}":
        raise ConfigError(f"--format {fmt} names the files of a directory of clips; --output "
                          f"{output.name} says its own format (write a name without a suffix, "
                          f"or FILE.{fmt})")
    return suffix


ENCODERS = {".gif": gif_bytes, ".mp4": mp4_bytes}   # frames [T, H, W, C] -> a file's bytes


__all__ = ["FORMATS", "clips_uint8", "gif_bytes", "grid_frames", "mp4_bytes", "require_av",
           "write_atomic", "write_clips"]
