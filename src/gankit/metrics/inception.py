"""The FID Inception-v3 (TensorFlow's "2015-12-05" graph, as in TTUR, pytorch-fid and torch-fidelity) as an
`Extractor`, computed by torch-fidelity: the optional extra, `pip install 'gankit[inception]'`.

gankit ships no Inception weights and downloads none: the file is yours to give, as
  - torch-fidelity's `weights-inception-2015-12-05-6726825d.pth` (what it downloads into torch's hub cache,
    ~/.cache/torch/hub/checkpoints/), or any torch state dict with its keys (pytorch-fid's
    `pt_inception-2015-12-05-6726825d.pth` uses the same layout); read with torch.load(weights_only=True),
    so a file that needs more than tensors to unpickle is refused, never run;
  - the same tensors as a `.safetensors` file.
Keys: Conv2d_1a_3x3.conv.weight … Mixed_7c.branch_pool.bn.running_var (torchvision's Inception3 layout without
AuxLogits), fc.weight [1008, 2048] and fc.bias [1008]; `*.num_batches_tracked` and fc may be absent (without fc
there are no class probabilities).

Where: `load_inception(path)`, or, for `load_extractor("inception")` and `gankit eval --extractor inception`,
data_root()/inception-v3-fid.safetensors or data_root()/inception-v3-fid.pth ($GANKIT_DATA, else ~/.cache/gankit).
Every metric's protocol records the file's SHA-256.

Features: the 2048-d pool3 activations; `predict_proba`: the softmax of the 1008-way fc layer. Images reach
torch-fidelity as uint8 RGB: [-1, 1] floats are rounded to uint8 as a saved PNG would be, gray is repeated to
three channels; torch-fidelity resizes to 299x299 as TensorFlow 1's bilinear resize does, like the original FID.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors

from ..data.sources import data_root
from ..metrics.features import Extractor, ExtractorError

NAME = "inception-v3-fid"
WEIGHTS_FILES = ("inception-v3-fid.safetensors", "inception-v3-fid.pth")  # looked for in data_root()
INSTALL_HINT = "pip install 'gankit[inception]'"
INPUT_SIZE = 299
FEATURE_DIM = 2048
NUM_CLASSES = 1008  # the 2015 TensorFlow graph's classifier: 1000 ImageNet classes + 8 unused
BATCH_SIZE = 50  # images per forward pass: 299x299 activations take ~30 MB per image


class InceptionExtractor(Extractor):
    """torch-fidelity's FeatureExtractorInceptionV3 as an extractor: features [N, 2048] (pool3), class
    probabilities [N, 1008] from fc when the weights have it."""

    input_size = INPUT_SIZE
    input_channels = 3

    def __init__(self, net: torch.nn.Module, sha256: str, has_fc: bool = True, name: str = NAME):
        super().__init__()
        self.net, self.name, self.sha256 = net, name, sha256
        self.dim, self.num_classes = FEATURE_DIM, NUM_CLASSES if has_fc else None
        self.eval()  # inference only: BatchNorm always uses its running statistics

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """uint8, or float in [-1, 1], [B, 1|3, H, W] → uint8 [B, 3, H, W] (torch-fidelity resizes)."""
        x = images
        if x.dtype != torch.uint8:  # rounded as gankit.viz.to_uint8 writes samples to files
            x = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[0]  # the net was built to return ("2048",): pool3 [B, 2048]

    def features(self, images: torch.Tensor, batch_size: int = BATCH_SIZE) -> torch.Tensor:
        """Features float32 [N, 2048] of images [N, C, H, W], `batch_size` (default 50) images at a time."""
        return super().features(images, batch_size)

    def logits_from_features(self, feats: torch.Tensor) -> torch.Tensor:
        if self.num_classes is None:
            raise ExtractorError(
                f"extractor '{self.name}' has no class probabilities: its weights have no fc layer "
                f"(fc.weight [{NUM_CLASSES}, {FEATURE_DIM}], fc.bias [{NUM_CLASSES}]); class metrics need them"
            )
        return self.net.fc(feats)  # [N, 1008]

    def input_note(self, shape: tuple[int, ...]) -> str | None:
        _, c, h, w = shape
        notes = ["gray repeated to 3 channels"] if c == 1 else []
        if (h, w) != (INPUT_SIZE, INPUT_SIZE):
            notes.append(f"{h}x{w} resized to {INPUT_SIZE}x{INPUT_SIZE} (torch-fidelity: TensorFlow 1's bilinear)")
        return "; ".join(notes) or None


def default_paths() -> list[Path]:
    """Where `load_inception()` looks for the weights, in order: data_root()/inception-v3-fid.{safetensors,pth}."""
    return [data_root() / name for name in WEIGHTS_FILES]


def load_inception(path: str | Path | None = None) -> InceptionExtractor:
    """The FID Inception extractor from a local weights file (see the module's docstring for which files work),
    its `sha256` that of the file. `path` None: the first of `default_paths()` that exists.

    Raises ExtractorError: torch-fidelity missing (with the pip line), no file, or a file that is not a state
    dict of the FID Inception-v3.
    """
    inception_v3 = _torch_fidelity()
    path = _find_weights(path)
    blob = path.read_bytes()
    state, has_fc = _complete(_read_state(blob, path))
    # torch-fidelity's constructor reads its weights with torch.load; it gets bytes written here from the tensors
    # just read safely, so the only pickle it unpickles is gankit's own.
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    try:
        net = inception_v3(NAME, ["2048"], feature_extractor_weights_path=buffer)
    except RuntimeError as err:  # load_state_dict(strict=True): missing, unexpected or misshapen tensors
        problems = " ".join(str(err).split())
        raise ExtractorError(
            f"extractor '{NAME}': {path} does not fit the FID Inception-v3 ({problems[:300]})"
        ) from None
    return InceptionExtractor(net, hashlib.sha256(blob).hexdigest(), has_fc)


def _torch_fidelity() -> Any:
    """torch-fidelity's FeatureExtractorInceptionV3 class, or an ExtractorError that says how to install it."""
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except ImportError:
        raise ExtractorError(f"extractor '{NAME}' needs torch-fidelity: {INSTALL_HINT}") from None
    except Exception as err:  # e.g. a torchvision built for another torch fails as it loads
        first = (str(err).strip().splitlines() or [type(err).__name__])[-1]
        raise ExtractorError(
            f"extractor '{NAME}': torch-fidelity is installed but does not import ({first}); install the torchvision "
            f"built for torch {torch.__version__}"
        ) from None
    return FeatureExtractorInceptionV3


def _find_weights(path: str | Path | None) -> Path:
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise ExtractorError(f"extractor '{NAME}': no weights file at {path}")
        return path
    found = [p for p in default_paths() if p.is_file()]
    if not found:
        safetensors, pth = default_paths()
        raise ExtractorError(
            f"extractor '{NAME}': no weights file; gankit downloads none: put the FID Inception-v3 weights at "
            f"{safetensors} (safetensors) or {pth} (a torch state dict, e.g. torch-fidelity's "
            f"weights-inception-2015-12-05-6726825d.pth)"
        )
    return found[0]


def _read_state(blob: bytes, path: Path) -> dict[str, torch.Tensor]:
    """A state dict from safetensors bytes, else from a torch file that loads with weights_only=True."""
    try:
        return load_safetensors(blob)
    except (SafetensorError, ValueError, RuntimeError):
        pass
    try:
        state = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError, RuntimeError, EOFError …: all mean "not for us"
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise ExtractorError(
            f"extractor '{NAME}': {path} is neither safetensors nor a torch state dict that loads with "
            f"weights_only=True ({first})"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ExtractorError(
            f"extractor '{NAME}': {path} holds a {type(state).__name__}, not a state dict of tensors"
        )
    return state


def _complete(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], bool]:
    """The state with what torch-fidelity's strict load needs but files may leave out: each BatchNorm's
    num_batches_tracked (unused in eval) and, when there is no fc layer, a zero one (never used: no classes)."""
    state = dict(state)
    for key in [k for k in state if k.endswith(".bn.running_mean")]:
        state.setdefault(key.removesuffix("running_mean") + "num_batches_tracked", torch.tensor(0))
    has_fc = "fc.weight" in state or "fc.bias" in state
    if not has_fc:
        state["fc.weight"], state["fc.bias"] = torch.zeros(NUM_CLASSES, FEATURE_DIM), torch.zeros(NUM_CLASSES)
    return state, has_fc
