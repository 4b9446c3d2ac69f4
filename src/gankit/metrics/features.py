"""Feature extractors: images [N, C, H, W] → features [N, dim], the space every metric is measured in.

Shipped: small CNN classifiers for 1x28x28 gray images, one per dataset (`mnist`, `fashion-mnist`),
trained by scripts/train_feature_classifier.py on the train split only. Their weights live beside this
file as safetensors (fp16) and are checked against the SHA-256 in weights/manifest.json before use.
Images of another size or with 3 channels are resized (antialiased) and converted to gray luma first;
`Extractor.input_note` says so, and metric protocols record it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load as load_safetensors
from torch import nn

from ..errors import GanKitError
from ..viz import from_uint8

WEIGHTS_DIR = Path(__file__).parent / "weights"
MANIFEST = "manifest.json"
ARCHITECTURE = "gray28-cnn-v1"
BATCH_SIZE = 500  # images per forward pass: bounds memory, large enough to keep the CPU busy
_LUMA = (0.299, 0.587, 0.114)  # BT.601, as gankit.data converts RGB to gray


class MetricError(GanKitError):
    """A metric cannot be computed from what it was given (too few samples, wrong shapes, NaN features)."""


class ExtractorError(MetricError):
    """A feature extractor is unknown, cannot be loaded, or cannot take the given images."""


class WeightsChecksumError(ExtractorError):
    """A shipped weights file does not match the SHA-256 recorded in its manifest."""


# ---------------------------------------------------------------- the base class


class Extractor(nn.Module):
    """Maps images (uint8 [N,C,H,W], or float in [-1, 1]) to float32 features [N, dim].

    Subclasses set `name`, `sha256` (of the weights), `dim`, `input_size`/`input_channels` (None: taken
    as given) and implement `embed` (prepared float batch [B, C, H, W] → [B, dim]).
    """

    name: str
    sha256: str
    dim: int | None
    input_size: int | None = None
    input_channels: int | None = None
    num_classes: int | None = None

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def logits_from_features(self, feats: torch.Tensor) -> torch.Tensor:
        """Class logits [N, K] from features [N, dim]; only extractors that are classifiers have them."""
        raise ExtractorError(f"extractor '{self.name}' is not a classifier: it has no class probabilities")

    def features(self, images: torch.Tensor, batch_size: int = BATCH_SIZE) -> torch.Tensor:
        """Features float32 [N, dim] of images [N, C, H, W], computed in eval mode, batch by batch."""
        check_images(images)
        device = device_of(self)
        chunks = []
        with eval_mode(self), torch.inference_mode():
            for start in range(0, len(images), batch_size):
                x = self.prepare(images[start : start + batch_size].to(device))
                chunks.append(self.embed(x).flatten(1).float().cpu())
        feats = torch.cat(chunks)
        self.dim = feats.shape[1]
        return feats

    def proba_from_features(self, feats: torch.Tensor) -> torch.Tensor:
        """Class probabilities float32 [N, K] from this extractor's own features [N, dim]."""
        with eval_mode(self), torch.inference_mode():
            return torch.softmax(self.logits_from_features(feats.to(device_of(self))).float(), 1).cpu()

    def predict_proba(self, images: torch.Tensor, batch_size: int = BATCH_SIZE) -> torch.Tensor:
        """Class probabilities float32 [N, K] of images [N, C, H, W]."""
        return self.proba_from_features(self.features(images, batch_size))

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 or [-1, 1] float [B, C, H, W] → float32 [-1, 1] at this extractor's size and channels."""
        x = from_uint8(images)
        if self.input_channels is not None:
            x = _convert_channels(x, self.input_channels)
        if self.input_size is not None:
            x = _resize(x, self.input_size)
        return x

    def input_note(self, shape: tuple[int, ...]) -> str | None:
        """How images of `shape` [N, C, H, W] are changed before extraction (None: used as they are)."""
        _, c, h, w = shape
        notes = []
        if self.input_channels is not None and c != self.input_channels:
            notes.append("RGB converted to gray (BT.601 luma)" if c == 3 else f"{c} channels → {self.input_channels}")
        if self.input_size is not None and (h, w) != (self.input_size, self.input_size):
            size = self.input_size
            notes.append(f"{h}x{w} resized to {size}x{size} (center crop, bilinear antialiased)")
        return "; ".join(notes) or None


