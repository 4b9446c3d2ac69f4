"""The user's own images: folders of PNG/JPEG files and .npy/.npz arrays → uint8 tensors [N, C, H, W].

Also the shared image plumbing every source goes through: `ImageData` and `conform` (resize + channels).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..data.arrays import read_arrays
from ..errors import DataError, GanKitWarning

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
FOLDER_RESOLUTION = 64  # folders hold images of any size; they need one common size to stack:
# by default their own size, at most this (see folder_resolution)
# square sides the built-in conv nets build (base 4 or 7 times a power of two, nets/dcgan.plan)
NET_SIDES = tuple(sorted(b * 2 ** k for b in (4, 7) for k in range(1, 8)))
PEEK = 64  # files whose size is looked at to size a folder
_GRAY_MODES = ("1", "L", "I", "I;16", "I;16B", "I;16L", "F")
_RESIZE_CHUNK = 2048  # images resized at once: bounds the float32 working memory


@dataclass
class ImageData:
    """A dataset split as uint8 images [N, C, H, W] (C in {1, 3}) with optional int64 labels [N]."""

    images: torch.Tensor
    labels: torch.Tensor | None
    name: str
    classes: list[str] | None
    note: str | None = None


# ---------------------------------------------------------------- resize and channels


def resize_square(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize the shorter side to `size` (aspect kept, antialiased), then center-crop: [N,C,H,W] → [N,C,size,size]."""
    n, c, h, w = images.shape
    if h == w == size:
        return images
    scale = size / min(h, w)
    new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
    top, left = (new_h - size) // 2, (new_w - size) // 2
    out = torch.empty((n, c, size, size), dtype=torch.uint8)
    for start in range(0, n, _RESIZE_CHUNK):
        chunk = images[start : start + _RESIZE_CHUNK].float()
        if (new_h, new_w) != (h, w):
            # antialias matters when shrinking: without it, thin strokes alias into noise
            chunk = F.interpolate(chunk, size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False)
        crop = chunk[:, :, top : top + size, left : left + size]
        out[start : start + _RESIZE_CHUNK] = crop.round().clamp(0, 255).to(torch.uint8)
    return out


def convert_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """Gray ↔ RGB: [N,1,H,W] → [N,3,H,W] by repetition; [N,3,H,W] → [N,1,H,W] by BT.601 luma (as PIL's "L")."""
    c = images.shape[1]
    if c == channels:
        return images
    if channels == 3:
        return images.expand(-1, 3, -1, -1).contiguous()
    weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (images.float() * weights).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)


def conform(data: ImageData, resolution: int | None, channels: int | None) -> ImageData:
    """Bring `data` to the requested size and channel count; refuse non-square images without a size."""
    images = data.images
    h, w = images.shape[-2:]
    if resolution is None and h != w:
        raise DataError(
            f"{data.name}: images are {h}x{w}, not square; pass a resolution (--resolution) to center-crop them"
        )
    if resolution is not None:
        images = resize_square(images, resolution)
    if channels is not None:
        images = convert_channels(images, channels)
    return replace(data, images=images)


# ---------------------------------------------------------------- image folders


