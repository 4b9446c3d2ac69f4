"""The FID Inception-v3 network ("pt_inception-2015-12-05", as used by pytorch-fid and TTUR) as an `Extractor`.

Features are the 2048-d pool3 activations (global average of Mixed_7c); `predict_proba` is the softmax of
the 1008-way fc layer when the weights have it. gankit ships no Inception weights: `load_inception` reads
safetensors from `data_root()/inception-v3-fid.safetensors` (or a given path), else downloads them from
`MIRRORS` (empty by default) and checks them against `EXPECTED_SHA256`. Never pickle.

The architecture is torchvision's Inception-v3 with the changes that reproduce TensorFlow's graph: the
avg-pool branches of the A, C and first E blocks do not count padding, and the last E block max-pools.
Inputs are resized like pytorch-fid does (bilinear, no antialiasing, no crop) to 299x299 in [-1, 1].
"""

from __future__ import annotations

import hashlib
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from torch import nn

from gankit.data.sources import download_file, summarize_failures, data_root, offline
from gankit.errors import ChecksumError, DownloadError
from gankit.metrics.features import Extractor, ExtractorError, WeightsChecksumError

NAME = "inception-v3-fid"
WEIGHTS_FILE = "inception-v3-fid.safetensors"
# SHA-256 of the published safetensors file; None: accept any file that fits the architecture (its hash is
# still recorded in every metric's protocol), but never download one, since nothing could verify it.
EXPECTED_SHA256: str | None = None
# Full URLs of WEIGHTS_FILE, tried in order. Empty: gankit knows no place to download the weights from.
MIRRORS: tuple[str, ...] = ()
INPUT_SIZE = 299
FEATURE_DIM = 2048
NUM_CLASSES = 1008  # the 2015 TensorFlow graph's classifier: 1000 ImageNet classes + 8 unused
BATCH_SIZE = 50  # images per forward pass: 299x299 activations take ~30 MB per image


# ---------------------------------------------------------------- the network


class ConvBN(nn.Module):
    """Conv (no bias) → BatchNorm (eps 1e-3, as TensorFlow's) → ReLU. Keys: conv.weight, bn.{weight, bias, …}."""

    def __init__(self, c_in: int, c_out: int, kernel: int | tuple[int, int], stride: int = 1,
                 padding: int | tuple[int, int] = 0):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool(x: torch.Tensor) -> torch.Tensor:
    # TensorFlow's average pooling divides by the number of real (unpadded) pixels
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


def _row(c_in: int, c_out: int) -> ConvBN:  # a 1x7 conv
    return ConvBN(c_in, c_out, (1, 7), padding=(0, 3))


def _col(c_in: int, c_out: int) -> ConvBN:  # a 7x1 conv
    return ConvBN(c_in, c_out, (7, 1), padding=(3, 0))


class BlockA(nn.Module):
    """Mixed_5b/5c/5d: [B, c_in, 35, 35] → [B, 224 + pool_features, 35, 35]."""

    def __init__(self, c_in: int, pool_features: int):
        super().__init__()
        self.branch1x1 = ConvBN(c_in, 64, 1)
        self.branch5x5_1 = ConvBN(c_in, 48, 1)
        self.branch5x5_2 = ConvBN(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = ConvBN(c_in, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, padding=1)
        self.branch_pool = ConvBN(c_in, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(_avg_pool(x))], 1)


class BlockB(nn.Module):
    """Mixed_6a (grid reduction): [B, 288, 35, 35] → [B, 768, 17, 17]."""

    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3 = ConvBN(c_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = ConvBN(c_in, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, 3, stride=2)], 1)


class BlockC(nn.Module):
    """Mixed_6b…6e (factorized 7x7 convs with `c7` inner channels): [B, 768, 17, 17] → same."""

    def __init__(self, c_in: int, c7: int):
        super().__init__()
        self.branch1x1 = ConvBN(c_in, 192, 1)
        self.branch7x7_1 = ConvBN(c_in, c7, 1)
        self.branch7x7_2 = _row(c7, c7)
        self.branch7x7_3 = _col(c7, 192)
        self.branch7x7dbl_1 = ConvBN(c_in, c7, 1)
        self.branch7x7dbl_2 = _col(c7, c7)
        self.branch7x7dbl_3 = _row(c7, c7)
        self.branch7x7dbl_4 = _col(c7, c7)
        self.branch7x7dbl_5 = _row(c7, 192)
        self.branch_pool = ConvBN(c_in, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for conv in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4):
            d = conv(d)
        return torch.cat([self.branch1x1(x), b7, self.branch7x7dbl_5(d), self.branch_pool(_avg_pool(x))], 1)


