"""Writing samples out: .npz arrays, a PNG grid, or a folder of PNGs; never over a file by accident.

(`export.py` writes the generator itself, for `gankit export`.)
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .errors import ConfigError
from .viz import make_grid, save_png, to_uint8


def refuse_overwrite(path: Path, overwrite: bool) -> None:
    """Never replace a file the user already has unless they said so."""
    if Path(path).exists() and not overwrite:
        raise ConfigError(f"{path} already exists; pass --overwrite to replace it")


def check_output_kind(output: Path) -> None:
    """A FILE.npz/.png/.txt that is a directory, or a suffix-less name (a directory's) that is a
    file: neither can be written as asked, so say so instead of failing half-way."""
    if output.is_dir() and output.suffix.lower() in (".npz", ".png", ".txt", ".wav"):
        raise ConfigError(f"--output {output} is a directory, not a {output.suffix} file")
    if output.exists() and not output.is_dir() and output.suffix == "":
        raise ConfigError(f"--output {output} is an existing file; a name without a suffix is a "
                          f"directory of files: choose a new one, or FILE.npz / FILE.png")


def write_samples(samples: torch.Tensor, output: Path, overwrite: bool = False,
                  labels: Optional[torch.Tensor] = None) -> Path:
    """samples: images [N, C, H, W] in [-1, 1], vectors [N, ...], or a text run's items (a list
    of strings, which go to FILE.txt, one a line).

    FILE.npz gets `images` (uint8 [N, H, W, C]) or, for vectors, `samples` (float32), and the
    class `labels` (int64 [N]) of a conditional GAN; FILE.png a grid; a path without suffix (or an
    existing directory) one PNG per image, named with its class when there are labels.
    """
    output = Path(output)
    if not output.parent.is_dir():
        raise ConfigError(f"--output {output}: no such directory {output.parent}")
    check_output_kind(output)
    if isinstance(samples, list):   # items of a text run
        return write_text_items(samples, output, overwrite)
    if output.suffix.lower() == ".txt":
        raise ConfigError("these samples are images or vectors, not text: write them to .npz, "
                          ".png or a directory")
    is_dir = output.is_dir() or output.suffix == ""
    if not is_dir or (output.exists() and any(output.iterdir())):
        refuse_overwrite(output, overwrite)
    images = samples.dim() == 4
    if output.suffix.lower() == ".npz":
        arrays = {"images": to_uint8(samples)} if images else {"samples": samples.numpy()}
        if labels is not None:
            arrays["labels"] = labels.numpy().astype(np.int64)
        tmp = output.with_name(f".{output.name}.tmp.npz")
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, output)
        return output
    if not images:
        raise ConfigError(f"these samples are vectors of shape {list(samples.shape[1:])}, not "
                          f"images: write them to a .npz file")
    if output.suffix.lower() == ".png":
        save_png(make_grid(to_uint8(samples)), output)
        return output
    if not is_dir:
        raise ConfigError(f"unknown output type {output.suffix!r}: use .npz, .png or a directory")
    output.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(to_uint8(samples)):
        name = f"{i:06d}.png" if labels is None else f"{i:06d}-class{int(labels[i])}.png"
        save_png(img, output / name)
    return output


def write_text_items(items: list[str], output: Path, overwrite: bool = False) -> Path:
    """Generated text items to FILE.txt, one a line (UTF-8)."""
    output = Path(output)
    if output.suffix.lower() != ".txt":
        raise ConfigError(f"a text run's samples are text: write them to a .txt file (one item "
                          f"per line), not {output.suffix or 'a directory'}")
    refuse_overwrite(output, overwrite)
    tmp = output.with_name(f".{output.name}.tmp")
    tmp.write_text("".join(f"{item}\n" for item in items), encoding="utf-8")
    os.replace(tmp, output)
    return output
