"""Evaluating a run or a file of samples: the metrics of `gankit.metrics` plus the held-out
discriminator loss, each result stamped with its protocol. Used by `gankit eval` and by
`--eval-every` during training."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
import torch.nn.functional as F

from .data.arrays import read_arrays
from .errors import ConfigError, DataError
from .metrics import METRICS, MetricResult, evaluate, load_extractor, shipped_extractors
from .metrics.features import Extractor, MetricError
from .viz import from_uint8

ALL = ("fid", "kid", "pr", "classes", "dloss")
ALIASES = {"pr": "prdc", "prdc": "prdc", "precision": "prdc", "recall": "prdc"}


def parse_metrics(text: str) -> list[str]:
    names = [m.strip().lower() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in ALL and m not in ALIASES]
    if unknown or not names:
        raise ConfigError(f"unknown metric(s) {', '.join(unknown) or '(none)'}: choose from "
                          f"{', '.join(ALL)}")
    return names


def default_extractor(dataset: str) -> Extractor:
    """The shipped classifier of the dataset's domain (digits are judged by the MNIST one)."""
    name = {"digits": "mnist"}.get(dataset, dataset)
    if name not in shipped_extractors():
        raise MetricError(f"no shipped feature extractor for {dataset!r}: pass --extractor "
                          f"{' or '.join(shipped_extractors())} (images are compared as 28-px gray)")
    return load_extractor(name)


def evaluate_images(images: torch.Tensor, dataset: str, metrics: Iterable[str], split: str = "test",
                    extractor: Optional[str] = None, seed: int = 0,
                    labels: Optional[torch.Tensor] = None) -> dict[str, MetricResult]:
    """Score images (uint8 or [-1, 1] float [N, C, H, W]) against `dataset`'s `split`; `labels`
    (a conditional GAN's requested classes) add label_accuracy to "classes"."""
    wanted = {ALIASES.get(m, m) for m in metrics} - {"dloss"}
    ext = load_extractor(extractor) if extractor else default_extractor(dataset)
    if not wanted:
        return {}
    try:
        return evaluate(images, dataset, split=split, extractor=ext,
                        metrics=[m for m in METRICS if m in wanted], seed=seed, labels=labels)
    except DataError as e:
        if split == "test" and "test split" in str(e):
            raise DataError(f"{e}; or evaluate against the training images with --split train") \
                from None
        raise


@torch.no_grad()
def held_out_d_loss(gan: Any, split_data: dict[str, tuple[torch.Tensor, Optional[torch.Tensor]]],
                    fake: torch.Tensor, dataset: str, split: str,
                    fake_labels: Optional[torch.Tensor] = None) -> MetricResult:
    """The discriminator's binary cross-entropy on held-out real images and on fakes, beside its
    loss on training images: a D that does much better on train than held-out has memorized."""
    D = gan.task.D
    was = D.training
    D.eval()

    def logits(x: torch.Tensor, y: Optional[torch.Tensor]) -> torch.Tensor:
        x = x.to(gan.device)
        x = from_uint8(x)
        return gan.task.critic(x, None if y is None else y.to(gan.device))[0]

    def mean_softplus(x: torch.Tensor, y: Optional[torch.Tensor], sign: float) -> float:
        chunks = range(0, len(x), 500)
        total = sum(F.softplus(sign * logits(x[i:i + 500], None if y is None else y[i:i + 500]))
                    .sum().item() for i in chunks)
        return total / len(x)

    fake_loss = mean_softplus(fake, fake_labels, 1.0)
    held, train = (mean_softplus(*split_data[s], -1.0) for s in (split, "train"))
    D.train(was)
    extra = {"real_held_out": held, "real_train": train, "fake": fake_loss,
             "train_held_out_gap": held - train}
    proto = {"metric": "dloss", "reference": dataset, "reference_split": split,
             "n_real": len(split_data[split][0]), "n_fake": len(fake),
             "n_train": len(split_data["train"][0])}
    from ._version import __version__
    return MetricResult("dloss", held + fake_loss, extra, {**proto, "gankit_version": __version__})


