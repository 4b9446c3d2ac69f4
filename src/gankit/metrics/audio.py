"""How good are generated audio clips, judged by a small classifier of log spectrograms.

    from ..metrics.audio import audio_scores
    results = audio_scores(fake_clips, "spoken-digits", reference=test_clips, train=train_clips)
    results["inception_score"].value, results["fid"].value, results["memorization"].extra["flagged"]

Shipped classifiers, one per bundled set of gankit.data.audio_sets (`spoken-digits`, `notes`), trained
by scripts/train_audio_classifier.py on the set's train split only, with random time shifts, gains
and a little noise (generated clips are noisy; the judge must not be thrown by that). Their fp16
weights live beside the image classifiers in weights/, with entries "audio:<set>" in the same
manifest.json, and are checked against its SHA-256 before use.

The network (spec128-cnn-v1) sees the log spectrogram of gankit.data.audio ([N, 128, 128] for clips
of 16,384 samples), floored at `floor` (about -60 dB below full scale: below it, digital silence and
a generator's faint hiss look the same) and normalized by a mean and std fixed at training time.
Features are its 128-d penultimate layer (after ReLU): FID and the memorization check are measured
there; the head's class probabilities give the inception score, class coverage and confidence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch
from torch import nn

from ..data.audio import DEFAULT_LENGTH, fit_length, load_audio, log_spectrogram
from ..metrics import MetricResult, label_accuracy, protocol
from ..metrics.classes import class_coverage
from ..metrics.features import (
    BATCH_SIZE,
    Extractor,
    ExtractorError,
    MetricError,
    conv_block,
    device_of,
    eval_mode,
    fold_batchnorm,
    net_from_weights,
    shipped_entry,
    shipped_with_prefix,
)
from ..metrics.fid import fid
from ..metrics.prdc import close_share, nearest

ARCHITECTURE = "spec128-cnn-v1"
MANIFEST_PREFIX = "audio:"  # manifest keys of the audio classifiers: "audio:spoken-digits"
CLIP_LENGTH = DEFAULT_LENGTH  # what the classifiers were trained on; other lengths are cut or padded
MIN_LENGTH = 1024
IS_SPLITS = 10
IS_MIN_SPLIT = 50  # samples per split at least: fewer splits for fewer samples (one sample per split gives 1)
CONFIDENT = 0.8  # a sample is "confident" when its top class has at least this probability
FAIR_SHARE = 0.5  # a class is covered when it gets at least half of its fair share (N / K) of samples
N_MEMO_REFERENCE = 1000

ClipsLike = Union[torch.Tensor, np.ndarray]


# ---------------------------------------------------------------- the network


@dataclass(frozen=True)
class SpecClassifierConfig:
    """spec128-cnn-v1: a stem conv and pool, five conv blocks (three halve the size), max over time,
    a feature layer, a head. mean/std/floor: the input normalization, fixed at training time."""

    channels: tuple[int, int, int, int] = (16, 32, 64, 128)
    feature_dim: int = 128
    num_classes: int = 10
    dropout: float = 0.3
    bands: int = 8  # frequency bands kept after pooling over time: pitch and formants stay visible
    floor: float = -4.6  # log magnitude floor, log(0.01): ~ white noise of std 1e-3 (-60 dBFS)
    mean: float = 0.0
    std: float = 1.0


class SpecClassifier(nn.Module):
    """Normalized log spectrograms [B, 1, 128, T] → body: features [B, feature_dim] → head: logits [B, K].

    Max-pooling over all time frames at the end makes it tolerant to where in the clip a sound is.
    """

    def __init__(self, config: SpecClassifierConfig = SpecClassifierConfig()):
        super().__init__()
        self.config = config
        c1, c2, c3, c4 = config.channels
        self.body = nn.Sequential(
            *conv_block(1, c1), nn.MaxPool2d(2),       # [B, c1, 64, T/2]
            *_strided_block(c1, c2), *conv_block(c2, c2),  # [B, c2, 32, T/4]
            *_strided_block(c2, c3), *conv_block(c3, c3),  # [B, c3, 16, T/8]
            *_strided_block(c3, c4),                        # [B, c4, 8, T/16]
            nn.AdaptiveMaxPool2d((config.bands, 1)), nn.Flatten(),  # [B, c4 * bands]
            nn.Linear(c4 * config.bands, config.feature_dim), nn.ReLU(),
        )  # fmt: skip
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.feature_dim, config.num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def _strided_block(c_in: int, c_out: int) -> list[nn.Module]:
    # a stride-2 conv instead of conv + pool: a quarter of the multiply-adds at the larger sizes
    return [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


def spectrogram_input(clips: torch.Tensor, config: SpecClassifierConfig) -> torch.Tensor:
    """Clips float [B, L] → the network's input [B, 1, 128, frames]: floored, normalized log spectrogram."""
    spec = log_spectrogram(clips.float()).clamp(min=config.floor)  # [B, 128, frames]
    return ((spec - config.mean) / config.std).unsqueeze(1)