def load_folder(
    root: str | Path, split: str = "train", resolution: int | None = None, channels: int | None = None
) -> ImageData:
    """Load every PNG/JPEG under `root` (recursively, sorted) as uint8 [N, C, R, R]; R = resolution,
    or by default the images' own size (see folder_resolution: 28-px images stay 28, photos become 64).

    `root/train` + `root/test` are the splits if both exist. Images in ≥ 2 immediate subfolders of a
    split are labelled by subfolder (classes sorted by name, shared by both splits). Channels default to 1
    if every image is gray, else 3; transparent images are composited onto white.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist")
    split_dirs = {s: root / s for s in ("train", "test")}
    if not all(d.is_dir() for d in split_dirs.values()):
        if split == "test":
            raise DataError(f"{root} has no test split: add train/ and test/ subfolders")
        split_dirs = {"train": root}
    files = {s: image_files(d) for s, d in split_dirs.items()}
    base, paths = split_dirs[split], files[split]
    if not paths:
        raise DataError(f"no .png/.jpg/.jpeg images in {base}")
    # classes from both splits, so a label means the same class in train and in test
    folders = {_class_folder(p, split_dirs[s]) for s in files for p in files[s]}
    classes = sorted(f for f in folders if f is not None) if len(folders - {None}) >= 2 else None
    if classes is not None:
        unlabelled = [p for p in paths if _class_folder(p, base) is None]
        if unlabelled:
            warnings.warn(
                f"{base}: ignored {len(unlabelled)} image(s) outside the class subfolders (first: {unlabelled[0]})",
                GanKitWarning,
                stacklevel=3,
            )
            paths = [p for p in paths if _class_folder(p, base) is not None]
    size = resolution or folder_resolution(files.get("train") or paths)   # both splits alike
    images = _read_images(paths, base, size, channels)
    labels = None
    if classes is not None:
        index = {c: i for i, c in enumerate(classes)}
        labels = torch.tensor([index[_class_folder(p, base)] for p, _ in images], dtype=torch.int64)
    stacked = torch.stack([img for _, img in images])
    return ImageData(images=stacked, labels=labels, name=str(root), classes=classes)


def median_short_side(paths: list[Path], halves: bool = False, peek: int = PEEK) -> int | None:
    """The median shorter side (px) of up to `peek` of `paths`, evenly spaced, read from their
    headers only (`halves`: of each picture's left half, as for side-by-side pairs); None when
    none can be read (the loaders count unreadable files)."""
    sides = []
    for path in paths[::max(len(paths) // peek, 1)][:peek]:
        try:
            with Image.open(path) as img:
                w, h = img.size
        except UNREADABLE:
            continue
        sides.append(min(h, w // 2 if halves else w))
    return int(np.median(sides)) if sides else None


def folder_resolution(paths: list[Path], cap: int = FOLDER_RESOLUTION) -> int:
    """The side a folder's images are resized to by default: the largest that the built-in nets
    build (NET_SIDES) not above the images' median shorter side nor `cap`. Never an upscale, except
    for images under 8 px. Only the headers of up to PEEK files are read."""
    short = median_short_side(paths)
    if short is None:
        return cap
    short = min(short, cap)
    return max([s for s in NET_SIDES if s <= short] or [NET_SIDES[0]])


def image_files(folder: Path) -> list[Path]:
    """Image files under `folder`, recursively, in sorted order (so runs are reproducible)."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _class_folder(path: Path, base: Path) -> str | None:
    """The immediate subfolder of `base` holding `path`, or None if it sits directly in `base`."""
    parts = path.relative_to(base).parts
    return parts[0] if len(parts) > 1 else None


def _read_images(
    paths: list[Path], base: Path, resolution: int, channels: int | None
) -> list[tuple[Path, torch.Tensor]]:
    """Decode and resize each readable image to [C, R, R]; warn once about the unreadable ones."""
    good: list[tuple[Path, torch.Tensor]] = []
    bad: list[tuple[Path, str]] = []
    for path in paths:
        try:
            pixels = decode_image(path)  # [H, W, C] uint8, C = 1 for gray images
        except UNREADABLE as err:
            bad.append((path, str(err).splitlines()[0] if str(err) else type(err).__name__))
            continue
        tensor = torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0)  # [1, C, H, W]
        good.append((path, resize_square(tensor, resolution)[0]))
    if not good:
        first = f" (first: {bad[0][0]}: {bad[0][1]})" if bad else ""
        raise DataError(f"none of the {len(paths)} image files in {base} could be read{first}")
    if bad:
        warnings.warn(
            f"skipped {len(bad)} of {len(paths)} image files that could not be read (first: {bad[0][0]}: {bad[0][1]})",
            GanKitWarning,
            stacklevel=4,
        )
    target = channels or (1 if all(img.shape[0] == 1 for _, img in good) else 3)
    return [(p, convert_channels(img.unsqueeze(0), target)[0]) for p, img in good]