def evaluate_run(gan: Any, num: int, metrics: Iterable[str], split: str = "test",
                 extractor: Optional[str] = None, seed: int = 0,
                 fake: Optional[torch.Tensor] = None) -> dict[str, MetricResult]:
    """Draw `num` samples from the run's generator (its EMA) and score them; `fake`: those
    samples, `gan.sample(num, seed=seed)`, when the caller has them already."""
    metrics = list(metrics)
    dataset = gan.config.data.dataset
    if not _is_named_or_path(dataset):
        raise DataError("this run was trained on data passed from Python; evaluate its samples "
                        "with gankit.metrics.evaluate(images, ...) against your own reference")
    fake = gan.sample(num, seed=seed) if fake is None else fake
    if fake.dim() != 4:
        raise DataError(f"the run's samples have shape {list(fake.shape[1:])}; image metrics need "
                        f"images")
    conditional = gan.config.model.conditional
    labels = gan.balanced_labels(num) if conditional else None   # what gan.sample drew
    results = evaluate_images(fake, dataset, metrics, split, extractor, seed, labels)
    if "dloss" in metrics:
        from .data.training import load_training_data
        data = {}
        for s in {split, "train"}:
            x, y, _ = load_training_data(dataset, gan.config.data, s)
            data[s] = (x, y if conditional else None)
        results["dloss"] = held_out_d_loss(gan, data, fake, dataset, split, labels)
    return results


def _is_named_or_path(dataset: str) -> bool:
    return not dataset.startswith("<")


def load_samples(path: Path) -> torch.Tensor:
    """`images` (uint8 [N, H, W, C]) of a .npz written by `gankit sample` -> uint8 [N, C, H, W]."""
    return images_of(read_arrays(Path(path)), Path(path))


def images_of(arrays: dict[str, np.ndarray], path: Path) -> torch.Tensor:
    """The `images` array of a samples file, checked: uint8 [N, H, W, C] -> [N, C, H, W]."""
    if "images" not in arrays:
        raise DataError(f"{path} has no 'images' array (keys: {', '.join(sorted(arrays))})")
    arr = arrays["images"]
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] not in (1, 3):
        raise DataError(f"{path}: 'images' must be uint8 [N, H, W, C] with C 1 or 3, got "
                        f"{arr.dtype} {list(arr.shape)}")
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()


def summary(results: dict[str, MetricResult]) -> dict[str, Any]:
    """JSON-able {name: {value, extra, protocol}}."""
    return {k: r.to_dict() for k, r in results.items()}


def format_results(results: dict[str, MetricResult]) -> str:
    """One line a score, then its protocol: one line when every score shares it, else one line
    for each group of scores measured alike (a video run's scores on pixels, in the MNIST
    classifier's features and in the clip network's)."""
    lines, groups = [], {}
    for name, r in results.items():
        extra = ", ".join(f"{k} {v:.4g}" for k, v in r.extra.items() if isinstance(v, (int, float)))
        lines.append(f"{name:10s} {r.value:.4g}" + (f"  ({extra})" if extra else ""))
        groups.setdefault(_protocol_line(r.protocol), []).append(name)
    for text, names in groups.items():
        which = " (" + ", ".join(names) + ")" if len(groups) > 1 else ""
        lines.append(f"protocol{which}: {text}")
    return "\n".join(lines)


def _protocol_line(p: dict[str, Any]) -> str:
    sha = str(p.get('extractor_sha256') or '')[:12]
    return (f"{p.get('extractor', 'D of the run')}{' ' + sha if sha else ''}, "
            f"n_real {p.get('n_real')}, n_fake {p.get('n_fake')}, reference {p.get('reference')}/"
            f"{p.get('reference_split')}, seed {p.get('seed', 0)}, gankit {p.get('gankit_version')}")