class BlockD(nn.Module):
    """Mixed_7a (grid reduction): [B, 768, 17, 17] → [B, 1280, 8, 8]."""

    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3_1 = ConvBN(c_in, 192, 1)
        self.branch3x3_2 = ConvBN(192, 320, 3, stride=2)
        self.branch7x7x3_1 = ConvBN(c_in, 192, 1)
        self.branch7x7x3_2 = _row(192, 192)
        self.branch7x7x3_3 = _col(192, 192)
        self.branch7x7x3_4 = ConvBN(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, 3, stride=2)], 1)


class BlockE(nn.Module):
    """Mixed_7b (avg-pool branch) / Mixed_7c (max-pool branch): [B, c_in, 8, 8] → [B, 2048, 8, 8]."""

    def __init__(self, c_in: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = ConvBN(c_in, 320, 1)
        self.branch3x3_1 = ConvBN(c_in, 384, 1)
        self.branch3x3_2a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = ConvBN(c_in, 448, 1)
        self.branch3x3dbl_2 = ConvBN(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = ConvBN(c_in, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.branch3x3_1(x)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        # the TF graph's last block max-pools here (a quirk FID inherits; torchvision avg-pools)
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg_pool(x)
        branches = [self.branch1x1(x), self.branch3x3_2a(s), self.branch3x3_2b(s),
                    self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d), self.branch_pool(pooled)]  # fmt: skip
        return torch.cat(branches, 1)


@dataclass(frozen=True)
class InceptionConfig:
    """num_classes: size of the fc layer (1008 for the FID weights), or None for a network without one."""

    num_classes: int | None = NUM_CLASSES


class InceptionV3FID(nn.Module):
    """Images float [B, 3, 299, 299] in [-1, 1] → pool3 features [B, 2048]; `fc` maps them to [B, 1008] logits.

    State-dict keys are those of pytorch-fid's FIDInceptionV3 weights (torchvision's Inception3 layout,
    without AuxLogits), so a converted copy of "pt_inception-2015-12-05" loads as is. Each ConvBN named P
    holds P.conv.weight [C_out, C_in, kh, kw] and P.bn.{weight, bias, running_mean, running_var} [C_out]
    (P.bn.num_batches_tracked optional). The ConvBNs, as (C_in → C_out, kernel):

        Conv2d_1a_3x3 3→32 3x3/2, Conv2d_2a_3x3 32→32 3x3, Conv2d_2b_3x3 32→64 3x3, Conv2d_3b_1x1 64→80,
        Conv2d_4a_3x3 80→192 3x3
        Mixed_5b/5c/5d (C_in 192/256/288; pool 32/64/64): branch1x1 →64, branch5x5_1 →48, branch5x5_2 48→64
            5x5, branch3x3dbl_1 →64, branch3x3dbl_2 64→96 3x3, branch3x3dbl_3 96→96 3x3, branch_pool →pool
        Mixed_6a (288): branch3x3 →384 3x3/2, branch3x3dbl_1 →64, _2 64→96 3x3, _3 96→96 3x3/2
        Mixed_6b/6c/6d/6e (768; c7 128/160/160/192): branch1x1 →192, branch7x7_1 →c7, _2 c7→c7 1x7,
            _3 c7→192 7x1, branch7x7dbl_1 →c7, _2 7x1, _3 1x7, _4 7x1 (c7→c7), _5 c7→192 1x7, branch_pool →192
        Mixed_7a (768): branch3x3_1 →192, branch3x3_2 192→320 3x3/2, branch7x7x3_1 →192, _2 1x7, _3 7x1,
            _4 192→192 3x3/2
        Mixed_7b/7c (1280/2048): branch1x1 →320, branch3x3_1 →384, branch3x3_2a 1x3, branch3x3_2b 3x1
            (384→384), branch3x3dbl_1 →448, branch3x3dbl_2 448→384 3x3, branch3x3dbl_3a 1x3, _3b 3x1, branch_pool →192

    and, optionally, fc.weight [1008, 2048], fc.bias [1008]. 94 ConvBNs: 470 tensors without fc and
    num_batches_tracked; 21,785,568 parameters, 23,850,960 with fc (plus 34,432 BatchNorm running stats).
    """

    def __init__(self, config: InceptionConfig = InceptionConfig()):
        super().__init__()
        self.config = config
        self.Conv2d_1a_3x3 = ConvBN(3, 32, 3, stride=2)  # [B, 32, 149, 149]
        self.Conv2d_2a_3x3 = ConvBN(32, 32, 3)  # [B, 32, 147, 147]
        self.Conv2d_2b_3x3 = ConvBN(32, 64, 3, padding=1)  # [B, 64, 147, 147] → max-pool → 73x73
        self.Conv2d_3b_1x1 = ConvBN(64, 80, 1)  # [B, 80, 73, 73]
        self.Conv2d_4a_3x3 = ConvBN(80, 192, 3)  # [B, 192, 71, 71] → max-pool → 35x35
        self.Mixed_5b = BlockA(192, pool_features=32)  # [B, 256, 35, 35]
        self.Mixed_5c = BlockA(256, pool_features=64)  # [B, 288, 35, 35]
        self.Mixed_5d = BlockA(288, pool_features=64)  # [B, 288, 35, 35]
        self.Mixed_6a = BlockB(288)  # [B, 768, 17, 17]
        self.Mixed_6b = BlockC(768, c7=128)
        self.Mixed_6c = BlockC(768, c7=160)
        self.Mixed_6d = BlockC(768, c7=160)
        self.Mixed_6e = BlockC(768, c7=192)  # [B, 768, 17, 17]
        self.Mixed_7a = BlockD(768)  # [B, 1280, 8, 8]
        self.Mixed_7b = BlockE(1280, max_pool=False)  # [B, 2048, 8, 8]
        self.Mixed_7c = BlockE(2048, max_pool=True)  # [B, 2048, 8, 8]
        self.fc = nn.Linear(FEATURE_DIM, config.num_classes) if config.num_classes else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), 3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):  # fmt: skip
            x = block(x)
        return x.mean((2, 3))  # pool3: [B, 2048]