# What a damaged, truncated or crafted image file raises when decoded (a decompression bomb:
# more pixels than PIL.Image.MAX_IMAGE_PIXELS allows twice over).
UNREADABLE = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def decode_image(path: Path) -> np.ndarray:
    """Read one image as uint8 [H, W, C]: C = 1 if it is gray (by mode, or RGB with R == G == B), else 3."""
    with Image.open(path) as img:
        img.load()  # decode now, so a truncated file fails here and not later
        if img.mode in ("I", "I;16", "I;16B", "I;16L"):
            # 16-bit gray PNGs: map 0..65535 onto 0..255
            return (np.asarray(img, dtype=np.float64) / 257).round().clip(0, 255).astype(np.uint8)[..., None]
        if img.mode in _GRAY_MODES:
            return np.array(img.convert("L"))[..., None]
        if img.mode in ("LA", "RGBA", "PA", "La", "RGBa") or "transparency" in img.info:
            white = Image.new("RGBA", img.size, (255, 255, 255, 255))
            img = Image.alpha_composite(white, img.convert("RGBA"))
        rgb = np.array(img.convert("RGB"))
    if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
        return rgb[..., :1].copy()
    return rgb


def read_image(path: Path) -> Optional[torch.Tensor]:
    """An image file as uint8 [C, H, W] (its own channels), or None if it cannot be read."""
    try:
        return torch.from_numpy(decode_image(path)).permute(2, 0, 1).contiguous()
    except UNREADABLE:   # counted by the caller
        return None


def fit_short_side(img: torch.Tensor, short: int) -> torch.Tensor:
    """Resize so the shorter side is `short` (aspect kept, antialiased)."""
    c, h, w = img.shape
    s = short / min(h, w)
    size = (max(short, round(h * s)), max(short, round(w * s)))
    if size == (h, w):
        return img
    x = F.interpolate(img[None].float(), size=size, mode="bilinear", antialias=True,
                      align_corners=False)
    return x[0].round().clamp(0, 255).to(torch.uint8)


# ---------------------------------------------------------------- .npy / .npz arrays

MAX_CLASSES = 100_000


def load_array(
    path: str | Path, split: str = "train", resolution: int | None = None, channels: int | None = None,
    unlabeled: bool = False,
) -> ImageData:
    """Load images (uint8 or float in [0, 1]; [N,H,W], [N,H,W,C] or [N,C,H,W]) from a .npy or .npz file.

    An .npz holds `images` (+ `labels`), or Keras-style `x_train`/`y_train`/`x_test`/`y_test`, or one array.
    """
    path = Path(path)
    arrays = read_arrays(path)   # checked before anything is allocated; never unpickles
    images, labels, all_labels = _pick_split(arrays, split, path)
    tensor = images_to_tensor(images, str(path))
    label_tensor = None if labels is None else _labels_to_tensor(labels, len(tensor), str(path), unlabeled)
    classes = None
    if label_tensor is not None:
        # classes from every split's labels, so train and test agree on how many there are
        top = int(label_tensor.max())
        for y in all_labels:
            if y.dtype.kind in "iuf" and y.size and np.isfinite(y).all():
                top = max(top, int(y.max()))
        if top >= MAX_CLASSES:
            raise DataError(f"{path}: a label is {top}; class labels are 0, 1, 2, ... (at most "
                            f"{MAX_CLASSES:,} classes)")
        classes = [str(i) for i in range(top + 1)]
    data = ImageData(images=tensor, labels=label_tensor, name=str(path), classes=classes)
    return conform(data, resolution, channels)


