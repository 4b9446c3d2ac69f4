"""GAN data augmentation: labeled synthetic images from a conditional GAN, and a Dataset that mixes
them with a user's real labeled data.

    images, labels, report = synthesize(gan, per_class=500, min_confidence=0.9)
    train = MixedDataset((x, y), gan, synthetic_ratio=0.5, seed=0)
    loader = DataLoader(train, batch_size=64, shuffle=True)
    for epoch in range(epochs):
        train.set_epoch(epoch)          # fresh synthetic images each epoch
        for xb, yb in loader: ...

Not to be confused with gankit.diffaugment, the differentiable augmentations D sees while a GAN trains.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from ...errors import ConfigError, DataError, GanKitError

MAX_DRAW_FACTOR = 50   # per class, draw at most this many times the request before giving up
ROUND_CAP = 2000       # samples per class per round: bounds memory when few are accepted
ROUND_MIN = 64         # ...and at least this many, so a nearly full class takes few rounds
DETECT_ITEMS = 64      # real items looked at to tell [0, 1] floats from [-1, 1] floats


class AugmentError(GanKitError):
    """A class cannot get enough samples that the classifier accepts within the draw bound."""


# ---------------------------------------------------------------- drawing labeled samples


def check_request(per_class: Any, min_confidence: Any) -> None:
    """One-line errors for a per-class count below 1 or a confidence outside (0, 1]."""
    if isinstance(per_class, bool) or not isinstance(per_class, (int, np.integer)) or per_class < 1:
        raise ConfigError(f"--per-class must be a whole number of at least 1, got {per_class!r}")
    if min_confidence is not None:
        p = float(min_confidence)
        if not 0 < p <= 1:   # also false for NaN
            raise ConfigError(f"--min-confidence must lie in (0, 1], got {min_confidence!r}")


def domain_classifier(dataset: str) -> Any:
    """The shipped classifier of a run's dataset (digits are judged by the MNIST one)."""
    from ...evaluation import default_extractor
    from ...metrics import shipped_extractors
    from ...metrics.features import ExtractorError, MetricError
    try:
        return default_extractor(dataset)
    except ExtractorError:
        raise   # a shipped classifier exists but cannot be loaded: say that, not "none exists"
    except MetricError:
        raise ConfigError(f"--min-confidence needs a classifier of the run's classes, and gankit "
                          f"ships none for the run's dataset {dataset!r} (it has: "
                          f"{', '.join(shipped_extractors())}, and digits use mnist's)") from None


def _num_classes(gan: Any) -> int:
    if getattr(gan.config, "task", "image-gan") != "image-gan":
        raise ConfigError(f"this is a {gan.config.task} run: augmenting draws labeled images from "
                          f"a conditional image GAN")
    if not gan.config.model.conditional:
        where = f"{gan.run_dir} is" if getattr(gan, "run_dir", None) else "this GAN is"
        raise ConfigError(f"{where} not conditional: augmenting needs a GAN trained with "
                          f"--conditional, which draws images of a class asked for")
    if len(gan.config.data_shape) != 3:
        raise DataError(f"the GAN generates vectors of shape {list(gan.config.data_shape)}, not "
                        f"images [C, H, W]")
    return int(gan.config.num_classes)


def _round_seed(seed: int, round_: int) -> int:
    """Round 0 uses the seed itself, so an unfiltered draw equals `gankit sample --seed S`;
    later rounds get independent seeds derived from (seed, round)."""
    if round_ == 0:
        return seed
    return int(np.random.SeedSequence([seed % (1 << 64), round_]).generate_state(1)[0])


def _draw(gan: Any, labels: torch.Tensor, seed: int, ema: bool) -> torch.Tensor:
    """Samples of the classes `labels` [n] as uint8 [n, C, H, W], rounded as files store them."""
    from ...viz import to_uint8
    x = gan.sample(len(labels), seed=seed, ema=ema, labels=labels)
    return torch.from_numpy(to_uint8(x)).permute(0, 3, 1, 2).contiguous()


