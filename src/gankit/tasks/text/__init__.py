"""The text GAN: words or sentences from a text file, one item per line."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from .. import register
from ..spec import TaskSpec


class TextSpec(TaskSpec):
    name = "text"
    order = 30
    summary = ("words or sentences from a text file, one item per line (--unit, --max-len, "
               "--vocab-size)")
    sample_help = "FILE.txt (one item per line)"
    eval_help = "n-gram JSD, valid, novel and distinct-n against its held-out items"
    previews = (".txt",)
    sample_output = "samples.txt"

    def options(self) -> type:
        from .options import TextOptions
        return TextOptions

    def new_run(self, cfg: Any, out: Optional[Path]) -> Any:
        from .facade import TextGAN
        return TextGAN(cfg.data.dataset, config=cfg, out=out)

    def load_run(self, run_dir: Path, cfg: Any, *, device: str, weights_only: bool,
                 **given: Any) -> Any:
        from .facade import load_task_run
        return load_task_run(run_dir, cfg, device, weights_only)


register(TextSpec())
