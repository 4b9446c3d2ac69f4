"""The video GAN (layered sprites, or MoCoGAN): clips of moving digits made offline, or the
user's own clips."""
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
    sample_help = ("FILE.gif or FILE.mp4 (a grid of clips playing), FILE.npz (`videos` uint8 "
                   "[N,T,H,W,C]) or a directory (one GIF per clip, or MP4 with --format mp4)")
    eval_help = ("against the held-out clips: how they move (motion, its change, frozen clips); "
                 "moving-mnist also frame_fid (MNIST classifier), fvd (the shipped clip network) "
                 "and identity (frames keeping the clip's digits); other clips frame_fid with "
                 "--extractor")
    templates = Path(__file__).parent / "templates"
    exports = True
    export_output = "videos"   # the name `gankit sample` gives clips in a .npz

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
        parser.add_argument("--format", choices=("gif", "mp4"), help="video runs: the files "
                            "of a directory --output, one per clip: gif (default) or mp4 (needs "
                            "pip install av); FILE.gif and FILE.mp4 say their own")

    def sample_options(self, gan: Any, args: Any) -> dict:
        from ..gan.flags import sample_options
        return {**sample_options(gan, args), "same_content": args.same_content,
                "same_motion": args.same_motion}

    def save_options(self, gan: Any, args: Any) -> dict:
        return {"fmt": args.format}

    def export_notes(self, cfg: Any, G: Any) -> dict:
        from .outputs import FRAME_MS
        t, c, h, w = (int(s) for s in cfg.data_shape)
        dc, dn = int(G.content_dim), int(G.noise_dim)
        return {
            "output": {"layout": "NTCHW"}, "clip_shape": [t, c, h, w], "frames": t,
            "frames_per_second": 1000 // FRAME_MS, "value_range": [-1.0, 1.0],
            "to_uint8": ("numpy.clip((x + 1) * 127.5, 0, 255).round().astype(numpy.uint8), then "
                         "transpose(0, 1, 3, 4, 2) for [N, T, H, W, C] frames"),
            "z_layout": {
                "content": {"slice": [0, dc], "shape": ["N", dc], "meaning": "the clip's "
                            "content code, held for every frame" + (
                                ", plus its class's embedding" if cfg.model.conditional else "")
                            + " (copy it across rows: one content, several motions)"},
                "motion_noise": {"slice": [dc, dc + t * dn], "shape": ["N", t, dn],
                                 "meaning": f"z[:, {dc}:].reshape(N, {t}, {dn}): frame t's "
                                            f"noise, which a GRU turns into frame t's motion code "
                                            f"(copy it across rows: several contents, one "
                                            f"motion)"}}}


register(VideoSpec())
