"""The pictures of pix2pix and colorization: the user's folders read into training and held-out
examples (paired A/B images, or color photos), and the random crops the trainer draws from them.

Held-out data: `train/` and `test/` subfolders when present; else every 10th file (sorted) is held
out.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ...data.images import fit_short_side, image_files, read_image
from ...errors import DataError
from ...viz import from_uint8
from . import color

HOLD_EVERY = 10   # without train/ and test/ subfolders, every 10th file is held out


@dataclasses.dataclass
class Pictures:
    """Training and held-out examples: for pix2pix, lists of (A, B) uint8 [C, H, W] pairs of one
    size each; for colorize, lists of RGB photos uint8 [3, H, W] of any size."""
    train: list
    held: list
    note: str


def _split(files: list[Path], root: Path) -> tuple[list[Path], list[Path]]:
    if (root / "train").is_dir() and (root / "test").is_dir():
        return image_files(root / "train"), image_files(root / "test")
    held = files[HOLD_EVERY - 1::HOLD_EVERY] if len(files) >= 2 else []
    if len(files) >= 2 and not held:
        held = files[-1:]
    keep = set(held)
    return [f for f in files if f not in keep], held


def load_photos(root: Path, short: int) -> Pictures:
    """Color photos for colorization; gray and unreadable files are skipped and counted."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder of photographs")
    files = image_files(root)
    if not files:
        raise DataError(f"{root}: no image files (.png, .jpg, .jpeg) in it")
    train_f, held_f = _split(files, root)
    gray = bad = 0
    out: dict[str, list] = {"train": [], "held": []}
    for name, group in (("train", train_f), ("held", held_f)):
        for f in group:
            img = read_image(f)
            if img is None:
                bad += 1
            elif img.shape[0] != 3:
                gray += 1
            else:
                out[name].append(fit_short_side(img, short))
    if not out["train"]:
        raise DataError(f"{root}: no color photographs to learn color from ({len(files)} files: "
                        f"{gray} grayscale, {bad} unreadable)")
    note = (f"{len(out['train'])} training and {len(out['held'])} held-out color photos from "
            f"{root}" + (f"; skipped {gray} grayscale and {bad} unreadable files" if gray or bad else ""))
    return Pictures(out["train"], out["held"], note)


