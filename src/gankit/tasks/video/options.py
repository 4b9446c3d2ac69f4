"""The video task's options and the recipe of its defaults.

Sized to the device: on a CPU the clips are smaller (32 px, 8 frames) and the nets narrower
than on a GPU (64 px, 20 frames, the Moving MNIST paper's). The CPU recipe was chosen by quality
per CPU-minute on moving-mnist (docs/video.md, "How the defaults were chosen"): MoCoGAN's own
(critics without normalization, Adam 2e-4) had every clip the same after 3 CPU-minutes;
BatchNorm in both critics, Adam 4e-4 (the image GAN's measured recipe), batch 32, four frames of
each clip for the image critic and 8 frames learn distinct, moving digits (bench/video.py: at 15
CPU-minutes batch 32 is ahead of batch 16, which leads at 5 and then degrades). The layered
generator with 3 sprites and affine poses is the default model: at 15 CPU-minutes its FVD is half
MoCoGAN's and its digits keep their shape (docs/video.md). The GPU sizes are not measured (no GPU
has been lent).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Optional

from ...config import TaskOptions, option

MODELS = ("layered", "mocogan")
BUNDLED = "moving-mnist"   # the named set (Srivastava et al. 2015), made from MNIST offline
CPU = {"resolution": 32, "frames": 8, "width": 32}
GPU = {"resolution": 64, "frames": 20, "width": 64}
RECIPE = {"loss": "ns", "lr": 4e-4, "beta1": 0.5, "beta2": 0.999, "batch_size": 32,
          "d_norm": "batch", "ema_halflife": 500.0}


@dataclass(frozen=True)
class VideoOptions(TaskOptions):
    """The video task's own options (`gankit train --task video --help` lists them)."""

    # z_dim: a clip's noise is the content code and its frames' motion noise (below); R2,
    # n_critic and the gradient penalty are not offered for video yet.
    UNUSED: ClassVar[frozenset[str]] = frozenset({
        "channels", "z_dim", "cond", "n_critic", "gp_weight", "r2_gamma"})
    HELP: ClassVar[dict[str, str]] = {
        "model": "layered (default: the content draws sprites once per clip and each frame "
                 "moves them: what a clip shows stays) or mocogan (every frame redrawn from the "
                 "content and motion codes: for clips whose content changes shape)",
        "resolution": "the side of a frame (default: 32 on a CPU, 64 on a GPU, capped there; "
                      "the clips are resized to it)",
        "width": "the frame generator's and the critics' base width (default: 32 on a CPU, 64 "
                 "on a GPU)",
        "conditional": "a class-conditional video GAN on labeled clips (class folders); sample "
                       "with --label"}
    frames: Optional[int] = option(None, "frames per clip (default: the clips' own, at most 8 "
                                   "on a CPU and 20 on a GPU; longer clips give random windows)",
                                   low=2)
    clips: int = option(10000, "moving-mnist: training clips to make (held-out: a tenth)", low=1)
    digits: int = option(2, "moving-mnist: digits bouncing in each clip", low=1)
    content_dim: int = option(48, "size of a clip's content code (what stays)", low=1)
    motion_dim: int = option(16, "size of a frame's motion code (what moves)", low=1)
    noise_dim: int = option(8, "size of the noise the motion net reads each frame", low=1)
    layers: int = option(3, "layered: the sprites a clip's content draws (each moves on its "
                         "own over the background)", low=1)
    pose: str = option("affine", "layered: how a sprite may move from frame to frame: affine "
                       "(shift, turn, scale, shear) or shift")
    video_every: int = option(1, "train on whole clips (both critics) every N steps; the steps "
                              "between are image steps: G draws only the frames the image "
                              "critic judges", low=1)
    critic_frames: int = option(4, "frames of each clip the image critic judges (MoCoGAN's is "
                                "1; 4 learns faster per CPU-minute)", low=1)

    @classmethod
    def defaults(cls, given: dict[str, Any]) -> dict[str, Any]:
        """The measured recipe, nets sized to the device the run trains on."""
        sized = GPU if _on_gpu(given.get("device", "auto")) else CPU
        return {"model": "layered", **RECIPE, "width": sized["width"]}


def _on_gpu(device: str) -> bool:
    import torch
    if device == "auto":
        return torch.cuda.is_available()
    return device.startswith("cuda")


def sizes(device: str) -> dict[str, int]:
    """The frame side and length the device affords (the data's own below them)."""
    return GPU if _on_gpu(device) else CPU


__all__ = ["BUNDLED", "MODELS", "VideoOptions", "sizes"]
