"""`gankit classify`'s work: a semi-supervised run's class probabilities for image files, folders
and arrays, written as CSV or .npz."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np
import torch

from ...errors import ConfigError, DataError
from ...train.state import atomic_write_text

if TYPE_CHECKING:
    from .facade import SemiGAN


def _read_items(clf: SemiGAN, src: Path) -> tuple[list[str], torch.Tensor]:
    """(names, the net's inputs [n, *data_shape]) of one input: an image file (resized to the run's
    size and channels), a folder of them, or a .npy/.npz (its `images`, `x` or only array; one item
    per row, in any layout `predict` takes)."""
    from ...data.arrays import read_arrays
    from ...data.images import ImageData, conform, image_files, read_image
    shape = clf.config.data_shape
    if src.is_dir():
        files = image_files(src)
        parts = [_read_items(clf, f) for f in files]
        return ([f.relative_to(src).as_posix() for f in files],
                torch.cat([x for _, x in parts]) if parts else torch.empty(0, *shape))
    if src.suffix.lower() in (".npy", ".npz"):
        arrays = read_arrays(src)
        key = next((k for k in ("images", "x", "x_test") if k in arrays),
                   next(iter(arrays)) if len(arrays) == 1 else None)
        if key is None:
            raise DataError(f"{src}: which array? it has {', '.join(sorted(arrays))} (name one "
                            f"`images` or `x`)")
        return [f"{src.name}[{i}]" for i in range(len(arrays[key]))], clf._inputs(arrays[key])
    if not src.is_file():
        raise DataError(f"{src}: no such file or folder")
    if len(shape) != 3:
        raise DataError(f"{src}: this classifier takes vectors of shape {list(shape)}, not images")
    img = read_image(src)   # uint8 [C, H, W], or None
    if img is None:
        raise DataError(f"{src}: not a readable image")
    img = conform(ImageData(img[None], None, str(src), None), shape[-1], shape[0]).images
    return [src.name], clf._inputs(img)


def classify_items(clf: SemiGAN, inputs: list[Path]) -> tuple[list[str], torch.Tensor]:
    """(item names, class probabilities [N, K]) of image files, folders and arrays."""
    parts = [_read_items(clf, Path(src)) for src in inputs]
    names = [name for part, _ in parts for name in part]
    if not names:
        raise DataError("no images to classify")
    return names, torch.softmax(clf.task.logits(torch.cat([x for _, x in parts])), 1)


def write_predictions(names: list[str], probs: torch.Tensor, classes: list[str],
                      output: Optional[Path], overwrite: bool = False) -> None:
    """CSV (file, label, class, p_<class>...) to `output` or stdout, or a .npz with `labels`
    (int64 [N]), `probs` (float32 [N, K]), `names` and `classes`."""
    from ...outputs import refuse_overwrite
    labels = probs.argmax(1)
    if output is not None:
        if output.suffix.lower() not in (".csv", ".npz"):
            raise ConfigError(f"--output {output}: write .csv or .npz")
        refuse_overwrite(output, overwrite)
    if output is not None and output.suffix.lower() == ".npz":
        tmp = output.with_name(f".{output.name}.tmp.npz")
        np.savez_compressed(tmp, labels=labels.numpy(), probs=probs.numpy().astype(np.float32),
                            names=np.array(names), classes=np.array(classes))
        os.replace(tmp, output)
        return
    import csv
    import io
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["item", "label", "class", *(f"p_{c}" for c in classes)])
    for name, y, p in zip(names, labels.tolist(), probs.tolist()):
        w.writerow([name, y, classes[y], *(f"{v:.4f}" for v in p)])
    if output is None:
        sys.stdout.write(buf.getvalue())
    else:
        atomic_write_text(output, buf.getvalue())


__all__ = ["classify_items", "write_predictions"]