def check_images(images: torch.Tensor) -> None:
    """Reject anything that is not uint8 or float [N, C, H, W] with C in {1, 3} and N ≥ 1."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] not in (1, 3):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ExtractorError(f"images must be a tensor [N, C, H, W] with C in {{1, 3}}, got {shape}")
    if len(images) == 0:
        raise ExtractorError("no images to extract features from")
    if images.dtype != torch.uint8 and not images.is_floating_point():
        raise ExtractorError(f"images must be uint8 (0..255) or float in [-1, 1], got {images.dtype}")
    if images.is_floating_point():
        lo, hi = float(images.min()), float(images.max())
        if not (-1.01 <= lo and hi <= 1.01):  # a little slack: generators' tanh output is rounded
            raise ExtractorError(f"float images must lie in [-1, 1], got values {lo:g}..{hi:g}")


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """Eval mode (no dropout, BatchNorm running stats) inside; every submodule's own mode restored after."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def device_of(module: nn.Module) -> torch.device:
    """The device of a module's parameters (the CPU for a module without any)."""
    param = next(module.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _convert_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """[B, C, H, W] float → [B, channels, H, W]: gray repeated to RGB, RGB to gray by luma."""
    if x.shape[1] == channels:
        return x
    if channels == 3:
        return x.expand(-1, 3, -1, -1)
    weights = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * weights).sum(1, keepdim=True)


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """[B, C, H, W] → [B, C, size, size]: center-crop to a square, then bilinear with antialiasing."""
    h, w = x.shape[-2:]
    if h != w:
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        x = x[:, :, top : top + s, left : left + s]
    if x.shape[-1] == size:
        return x
    # antialias matters when shrinking: without it, a 64px stroke pattern aliases into noise at 28px
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


# ---------------------------------------------------------------- the shipped 28x28 gray classifier


@dataclass(frozen=True)
class ClassifierConfig:
    """The gray28-cnn-v1 network: three conv blocks (each halving the size), a feature layer, a head."""

    channels: tuple[int, int, int] = (32, 64, 128)
    feature_dim: int = 256
    num_classes: int = 10
    dropout: float = 0.3


class Gray28Classifier(nn.Module):
    """1x28x28 in [-1, 1] → body: features [B, feature_dim] (after ReLU) → head: logits [B, num_classes]."""

    def __init__(self, config: ClassifierConfig = ClassifierConfig()):
        super().__init__()
        self.config = config
        c1, c2, c3 = config.channels
        self.body = nn.Sequential(
            *conv_block(1, c1), nn.MaxPool2d(2),  # [B, c1, 14, 14]
            *conv_block(c1, c2), nn.MaxPool2d(2),  # [B, c2, 7, 7]
            *conv_block(c2, c3), nn.AdaptiveMaxPool2d(3),  # [B, c3, 3, 3]: keeps the fc layer small
            nn.Flatten(),
            nn.Linear(9 * c3, config.feature_dim), nn.ReLU(),
        )  # fmt: skip
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.feature_dim, config.num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def conv_block(c_in: int, c_out: int) -> list[nn.Module]:
    """3x3 convolution (no bias), BatchNorm, ReLU: the extractors' building block."""
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


def fold_batchnorm(body: nn.Sequential) -> nn.Sequential:
    """Fold each eval-mode BatchNorm2d into the conv before it (same outputs, ~20% faster on CPU)."""
    layers = list(body)
    out: list[nn.Module] = []
    for layer in layers:
        if isinstance(layer, nn.BatchNorm2d) and out and isinstance(out[-1], nn.Conv2d):
            conv = out[-1]
            scale = layer.weight / torch.sqrt(layer.running_var + layer.eps)  # [C_out]
            fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding)
            with torch.no_grad():
                fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
                bias = conv.bias if conv.bias is not None else torch.zeros_like(scale)
                fused.bias.copy_((bias - layer.running_mean) * scale + layer.bias)
            out[-1] = fused
        else:
            out.append(layer)
    return nn.Sequential(*out)


class ClassifierExtractor(Extractor):
    """A shipped gray28 classifier as an extractor: features = its 256-d penultimate layer (after ReLU).

    Post-activation, as FID's Inception features are. Some units are dead (constant 0) on every input;
    `frechet_distance` handles the rank-deficient covariances that gives.
    """

    input_size = 28
    input_channels = 1

    def __init__(self, net: Gray28Classifier, name: str, sha256: str):
        super().__init__()
        net.eval()
        self.body = fold_batchnorm(net.body).to(memory_format=torch.channels_last)
        self.head = net.head
        self.name, self.sha256 = name, sha256
        self.dim, self.num_classes = net.config.feature_dim, net.config.num_classes
        self.eval()  # an inference-only module: eval is its natural state

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        # channels-last convolutions are ~2x faster on CPU for these small images
        return self.body(x.contiguous(memory_format=torch.channels_last))

    def logits_from_features(self, feats: torch.Tensor) -> torch.Tensor:
        return self.head(feats)


# ---------------------------------------------------------------- the user's own network


class UserExtractor(Extractor):
    """Wraps the user's nn.Module (prepared float [-1, 1] images [B, C, H, W] → features, flattened to [B, dim]).

    `sha256` is a hash of the module's parameters and buffers, so cached reference features are
    recomputed whenever its weights change. Images are given to the module at their own size.
    """

    def __init__(self, module: nn.Module, name: str):
        super().__init__()
        if not isinstance(module, nn.Module):
            raise ExtractorError(f"UserExtractor needs an nn.Module, got {type(module).__name__}")
        self.module, self.name, self.dim = module, name, None
        self.sha256 = state_sha256(module)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)


