"""The semi-supervised task's data: samples with labels -1 where unknown (which items keep their
labels: --labels-per-class, a --labeled file, the data's own -1s or `unlabeled/` folder), the run's
labeled.json, and the sampler of unlabeled and labeled batches."""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

import torch

from ...errors import DataError, GanKitWarning, RunError
from ...train.trainer import BatchSampler
from .options import SemiOptions

UNLABELED = -1
UNLABELED_FOLDER = "unlabeled"


@dataclass
class SemiData:
    """Training samples [N, ...] (uint8 images or float vectors), labels [N] (-1: unknown), class
    names, and the test split (None when the data has none)."""

    x: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    test_x: Optional[torch.Tensor] = None
    test_labels: Optional[torch.Tensor] = None
    note: Optional[str] = None

    @property
    def labeled(self) -> torch.Tensor:
        return torch.nonzero(self.labels >= 0).flatten()


def choose_labeled(labels: torch.Tensor, per_class: int, classes: int, seed: int) -> torch.Tensor:
    """Indices of `per_class` labeled items of each class, drawn from `seed` (sorted)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for c in range(classes):
        idx = torch.nonzero(labels == c).flatten()
        if len(idx) < per_class:
            raise DataError(f"--labels-per-class {per_class}: class {c} has only {len(idx)} "
                            f"labeled image(s)")
        out.append(idx[torch.randperm(len(idx), generator=gen)[:per_class]])
    return torch.cat(out).sort().values


def read_labeled_file(path: Union[str, Path], n: int) -> torch.Tensor:
    """The item indices a --labeled file names: whole numbers, one per line (or a JSON list, or
    labeled.json's `indices`)."""
    path = Path(path).expanduser()
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"--labeled {path}: cannot read it ({e.__class__.__name__})") from None
    try:
        doc = json.loads(text)
        values = doc["indices"] if isinstance(doc, dict) else doc
    except (ValueError, KeyError, TypeError):
        values = text.split()
    try:
        idx = [int(str(v).strip().rstrip(",")) for v in values]
    except ValueError:
        raise DataError(f"--labeled {path}: expected item indices, whole numbers 0..{n - 1}, "
                        f"one per line") from None
    bad = [i for i in idx if not 0 <= i < n]
    if bad:
        raise DataError(f"--labeled {path}: index {bad[0]} is outside the training data "
                        f"(items 0..{n - 1})")
    if not idx:
        raise DataError(f"--labeled {path} names no items")
    return torch.tensor(sorted(set(idx)), dtype=torch.long)


def check_labels(labels: torch.Tensor, classes: list[str]) -> None:
    """Labels are class numbers 0..K-1 or -1 (unknown), every class has a labeled example."""
    k = len(classes)
    if k < 2 or not (labels >= 0).any():
        raise DataError(f"a classifier needs labeled examples of at least 2 classes; this data "
                        f"has {int((labels >= 0).sum())} labeled item(s) of {k} class(es)")
    bad = labels[(labels < UNLABELED) | (labels >= k)]
    if bad.numel():
        raise DataError(f"label {int(bad[0])} is outside the class range: labels are 0..{k - 1}, "
                        f"or -1 for an unlabeled image")
    counts = torch.bincount(labels[labels >= 0], minlength=k)
    empty = [classes[c] for c in range(k) if counts[c] == 0]
    if empty:
        raise DataError(f"class {empty[0]!r} has no labeled example; a semi-supervised "
                        f"classifier needs at least one of each class")
    if int((labels == UNLABELED).sum()) == 0:
        warnings.warn("every training image is labeled: nothing unlabeled to learn from, so this "
                      "is plain supervised training (the GAN part adds only its regularization)",
                      GanKitWarning, stacklevel=3)


def _split(source: Any, split: str, data_cfg: Any) -> tuple[torch.Tensor, Optional[torch.Tensor],
                                                              Optional[list[str]], Optional[str]]:
    """(samples, labels with -1 allowed, classes, note) of a file, folder or named dataset."""
    from ...data import load_dataset
    d = load_dataset(str(source), split=split, resolution=data_cfg.resolution,
                     channels=data_cfg.channels, unlabeled=True)
    labels, classes = d.labels, d.classes
    if classes is not None and UNLABELED_FOLDER in classes:   # the folder of unlabeled images
        u = classes.index(UNLABELED_FOLDER)
        classes = [c for c in classes if c != UNLABELED_FOLDER]
        labels = torch.where(labels == u, UNLABELED, labels - (labels > u).long())
    return d.images, labels, classes, d.note


