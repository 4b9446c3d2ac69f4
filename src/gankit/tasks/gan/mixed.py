"""A Dataset that mixes a user's real labeled data with synthetic images of a conditional GAN
(drawn by gankit.tasks.gan.augment.synthesize) or of a .npz that `gankit augment` wrote.

    train = MixedDataset((x, y), gan, synthetic_ratio=0.5, seed=0)
    loader = DataLoader(train, batch_size=64, shuffle=True)
    for epoch in range(epochs):
        train.set_epoch(epoch)          # fresh synthetic images each epoch
        for xb, yb in loader: ...
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch.utils.data import Dataset

from ...errors import ConfigError, DataError
from .augment import _num_classes, check_request, read_npz, synthesize

DETECT_ITEMS = 64      # real items looked at to tell [0, 1] floats from [-1, 1] floats


def _is_pair(real: Any) -> bool:
    """(images, labels) as two tensors or arrays; a list of (x, y) items is a dataset already."""
    return isinstance(real, tuple) and len(real) == 2 and all(
        isinstance(a, (torch.Tensor, np.ndarray)) for a in real)


class _Pair:
    """(images, labels) arrays or tensors as a map-style dataset of (images[i], labels[i])."""

    def __init__(self, images: Any, labels: Any):
        if len(images) != len(labels):
            raise DataError(f"real data: {len(images)} images but {len(labels)} labels")
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        return self.images[i], self.labels[i]


class ItemFormat:
    """How the real items look, so synthetic ones (uint8 [C, H, W]) can be made to look the same.

    kind: "tensor", "numpy" or "pil"; layout: "CHW", "HWC" or "HW" (gray, no channel axis);
    scale: "uint8" (0..255), "unit" (float in [0, 1]) or "signed" (float in [-1, 1]).
    """

    def __init__(self, kind: str, layout: str, scale: str, dtype: Any = None,
                 label: Callable[[int], Any] = int):
        self.kind, self.layout, self.scale = kind, layout, scale
        self.dtype, self.label = dtype, label

    def convert(self, x: torch.Tensor) -> Any:
        """uint8 [C, H, W] -> an image in this format."""
        if self.kind == "pil":
            from PIL import Image
            a = x.permute(1, 2, 0).numpy()
            return Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a)
        if self.scale != "uint8":
            x = x.float() / 255 if self.scale == "unit" else x.float() / 127.5 - 1
        x = {"CHW": x, "HWC": x.permute(1, 2, 0), "HW": x[0]}[self.layout]
        if self.kind == "numpy":
            return x.numpy().astype(self.dtype or x.numpy().dtype, copy=False)
        return x.to(self.dtype) if self.dtype is not None else x

    @classmethod
    def of(cls, real: Any, scale: str = "auto") -> ItemFormat:
        """The format of a dataset's items, from its first item (and for float images, the value
        range of up to DETECT_ITEMS items spread over it)."""
        x, y = real[0]
        label = _label_maker(y)
        if type(x).__module__.startswith("PIL"):
            return cls("pil", "HWC", "uint8", None, label)
        if not isinstance(x, (torch.Tensor, np.ndarray)):
            raise DataError(f"real items must be image tensors, arrays or PIL images, got "
                            f"{type(x).__name__}")
        kind = "tensor" if isinstance(x, torch.Tensor) else "numpy"
        if x.ndim == 2:
            layout = "HW"
        elif x.ndim == 3 and x.shape[0] in (1, 3):
            layout = "CHW"
        elif x.ndim == 3 and x.shape[-1] in (1, 3):
            layout = "HWC"
        else:
            raise DataError(f"real items must be images [C, H, W], [H, W, C] or [H, W], got shape "
                            f"{list(x.shape)}")
        if scale == "auto":
            scale = _detect_scale(real, x)
        elif scale not in ("uint8", "unit", "signed"):
            raise ConfigError(f"synthetic_format must be auto, uint8, unit or signed, got "
                              f"{scale!r}")
        dtype = x.dtype if scale != "uint8" else (torch.uint8 if kind == "tensor" else np.uint8)
        return cls(kind, layout, scale, dtype, label)

    def shape_of(self, x: Any) -> tuple:
        return (x.size[1], x.size[0], x.mode) if self.kind == "pil" else tuple(x.shape)


def _label_maker(y: Any) -> Callable[[int], Any]:
    """Synthetic labels of the real labels' type: int, 0-dim tensor, or numpy integer."""
    if isinstance(y, torch.Tensor):
        return lambda c: torch.tensor(c, dtype=y.dtype)
    if isinstance(y, (np.ndarray, np.generic)):
        return lambda c: np.asarray(c, dtype=y.dtype)[()]
    return int


