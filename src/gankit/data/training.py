"""The data a run trains on, as its config names it: a built-in dataset, a path, or samples
passed from Python (recorded as USER_DATA, which a loaded run must be given again)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch

from ..config import DataConfig
from . import DATASETS, load_dataset
from .user import user_samples

USER_DATA = "<user data>"


def load_training_data(source: Any, data: DataConfig, split: str = "train",
                       ) -> tuple[torch.Tensor, Optional[torch.Tensor], Optional[str]]:
    """(samples, labels, note) of a split, prepared as the run's config says: uint8 images
    [N, C, H, W] or float vectors [N, ...]."""
    if not isinstance(source, (str, Path)):
        x, labels = user_samples(source)
        return x, labels, None
    resolution = data.resolution
    if resolution is None and str(source) == "digits":
        resolution = 32   # 8x8 is too small for a conv net; 32 is the nearest size dcgan builds
    d = load_dataset(str(source), split=split, resolution=resolution, channels=data.channels)
    return d.images, d.labels, d.note


def dataset_name(dataset: Any) -> str:
    """What config.json records: a built-in name, or a path made absolute so that the run can be
    resumed, sampled and evaluated from any directory."""
    if not isinstance(dataset, (str, Path)):
        return USER_DATA
    path = Path(dataset).expanduser()
    if str(dataset) not in DATASETS and path.exists():
        return str(path.resolve())
    return str(dataset)


__all__ = ["USER_DATA", "dataset_name", "load_training_data"]
