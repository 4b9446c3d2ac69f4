"""The translation tasks' options (pix2pix, colorize, and the base CycleGAN's build on) and the
defaults sized to the data and the device: crop size and width."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Optional

import torch

from ...config import RunConfig, TaskOptions, option
from ...data.images import image_files, median_short_side
from ...errors import ConfigError
from ...nets.unet import unet_depth

TASKS = ("pix2pix", "colorize", "cyclegan")
# Data- and device-sized defaults (see prepare_config and default_size): the crop is the data's own
# size, never upscaled, at most MAX_SIZE px; the nets are narrower on a CPU.
MAX_SIZE = {"cpu": 64, "cuda": 256}
CPU_WIDTH = {"pix2pix": 16, "colorize": 32, "cyclegan": 16}   # measured: bench/edges.py, cyclegan.py
GPU_WIDTH = 64
PEEK = 32           # files looked at to size the defaults


@dataclass(frozen=True)
class TranslationBase(TaskOptions):
    """What the image-to-image tasks share: no noise, no classes, no normalization choice in D,
    one D step per G step, no moving average of G, their own nets."""

    UNUSED: ClassVar[frozenset[str]] = frozenset({
        "channels", "z_dim", "conditional", "cond", "d_norm", "n_critic", "gp_weight",
        "r1_gamma", "r2_gamma", "r1_every", "augment", "ema_halflife"})

    def named_dataset(self) -> bool:
        """Whether the dataset is a name (e.g. fashion-mnist) rather than a folder."""
        return False

    @classmethod
    def defaults(cls, given: dict[str, Any]) -> dict[str, Any]:
        # batch 16: more, smaller steps per CPU-minute; measured in bench/edges.py and what
        # bench/colorize.py and bench/cyclegan.py ran
        return {"batch_size": 16}


@dataclass(frozen=True)
class TranslationOptions(TranslationBase):
    """pix2pix's and colorize's own options."""

    l1_weight: float = option(100.0, "weight of the L1 distance to the true output beside the "
                              "adversarial loss", low=0.0)

    @classmethod
    def defaults(cls, given: dict[str, Any]) -> dict[str, Any]:
        return {**TranslationBase.defaults(given), "model": "unet"}


OPTIONS = {"pix2pix": TranslationOptions, "colorize": TranslationOptions}


NET_OF_TASK = {"pix2pix": "unet", "colorize": "unet", "cyclegan": "cyclegan"}


def prepare_config(cfg: RunConfig) -> RunConfig:
    """Defaults and checks of a translation config: crop size and width (sized to the data and the
    device where not given, and recorded), nets."""
    size, device = cfg.data.resolution, device_kind(cfg.train.device)
    if size is None and not cfg.options.named_dataset():
        size = default_size(cfg.task, short_side(cfg), MAX_SIZE[device])
    if cfg.task == "cyclegan":   # (two classes of a dataset keep the dataset's own size)
        if size is not None and (size % 4 or size < 16):
            raise ConfigError(f"--resolution: CycleGAN works on crops of 16 px or more, a "
                              f"multiple of 4; got {size}")
    else:
        try:
            unet_depth(size)
        except ValueError as e:
            raise ConfigError(f"--resolution: {e}") from None
    net = NET_OF_TASK[cfg.task]
    model = cfg.model.model if cfg.model.model != "dcgan" else net
    if model != net:
        raise ConfigError(f"--task {cfg.task} uses its own nets (--model {net}), not {model}")
    width = cfg.model.width or (CPU_WIDTH[cfg.task] if device == "cpu" else GPU_WIDTH)
    return cfg.replace(data=dataclasses.replace(cfg.data, resolution=size),
                       model=dataclasses.replace(cfg.model, model=net, width=width))


def device_kind(device: str) -> str:
    """"cpu" or "cuda": where a run with --device `device` trains."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return "cuda" if device.startswith("cuda") else "cpu"


def default_size(task: str, short: Optional[int], cap: int) -> int:
    """The crop size a translation task gets from images whose shorter side is `short` px: the
    images' own size (CycleGAN: a multiple of 4; the U-Net: a power of two, the next one up when
    that pads by at most a quarter, so 28-px images train at 32), at most `cap`. Colorization cuts
    its crops from photos resized to twice the crop, so it sizes from half the photos' side."""
    if short is None:   # nothing readable: the loader says why
        return cap
    if task == "colorize":
        short = max(short // 2, 16)
    if task == "cyclegan":
        return max(16, min(cap, short - short % 4))
    up = 1 << max(short - 1, 1).bit_length()   # the smallest power of two >= short
    return max(16, min(cap, up if up <= 1.25 * short else up // 2))


def short_side(cfg: RunConfig) -> Optional[int]:
    """The median shorter side (px) of up to PEEK of the task's images (side-by-side AB images:
    of one half), or None when none can be read."""
    root = Path(cfg.data.dataset)
    paired = cfg.task != "colorize" and (root / "A").is_dir()
    files = image_files(root / "A") if paired else (image_files(root) if root.is_dir() else [])
    return median_short_side(files, halves=cfg.task == "pix2pix" and not paired, peek=PEEK)