def _confidence(classifier: Any, images: torch.Tensor, labels: torch.Tensor,
                k: int) -> torch.Tensor:
    """The classifier's probability [n] that each image shows the class it was drawn for."""
    predict = getattr(classifier, "predict_proba", classifier)
    probs = torch.as_tensor(predict(images)).float().cpu()   # [n, K']
    if probs.shape[:1] != labels.shape or probs.dim() != 2 or probs.shape[1] < k:
        raise ConfigError(f"the classifier gave probabilities of shape {list(probs.shape)} for "
                          f"{len(labels)} images of a GAN with {k} classes; it needs [n, {k}]")
    return probs.gather(1, labels[:, None]).squeeze(1)


def _next_labels(have: list[int], drawn: list[int], per_class: int, bound: int) -> torch.Tensor:
    """Classes to draw next round, [n] grouped by class: what each unfinished class still needs,
    divided by its acceptance rate so far, with 10% to spare."""
    counts = []
    for c, (h, d) in enumerate(zip(have, drawn)):
        if h >= per_class or d >= bound:
            counts.append(0)
            continue
        rate = max(h, 1) / d   # a class with no acceptance yet is treated as one in d
        want = math.ceil((per_class - h) / rate * 1.1)
        counts.append(min(max(want, ROUND_MIN), ROUND_CAP, bound - d))
    return torch.repeat_interleave(torch.arange(len(have)), torch.tensor(counts, dtype=torch.long))


def synthesize(gan: Any, per_class: int, min_confidence: Optional[float] = None, seed: int = 0, *,
               classifier: Any = None, ema: bool = True,
               max_draw_factor: int = MAX_DRAW_FACTOR) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """`per_class` images of every class of a conditional GAN: (uint8 images [M, C, H, W], int64
    labels [M], report), M = per_class * K, classes in the order 0, 1, …, K-1, 0, 1, …

    Without `min_confidence` this is `gan.sample(M, seed)` rounded to uint8. With it, only images
    that `classifier` (default: the shipped classifier of the run's dataset; any object with
    `predict_proba(uint8 images [n, C, H, W]) -> [n, K]`, or such a function) gives at least
    `min_confidence` for their class are kept, drawing more in rounds until each class has
    `per_class`; AugmentError if a class is still short after `max_draw_factor * per_class` draws.
    The report has per class how many were `drawn` and `rejected`.
    """
    check_request(per_class, min_confidence)
    k = _num_classes(gan)
    report = {"per_class": int(per_class), "num_classes": k, "seed": seed, "ema": ema,
              "min_confidence": None if min_confidence is None else float(min_confidence),
              "classifier": None}
    request = gan.balanced_labels(per_class * k)   # [M]: 0, 1, …, K-1, 0, …
    if min_confidence is None:
        report.update(drawn=[per_class] * k, rejected=[0] * k)
        return _draw(gan, request, seed, ema), request, report
    if classifier is None:
        classifier = domain_classifier(gan.config.data.dataset)
    report["classifier"] = getattr(classifier, "name", type(classifier).__name__)
    kept: list[list[torch.Tensor]] = [[] for _ in range(k)]
    have, drawn, rejected = [0] * k, [0] * k, [0] * k
    bound, labels, round_ = max_draw_factor * per_class, request, 0
    while len(labels):
        images = _draw(gan, labels, _round_seed(seed, round_), ema)
        ok = _confidence(classifier, images, labels, k) >= min_confidence   # [n]
        for c in labels.unique().tolist():
            mine = labels == c
            kept[c].append(images[mine & ok])
            have[c] += int((mine & ok).sum())
            drawn[c] += int(mine.sum())
            rejected[c] += int((mine & ~ok).sum())
        round_ += 1
        labels = _next_labels(have, drawn, per_class, bound)
    report.update(drawn=drawn, rejected=rejected)
    short = [c for c in range(k) if have[c] < per_class]
    if short:
        raise AugmentError(_shortfall(short, have, drawn, per_class, float(min_confidence),
                                      max_draw_factor))
    # the first per_class kept of each class, interleaved: [per_class, K, C, H, W] -> [M, C, H, W]
    per = [torch.cat(kept[c])[:per_class] for c in range(k)]
    return torch.stack(per, 1).flatten(0, 1), request, report