def _pick_split(
    arrays: dict[str, np.ndarray], split: str, path: Path
) -> tuple[np.ndarray, np.ndarray | None, list[np.ndarray]]:
    """Choose (images, labels or None, every split's labels) for `split` among an archive's arrays."""
    if "x_train" in arrays or "x_test" in arrays:
        if f"x_{split}" not in arrays:
            raise DataError(f"{path} has no x_{split} array (it holds: {', '.join(sorted(arrays))})")
        all_labels = [arrays[k] for k in ("y_train", "y_test") if k in arrays]
        return arrays[f"x_{split}"], arrays.get(f"y_{split}"), all_labels
    if split != "train":
        raise DataError(f"{path} has no test split: save x_train/y_train/x_test/y_test in an .npz")
    if "images" in arrays:
        labels = arrays.get("labels")
        return arrays["images"], labels, [] if labels is None else [labels]
    if len(arrays) == 1:
        return next(iter(arrays.values())), None, []
    raise DataError(
        f"{path}: expected an array named 'images' (or x_train/x_test, or a single array); "
        f"found {', '.join(sorted(arrays))}"
    )


def images_to_tensor(array: np.ndarray, name: str) -> torch.Tensor:
    """uint8 (or 0..255 integer, or float in [0, 1]) [N,H,W] / [N,H,W,C] / [N,C,H,W] → uint8 tensor [N, C, H, W]."""
    array = np.asarray(array)
    expected = "expected [N, H, W], [N, H, W, C] or [N, C, H, W] with C in {1, 3}"
    if array.ndim == 3:
        array = array[:, None]
    elif array.ndim == 4 and array.shape[-1] in (1, 3):
        array = array.transpose(0, 3, 1, 2)
    elif not (array.ndim == 4 and array.shape[1] in (1, 3)):
        raise DataError(f"{name}: images have shape {array.shape}; {expected}")
    if array.shape[0] == 0 or 0 in array.shape[2:]:
        raise DataError(f"{name}: images have shape {array.shape}: no images")
    return torch.from_numpy(np.ascontiguousarray(_to_uint8(array, name)))


def _to_uint8(array: np.ndarray, name: str) -> np.ndarray:
    """Check the value range of the image array and convert it to uint8 0..255."""
    expected = "expected uint8 (0-255) or float in [0, 1]"
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind in "iu":
        lo, hi = int(array.min()), int(array.max())
        if lo < 0 or hi > 255:
            raise DataError(f"{name}: {array.dtype} images with values {lo}..{hi}; {expected}")
        return array.astype(np.uint8)
    if array.dtype.kind == "f":
        lo, hi = float(np.nanmin(array)), float(np.nanmax(array))
        if not np.isfinite(array).all() or lo < 0 or hi > 1:
            raise DataError(f"{name}: {array.dtype} images with values {lo:g}..{hi:g} (or NaN); {expected}")
        return (array * 255).round().astype(np.uint8)
    raise DataError(f"{name}: images of dtype {array.dtype}; {expected}")


def _labels_to_tensor(labels: np.ndarray, n: int, name: str, unlabeled: bool = False) -> torch.Tensor:
    """Integer class labels [N] (or [N, 1], as Keras saves them) → int64 tensor [N]; with `unlabeled`,
    -1 marks an item without a label."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or len(labels) != n:
        raise DataError(f"{name}: labels have shape {labels.shape}; expected [{n}] (one per image)")
    integral = labels.dtype.kind in "iu" or (labels.dtype.kind == "f" and np.isfinite(labels).all()
                                             and np.all(np.mod(labels, 1) == 0))
    if not integral:
        raise DataError(f"{name}: labels must be integers (got dtype {labels.dtype})")
    if n and labels.min() < (-1 if unlabeled else 0):
        raise DataError(f"{name}: labels must be 0 or more{' (or -1: unlabeled)' if unlabeled else ''}, "
                        f"got {labels.min():g}")
    return torch.from_numpy(labels.astype(np.int64))
