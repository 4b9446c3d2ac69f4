"""The audio GAN: one-second sounds from a folder of WAV files or of class folders."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from .. import register
from ..spec import TaskSpec


class AudioSpec(TaskSpec):
    name = "audio"
    order = 40
    summary = ("one-second sounds from a folder of WAV files or of class folders (--model mel, "
               "the default, wavegan or specgan; conditional by default on class folders, "
               "--no-conditional; --audio-length)")
    sample_help = ("a directory (one WAV per clip and spectrograms.png), FILE.wav (the clips "
                   "in a row) or FILE.npz")
    eval_help = ("on a bundled set: inception score, FID and class coverage from the set's "
                 "spectrogram classifier")
    previews = (".png", ".wav")
    sample_output = "samples/"

    def options(self) -> type:
        from .options import AudioOptions
        return AudioOptions

    def new_run(self, cfg: Any, out: Optional[Path]) -> Any:
        from .facade import new_run
        return new_run(self.name, cfg, out)

    def load_run(self, run_dir: Path, cfg: Any, *, device: str, weights_only: bool,
                 **given: Any) -> Any:
        from .facade import load_task_run
        return load_task_run(run_dir, cfg, device, weights_only)

    def add_commands(self, sub: Any) -> dict:
        from .commands import add_commands
        return add_commands(sub)

    def add_sample_flags(self, parser: Any) -> None:
        from ..gan.flags import add_sample_flags
        add_sample_flags(parser, by_name=True)

    def sample_options(self, gan: Any, args: Any) -> dict:
        from ..gan.flags import sample_options
        return sample_options(gan, args)


register(AudioSpec())
