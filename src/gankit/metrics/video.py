"""How good are generated clips, judged by a small network of moving digits.

    from ..metrics.video import load_video_extractor, frame_classes, identity
    ext = load_video_extractor("moving-mnist")
    out = ext.outputs(clips)                       # clips [N, T, C, H, W], uint8 or [-1, 1] float
    out.features                                   # [N, 128]: an FVD-style Fréchet distance here
    identity(frame_classes(out.frame_probs, k=2))  # [N]: share of each clip's frames that keep its digits

The shipped network (clip32-r21d-v1, "video:moving-mnist" in weights/manifest.json) is trained by
scripts/train_video_features.py on Moving MNIST's train split only (16 frames, 32 px, 2 digits):

- a frame encoder of 2-D convolutions, shared by every frame, and a *frame head* that names the
  digits in each frame (multi-label: one output per digit class) from that frame alone, max-pooled
  over the frame (a digit anywhere counts);
- a *motion* path of 3-D convolutions over the frame maps and maps of how much each frame changed
  since the one before, pooled over space and then over all frames (mean and max), so any clip of
  at least MIN_FRAMES frames fits;
- clip features (128-d, after ReLU) from the motion path and the frames' mean, with two heads:
  the clip's digits (multi-label) and its temporal order (real, frames shuffled, one frame held
  for a few frames, one frame repeated throughout). Trained on both, the features move when
  either what is shown or how it moves is wrong.

Frames are converted to gray and resized to 32 x 32 (antialiased) first; `input_note` says so.
Weights are fp16 safetensors checked against the manifest's SHA-256 before use.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..metrics.features import (
    ExtractorError,
    _convert_channels,
    _resize,
    conv_block,
    device_of,
    eval_mode,
    fold_batchnorm,
    net_from_weights,
    shipped_entry,
    shipped_with_prefix,
)
from ..viz import from_uint8

ARCHITECTURE = "clip32-r21d-v1"
MANIFEST_PREFIX = "video:"
MIN_FRAMES = 4  # the motion path's 3 x 3 x 3 kernels need a few frames to see a change
ORDERS = ("real", "shuffled", "held", "static")  # the temporal head's classes
BATCH_CLIPS = 64  # clips per forward pass: bounds memory (64 x 16 frames of 32 px)


@dataclass(frozen=True)
class ClipNetConfig:
    """clip32-r21d-v1: four 2-D conv blocks per frame (two halve the side), two 3-D conv blocks over
    time (one halves the side), a frame head, clip features and two clip heads."""

    side: int = 32
    channels: tuple[int, int, int] = (16, 32, 64)
    motion: int = 64
    frame_dim: int = 128
    feature_dim: int = 128
    num_classes: int = 10
    orders: int = len(ORDERS)
    dropout: float = 0.2


def _block3d(c_in: int, c_out: int, stride: tuple[int, int, int] = (1, 1, 1)) -> list[nn.Module]:
    return [nn.Conv3d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm3d(c_out), nn.ReLU()]


class ClipNet(nn.Module):
    """Gray clips [B, T, 1, side, side] in [-1, 1] → frame logits [B, T, K], clip features [B, D],
    clip digit logits [B, K] and order logits [B, len(ORDERS)]."""

    def __init__(self, config: ClipNetConfig = ClipNetConfig()):
        super().__init__()
        self.config = config
        c1, c2, c3 = config.channels
        m, k = config.motion, config.num_classes
        # a stride-2 first conv instead of conv + pool: the full-size maps cost 4x less (CPU time)
        self.frames = nn.Sequential(
            nn.Conv2d(1, c1, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c1), nn.ReLU(),  # side/2
            *conv_block(c1, c2), nn.MaxPool2d(2),  # [BT, c2, side/4, side/4]
            *conv_block(c2, c3), *conv_block(c3, c3),  # [BT, c3, side/4, side/4]: sees a whole digit
        )  # fmt: skip
        # max over the whole frame: "is there a 7 anywhere" is what a digit set asks
        self.frame_body = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten(),
                                        nn.Linear(c3, config.frame_dim), nn.ReLU())  # fmt: skip
        self.frame_head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.frame_dim, k))
        # the frame maps and 2 maps of each frame's change (mean and max |x[t] - x[t-1]| per cell)
        self.motion = nn.Sequential(*_block3d(c3 + 2, m, (1, 2, 2)), *_block3d(m, m))  # [B, m, T, S/8, S/8]
        self.body = nn.Sequential(nn.Linear(2 * m + config.frame_dim, config.feature_dim), nn.ReLU())
        self.digit_head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.feature_dim, k))
        self.order_head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.feature_dim, config.orders))

    def trunk(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Clips [B, T, 1, S, S] → (clip features [B, D], frame vectors [B, T, frame_dim])."""
        b, t = x.shape[:2]
        # channels-last 2-D convolutions are ~1.5x faster on CPU for these small frames
        maps = self.frames(x.flatten(0, 1).contiguous(memory_format=torch.channels_last))  # [BT, c3, S/4, S/4]
        vectors = self.frame_body(maps).view(b, t, -1)  # [B, T, frame_dim]
        maps = torch.cat([maps.contiguous().view(b, t, *maps.shape[1:]), change_maps(x, maps.shape[-1])], 2)
        moving = self.motion(maps.transpose(1, 2))  # [B, m, T, S/8, S/8]
        moving = moving.amax((3, 4))  # [B, m, T]
        pooled = torch.cat([moving.mean(2), moving.amax(2), vectors.mean(1)], 1)
        return self.body(pooled), vectors

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feats, vectors = self.trunk(x)
        return {"frames": self.frame_head(vectors), "features": feats,
                "digits": self.digit_head(feats), "order": self.order_head(feats)}  # fmt: skip


