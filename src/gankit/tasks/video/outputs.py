"""Writing clips out: animated GIFs (one clip, or a grid of clips playing together), .npz arrays
of uint8 [N, T, H, W, C] under `videos`, or a folder of GIFs; never over a file by accident."""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ...errors import ConfigError
from ...outputs import check_output_kind, refuse_overwrite
from ...viz import make_grid, to_uint8

FRAME_MS = 100   # 10 frames per second, Moving MNIST's pace


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
                labels: Optional[torch.Tensor] = None) -> Path:
    """FILE.npz: `videos` uint8 [N, T, H, W, C] (+ `labels`); FILE.gif: one grid in which every
    clip plays; a directory (a name without suffix): one GIF per clip, named with its class
    when there are labels."""
    output = Path(output)
    if not output.parent.is_dir():
        raise ConfigError(f"--output {output}: no such directory {output.parent}")
    check_output_kind(output)
    suffix = output.suffix.lower()
    if suffix not in (".npz", ".gif", ""):
        raise ConfigError(f"a video run's samples are clips: write them to FILE.npz, FILE.gif "
                          f"or a directory (one GIF per clip), not {suffix}")
    if suffix or (output.exists() and any(output.iterdir())):
        refuse_overwrite(output, overwrite)
    if suffix == ".npz":
        arrays = {"videos": clips_uint8(clips)}
        if labels is not None:
            arrays["labels"] = labels.numpy().astype(np.int64)
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        write_atomic(output, buf.getvalue())
    elif suffix == ".gif":
        write_atomic(output, gif_bytes(grid_frames(clips)))
    else:
        output.mkdir(parents=True, exist_ok=True)
        for i, frames in enumerate(clips_uint8(clips)):
            name = f"{i:06d}.gif" if labels is None else f"{i:06d}-class{int(labels[i])}.gif"
            write_atomic(output / name, gif_bytes(frames))
    return output


__all__ = ["clips_uint8", "gif_bytes", "grid_frames", "write_atomic", "write_clips"]