def load_semi_data(source: Any, data_cfg: Any, seed: int, labels: Any = None,
                   labeled_idx: Optional[torch.Tensor] = None,
                   options: Optional[SemiOptions] = None) -> SemiData:
    """The run's data, its labels -1 where unknown: `labels_per_class` drawn from `seed`, or the
    items of `labeled_idx` (a --labeled file, or a resumed run's labeled.json), or the data's own
    labels (-1 or an `unlabeled/` folder marks the unknown)."""
    test_x = test_y = None
    if isinstance(source, (str, Path)) and labels is not None:
        raise DataError(f"labels= goes with samples passed from Python; {source} brings its own "
                        f"(class folders beside unlabeled/, or a .npz's labels with -1)")
    if isinstance(source, (str, Path)):
        x, y, classes, note = _split(source, "train", data_cfg)
        try:
            test_x, test_y, _, _ = _split(source, "test", data_cfg)
        except DataError:
            pass   # a folder or file without a test split
    else:
        from ...data.user import user_samples
        if labels is not None:
            if isinstance(source, tuple):
                raise DataError("give the labels once: (samples, labels) or labels=")
            source = (source, labels)
        x, y = user_samples(source, unlabeled=True)
        classes, note = None, None
    if y is None:
        raise DataError(f"{source if isinstance(source, (str, Path)) else 'the data'} has no "
                        f"class labels: a semi-supervised classifier needs some (class folders "
                        f"beside an unlabeled/ folder, or labels with -1 where unknown)")
    if classes is None:
        classes = [str(c) for c in range(int(y.max()) + 1)]
    if test_y is not None and (test_y < 0).any():
        test_x, test_y = test_x[test_y >= 0], test_y[test_y >= 0]
    options = options or SemiOptions()
    k = options.labels_per_class
    if labeled_idx is None and options.labeled:
        labeled_idx = read_labeled_file(options.labeled, len(x))
    if labeled_idx is not None:
        keep = torch.zeros(len(y), dtype=torch.bool)
        keep[labeled_idx] = True
        if (y[labeled_idx] < 0).any():
            raise DataError("a labeled item has no label in the data (-1)")
        y = torch.where(keep, y, UNLABELED)
    elif k is not None:
        y = torch.full_like(y, UNLABELED).scatter_(
            0, (idx := choose_labeled(y, k, len(classes), seed)), y[idx])
    check_labels(y, classes)
    return SemiData(x, y, classes, test_x, test_y, note)


class SemiSampler:
    """Each batch: (unlabeled images [B, ...], labeled images [b, ...], their labels [b]). The
    unlabeled stream shuffles every training image (labeled ones too, as in the paper); the labeled
    stream cycles through the few labeled ones with b = min(B, their number)."""

    world = 1

    def __init__(self, x: torch.Tensor, labeled: torch.Tensor, labels: torch.Tensor,
                 batch_size: int, seed: int, transform: Any):
        self.batch_size = batch_size
        self.all = BatchSampler(x, batch_size, torch.Generator().manual_seed(seed * 2),
                                transform=transform)
        self.few = BatchSampler(x[labeled], min(batch_size, len(labeled)),
                                torch.Generator().manual_seed(seed * 2 + 3), transform=transform,
                                labels=labels[labeled])

    def __len__(self) -> int:
        return len(self.all)

    def next(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        xl, yl = self.few.next()
        return self.all.next(), xl, yl

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        (ta, ma), (tf, mf) = self.all.state(), self.few.state()
        return ({"sampler": ta["sampler"], "labeled_sampler": tf["sampler"]},
                {**ma, "labeled": mf})

    def load(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self.all.load(tensors, meta)
        self.few.load({"sampler": tensors["labeled_sampler"]}, meta["labeled"])


def read_labeled(run_dir: Path) -> dict:
    path = Path(run_dir) / "labeled.json"
    try:
        doc = json.loads(path.read_text())
        classes, idx = list(doc["classes"]), [int(i) for i in doc["indices"]]
        if not all(isinstance(c, str) for c in classes) or not idx:
            raise ValueError("bad classes or no indices")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RunError(f"{path}: missing or corrupt ({e}); the run does not know which items "
                       f"were labeled") from None
    return {"classes": classes, "indices": idx}