def change_maps(x: torch.Tensor, side: int) -> torch.Tensor:
    """How much each cell of each frame changed since the frame before: clips [B, T, 1, S, S] →
    [B, T, 2, side, side] (mean and max of |x[t] - x[t-1]| over each cell; the first frame gets the
    second's). A frame held still changes by exactly 0 here, however the frame maps see it."""
    b, t = x.shape[:2]
    diff = (x[:, 1:] - x[:, :-1]).abs()
    diff = torch.cat([diff[:, :1], diff], 1).flatten(0, 1)  # [BT, 1, S, S]
    cell = diff.shape[-1] // side
    pooled = torch.cat([F.avg_pool2d(diff, cell), F.max_pool2d(diff, cell)], 1)  # [BT, 2, side, side]
    return pooled.view(b, t, 2, side, side)


def config_dict(config: ClipNetConfig) -> dict[str, Any]:
    """The config as JSON-ready fields (for the manifest)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


# ---------------------------------------------------------------- the extractor


def check_clips(clips: Any, what: str = "clips") -> torch.Tensor:
    """Clips as a tensor [N, T, C, H, W] (uint8, or float in [-1, 1]) with C in {1, 3} and T ≥
    MIN_FRAMES, or an ExtractorError saying what is wrong with them."""
    if not isinstance(clips, torch.Tensor) or clips.ndim != 5 or clips.shape[2] not in (1, 3):
        shape = tuple(clips.shape) if hasattr(clips, "shape") else type(clips).__name__
        raise ExtractorError(f"{what} must be a tensor [N, T, C, H, W] with C in {{1, 3}}, got {shape}")
    if len(clips) == 0:
        raise ExtractorError(f"{what}: no clips to score")
    if clips.shape[1] < MIN_FRAMES:
        raise ExtractorError(f"{what} of {clips.shape[1]} frames are too short (at least {MIN_FRAMES})")
    if clips.dtype != torch.uint8 and not clips.is_floating_point():
        raise ExtractorError(f"{what} must be uint8 (0..255) or float in [-1, 1], got {clips.dtype}")
    if clips.is_floating_point():
        lo, hi = float(clips.min()), float(clips.max())
        if not (-1.01 <= lo and hi <= 1.01):  # a little slack: tanh outputs rounded
            raise ExtractorError(f"float {what} must lie in [-1, 1], got values {lo:g}..{hi:g}")
    return clips


class ClipOutputs(NamedTuple):
    """What the network says about clips: features [N, D] and per-frame digit probabilities [N, T, K]."""

    features: torch.Tensor
    frame_probs: torch.Tensor


class VideoExtractor(nn.Module):
    """A shipped clip network: clips [N, T, C, H, W] → features [N, 128] and frame digit
    probabilities [N, T, 10], in eval mode, batch by batch (BatchNorm folded into the frame convs)."""

    def __init__(self, net: ClipNet, name: str, sha256: str):
        super().__init__()
        net.eval()
        net.frames = fold_batchnorm(net.frames).to(memory_format=torch.channels_last)
        self.net, self.config = net, net.config
        self.name, self.sha256 = name, sha256
        self.dim, self.num_classes = net.config.feature_dim, net.config.num_classes
        self.eval()

    def prepare(self, clips: torch.Tensor) -> torch.Tensor:
        """uint8 or [-1, 1] float [B, T, C, H, W] → float32 [-1, 1] [B, T, 1, side, side]."""
        b, t = clips.shape[:2]
        x = from_uint8(clips.flatten(0, 1))  # [BT, C, H, W]
        x = _resize(_convert_channels(x, 1), self.config.side)
        return x.view(b, t, *x.shape[1:])

    def outputs(self, clips: torch.Tensor, batch_size: int = BATCH_CLIPS) -> ClipOutputs:
        """Features float32 [N, D] and sigmoid frame probabilities [N, T, K] of clips [N, T, C, H, W]."""
        clips = check_clips(clips)
        device = device_of(self)
        feats, probs = [], []
        with eval_mode(self), torch.inference_mode():
            for start in range(0, len(clips), batch_size):
                f, vectors = self.net.trunk(self.prepare(clips[start : start + batch_size].to(device)))
                feats.append(f.float().cpu())
                probs.append(torch.sigmoid(self.net.frame_head(vectors)).float().cpu())
        return ClipOutputs(torch.cat(feats), torch.cat(probs))

    def features(self, clips: torch.Tensor, batch_size: int = BATCH_CLIPS) -> torch.Tensor:
        """Clip features float32 [N, D] of clips [N, T, C, H, W]."""
        return self.outputs(clips, batch_size).features

    def heads(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """From features [N, D]: clip digit probabilities [N, K] (sigmoid) and order probabilities
        [N, len(ORDERS)] (softmax)."""
        with eval_mode(self), torch.inference_mode():
            f = feats.to(device_of(self))
            digits = torch.sigmoid(self.net.digit_head(f)).float().cpu()
            return digits, torch.softmax(self.net.order_head(f), 1).float().cpu()

    def input_note(self, shape: tuple[int, ...]) -> str | None:
        """How clips of `shape` [N, T, C, H, W] are changed first (None: used as they are)."""
        _, _, c, h, w = shape
        side = self.config.side
        notes = ["RGB converted to gray (BT.601 luma)"] if c == 3 else []
        if (h, w) != (side, side):
            notes.append(f"frames {h}x{w} resized to {side}x{side} (center crop, bilinear antialiased)")
        return "; ".join(notes) or None


# ---------------------------------------------------------------- loading the shipped network


def shipped_video_extractors() -> list[str]:
    """Names `load_video_extractor` accepts: the clip sets with weights in the manifest."""
    return shipped_with_prefix(MANIFEST_PREFIX)


def load_video_extractor(name: str = "moving-mnist") -> VideoExtractor:
    """The shipped clip network of a clip set ("moving-mnist"; "video:" is accepted); its weights
    file's SHA-256 is checked against the manifest first (a changed file is a WeightsChecksumError)."""
    blob, sha, entry = shipped_entry(MANIFEST_PREFIX, name.removeprefix(MANIFEST_PREFIX), name,
                                     "video extractor")
    return extractor_from_weights(blob, entry, sha)