def config_dict(config: SpecClassifierConfig) -> dict[str, Any]:
    """The config as JSON-ready fields (for the manifest)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


# ---------------------------------------------------------------- the extractor


def check_clips(clips: Any, what: str = "clips") -> torch.Tensor:
    """Clips as a float32 CPU tensor [N, L], or an ExtractorError saying what is wrong with them."""
    if isinstance(clips, np.ndarray):
        clips = torch.from_numpy(np.ascontiguousarray(clips))
    if not isinstance(clips, torch.Tensor) or clips.ndim != 2:
        shape = tuple(clips.shape) if hasattr(clips, "shape") else type(clips).__name__
        raise ExtractorError(f"{what} must be a float tensor [N, L] of mono samples in [-1, 1], got {shape}")
    if len(clips) == 0:
        raise ExtractorError(f"{what}: no clips to score")
    if not clips.is_floating_point():
        raise ExtractorError(f"{what} must be float samples in [-1, 1], got {clips.dtype} (convert PCM first)")
    if clips.shape[1] < MIN_LENGTH:
        raise ExtractorError(f"{what} of {clips.shape[1]} samples are too short (at least {MIN_LENGTH})")
    if not torch.isfinite(clips).all():
        raise ExtractorError(f"{what} contain NaN or infinite samples")
    lo, hi = float(clips.min()), float(clips.max())
    if lo < -1.01 or hi > 1.01:  # a little slack, as for images: tanh outputs rounded
        raise ExtractorError(f"{what} must lie in [-1, 1], got samples {lo:g}..{hi:g}")
    return clips.detach().float().cpu()


class AudioClassifierExtractor(Extractor):
    """A shipped spectrogram classifier as an extractor: clips [N, L] → features [N, 128] (after ReLU).

    Clips of another length than 16,384 samples are cut or padded with silence at the end first.
    """

    def __init__(self, net: SpecClassifier, name: str, sha256: str, classes: list[str]):
        super().__init__()
        net.eval()
        self.config = net.config
        self.body = fold_batchnorm(net.body).to(memory_format=torch.channels_last)
        self.head = net.head
        self.name, self.sha256, self.classes = name, sha256, list(classes)
        self.dim, self.num_classes = net.config.feature_dim, net.config.num_classes
        self.eval()

    def features(self, clips: ClipsLike, batch_size: int = BATCH_SIZE) -> torch.Tensor:
        """Features float32 [N, 128] of clips float [N, L] in [-1, 1], batch by batch in eval mode."""
        clips = check_clips(clips)
        device = device_of(self)
        chunks = []
        with eval_mode(self), torch.inference_mode():
            for start in range(0, len(clips), batch_size):
                x = self.prepare(clips[start : start + batch_size].to(device))
                chunks.append(self.embed(x).float().cpu())
        return torch.cat(chunks)

    def prepare(self, clips: torch.Tensor) -> torch.Tensor:
        """Clips [B, L] → normalized log spectrograms [B, 1, 128, 128]."""
        if clips.shape[1] != CLIP_LENGTH:
            clips = torch.from_numpy(np.stack([fit_length(c, CLIP_LENGTH) for c in clips.cpu().numpy()]))
            clips = clips.to(device_of(self))
        return spectrogram_input(clips, self.config)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.contiguous(memory_format=torch.channels_last))

    def logits_from_features(self, feats: torch.Tensor) -> torch.Tensor:
        return self.head(feats)

    def input_note(self, shape: tuple[int, ...]) -> str | None:
        length = shape[-1]
        if length == CLIP_LENGTH:
            return None
        how = "cut" if length > CLIP_LENGTH else "padded with silence"
        return f"clips of {length} samples {how} to {CLIP_LENGTH}"


# ---------------------------------------------------------------- loading shipped classifiers


def shipped_audio_classifiers() -> list[str]:
    """Names `load_audio_classifier` accepts: the audio sets with weights in the manifest."""
    return shipped_with_prefix(MANIFEST_PREFIX)


def load_audio_classifier(name: str) -> AudioClassifierExtractor:
    """The shipped classifier of an audio set ("spoken-digits", "notes"; "audio:" and a "-classifier"
    suffix are accepted). Its weights file's SHA-256 is checked against the manifest first."""
    key = name.removeprefix(MANIFEST_PREFIX).removesuffix("-classifier").removesuffix("-audio")
    blob, sha, entry = shipped_entry(MANIFEST_PREFIX, key, name, "audio classifier")
    return extractor_from_weights(blob, entry, sha)


