"""CycleGAN: unpaired translation between two domains of images, both ways."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from .. import register
from ..translate import TranslationSpec


class CycleGANSpec(TranslationSpec):
    name = "cyclegan"
    order = 12
    summary = "unpaired A <-> B (A/ and B/ folders, or --domains KA,KB of a labeled dataset)"

    def options(self) -> type:
        from .options import CycleGANOptions
        return CycleGANOptions

    def new_run(self, cfg: Any, out: Optional[Path]) -> Any:
        from .facade import new_run
        return new_run(self.name, cfg, out)

    def load_run(self, run_dir: Path, cfg: Any, *, device: str, weights_only: bool,
                 **given: Any) -> Any:
        from .facade import load_task_run
        return load_task_run(run_dir, cfg, device, weights_only)


register(CycleGANSpec())
