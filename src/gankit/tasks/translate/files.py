"""Images in and out of a translation run: what `translate` takes from Python (as_image_list),
and `gankit translate`'s files, folders and .npz inputs written as PNGs (translate_files)."""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ...data.images import image_files, read_image
from ...errors import ConfigError, DataError, GanKitWarning

if TYPE_CHECKING:
    from .facade import ImageTranslation


def as_image_list(images: Any) -> list[torch.Tensor]:
    """Inputs -> list of uint8 [C, H, W] tensors."""
    if isinstance(images, torch.Tensor):
        if images.dim() == 3:
            images = images[None]
        if images.dtype != torch.uint8:
            raise DataError("translate takes uint8 images (0..255)")
        return list(images)
    if isinstance(images, np.ndarray):
        if images.ndim == 3:
            images = images[None]
        if images.dtype != np.uint8 or images.ndim != 4:
            raise DataError(f"translate takes uint8 [N, H, W, C] images, got {images.dtype} "
                            f"{list(images.shape)}")
        return [torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1) for x in images]
    if isinstance(images, (list, tuple)):
        return [t for x in images for t in as_image_list(np.asarray(x) if not isinstance(x, torch.Tensor) else x)]
    raise DataError(f"translate takes uint8 images, got {type(images).__name__}")


def translate_files(tr: ImageTranslation, inputs: Sequence[Path], output: Path,
                    overwrite: bool = False, direction: str = "AtoB") -> tuple[int, int]:
    """Translate image files (or folders of them, or .npz `images`) into `output/`, same names as
    PNG; returns (written, skipped unreadable)."""
    from ...outputs import refuse_overwrite
    from ...viz import save_png
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise ConfigError(f"--output {output} is a file; name a directory")
    jobs: list[tuple[str, Any]] = []
    for src in map(Path, inputs):
        if src.is_dir():
            jobs += [(f.relative_to(src).with_suffix(".png").as_posix(), f) for f in image_files(src)]
        elif src.suffix.lower() == ".npz":
            from ...evaluation import load_samples
            imgs = load_samples(src)
            jobs += [(f"{src.stem}-{i:06d}.png", img) for i, img in enumerate(imgs)]
        elif src.is_file():
            jobs.append((src.with_suffix(".png").name, src))
        else:
            raise DataError(f"{src}: no such file or folder")
    if not jobs:
        raise DataError("no images to translate")
    output.mkdir(parents=True, exist_ok=True)
    written = skipped = 0
    for name, src in jobs:
        target = output / name
        refuse_overwrite(target, overwrite)
        img = read_image(src) if isinstance(src, Path) else src
        if img is None:
            skipped += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        out = tr.translate(img, direction) if tr.config.task == "cyclegan" else tr.translate(img)
        save_png(out[0], target)
        written += 1
    if skipped:
        warnings.warn(f"skipped {skipped} unreadable image files", GanKitWarning)
    return written, skipped