def _shortfall(short: list[int], have: list[int], drawn: list[int], per_class: int,
               p: float, factor: int) -> str:
    parts = [f"class {c} kept {have[c]} of {drawn[c]} (acceptance {have[c] / drawn[c]:.1%})"
             for c in short]
    return (f"could not get {per_class} images per class at confidence >= {p:g} within "
            f"{factor}x as many draws: " + "; ".join(parts) + "; lower --min-confidence or "
            "train the GAN longer")


def describe(report: dict) -> str:
    """The one line `gankit augment` prints about a draw."""
    k, n = report["num_classes"], report["per_class"]
    line = f"{n * k} images, {n} of each of {k} classes"
    if report["min_confidence"] is None:
        return line
    drawn, rejected = report["drawn"], report["rejected"]
    per = " ".join(f"{c}:{d}/{r}" for c, (d, r) in enumerate(zip(drawn, rejected)))
    return (f"{line}, each given >= {report['min_confidence']:g} for its class by "
            f"{report['classifier']}; drawn/rejected per class {per} (total {sum(drawn)} drawn, "
            f"{sum(rejected)} rejected)")


# ---------------------------------------------------------------- the .npz file


def check_output(output: Path, overwrite: bool) -> None:
    """Fail before any work on an output that is not a .npz, exists, or has no folder."""
    from ...outputs import refuse_overwrite
    output = Path(output)
    if output.suffix.lower() != ".npz":
        raise ConfigError(f"--output must be a .npz file, got {output}")
    if output.is_dir():
        raise ConfigError(f"{output} is a directory; --output must be a .npz file")
    refuse_overwrite(output, overwrite)
    if not output.parent.is_dir():
        raise ConfigError(f"cannot write {output}: the folder {output.parent} does not exist")


def write_npz(images: torch.Tensor, labels: torch.Tensor, output: Union[str, Path],
              overwrite: bool = False) -> Path:
    """uint8 images [M, C, H, W] and labels [M] -> FILE.npz with `images` uint8 [M, H, W, C] and
    `labels` int64 [M], the format of `gankit sample`. Written to a temporary name and renamed,
    so the file is whole or absent."""
    output = Path(output)
    check_output(output, overwrite)
    tmp = output.with_name(f".{output.name}.tmp.npz")
    try:
        np.savez_compressed(tmp, images=images.permute(0, 2, 3, 1).numpy(),
                            labels=labels.numpy().astype(np.int64))
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return output


def read_npz(path: Union[str, Path]) -> tuple[torch.Tensor, torch.Tensor]:
    """A .npz of `gankit augment` or `gankit sample` -> (uint8 images [M, C, H, W], labels [M])."""
    from ...data.arrays import read_arrays
    from ...evaluation import images_of
    arrays = read_arrays(Path(path))
    images = images_of(arrays, Path(path))   # checks the images' dtype and shape
    if "labels" not in arrays:
        raise DataError(f"{path} has no 'labels' array: write it from a conditional run")
    labels = arrays["labels"]
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer) \
            or labels.min(initial=0) < 0:
        raise DataError(f"{path}: 'labels' must be {len(images)} class numbers >= 0, got "
                        f"{labels.dtype} {list(labels.shape)}")
    return images, torch.from_numpy(labels.astype(np.int64))


def augment_run(run: Union[str, Path], per_class: int, output: Union[str, Path],
                min_confidence: Optional[float] = None, seed: int = 0,
                overwrite: bool = False) -> dict:
    """`gankit augment`: synthesize from a run's EMA generator and write FILE.npz; the report
    gets the output path. Every user error is raised before the run is loaded."""
    from ...api import load_run
    check_request(per_class, min_confidence)
    check_output(Path(output), overwrite)
    gan = load_run(run, weights_only=True)
    images, labels, report = synthesize(gan, per_class, min_confidence, seed)
    report["output"] = str(write_npz(images, labels, output, overwrite))
    return report


# ---------------------------------------------------------------- mixing with real data


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
    def of(cls, real: Any, scale: str = "auto") -> "ItemFormat":
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