# ---------------------------------------------------------------- the extractor


class InceptionExtractor(Extractor):
    """InceptionV3FID as an extractor: 2048-d pool3 features; class probabilities from fc (1008-way) if present.

    Gray images are repeated to 3 channels; any size is resized to 299x299 as pytorch-fid does (bilinear,
    align_corners=False, no antialiasing, non-square images stretched, not cropped).
    """

    input_size = INPUT_SIZE
    input_channels = 3

    def __init__(self, net: InceptionV3FID, sha256: str, name: str = NAME):
        super().__init__()
        self.net, self.name, self.sha256 = net, name, sha256
        self.dim, self.num_classes = FEATURE_DIM, net.config.num_classes
        self.eval()  # inference only: BatchNorm always uses its running statistics

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def features(self, images: torch.Tensor, batch_size: int = BATCH_SIZE) -> torch.Tensor:
        """Features float32 [N, 2048] of images [N, C, H, W], `batch_size` (default 50) images at a time."""
        return super().features(images, batch_size)

    def logits_from_features(self, feats: torch.Tensor) -> torch.Tensor:
        if self.net.fc is None:
            raise ExtractorError(
                f"extractor '{self.name}' has no class probabilities: its weights have no fc layer "
                f"(fc.weight [{NUM_CLASSES}, {FEATURE_DIM}], fc.bias [{NUM_CLASSES}]); class metrics need them"
            )
        return self.net.fc(feats)  # [N, 1008]

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 or [-1, 1] float [B, 1|3, H, W] → float32 [B, 3, 299, 299] in [-1, 1]."""
        x = images.float() / 127.5 - 1 if images.dtype == torch.uint8 else images.float()
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        return x

    def input_note(self, shape: tuple[int, ...]) -> str | None:
        _, c, h, w = shape
        notes = ["gray repeated to 3 channels"] if c == 1 else []
        if (h, w) != (INPUT_SIZE, INPUT_SIZE):
            notes.append(f"{h}x{w} resized to {INPUT_SIZE}x{INPUT_SIZE} (bilinear, no antialiasing, as pytorch-fid)")
        return "; ".join(notes) or None


# ---------------------------------------------------------------- loading the weights


def default_path() -> Path:
    """Where the weights are looked for and downloaded to: data_root()/inception-v3-fid.safetensors."""
    return data_root() / WEIGHTS_FILE


def load_inception(path: str | Path | None = None) -> InceptionExtractor:
    """The FID Inception extractor, its `sha256` that of the weights file.

    `path` None: the default file (see `default_path`), downloaded from MIRRORS if missing; it, and any
    download, must match EXPECTED_SHA256 when that is set. An explicit `path` (weights the user converted
    with their own tooling) is not compared with EXPECTED_SHA256, but must fit the architecture.
    Raises ExtractorError (WeightsChecksumError for a hash mismatch).
    """
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise ExtractorError(f"extractor '{NAME}': no weights file at {path}")
        blob, expected = path.read_bytes(), None
    else:
        path, expected = default_path(), EXPECTED_SHA256
        blob = path.read_bytes() if path.is_file() else _download(path)
    actual = hashlib.sha256(blob).hexdigest()
    if expected is not None and actual != expected:
        raise WeightsChecksumError(
            f"extractor '{NAME}': {path} has SHA-256 {actual}, expected {expected} (corrupt or other weights?)"
        )
    return InceptionExtractor(_net_from_safetensors(blob, str(path)), sha256=actual)


def _download(dest: Path) -> bytes:
    """The weights from the first mirror that serves a file matching EXPECTED_SHA256, cached at `dest`."""
    where = f"put the FID Inception-v3 weights (pytorch-fid's pt_inception-2015-12-05, as safetensors) at {dest}"
    if EXPECTED_SHA256 is not None:
        where += f" (SHA-256 {EXPECTED_SHA256})"
    if not MIRRORS:
        raise ExtractorError(f"extractor '{NAME}': no weights file and no download mirror known; {where}")
    if EXPECTED_SHA256 is None:
        raise ExtractorError(f"extractor '{NAME}': no weights file, and no SHA-256 to verify a download; {where}")
    if offline():
        raise ExtractorError(f"extractor '{NAME}': no weights file, and GANKIT_OFFLINE=1 forbids downloading; {where}")
    failures: list[tuple[str, str]] = []
    bad_sum = False
    for url in MIRRORS:
        try:
            return download_file(url, dest, EXPECTED_SHA256)  # temp file, verify, atomic rename
        except DownloadError as err:
            bad_sum = bad_sum or isinstance(err, ChecksumError)
            failures.append((urllib.parse.urlsplit(url).netloc or url, str(err)))
    error = WeightsChecksumError if bad_sum else ExtractorError
    raise error(f"extractor '{NAME}': could not download {WEIGHTS_FILE}: {summarize_failures(failures)}; or {where}")


def _net_from_safetensors(blob: bytes, label: str) -> InceptionV3FID:
    """Build InceptionV3FID (with fc if the file has it) from safetensors bytes; ExtractorError if they don't fit."""
    try:
        state = load_safetensors(blob)
    except (SafetensorError, ValueError, RuntimeError) as err:
        raise ExtractorError(f"extractor '{NAME}': {label} is not a readable safetensors file ({err})") from None
    net = InceptionV3FID(InceptionConfig(num_classes=NUM_CLASSES if "fc.weight" in state else None))
    expected = net.state_dict()
    problems = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    problems += [k for k in state if k not in expected]
    problems += [f"{k} {tuple(v.shape)}≠{tuple(expected[k].shape)}" for k, v in state.items()
                 if k in expected and v.shape != expected[k].shape]  # fmt: skip
    if problems:
        raise ExtractorError(
            f"extractor '{NAME}': {label} does not fit the FID Inception-v3 ({len(problems)} missing, unexpected or "
            f"misshapen tensors, e.g. {', '.join(problems[:3])})"
        )
    state = {k: v if k.endswith("num_batches_tracked") else v.float() for k, v in state.items()}
    net.load_state_dict(state, strict=False)  # only num_batches_tracked may be absent (checked above)
    return net.eval()
