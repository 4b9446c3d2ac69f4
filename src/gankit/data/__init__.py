"""Where images come from: named datasets and the user's files, as uint8 tensors [N, C, H, W].

`load_dataset` is the one entry point; `sources` knows the named datasets, `images` the user's files.
"""

from __future__ import annotations

from pathlib import Path

from ..data.images import ImageData, conform, load_array, load_folder
from ..data.sources import DATASETS, data_root, load_named
from ..errors import DataError

__all__ = ["DATASETS", "SPLITS", "ImageData", "data_root", "load_dataset"]

SPLITS: tuple[str, ...] = ("train", "test")


def load_dataset(
    source: str, split: str = "train", resolution: int | None = None, channels: int | None = None,
    unlabeled: bool = False,
) -> ImageData:
    """Load one split of a dataset as uint8 images [N, C, H, W] (+ int64 labels [N] when it has classes).

    `source` is a name in DATASETS (names win over same-named paths; write ./mnist for a folder), an
    image folder, or a .npy/.npz file. `resolution` resizes to R x R (shorter side, then center crop;
    folders: their own size, at most 64); `channels` (1 or 3) converts gray <-> RGB. Train and test never mix.
    `unlabeled`: a .npz's labels may be -1 (unknown), for semi-supervised training.
    """
    _check_args(split, resolution, channels)
    if source in DATASETS:
        return conform(load_named(source, split), resolution, channels)
    path = Path(source).expanduser()
    if path.is_dir() or (path.is_file() and path.suffix.lower() in (".npy", ".npz")):
        if path.is_dir():
            data = load_folder(path, split, resolution, channels)
        else:
            data = load_array(path, split, resolution, channels, unlabeled=unlabeled)
        data.name = str(source)  # the path as the user wrote it
        return data
    if path.is_file():
        raise DataError(f"cannot load '{source}': expected a folder of images or a .npy/.npz file")
    raise DataError(f"unknown dataset '{source}': not one of {', '.join(DATASETS)}, and no such file or folder")


def _check_args(split: str, resolution: int | None, channels: int | None) -> None:
    """Reject a bad split, resolution or channel count with one line."""
    if split not in SPLITS:
        raise DataError(f"unknown split '{split}': expected one of {', '.join(SPLITS)}")
    if resolution is not None and (isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1):
        raise DataError(f"resolution must be a positive integer, got {resolution!r}")
    if channels not in (None, 1, 3):
        raise DataError(f"channels must be 1 or 3, got {channels!r}")
