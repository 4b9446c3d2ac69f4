"""Pictures: tensors in [-1, 1] to uint8, sample grids, PNG files, the training-curve plot."""
from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[N, C, H, W] floats in [-1, 1] -> uint8 [N, H, W, C] (the format of files and .npz)."""
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def from_uint8(x: torch.Tensor) -> torch.Tensor:
    """uint8 images (any layout) -> float32 in [-1, 1], the library's image format; floats (e.g.
    vectors, or images already scaled) come back as float32, unchanged."""
    return x.float() / 127.5 - 1.0 if x.dtype == torch.uint8 else x.float()


def make_grid(images: np.ndarray, nrow: Optional[int] = None, pad: int = 2) -> np.ndarray:
    """uint8 [N, H, W, C] -> one uint8 [rows*(H+pad)+pad, cols*(W+pad)+pad, C] picture."""
    n, h, w, c = images.shape
    cols = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, np.uint8)
    for i in range(n):
        r, k = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + k * (w + pad)
        grid[y:y + h, x:x + w] = images[i]
    return grid


def figure(figsize: tuple[float, float]) -> Any:
    """A matplotlib Figure that pyplot does not hold: saving draws it off-screen (Agg for PNG),
    nothing shows or keeps it, and the process's backend is left alone (`matplotlib.use("Agg")`
    would end a notebook's inline plots for the rest of its session)."""
    from matplotlib.figure import Figure
    return Figure(figsize=figsize)


def save_png(array: np.ndarray, path: Path, scale: int = 1) -> None:
    """uint8 [H, W, C] (C 1 or 3) -> PNG file, written atomically, optionally enlarged."""
    from PIL import Image
    img = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    img.save(tmp, format="PNG")
    tmp.replace(path)


EVAL_KEYS = ("fid", "kid", "precision", "recall", "density", "coverage", "classes", "dloss")


def _series(recs: list[dict], key: str) -> tuple[list, list]:
    rows = [r for r in recs if key in r]
    return [r["step"] for r in rows], [r[key] for r in rows]


def plot_curves(records: Iterable[dict], path: Path, title: str = "") -> None:
    """Losses and D outputs over steps (the training curve every beginner article promises), and
    any evaluated metrics (FID, ...) in a third panel with the best FID marked."""
    recs = [r for r in records if "step" in r]
    if not recs:
        return
    evals = [k for k in EVAL_KEYS if any(k in r for r in recs)]
    fig = figure((16 if evals else 11, 4))
    axes = fig.subplots(1, 3 if evals else 2)
    panels = [(("d_loss", "D loss"), ("g_loss", "G loss")),
              (("d_real", "mean D(x)"), ("d_fake", "mean D(G(z))"))]
    for ax, panel in zip(axes, panels):
        for key, label in panel:
            ax.plot(*_series(recs, key), label=label)
    axes[0].set(xlabel="step", ylabel="loss", title="losses")
    axes[1].set(xlabel="step", ylabel="probability 'real'", ylim=(0, 1), title="discriminator output")
    if evals:
        _plot_evals(axes[2], recs, evals)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    tmp = Path(path).with_name(f".{Path(path).name}.tmp")
    fig.savefig(tmp, dpi=100, format="png")
    tmp.replace(path)


def _plot_evals(ax, recs: list[dict], keys: list[str]) -> None:  # noqa: ANN001 (matplotlib Axes)
    for key in keys:
        steps, values = _series(recs, key)
        ax.plot(steps, values, marker="o", ms=3, label=key.upper() if key in ("fid", "kid") else key)
    if "fid" in keys:
        steps, values = _series(recs, "fid")
        i = min(range(len(values)), key=values.__getitem__)
        ax.scatter([steps[i]], [values[i]], s=80, facecolors="none", edgecolors="red",
                   label=f"best FID {values[i]:.2f}")
        ax.set_yscale("log")
    ax.set(xlabel="step", title="evaluation")
