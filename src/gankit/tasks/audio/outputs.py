"""What the audio task writes: clips as a folder of WAVs (with spectrograms.png), one WAV of
them in a row, or .npz; and the previews of a training run (samples/step-*.png and .wav)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional, Union

import numpy as np
import torch

from ...data.audio import spectrogram_image, write_wav
from ...errors import ConfigError
from ...train import callbacks as cb
from ...train.state import step_name
from ...train.trainer import Trainer

if TYPE_CHECKING:
    from .facade import AudioGAN

PREVIEW = 16               # clips in each samples/step-*.png and .wav
GAP = 0.25                 # seconds of silence between the clips of a preview WAV


def save_clips(clips: torch.Tensor, output: Union[str, Path], rate: int, classes: list[str],
               overwrite: bool = False, labels: Optional[torch.Tensor] = None) -> Path:
    """Write clips at `rate` Hz: a folder gets one WAV each (named with their class in `classes`
    when there are labels) and spectrograms.png; FILE.wav gets them one after another with short
    gaps; FILE.npz gets `audio` float32 [N, L], `rate` and `labels`."""
    from ...outputs import check_output_kind, refuse_overwrite
    from ...viz import save_png
    output = Path(output)
    if not output.parent.is_dir():
        raise ConfigError(f"--output {output}: no such directory {output.parent}")
    check_output_kind(output)
    suffix = output.suffix.lower()
    if suffix == ".wav":
        refuse_overwrite(output, overwrite)
        write_wav(output, with_gaps(clips, rate), rate)
        return output
    if suffix == ".npz":
        refuse_overwrite(output, overwrite)
        arrays = {"audio": clips.numpy().astype(np.float32), "rate": np.int64(rate)}
        if labels is not None:
            arrays["labels"] = labels.numpy().astype(np.int64)
        tmp = output.with_name(f".{output.name}.tmp.npz")
        np.savez_compressed(tmp, **arrays)
        tmp.replace(output)
        return output
    if suffix:
        raise ConfigError(f"unknown output type {output.suffix!r} for audio: use a folder, "
                          f".wav or .npz")
    if output.exists() and any(output.iterdir()):
        refuse_overwrite(output, overwrite)
    output.mkdir(parents=True, exist_ok=True)
    for i, clip in enumerate(clips):
        name = f"{i:06d}" + (f"-{classes[int(labels[i])]}" if labels is not None else "")
        write_wav(output / f"{name}.wav", clip, rate)
    save_png(spectrogram_image(clips[:64]), output / "spectrograms.png")
    return output


def players(clips: torch.Tensor, rate: int, names: list[str]) -> list[tuple[str, str]]:
    """(name, WAV data: URI) of each clip [N, L]: what a report's and a notebook's <audio>
    players play."""
    import base64

    from ...data.audio import wav_bytes
    return [(name, "data:audio/wav;base64," + base64.b64encode(wav_bytes(clip, rate)).decode(
        "ascii")) for name, clip in zip(names, clips)]


def players_html(clips: torch.Tensor, rate: int, names: list[str]) -> str:
    """The clips' spectrograms, then one <audio> player each under its name (all escaped)."""
    import html

    from ...report.page import array_uri
    uri = array_uri(spectrogram_image(clips, rows=2))
    cells = "".join(
        f'<div style="margin:2px 8px 2px 0"><div>{html.escape(name)}</div>'
        f'<audio controls preload="none" src="{src}"></audio></div>'
        for name, src in players(clips, rate, names))
    return (f'<div class="gankit-clips"><img src="{uri}" alt="spectrograms" '
            f'style="max-width:100%"><div style="display:flex;flex-wrap:wrap">{cells}</div></div>')


def with_gaps(clips: torch.Tensor, rate: int) -> torch.Tensor:
    """Clips [N, L] one after another, GAP seconds of silence after each: one listenable WAV."""
    gap = torch.zeros(len(clips), int(GAP * rate))
    return torch.cat([clips.reshape(len(clips), -1).float(), gap], 1).reshape(-1)


class AudioPreview(cb.Every):
    """samples/step-NNNNNNN.png (spectrograms) and .wav (the clips in a row), PREVIEW clips from
    fixed noise (a conditional run: classes in turn)."""

    def __init__(self, out_dir: Path, every: int, gan: AudioGAN):
        super().__init__(every)
        self.out_dir, self.gan = Path(out_dir), gan
        self.out_dir.mkdir(parents=True, exist_ok=True)

    def act(self, trainer: Trainer) -> None:
        from ...viz import save_png
        clips = self.gan.sample(PREVIEW, seed=self.gan.config.train.seed + 7)
        stem = self.out_dir / step_name(trainer.step)
        save_png(spectrogram_image(clips, rows=2), stem.with_suffix(".png"))
        write_wav(stem.with_suffix(".wav"), with_gaps(clips, self.gan.rate), self.gan.rate)


__all__ = ["AudioPreview", "players", "players_html", "save_clips", "with_gaps"]