def extractor_from_weights(blob: bytes, entry: dict[str, Any], sha256: str) -> AudioClassifierExtractor:
    """The extractor of safetensors bytes (fp16, computed in fp32) described by a manifest entry."""
    def build(config: dict[str, Any]) -> SpecClassifier:
        config["channels"] = tuple(config.get("channels", SpecClassifierConfig.channels))
        return SpecClassifier(SpecClassifierConfig(**config))
    net = net_from_weights(blob, entry, ARCHITECTURE, build, "audio classifier")
    classes = entry.get("classes") or [str(i) for i in range(net.config.num_classes)]
    return AudioClassifierExtractor(net, f"{entry.get('dataset')}-audio-classifier", sha256, classes)


# ---------------------------------------------------------------- scores of class probabilities


def _as_probs(probs: Any) -> torch.Tensor:
    p = torch.as_tensor(probs).detach().cpu().double()
    if p.ndim != 2 or len(p) == 0 or not torch.isfinite(p).all() or (p < 0).any():
        raise MetricError(f"class probabilities must be finite and non-negative [N, K], got shape {tuple(p.shape)}")
    if not torch.allclose(p.sum(1), torch.ones(len(p), dtype=p.dtype), atol=1e-3):
        raise MetricError("class probabilities must sum to 1 in every row (softmax outputs)")
    return p