def load_pairs(root: Path, size: int) -> Pictures:
    """Paired images: `A/` and `B/` with matching names, or side-by-side AB images, made square
    for crops of `size` px (see _square)."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder of paired images")
    if (root / "A").is_dir() and (root / "B").is_dir():
        a_files = {f.relative_to(root / "A").with_suffix("").as_posix(): f for f in image_files(root / "A")}
        b_files = {f.relative_to(root / "B").with_suffix("").as_posix(): f for f in image_files(root / "B")}
        only_a, only_b = sorted(set(a_files) - set(b_files)), sorted(set(b_files) - set(a_files))
        if only_a or only_b:
            show = ", ".join([f"A/{n}" for n in only_a[:3]] + [f"B/{n}" for n in only_b[:3]])
            raise DataError(f"{root}: the file names in A/ and B/ must match: {len(only_a)} in A/ "
                            f"have no partner in B/ and {len(only_b)} in B/ none in A/ (e.g. {show})")
        names = sorted(a_files)
        if not names:
            raise DataError(f"{root}: A/ and B/ hold no image files")
        pairs_of = [(a_files[n], b_files[n]) for n in names]
        source = "A/ and B/"
    else:
        files = image_files(root)
        if not files:
            raise DataError(f"{root}: no image files; expected A/ and B/ subfolders or side-by-side "
                            f"AB images")
        pairs_of = [(f, None) for f in files]
        source = "side-by-side AB images"
    held_names = set(p[0] for p in pairs_of[HOLD_EVERY - 1::HOLD_EVERY]) if len(pairs_of) >= 2 else set()
    for split_dir in ("train", "test"):
        if any(split_dir in Path(p[0]).relative_to(root).parts[:2] for p in pairs_of):
            held_names = {p[0] for p in pairs_of if "test" in Path(p[0]).relative_to(root).parts[:2]}
            break
    out: dict[str, list] = {"train": [], "held": []}
    bad = 0
    for fa, fb in pairs_of:
        a = read_image(fa)
        b = read_image(fb) if fb is not None else None
        if fb is None and a is not None:   # side by side: left half A, right half B
            if a.shape[2] < 2:
                a = None
            else:
                half = a.shape[2] // 2
                a, b = a[:, :, :half], a[:, :, half:2 * half]
        if a is None or b is None:
            bad += 1
            continue
        a, b = _square(a, size), _square(b, size)
        out["held" if fa in held_names else "train"].append((a, b))
    if not out["train"]:
        raise DataError(f"{root}: none of the {len(pairs_of)} image pairs could be read")
    ca = max(a.shape[0] for a, _ in out["train"] + out["held"])
    cb_ = max(b.shape[0] for _, b in out["train"] + out["held"])
    for name in out:   # one channel count per side: gray images join RGB ones as RGB
        out[name] = [(a.expand(ca, -1, -1).contiguous(), b.expand(cb_, -1, -1).contiguous())
                     for a, b in out[name]]
    note = (f"{len(out['train'])} training and {len(out['held'])} held-out pairs ({source}) from "
            f"{root}" + (f"; skipped {bad} unreadable" if bad else ""))
    return Pictures(out["train"], out["held"], note)


def _square(img: torch.Tensor, size: int) -> torch.Tensor:
    """A pair's picture [C, H, W] as pix2pix trains on it: resized to a square of 1.125 x the
    crop, so that random crops jitter it; or, when it is smaller than the crop, made square at
    its own size and padded to the crop the way translate pads its inputs (run_padded), so a
    28-px image is seen at its own scale in training and in use."""
    short = min(img.shape[1:])
    side = max(size, round(size * 1.125)) if short >= size else short
    if img.shape[1:] != (side, side):
        img = F.interpolate(img[None].float(), size=(side, side), mode="bilinear", antialias=True,
                            align_corners=False)[0].round().clamp(0, 255).to(torch.uint8)
    return pad_end(img[None].float(), size - side, size - side)[0].to(torch.uint8) \
        if side < size else img


def pad_end(x: torch.Tensor, ph: int, pw: int) -> torch.Tensor:
    """[N, C, H, W] padded by ph rows at the bottom and pw columns at the right (reflected, or
    repeated where the picture is too small to reflect)."""
    if not (ph or pw):
        return x
    h, w = x.shape[-2:]
    return F.pad(x, (0, pw, 0, ph), mode="reflect" if ph < h and pw < w else "replicate")


def colorize_pair(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """RGB [N, 3, H, W] in [-1, 1] -> (Y [N, 1, H, W], CbCr [N, 2, H, W])."""
    ycc = color.rgb_to_ycbcr(rgb)
    return ycc[:, :1], ycc[:, 1:]


def random_crops(pictures: list, size: int, batch: int, g: torch.Generator) -> list[list]:
    """`batch` random crops (with random horizontal flips) of randomly chosen pictures. An item of
    `pictures` is a [C, H, W] tensor or a tuple of them of one size, cropped at the same window."""
    idx = torch.randint(len(pictures), (batch,), generator=g).tolist()
    flips = torch.rand(batch, generator=g) < 0.5
    out = []
    for k, i in enumerate(idx):
        item = pictures[i] if isinstance(pictures[i], tuple) else (pictures[i],)
        h, w = item[0].shape[1:]
        top = int(torch.randint(h - size + 1, (1,), generator=g))
        left = int(torch.randint(w - size + 1, (1,), generator=g))
        crop = [t[:, top:top + size, left:left + size] for t in item]
        out.append([t.flip(-1) for t in crop] if flips[k] else crop)
    return out


class CropSampler:
    """Random crops (same window for A and B) with random horizontal flips, drawn from its own
    generator; its state is the generator's, so a resume replays the same batches."""

    def __init__(self, pictures: list, task: str, size: int, batch_size: int,
                 generator: torch.Generator, device: torch.device):
        self.pictures, self.task, self.size = pictures, task, size
        self.batch_size, self.gen, self.device = batch_size, generator, device
        self.world = 1

    def __len__(self) -> int:
        return len(self.pictures)

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        crops = random_crops(self.pictures, self.size, self.batch_size, self.gen)
        a = from_uint8(torch.stack([c[0] for c in crops])).to(self.device)
        if self.task == "colorize":
            return colorize_pair(a)
        return a, from_uint8(torch.stack([c[1] for c in crops])).to(self.device)

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return {"sampler": self.gen.get_state()}, {}

    def load(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self.gen.set_state(tensors["sampler"])
