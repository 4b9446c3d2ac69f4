"""A user's own samples from Python: a tensor, a NumPy array or a torch Dataset.

Images come back as uint8 [N, C, H, W] (the library scales them to [-1, 1] per batch); other data,
such as 2-D toy points or feature vectors, come back as float32 [N, ...] and are used as given.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch

from ..errors import DataError


def _stack_dataset(ds: Any) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Materialise a map-style Dataset whose items are x or (x, label)."""
    try:
        n = len(ds)
    except TypeError:
        raise DataError("a Dataset passed to gankit needs a length (a map-style Dataset)") from None
    if n == 0:
        raise DataError("the Dataset is empty")
    xs, ys = [], []
    for i in range(n):
        item = ds[i]
        if isinstance(item, (tuple, list)):
            xs.append(torch.as_tensor(np.asarray(item[0])))
            if len(item) > 1:
                ys.append(int(item[1]))
        else:
            xs.append(torch.as_tensor(np.asarray(item)))
    try:
        x = torch.stack(xs)
    except RuntimeError as e:
        raise DataError(f"the Dataset's items differ in shape ({e})") from None
    labels = torch.tensor(ys, dtype=torch.int64) if len(ys) == n else None
    return x, labels


def user_samples(data: Any, unlabeled: bool = False) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """(samples, labels): uint8 images [N, C, H, W], or float32 vectors [N, ...]. `data` may be
    a pair (samples, labels) with labels whole numbers 0..K-1, one per sample (with `unlabeled`,
    -1 where a sample has none)."""
    if isinstance(data, tuple) and len(data) == 2:
        x, _ = user_samples(data[0])
        return x, _user_labels(data[1], len(x), unlabeled)
    labels = None
    if isinstance(data, torch.utils.data.Dataset) and not isinstance(data, torch.Tensor):
        x, labels = _stack_dataset(data)
    elif isinstance(data, (np.ndarray, torch.Tensor)):
        if isinstance(data, np.ndarray) and data.dtype.kind not in "biuf":
            raise DataError(f"array of dtype {data.dtype} cannot be training data: give uint8 "
                            f"images or float numbers")
        x = torch.as_tensor(np.ascontiguousarray(data) if isinstance(data, np.ndarray) else data)
    else:
        raise DataError(f"cannot train on a {type(data).__name__}: give a dataset name or path, a "
                        f"tensor, a NumPy array or a torch Dataset")
    if x.dim() < 2 or len(x) == 0:
        raise DataError(f"training data needs shape [N, ...] with N > 0, got {list(x.shape)}")
    if x.is_complex():
        raise DataError("complex-valued data is not supported")
    if x.dim() in (3, 4):   # [N, H, W] or [N, H, W, C] / [N, C, H, W]
        return _as_images(x), labels
    if not torch.isfinite(x).all():
        raise DataError("the data contains NaN or infinite values")
    x = x.float()
    if not torch.isfinite(x).all():
        raise DataError("the data holds values beyond float32's range (about +-3.4e38), where a "
                        "net computes: rescale it")
    return x, labels


def _as_images(x: torch.Tensor) -> torch.Tensor:
    """[N, H, W], [N, H, W, C] or [N, C, H, W] -> uint8 [N, C, H, W]."""
    if x.dim() == 3:
        x = x[:, None]
    elif x.shape[1] not in (1, 3) and x.shape[-1] in (1, 3):
        x = x.permute(0, 3, 1, 2)
    if x.shape[1] not in (1, 3):
        raise DataError(f"images need 1 or 3 channels, got shape {list(x.shape)}")
    if x.dtype == torch.uint8:
        return x.contiguous()
    if x.dtype.is_floating_point:
        lo, hi = float(x.min()), float(x.max())
        if 0.0 <= lo and hi <= 1.0:
            return (x * 255).round().to(torch.uint8).contiguous()
        if -1.0 <= lo and hi <= 1.0:
            return ((x + 1) * 127.5).round().to(torch.uint8).contiguous()
        raise DataError(f"float images must lie in [0, 1] or [-1, 1], got values in "
                        f"[{lo:.3g}, {hi:.3g}]")
    if int(x.min()) < 0 or int(x.max()) > 255:
        raise DataError(f"integer images must lie in 0..255, got {int(x.min())}..{int(x.max())}")
    return x.to(torch.uint8).contiguous()


def _user_labels(y: Any, n: int, unlabeled: bool = False) -> torch.Tensor:
    try:
        t = torch.as_tensor(np.asarray(y))
    except (TypeError, ValueError) as e:
        raise DataError(f"labels must be an array of class numbers ({e})") from None
    if t.dim() != 1 or len(t) != n:
        raise DataError(f"labels must be one class number per sample: got shape {list(t.shape)} "
                        f"for {n} samples")
    if t.is_floating_point() and not torch.equal(t, t.round()) or t.is_complex() \
            or t.dtype == torch.bool:
        raise DataError("labels must be whole class numbers 0, 1, 2, ...")
    t = t.long()
    if n and int(t.min()) < (-1 if unlabeled else 0):
        raise DataError(f"labels must be 0 or more{' (or -1: unlabeled)' if unlabeled else ''}, "
                        f"got {int(t.min())}")
    return t
