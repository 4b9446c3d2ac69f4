"""DiffAugment-style differentiable augmentations (after Zhao et al., 2020).

The same augmentation policy is applied to real and fake images before the discriminator sees them,
and every op is differentiable so the generator still gets gradients through it. Each op draws its
per-sample randomness from an optional `torch.Generator`, and the number and order of draws depends
only on the batch size and image size, never on pixel values: two batches of the same shape augmented
from the same generator state get exactly the same per-sample transforms.

Images are float tensors [N, C, H, W] in [-1, 1]; C may be 1 (gray) or 3 (RGB).
"""
from __future__ import annotations

from typing import Callable

import torch

from .errors import ConfigError

TRANSLATION_RATIO = 1 / 8
CUTOUT_RATIO = 1 / 2


def _uniform(n: int, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """n draws from U[0, 1) shaped [n, 1, 1, 1], in x's dtype and on x's device."""
    # Draw where the generator lives (a CPU generator cannot fill a CUDA tensor), then move.
    device = generator.device if generator is not None else x.device
    u = torch.rand(n, generator=generator, device=device)
    return u.to(device=x.device, dtype=x.dtype).view(n, 1, 1, 1)


def _randint(low: int, high: int, n: int, device: torch.device,
             generator: torch.Generator | None) -> torch.Tensor:
    """n integers [n] uniform in [low, high), int64 on `device`."""
    gen_device = generator.device if generator is not None else device
    return torch.randint(low, high, (n,), generator=generator, device=gen_device).to(device)


def _check(x: torch.Tensor, ratio: float | None = None) -> None:
    if x.dim() != 4 or not x.is_floating_point():
        raise ConfigError(f"augmentations need a float batch [N, C, H, W], "
                          f"got {x.dtype} {tuple(x.shape)}")
    if ratio is not None and not 0.0 <= ratio <= 1.0:
        raise ConfigError(f"augmentation ratio must be in [0, 1], got {ratio}")


def color(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random brightness, saturation and contrast per sample: [N, C, H, W] → [N, C, H, W].

    Brightness adds U[-0.5, 0.5); saturation scales the distance to the per-pixel channel mean by
    U[0, 2) (a no-op when C == 1, where that distance is zero); contrast scales the distance to the
    per-image mean by U[0.5, 1.5).
    """
    _check(x)
    n = x.shape[0]
    # Always draw all three, so the generator advances the same way for gray and RGB batches.
    shift, sat, con = (_uniform(n, x, generator) for _ in range(3))
    x = x + (shift - 0.5)
    mean = x.mean(dim=1, keepdim=True)  # [N, 1, H, W]
    x = (x - mean) * (sat * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # [N, 1, 1, 1]
    return (x - mean) * (con + 0.5) + mean


def translation_shifts(n: int, height: int, width: int, ratio: float = TRANSLATION_RATIO,
                       device: torch.device | str = "cpu",
                       generator: torch.Generator | None = None) -> torch.Tensor:
    """Integer shifts [n, 2] (rows, cols), each uniform in [-round(ratio·size), round(ratio·size)]."""
    max_h, max_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    dy = _randint(-max_h, max_h + 1, n, torch.device(device), generator)
    dx = _randint(-max_w, max_w + 1, n, torch.device(device), generator)
    return torch.stack([dy, dx], dim=1)


def shift_images(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Move each image by its integer shift [N, 2] (down, right), filling with zeros: [N, C, H, W]."""
    n, _, h, w = x.shape
    if n == 0:
        return x.clone()
    pad_h, pad_w = int(shifts[:, 0].abs().max()), int(shifts[:, 1].abs().max())
    # Pad with zeros, then index: out[i, j] = x[i - dy, j - dx]; indexing keeps the gradient path
    # to exactly the input pixels that land in the output.
    padded = torch.nn.functional.pad(x, (pad_w, pad_w, pad_h, pad_h))  # [N, C, H+2ph, W+2pw]
    rows = torch.arange(h, device=x.device)[None, :] - shifts[:, :1] + pad_h  # [N, H]
    cols = torch.arange(w, device=x.device)[None, :] - shifts[:, 1:] + pad_w  # [N, W]
    batch = torch.arange(n, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # [N, H, W, C]
    return out.permute(0, 3, 1, 2).contiguous()


def translation(x: torch.Tensor, ratio: float = TRANSLATION_RATIO,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each image by a random integer offset up to ratio·size, zero-padded: [N, C, H, W]."""
    _check(x, ratio)
    n, _, h, w = x.shape
    return shift_images(x, translation_shifts(n, h, w, ratio, x.device, generator))


def cutout_boxes(n: int, height: int, width: int, ratio: float = CUTOUT_RATIO,
                 device: torch.device | str = "cpu",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Boxes [n, 4] (top, left, box height, box width) of side round(ratio·size), inside the image."""
    box_h, box_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    # The box stays fully inside the image, so exactly ~ratio² of the area is cut every time;
    # letting it hang over the edge (as the paper's code does) cuts noticeably less on average.
    top = _randint(0, height - box_h + 1, n, torch.device(device), generator)
    left = _randint(0, width - box_w + 1, n, torch.device(device), generator)
    sizes = torch.tensor([box_h, box_w], device=device).expand(n, 2)
    return torch.cat([top[:, None], left[:, None], sizes], dim=1)


def cutout(x: torch.Tensor, ratio: float = CUTOUT_RATIO,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero one random square of side ratio·size per sample: [N, C, H, W] → [N, C, H, W]."""
    _check(x, ratio)
    n, _, h, w = x.shape
    boxes = cutout_boxes(n, h, w, ratio, x.device, generator)  # [N, 4]
    rows = torch.arange(h, device=x.device)[None, :] - boxes[:, :1]  # [N, H]
    cols = torch.arange(w, device=x.device)[None, :] - boxes[:, 1:2]  # [N, W]
    in_rows = (rows >= 0) & (rows < boxes[:, 2:3])
    in_cols = (cols >= 0) & (cols < boxes[:, 3:4])
    keep = ~(in_rows[:, :, None] & in_cols[:, None, :])  # [N, H, W]
    return x * keep[:, None].to(x.dtype)


AUGMENTATIONS: dict[str, Callable[..., torch.Tensor]] = {
    "color": color,
    "translation": translation,
    "cutout": cutout,
}


def parse_policy(policy: str) -> list[str]:
    """'color,translation,cutout' → ['color', 'translation', 'cutout']; '' → [] (no augmentation)."""
    if not policy.strip():
        return []
    names = [name.strip() for name in policy.split(",")]
    for name in names:
        if name not in AUGMENTATIONS:
            raise ConfigError(f"unknown augmentation {name!r} in policy {policy!r}; "
                              f"valid: {', '.join(AUGMENTATIONS)}")
    return names


def diff_augment(x: torch.Tensor, policy: str | list[str],
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Apply the policy's augmentations in order, each with its default ratio: [N, C, H, W]."""
    names = parse_policy(policy) if isinstance(policy, str) else parse_policy(",".join(policy))
    for name in names:
        x = AUGMENTATIONS[name](x, generator=generator)
    return x
