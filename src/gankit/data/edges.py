"""Edge maps of images, and paired edges -> image folders for pix2pix.

    gankit edges fashion-mnist data/edges2items        # A/ = edge maps, B/ = the items
    gankit train --task pix2pix --dataset data/edges2items

An edge map is drawn the way edges2shoes-style datasets look: dark lines on white. The lines are
where the Sobel gradient of the image's lightness is strong: above a share (`threshold`) of the
image's own strongest gradient, so faint and bold images both get their outline and their main
inner lines. The image is first smoothed by a 3 x 3 binomial filter so that pixel noise and JPEG
artefacts do not become lines. Lines are black by default (binary, as edges2shoes' post-processed
HED edges are); `soft=True` keeps their strength as gray levels instead (white at the threshold,
black at the strongest gradient), which hands the translator more of the picture.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError, DataError

THRESHOLD = 0.25   # share of the image's strongest gradient that makes a line
CHUNK = 1024       # images turned into edge maps at once


def edge_maps(images: torch.Tensor, threshold: float = THRESHOLD, soft: bool = False
              ) -> torch.Tensor:
    """uint8 images [N, C, H, W] -> uint8 edge maps [N, 1, H, W]: 0 on a line, 255 elsewhere
    (soft: 255 at or below the threshold, down to 0 at the image's strongest gradient)."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise DataError(f"edge maps need images [N, C, H, W] with 1 or 3 channels, got "
                        f"{list(images.shape)}")
    if not 0.0 < threshold < 1.0:
        raise ConfigError(f"the edge threshold is a share between 0 and 1, got {threshold}")
    gray = images.float().mean(1, keepdim=True) / 255.0                     # [N, 1, H, W]
    blur = torch.tensor([1.0, 2.0, 1.0])
    smooth = (blur[:, None] * blur[None, :] / 16.0)[None, None]
    gray = F.conv2d(F.pad(gray, (1, 1, 1, 1), mode="replicate"), smooth)
    sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    kernels = torch.stack([sobel, sobel.t()])[:, None]                     # [2, 1, 3, 3]
    grad = F.conv2d(F.pad(gray, (1, 1, 1, 1), mode="replicate"), kernels)  # [N, 2, H, W]
    mag = grad.pow(2).sum(1, keepdim=True).sqrt()
    peak = mag.amax(dim=(2, 3), keepdim=True).clamp_min(1e-6)
    if soft:   # strength above the threshold, 0..1 -> 255..0; a flat image stays white
        ink = ((mag / peak - threshold) / (1 - threshold)).clamp(0, 1) * (peak > 1e-3)
        return (255 - (ink * 255).round()).to(torch.uint8)
    lines = (mag > threshold * peak) & (peak > 1e-3)   # a flat image has no lines
    return torch.where(lines, 0, 255).to(torch.uint8)


def write_edge_pairs(out: Union[str, Path], splits: dict[str, torch.Tensor],
                     labels: Optional[dict[str, torch.Tensor]] = None,
                     threshold: float = THRESHOLD, overwrite: bool = False,
                     soft: bool = False) -> dict:
    """A pix2pix folder from images: OUT/A/SPLIT/NNNNNN.png (edge maps) and OUT/B/SPLIT/NNNNNN.png
    (the images), for each split ("train", "test") of uint8 images [N, C, H, W]. With `labels`,
    OUT/labels.json records each file's class. Returns the counts written."""
    from ..viz import save_png
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file; name a folder to write the pairs into")
    if out.exists() and any(out.iterdir()):
        if not (out / "pairs.json").is_file():   # never delete what gankit did not write
            raise ConfigError(f"{out} exists and holds files that are not a gankit edges folder; "
                              f"name a new or empty folder")
        if not overwrite:
            raise ConfigError(f"{out} already holds edge pairs; pass --overwrite to replace them")
        for side in ("A", "B"):
            shutil.rmtree(out / side, ignore_errors=True)
    record: dict = {"threshold": threshold, "soft": soft, "counts": {}, "labels": {}}
    for split, images in splits.items():
        for side in ("A", "B"):
            (out / side / split).mkdir(parents=True, exist_ok=True)
        for start in range(0, len(images), CHUNK):   # bounds the float working memory
            chunk = images[start:start + CHUNK]
            edges = edge_maps(chunk, threshold, soft).permute(0, 2, 3, 1).numpy()   # [n, H, W, 1]
            pictures = chunk.permute(0, 2, 3, 1).numpy()                      # [n, H, W, C]
            for i in range(len(chunk)):
                name = f"{start + i:06d}.png"
                save_png(edges[i], out / "A" / split / name)
                save_png(pictures[i], out / "B" / split / name)
        record["counts"][split] = len(images)
        if labels is not None and split in labels:
            record["labels"][split] = labels[split].tolist()
    tmp = out / ".pairs.json.tmp"
    tmp.write_text(json.dumps(record))
    tmp.replace(out / "pairs.json")
    return record["counts"]


def read_pair_labels(root: Union[str, Path], split: str = "test") -> np.ndarray:
    """The class of each file of a split written by write_edge_pairs (int64 [N])."""
    path = Path(root) / "pairs.json"
    try:
        labels = json.loads(path.read_text())["labels"][split]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"{path}: no labels for the {split} split ({e})") from None
    return np.asarray(labels, dtype=np.int64)


__all__ = ["THRESHOLD", "edge_maps", "read_pair_labels", "write_edge_pairs"]
