"""GAN data augmentation: labeled synthetic images from a conditional GAN, and the .npz file of
`gankit augment` (gankit.tasks.gan.mixed mixes them with a user's real labeled data).

    images, labels, report = synthesize(gan, per_class=500, min_confidence=0.9)

Not to be confused with gankit.diffaugment, the differentiable augmentations D sees while a GAN trains.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch

from ...errors import ConfigError, DataError, GanKitError

MAX_DRAW_FACTOR = 50   # per class, draw at most this many times the request before giving up
ROUND_CAP = 2000       # samples per class per round: bounds memory when few are accepted
ROUND_MIN = 64         # ...and at least this many, so a nearly full class takes few rounds


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