def extractor_from_weights(blob: bytes, entry: dict[str, Any], sha256: str) -> VideoExtractor:
    """The extractor of safetensors bytes (fp16, computed in fp32) described by a manifest entry."""
    def build(config: dict[str, Any]) -> ClipNet:
        config["channels"] = tuple(config.get("channels", ClipNetConfig.channels))
        return ClipNet(ClipNetConfig(**config))
    net = net_from_weights(blob, entry, ARCHITECTURE, build, "video extractor")
    return VideoExtractor(net, f"{entry.get('dataset')}-clip-net", sha256)


# ---------------------------------------------------------------- identity over time


def digit_sets(probs: torch.Tensor, k: int) -> torch.Tensor:
    """Each row's digit set as a bit mask (int64 [...]) from multi-label probabilities [..., K]:
    the top-k classes with probability ≥ 0.5, and always the top one (two equal digits make a set
    of one, so the second of the top two only counts when the head is sure of it)."""
    top = probs.topk(min(k, probs.shape[-1]), -1)
    keep = top.values >= 0.5
    keep[..., 0] = True
    bits = torch.ones_like(top.indices).bitwise_left_shift(top.indices)
    return (bits * keep).sum(-1)


def frame_classes(frame_probs: torch.Tensor, k: int) -> torch.Tensor:
    """Each frame's class int64 [N, T] (a digit-set bit mask) from frame probabilities [N, T, K]."""
    return digit_sets(frame_probs, k)


def identity(classes: torch.Tensor) -> torch.Tensor:
    """Per clip [N]: the share of its frames whose class (int64 [N, T]) is the clip's most common one."""
    majority = classes.mode(1).values  # [N]
    return (classes == majority[:, None]).double().mean(1)


__all__ = [
    "ARCHITECTURE", "ClipNet", "ClipNetConfig", "ClipOutputs", "MIN_FRAMES", "ORDERS", "VideoExtractor",
    "check_clips", "digit_sets", "extractor_from_weights", "frame_classes", "identity", "load_video_extractor",
    "shipped_video_extractors",
]  # fmt: skip