def inception_score(probs: Any, splits: int = IS_SPLITS, seed: int | None = None) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) of class probabilities [N, K]: (mean, std) over `splits` equal parts.

    Between 1 (every sample the same prediction, or none confident) and K (confident and uniform over
    the classes). With `seed`, the rows are shuffled before splitting (a generator's output in class
    order would otherwise give each part few classes).
    """
    p = _as_probs(probs)
    if splits < 1 or len(p) < splits:
        raise MetricError(f"inception score: {len(p)} samples cannot make {splits} splits")
    if seed is not None:
        p = p[torch.randperm(len(p), generator=torch.Generator().manual_seed(seed))]
    scores = []
    for part in torch.tensor_split(p, splits):
        marginal = part.mean(0, keepdim=True)  # [1, K]
        kl = torch.special.xlogy(part, part) - torch.special.xlogy(part, marginal)  # 0 log 0 = 0
        scores.append(float(kl.sum(1).mean().exp()))
    return float(np.mean(scores)), float(np.std(scores))


def confident_share(probs: Any, threshold: float = CONFIDENT) -> float:
    """Share of samples whose most likely class has probability ≥ threshold."""
    return float((_as_probs(probs).max(1).values >= threshold).double().mean())


def nearest_distances(a: torch.Tensor, b: torch.Tensor, skip_self: bool = False) -> torch.Tensor:
    """Euclidean distance [len(a)] from each row of a [N, D] to its nearest row of b [M, D], in float64.
    skip_self: a is b[:len(a)], and a row may not find itself."""
    return nearest(a.double(), b.double(), skip_self)[0]


def memorization(fake: torch.Tensor, train: torch.Tensor, held: torch.Tensor | None = None,
                 seed: int = 0) -> dict[str, Any]:
    """Are samples copies of training clips? Features [N, D] of samples, training and held-out clips.

    The distance of each sample to its nearest training clip is compared with the same for held-out
    clips (or, without them, for training clips against the rest): `share_close` is the share of
    samples nearer than the held-out clips' 1% quantile, ~0.01 for fresh clips; `flagged` above 0.10
    (the rule of gankit.metrics.prdc.close_share, as in the report).
    """
    if len(train) < 2:
        raise MetricError(f"memorization needs at least 2 training clips, got {len(train)}")
    gen = torch.Generator().manual_seed(seed)
    if held is not None and len(held):
        ref = nearest_distances(held[torch.randperm(len(held), generator=gen)[:N_MEMO_REFERENCE]], train)
        label = "held-out clips"
    else:  # leave-one-out: a shuffled subset of training clips against all the others
        train = train[torch.randperm(len(train), generator=gen)]
        ref = nearest_distances(train[:N_MEMO_REFERENCE], train, skip_self=True)
        label = "training clips (each vs the rest; no held-out clips)"
    dist = nearest_distances(fake, train)
    share, threshold, flagged = close_share(dist, ref)
    return {"share_close": share, "flagged": flagged, "threshold": threshold,
            "median_fake": float(dist.median()), "median_reference": float(ref.median()),
            "reference": label, "n_train": len(train), "n_reference": len(ref)}  # fmt: skip


# ---------------------------------------------------------------- all scores at once


def audio_scores(
    clips: ClipsLike,
    name: str | AudioClassifierExtractor,
    reference: ClipsLike | str | Path | None = None,
    train: ClipsLike | None = None,
    requested_labels: torch.Tensor | None = None,
    seed: int = 0,
) -> dict[str, MetricResult]:
    """Score generated clips float [N, L] in [-1, 1] with an audio set's classifier (or one given).

    Always: inception_score (mean, std over 10 splits in extra; fewer below 500 clips), classes (value: classes that get at
    least half their fair share; extra: histogram by class name, confident share), confident (share
    of samples with top probability ≥ 0.8). With `reference` (held-out real clips [M, L], or an audio
    folder whose test split is used and, unless `train` is given, whose train split is the training
    set): fid. With `train` (or a folder): memorization. With `requested_labels` [N] (the class each
    clip was drawn for): label_accuracy.
    """
    ext = name if isinstance(name, AudioClassifierExtractor) else load_audio_classifier(name)
    clips = check_clips(clips)
    ref_label = "clips given"
    if isinstance(reference, (str, Path)):
        ref_label = str(reference)
        data = load_audio(reference, classes=ext.classes)
        reference, train = (data.held if len(data.held) else None), (data.train if train is None else train)
    fake = ext.features(clips)  # [N, 128]
    probs = ext.proba_from_features(fake)  # [N, K]
    real = ext.features(check_clips(reference, "reference clips")) if reference is not None else None
    base = {"reference": ref_label if real is not None else None, "reference_split": "test" if real is not None
            else None, "seed": seed, "preprocessing": ext.input_note(tuple(clips.shape))}  # fmt: skip

    def proto(metric: str, n_real: int = 0) -> dict[str, Any]:
        return protocol(metric, ext, n_real, len(fake), **base)

    results = _class_results(ext, probs, seed, proto)
    if requested_labels is not None:
        results["label_accuracy"] = label_accuracy(probs, torch.as_tensor(requested_labels), proto("label_accuracy"))
    if real is not None:
        results["fid"] = MetricResult("fid", fid(real, fake), {}, proto("fid", len(real)))
    if train is not None:
        memo = memorization(fake, ext.features(check_clips(train, "training clips")), real, seed)
        results["memorization"] = MetricResult("memorization", memo["share_close"], memo,
                                               proto("memorization", memo["n_train"]))
    return results


def _class_results(ext: AudioClassifierExtractor, probs: torch.Tensor, seed: int, proto) -> dict[str, MetricResult]:
    """inception_score, classes and confident from the classifier's probabilities [N, K]."""
    splits = max(1, min(IS_SPLITS, len(probs) // IS_MIN_SPLIT))
    is_mean, is_std = inception_score(probs, splits, seed=seed)
    uniform = torch.ones(probs.shape[1], dtype=torch.float64)
    cov = class_coverage(probs, uniform, min_share=FAIR_SHARE)
    confident = confident_share(probs)
    classes_extra = {
        "histogram": dict(zip(ext.classes, cov.histogram)), "num_classes": cov.num_classes,
        "min_share_of_fair": FAIR_SHARE, "kl": cov.kl, "confidence": cov.confidence, "confident_share": confident,
    }  # fmt: skip
    return {
        "inception_score": MetricResult("inception_score", is_mean, {"std": is_std, "splits": splits},
                                        proto("inception_score")),
        "classes": MetricResult("classes", float(cov.covered), classes_extra, proto("classes")),
        "confident": MetricResult("confident", confident, {"threshold": CONFIDENT}, proto("confident")),
    }
