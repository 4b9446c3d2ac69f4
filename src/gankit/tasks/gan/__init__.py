"""The image GAN: images (or vectors) from noise, unconditional or class-conditional."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from ...presets import PRESETS
from .. import register
from ..spec import TaskSpec


class ImageGANSpec(TaskSpec):
    name = "image-gan"
    aliases = ("gan",)
    default = True
    order = 0
    summary = ("images from noise (the default; config.json calls it image-gan); --conditional "
               "for a class-conditional GAN (sample with --label)")
    presets = tuple(PRESETS)
    needs_dataset = False
    load_options = ("dataset", "generator", "discriminator")
    exports = True
    plugin_parts = True

    def new_run(self, cfg: Any, out: Optional[Path]) -> Any:
        from .facade import GAN
        return GAN(config=cfg, dataset=cfg.data.dataset, out=out)

    def load_run(self, run_dir: Path, cfg: Any, *, device: str, weights_only: bool,
                 **given: Any) -> Any:
        from .facade import load_image_run
        return load_image_run(run_dir, cfg, device, weights_only, **given)

    def add_commands(self, sub: Any) -> dict:
        from .commands import add_commands
        return add_commands(sub)

    def add_sample_flags(self, parser: Any) -> None:
        from .flags import add_sample_flags
        add_sample_flags(parser)

    def sample_options(self, gan: Any, args: Any) -> dict:
        from .flags import sample_options
        return sample_options(gan, args)


register(ImageGANSpec())
