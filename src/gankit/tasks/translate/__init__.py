"""Paired image-to-image translation: pix2pix (A -> B) and colorization (gray -> color)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from .. import register
from ..spec import TaskSpec


class TranslationSpec(TaskSpec):
    """What the translation tasks share: their runs translate images, they are not sampled."""

    previews = (".png",)
    sample_output = None

    def next_step(self, run_dir: Path) -> str:
        return f"translate: gankit translate {run_dir} IMAGES... --output DIR"

    def options(self) -> type:
        from .options import OPTIONS
        return OPTIONS[self.name]

    def new_run(self, cfg: Any, out: Optional[Path]) -> Any:
        from .facade import new_run
        return new_run(self.name, cfg, out)

    def load_run(self, run_dir: Path, cfg: Any, *, device: str, weights_only: bool,
                 **given: Any) -> Any:
        from .facade import load_task_run
        return load_task_run(run_dir, cfg, device, weights_only)


class Pix2PixSpec(TranslationSpec):
    name = "pix2pix"
    order = 10
    summary = "paired translation A -> B (a folder with A/ and B/, or side-by-side AB images)"

    def add_commands(self, sub: Any) -> dict:   # translate serves colorize and cyclegan too
        from .commands import add_commands
        return add_commands(sub)


class ColorizeSpec(TranslationSpec):
    name = "colorize"
    order = 11
    summary = "grayscale -> color from a folder of color photos"


register(Pix2PixSpec())
register(ColorizeSpec())