def state_sha256(module: nn.Module) -> str:
    """SHA-256 over a module's state_dict (names, dtypes, shapes and bytes), in key order."""
    digest = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


# ---------------------------------------------------------------- loading shipped extractors


def shipped_extractors() -> list[str]:
    """Names `load_extractor` accepts for shipped weights (the image datasets in the manifest).

    The manifest also holds the audio classifiers (keys "audio:<set>", architecture spec128-cnn-v1,
    loaded by gankit.metrics.audio); they take clips, not images, so they are not listed here.
    """
    return sorted(key for key, entry in read_manifest().items() if entry.get("architecture") == ARCHITECTURE)


def read_manifest() -> dict[str, dict[str, Any]]:
    """weights/manifest.json: dataset name (or "audio:<set>") → {file, sha256, architecture, accuracies, …}."""
    path = WEIGHTS_DIR / MANIFEST
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ExtractorError(f"{path} is not valid JSON: {err}") from None


def load_shipped_extractor(name: str) -> Extractor:
    """A shipped extractor by name ("mnist", "fashion-mnist"; a "-classifier" suffix is accepted).
    (gankit.metrics.load_extractor also knows "inception".)

    The weights file's SHA-256 is checked against the manifest; safetensors only, never pickle.
    """
    key = name.removesuffix("-classifier")
    if key not in shipped_extractors():
        known = ", ".join([*shipped_extractors(), "inception"])
        raise ExtractorError(f"unknown extractor '{name}': expected one of {known}")
    entry = read_manifest()[key]
    path = WEIGHTS_DIR / entry["file"]
    blob, actual = verified_weights(f"extractor '{key}'", entry)
    net = Gray28Classifier(ClassifierConfig(**_config_fields(entry)))
    state = {k: v.float() for k, v in load_safetensors(blob).items()}  # stored fp16, computed in fp32
    result = net.load_state_dict(state, strict=False)  # BatchNorm's num_batches_tracked is not stored
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise ExtractorError(f"extractor '{key}': {path} does not fit {ARCHITECTURE} (missing {missing[:3]})")
    return ClassifierExtractor(net, name=f"{key}-classifier", sha256=actual)


def verified_weights(label: str, entry: dict[str, Any]) -> tuple[bytes, str]:
    """The bytes of a manifest entry's weights file and their SHA-256, once it matches the manifest's.

    `label` names the weights in errors ("extractor 'mnist'"). A missing file is an ExtractorError,
    a different checksum a WeightsChecksumError.
    """
    path = WEIGHTS_DIR / entry["file"]
    if not path.is_file():
        raise ExtractorError(f"{label}: weights file {path} is missing (reinstall gankit)")
    blob = path.read_bytes()
    actual = hashlib.sha256(blob).hexdigest()
    if actual != entry["sha256"]:
        raise WeightsChecksumError(
            f"{label}: {path} has SHA-256 {actual[:16]}…, manifest says {entry['sha256'][:16]}… (corrupt file?)"
        )
    return blob, actual


def shipped_with_prefix(prefix: str) -> list[str]:
    """The manifest's names under `prefix` ("audio:", "video:"), the prefix taken off."""
    return sorted(k.removeprefix(prefix) for k in read_manifest() if k.startswith(prefix))


def shipped_entry(prefix: str, key: str, name: str, what: str) -> tuple[bytes, str, dict[str, Any]]:
    """(weights bytes, SHA-256, manifest entry) of `prefix + key`, checked against the manifest;
    an unknown name is one ExtractorError naming the shipped ones (`what`: "audio classifier")."""
    entry = read_manifest().get(prefix + key)
    if entry is None:
        known = ", ".join(shipped_with_prefix(prefix)) or "none shipped"
        raise ExtractorError(f"unknown {what} '{name}': expected one of {known}")
    blob, sha = verified_weights(f"{what} '{key}'", entry)
    return blob, sha, entry


def net_from_weights(blob: bytes, entry: dict[str, Any], architecture: str, build: Any, what: str) -> nn.Module:
    """The net `build(config fields)` makes for a manifest entry of `architecture`, loaded with the
    safetensors bytes (stored fp16, computed in fp32); BatchNorm's num_batches_tracked is not stored."""
    if entry.get("architecture") != architecture:
        raise ExtractorError(f"weights of architecture '{entry.get('architecture')}' need a newer gankit")
    net = build(dict(entry.get("config", {})))
    state = {k: v.float() for k, v in load_safetensors(blob).items()}
    result = net.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise ExtractorError(f"{what} '{entry.get('dataset')}': weights do not fit {architecture}")
    return net


def _config_fields(entry: dict[str, Any]) -> dict[str, Any]:
    if entry.get("architecture") != ARCHITECTURE:
        raise ExtractorError(f"weights of architecture '{entry.get('architecture')}' need a newer gankit")
    config = dict(entry.get("config", {}))
    if "channels" in config:
        config["channels"] = tuple(config["channels"])
    return config


def config_dict(config: ClassifierConfig) -> dict[str, Any]:
    """The config as JSON-ready fields (for the manifest)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}