def _detect_scale(real: Any, first: Any) -> str:
    dtype = str(first.dtype)
    if dtype in ("uint8", "torch.uint8"):
        return "uint8"
    if "float" not in dtype:
        raise DataError(f"real images of dtype {dtype}: expected uint8 or float images")
    if isinstance(real, _Pair):   # all of them: cheap for a tensor or array
        values = [real.images]
    else:
        step = max(len(real) // DETECT_ITEMS, 1)
        values = [real[i][0] for i in range(0, len(real), step)][:DETECT_ITEMS]
    lo = min(float(v.min()) for v in values)
    hi = max(float(v.max()) for v in values)
    if lo >= 0 and hi <= 1:
        return "unit"
    if lo >= -1 and hi <= 1:
        return "signed"
    raise DataError(f"real float images range over {lo:g}..{hi:g}, neither [0, 1] nor [-1, 1]: "
                    f"pass synthetic_format= (uint8, unit or signed) and a transform")


class MixedDataset(Dataset):
    """Real labeled items and synthetic ones in one map-style Dataset, for any DataLoader.

    `real`: an (images, labels) tuple of tensors or arrays, or a Dataset (or list) of (x, y) items.
    `synthetic`: a conditional GAN (gankit.GAN or a run directory), or a .npz written by
    `gankit augment` / `gankit sample`.

    Each epoch holds every real item once (indices 0…R-1, in the real data's order) followed by
    S = round(R * r / (1 - r)) synthetic ones (indices R…R+S-1), so a share r = synthetic_ratio of
    the items is synthetic. Synthetic labels are balanced (classes 0, 1, …, K-1, 0, 1, …),
    whatever the real classes' frequencies: augmentation is most often wanted for the rare
    classes, and a balanced draw never copies the real data's imbalance. A GAN draws S new images
    per epoch (`set_epoch`), keeping with `min_confidence` only those its classifier accepts (see
    `synthesize`); a .npz is cycled through class by class in an order reshuffled per epoch.

    Synthetic items come out in the real items' format: torch tensor, NumPy array or PIL image,
    laid out [C, H, W], [H, W, C] or [H, W] like the first real item, uint8 if it is uint8, and for
    float images float in [0, 1] or [-1, 1] as the real values range (`synthetic_format` = "uint8",
    "unit" or "signed" overrides the detection). Labels take the first real label's type.
    `transform` is then applied to every item, real and synthetic alike (ToTensor, normalizing).
    Synthetic images must have the real ones' size and channels.

    Deterministic given `seed`: the same epoch has the same synthetic items. Call
    `set_epoch(e)` before each epoch for fresh ones (with DataLoader workers, keep
    persistent_workers=False so they see the new ones); without it every epoch reuses epoch 0's.
    """

    def __init__(self, real: Any, synthetic: Any, synthetic_ratio: float = 0.5, *, seed: int = 0,
                 transform: Optional[Callable[[Any], Any]] = None,
                 synthetic_format: str = "auto", min_confidence: Optional[float] = None,
                 classifier: Any = None):
        if not 0 <= synthetic_ratio < 1:
            raise ConfigError(f"synthetic_ratio must lie in [0, 1), got {synthetic_ratio!r} (for "
                              f"synthetic data alone, use synthesize())")
        self.real = _Pair(*real) if _is_pair(real) else real
        if len(self.real) == 0:
            raise DataError("the real data is empty")
        self.num_real = len(self.real)
        self.num_synthetic = round(self.num_real * synthetic_ratio / (1 - synthetic_ratio))
        self.format = ItemFormat.of(self.real, synthetic_format)
        self.transform, self.seed = transform, seed
        self.min_confidence, self.classifier = min_confidence, classifier
        self._gan, self._bank = _synthetic_source(synthetic)
        if self._gan is not None:
            check_request(1, min_confidence)
            _num_classes(self._gan)
        elif min_confidence is not None:
            raise ConfigError("min_confidence filters a GAN's draws; a .npz is used as it is "
                              "(filter it when writing: gankit augment --min-confidence)")
        self.epoch = -1
        self.set_epoch(0)
        self._check_shape()

    def __len__(self) -> int:
        return self.num_real + self.num_synthetic

    def is_synthetic(self, index: int) -> bool:
        return index >= self.num_real

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        if index < self.num_real:
            x, y = self.real[index]
        else:
            j = index - self.num_real
            x = self.format.convert(self.images[j])
            y = self.format.label(int(self.labels[j]))
        return (self.transform(x) if self.transform is not None else x), y

    def set_epoch(self, epoch: int) -> None:
        """Draw epoch `epoch`'s synthetic items (the same ones for the same seed and epoch)."""
        if epoch == self.epoch:
            return
        self.epoch = epoch
        seed = int(np.random.SeedSequence([self.seed % (1 << 64), epoch]).generate_state(1)[0])
        s = self.num_synthetic
        if s == 0:
            self.images, self.labels = torch.zeros(0, 0, 0, 0, dtype=torch.uint8), torch.zeros(0)
        elif self._gan is not None:
            k = self._gan.config.num_classes
            images, labels, _ = synthesize(self._gan, math.ceil(s / k), self.min_confidence,
                                           seed, classifier=self.classifier)
            self.images, self.labels = images[:s], labels[:s]   # interleaved: balanced to ±1
        else:
            index = _balanced_cycle(self._bank[1], s, np.random.default_rng(seed))
            self.images, self.labels = self._bank[0][index], self._bank[1][index]

    def _check_shape(self) -> None:
        if self.num_synthetic == 0:
            return
        x = self.real[0][0]
        fake, real = self.format.shape_of(self.format.convert(self.images[0])), \
            self.format.shape_of(x)
        if fake != real:
            raise DataError(f"the synthetic images have shape {list(fake)} and the real ones "
                            f"{list(real)}: train the GAN at the real images' size and channels "
                            f"(--resolution, --channels)")


def _synthetic_source(source: Any) -> tuple[Any, Optional[tuple[torch.Tensor, torch.Tensor]]]:
    """(GAN, None) or (None, (uint8 images [M, C, H, W], labels [M])) from what the user passed."""
    if hasattr(source, "sample") and hasattr(source, "config"):
        return source, None
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            from ...api import load_run
            return load_run(path, weights_only=True), None
        if path.suffix.lower() == ".npz":
            return None, read_npz(path)
        raise DataError(f"synthetic source {path}: expected a run directory or a .npz file")
    raise DataError(f"synthetic must be a conditional GAN, a run directory or a .npz, got "
                    f"{type(source).__name__}")


def _balanced_cycle(labels: torch.Tensor, n: int, rng: np.random.Generator) -> torch.Tensor:
    """n indices into `labels`, classes taken in turn (balanced to ±1 over the classes present),
    each class's items in a shuffled order, starting again once a class runs out."""
    classes = labels.unique().tolist()
    pools = [rng.permutation(np.flatnonzero(labels.numpy() == c)) for c in classes]
    j = np.arange(n)
    k = len(classes)
    return torch.from_numpy(np.array([pools[c][r % len(pools[c])]
                                      for c, r in zip(j % k, j // k)], dtype=np.int64))
