"""What turns clips into what the nets see and back, recorded once per run: the spectrograms of
the mel and specgan models, their per-bin normalization, and audio.json (rate, length, classes,
normalization, the bundled set's name), which lets a run sample with no data."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Optional

import torch

from ...config import RunConfig
from ...data.audio import MEL_EPS, MEL_N_FFT, AudioData, log_mel, log_spectrogram, mel_hop
from ...errors import RunError

CLIP_STD = 3.0             # SpecGAN: normalized spectrograms are clipped at 3 standard deviations


def spectrograms(clips: torch.Tensor, model: str = "specgan",
                 shape: tuple[int, ...] = (1, 128, 128)) -> Optional[torch.Tensor]:
    """What the model's G makes, before normalization: log spectrograms [N, 128, 128] (specgan)
    or log mel [N, bands, frames] (mel) of clips [N, L], 500 clips at a time; None for wavegan."""
    if model == "mel":
        return log_mel(clips, shape[1], shape[2])
    if model != "specgan":
        return None
    return torch.cat([log_spectrogram(clips[i:i + 500]) for i in range(0, len(clips), 500)])


def audio_info(cfg: RunConfig, audio: AudioData, spec: Optional[torch.Tensor] = None) -> dict:
    """audio.json: what turns the nets' outputs back into sound and names their classes
    (`spec`: the training spectrograms, from which it records each bin's normalization as
    spec_mean and spec_std: x -> clamp((x - mean) / std, -3, 3) / 3)."""
    info: dict[str, Any] = {"rate": audio.rate, "length": audio.length, "classes": audio.classes,
                            "bundled": bundled_name(Path(cfg.data.dataset))}
    model = cfg.model.model
    if model not in ("mel", "specgan"):
        return info
    s = spectrograms(audio.train, model, cfg.data_shape) if spec is None else spec
    if model == "specgan":
        info["spec_mean"] = s.mean(dim=(0, 2)).tolist()
        info["spec_std"] = s.std(dim=(0, 2)).clamp_min(1e-3).tolist()
        return info
    info["mel"] = {"bands": cfg.data_shape[1], "frames": cfg.data_shape[2],
                   "n_fft": MEL_N_FFT, "hop": mel_hop(audio.length, cfg.data_shape[2])}
    # Mel: each bin's range [silence floor, its 99.9th percentile] maps to [-1, 1]. (Mean and
    # std put the floor only ~0.3 below the mean: silence is most of a clip, and the sound was
    # squeezed into the top of the range.)
    lo = math.log(MEL_EPS)
    hi = torch.quantile(s.transpose(0, 1).reshape(s.shape[1], -1)[:, ::7], 0.999, dim=1)
    hi = torch.maximum(hi, torch.full_like(hi, lo + 1.0))    # a bin that is always silent
    info["spec_mean"] = ((hi + lo) / 2).tolist()
    info["spec_std"] = ((hi - lo) / (2 * CLIP_STD)).tolist()
    return info


def bundled_name(folder: Path) -> Optional[str]:
    """The name of a bundled set (gankit.data.audio_sets) built into `folder`, else None."""
    try:
        name = json.loads((folder / "dataset.json").read_text()).get("name")
    except (OSError, ValueError, AttributeError):
        return None
    from ...data.audio_sets import BUNDLED
    return name if name in BUNDLED else None


def read_info(run_dir: Path) -> dict:
    path = Path(run_dir) / "audio.json"
    try:
        info = json.loads(path.read_text())
        int(info["rate"]), int(info["length"]), list(info["classes"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RunError(f"{path}: missing or corrupt ({e}); the run cannot turn its samples into "
                       f"sound") from None
    return info


__all__ = ["CLIP_STD", "audio_info", "bundled_name", "read_info", "spectrograms"]
