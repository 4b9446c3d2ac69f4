"""The video GAN (MoCoGAN): clips of moving digits made offline, or the user's own clips."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from .. import register
from ..spec import TaskSpec


class VideoSpec(TaskSpec):
    name = "video"
    order = 45
    summary = ("short clips: moving-mnist (two digits bouncing, made offline) or a folder of "
               "clips (GIF, frame folders; MP4/WebM/AVI with imageio-ffmpeg or PyAV) or a "
               ".npy/.npz of uint8 [N, T, H, W(, C)] (--frames, --clips, --digits)")
    previews = (".gif",)
    sample_output = "samples.gif"
    sample_help = ("FILE.gif (a grid of clips playing), FILE.npz (`videos` uint8 [N,T,H,W,C]) "
                   "or a directory (one GIF per clip)")
    eval_help = ("against the held-out clips: how they move (motion, its change, frozen clips); "
                 "moving-mnist also frame_fid (MNIST classifier), fvd (the shipped clip network) "
                 "and identity (frames keeping the clip's digits); other clips frame_fid with "
                 "--extractor")
    templates = Path(__file__).parent / "templates"

    def options(self) -> type:
        from .options import VideoOptions
        return VideoOptions

    def new_run(self, cfg: Any, out: Optional[Path]) -> Any:
        from .facade import VideoGAN
        return VideoGAN(cfg.data.dataset, config=cfg, out=out)

    def load_run(self, run_dir: Path, cfg: Any, *, device: str, weights_only: bool,
                 **given: Any) -> Any:
        from .facade import load_task_run
        return load_task_run(run_dir, cfg, device, weights_only)

    def add_sample_flags(self, parser: Any) -> None:
        from ..gan.flags import add_sample_flags
        add_sample_flags(parser)
        parser.add_argument("--same-content", action="store_true", help="video runs: every "
                            "clip keeps the first one's content, each with its own motion")
        parser.add_argument("--same-motion", action="store_true", help="video runs: every "
                            "clip keeps the first one's motion, each with its own content")

    def sample_options(self, gan: Any, args: Any) -> dict:
        from ..gan.flags import sample_options
        return {**sample_options(gan, args), "same_content": args.same_content,
                "same_motion": args.same_motion}


register(VideoSpec())
