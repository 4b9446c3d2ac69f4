"""The video task's clips as uint8 tensors [N, T, C, H, W]: Moving MNIST made offline from MNIST's
digits, and the user's clips (.npy/.npz arrays, Python arrays, folders of GIF/MP4 files or of frame
folders, optionally in class folders)."""
from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from PIL import Image, ImageSequence

from ...data import SPLITS, load_dataset
from ...data.arrays import read_arrays
from ...data.images import IMAGE_SUFFIXES, UNREADABLE, convert_channels, decode_image, resize_square
from ...errors import DataError, GanKitWarning

DIGIT = 28                 # MNIST's side, px
FRAMES_CAP = 32            # frames=None: the shortest clip's length, at most this
HOLDOUT = 10               # without a test split, every 10th clip (in sorted order) is held out
MAX_FRAMES = 1000          # frames read from one file: a long or crafted file cannot fill memory
GRAY_STRAY = 4   # levels of 255 between the channels of a decoded video's gray frame
VIDEO_SUFFIXES = (".gif", ".mp4", ".webm", ".avi", ".mov", ".mkv")   # GIF by PIL, the rest ffmpeg
TRAIN_KEYS, TEST_KEYS = ("videos", "x", "clips"), ("test", "videos_test", "x_test", "clips_test")
LABEL_KEYS, TEST_LABEL_KEYS = ("labels", "y"), ("test_labels", "labels_test", "y_test")
# what PIL raises on a damaged GIF or frame, beyond what a damaged still image raises
_BAD_FILE = (*UNREADABLE, EOFError, IndexError, KeyError, struct.error)


# ---------------------------------------------------------------- Moving MNIST


def moving_mnist(n: int, split: str = "train", frames: int = 20, size: int = 64, digits: int = 2,
                 seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Moving MNIST (Srivastava et al., 2015): uint8 clips [n, frames, 1, size, size] of `digits`
    MNIST digits bouncing in the canvas (combined by max), and their int64 classes [n, digits].
    The test split's digits come from MNIST's test split, never seen in training."""
    _check_ints(n=n, frames=frames, digits=digits)
    _check_ints(size=size, least=DIGIT)
    if split not in SPLITS:
        raise DataError(f"unknown split '{split}': expected one of {', '.join(SPLITS)}")
    mnist = load_dataset("mnist", split)
    glyphs, classes = mnist.images[:, 0].numpy(), mnist.labels.numpy()
    rng = np.random.default_rng((seed, SPLITS.index(split)))
    pick = rng.integers(0, len(glyphs), (n, digits))
    free = size - DIGIT
    corners = bounce_paths(rng, n, frames, digits, free)   # [n, digits, frames, 2] (y, x)
    canvas = np.zeros((n, frames, size, size), np.uint8)
    # every 28 x 28 window of every frame, as a writable view: pasting n * frames digits is then
    # one fancy-indexed assignment per digit instead of a Python loop over clips
    s = canvas.strides
    windows = np.lib.stride_tricks.as_strided(
        canvas, (n, frames, free + 1, free + 1, DIGIT, DIGIT), (*s, s[2], s[3]), writeable=True)
    clip, t = np.arange(n)[:, None], np.arange(frames)[None, :]
    for d in range(digits):
        y, x = corners[:, d, :, 0], corners[:, d, :, 1]
        glyph = glyphs[pick[:, d]][:, None]                   # [n, 1, 28, 28], the same each frame
        windows[clip, t, y, x] = glyph if d == 0 else np.maximum(windows[clip, t, y, x], glyph)
    return torch.from_numpy(canvas).unsqueeze(2), torch.from_numpy(classes[pick].astype(np.int64))


def bounce_paths(rng: np.random.Generator, n: int, frames: int, digits: int,
                 free: int) -> np.ndarray:
    """Top-left corners int64 [n, digits, frames, 2] (y, x) in [0, free]: a uniform start and
    direction, free / 10 px per frame, reflected at the edges (a triangle wave of a line)."""
    start = rng.uniform(0, free, (n, digits, 1, 2))
    angle = rng.uniform(0, 2 * np.pi, (n, digits, 1))
    velocity = free / 10 * np.stack([np.sin(angle), np.cos(angle)], -1)   # [n, digits, 1, 2]
    path = start + velocity * np.arange(frames)[:, None]
    if free == 0:
        return np.zeros(path.shape, np.int64)
    folded = np.mod(path, 2 * free)
    return np.rint(np.where(folded > free, 2 * free - folded, folded)).astype(np.int64)


def _check_ints(least: int = 1, **values: Any) -> None:
    """Each value must be an integer >= `least`, else one DataError line."""
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise DataError(f"{key} must be an integer of at least {least}, got {value!r}")


# ---------------------------------------------------------------- the user's clips


@dataclass
class Clips:
    """The user's clips: uint8 train [N, T, C, H, W] and test [M, T, C, H, W] (M may be 0), int64
    labels [N] / [M] when class folders or a .npz's labels give them (else None), the class names
    ([] without labels), and one line saying what was read."""

    train: torch.Tensor
    test: torch.Tensor
    train_labels: Optional[torch.Tensor]
    test_labels: Optional[torch.Tensor]
    classes: list[str]
    note: str


@dataclass
class _Read:
    """Clips as read: each uint8 [T, C, H, W], with its class index (all 0 when `classes` is [])."""

    name: str
    train: list[torch.Tensor]
    train_labels: list[int]
    test: list[torch.Tensor] = field(default_factory=list)
    test_labels: list[int] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    unreadable: int = 0
    held_out: bool = False


def load_clips(source: Any, frames: Optional[int] = None, size: Optional[int] = None,
               seed: int = 0) -> Clips:
    """The user's clips as uint8 [N, T, C, H, W]: a .npy/.npz file, a folder, or a NumPy array or
    tensor ([N, T, H, W] or [N, T, H, W, C], uint8 or float in [0, 1]). T = `frames` (a seeded
    random window of each longer clip; shorter ones are skipped), else the shortest clip's length
    (at most 32); `size` resizes frames to size x size (shorter side, then center crop)."""
    _check_ints(**{k: v for k, v in (("frames", frames), ("size", size)) if v is not None})
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        if path.is_dir():
            read = _read_folder(path, size)
        elif path.is_file() and path.suffix.lower() in (".npy", ".npz"):
            read = _read_archive(path)
        elif path.is_file():
            raise DataError(f"cannot load '{source}': expected a folder of clips or a .npy/.npz")
        else:
            raise DataError(f"no such file or folder: {source}")
    else:
        clips = list(clips_tensor(source, "array"))
        read = _hold_out(_Read("array", clips, [0] * len(clips)))
    return _assemble(read, frames, size, seed)


def clips_tensor(array: Any, name: str) -> torch.Tensor:
    """uint8 or float [0, 1] clips [N, T, H, W] / [N, T, H, W, C] (C 1 or 3) -> uint8
    [N, T, C, H, W]."""
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu()
        array = (array.float() if array.is_floating_point() else array).numpy()
    try:
        array = np.asarray(array)
    except (ValueError, TypeError) as err:
        raise DataError(f"{name}: not an array of clips ({err})") from None
    if array.ndim == 4:
        array = array[:, :, None]
    elif array.ndim == 5 and array.shape[-1] in (1, 3):
        array = array.transpose(0, 1, 4, 2, 3)
    else:
        raise DataError(f"{name}: clips have shape {list(array.shape)}; expected [N, T, H, W] "
                        f"or [N, T, H, W, C] with C 1 or 3")
    if 0 in array.shape:
        raise DataError(f"{name}: clips have shape {list(array.shape)}: no clips, frames or px")
    return torch.from_numpy(np.ascontiguousarray(_to_uint8(array, name)))


def _to_uint8(array: np.ndarray, name: str) -> np.ndarray:
    """uint8 as is, float in [0, 1] converted; any other dtype or value is one DataError."""
    expected = "expected uint8 (0-255) or float in [0, 1]"
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise DataError(f"{name}: {array.dtype} clips hold NaN or infinite values; {expected}")
        lo, hi = float(array.min()), float(array.max())
        if lo < 0 or hi > 1:
            raise DataError(f"{name}: {array.dtype} clips with values {lo:g}..{hi:g}; {expected}")
        return (array * 255).round().astype(np.uint8)
    raise DataError(f"{name}: clips of dtype {array.dtype}; {expected}")


def _read_archive(path: Path) -> _Read:
    """A .npy (one array of clips) or .npz: `videos`/`x`/`clips` (or its one array), optional
    `labels`, optional `test`/`videos_test` split with its `test_labels`. Never unpickles."""
    arrays = read_arrays(path)   # a .npy comes back as {"images": ...}
    key = _first(arrays, TRAIN_KEYS) or (next(iter(arrays)) if len(arrays) == 1 else None)
    if key is None:
        raise DataError(f"{path}: expected an array named {', '.join(TRAIN_KEYS)}; "
                        f"found {', '.join(sorted(arrays))}")
    clips = list(clips_tensor(arrays[key], f"{path}:{key}"))
    read = _Read(str(path), clips, _labels(arrays, LABEL_KEYS, len(clips), path))
    test_key = _first(arrays, TEST_KEYS)
    if test_key:
        read.test = list(clips_tensor(arrays[test_key], f"{path}:{test_key}"))
        read.test_labels = _labels(arrays, TEST_LABEL_KEYS, len(read.test), path)
        if _first(arrays, LABEL_KEYS) and not _first(arrays, TEST_LABEL_KEYS):
            raise DataError(f"{path} has labels but its test split has none: add test_labels")
    if _first(arrays, LABEL_KEYS):
        read.classes = [str(i) for i in range(max(read.train_labels + read.test_labels) + 1)]
    return read if test_key else _hold_out(read)


def _first(arrays: dict[str, np.ndarray], keys: tuple[str, ...]) -> Optional[str]:
    """The first of `keys` that `arrays` holds, else None."""
    return next((k for k in keys if k in arrays), None)


def _labels(arrays: dict[str, np.ndarray], keys: tuple[str, ...], n: int, path: Path) -> list[int]:
    """The first of `keys`' class labels (integers 0..99,999, [N] or [N, 1]), else n zeros."""
    key = _first(arrays, keys)
    if key is None:
        return [0] * n
    array = arrays[key]
    array = array[:, 0] if array.ndim == 2 and array.shape[1] == 1 else array
    if array.ndim != 1 or len(array) != n:
        raise DataError(f"{path}:{key}: labels have shape {list(array.shape)}; expected [{n}]")
    if array.dtype.kind not in "iu" or (n and (array.min() < 0 or array.max() >= 100_000)):
        raise DataError(f"{path}:{key}: labels must be integers 0, 1, 2, ... (got {array.dtype})")
    return [int(v) for v in array]


def _hold_out(read: _Read) -> _Read:
    """Without a test split: every HOLDOUT-th clip (the 10th, 20th, ...) becomes the test split."""
    pairs = list(zip(read.train, read.train_labels))
    test = pairs[HOLDOUT - 1::HOLDOUT]
    train = [p for i, p in enumerate(pairs) if i % HOLDOUT != HOLDOUT - 1]
    read.test, read.test_labels = [c for c, _ in test], [y for _, y in test]
    read.train, read.train_labels = [c for c, _ in train], [y for _, y in train]
    read.held_out = True
    return read


# ---------------------------------------------------------------- folders


def _read_folder(root: Path, size: Optional[int]) -> _Read:
    """Video files and frame folders under `root` (in `train/` and `test/` if both exist), labelled
    by class folder when there are two or more; damaged files are skipped with one warning."""
    dirs = {s: root / s for s in SPLITS}
    explicit = all(d.is_dir() for d in dirs.values())
    found = {s: _find_clips(d) for s, d in (dirs if explicit else {"train": root}).items()}
    names = sorted({c for items in found.values() for _, c in items if c is not None})
    classes = names if len(names) >= 2 else []
    if classes:
        loose = [p for items in found.values() for p, c in items if c is None]
        if loose:
            warnings.warn(f"{root}: ignored {len(loose)} clip(s) outside the class folders "
                          f"(first: {loose[0]})", GanKitWarning, stacklevel=3)
        found = {s: [(p, c) for p, c in items if c is not None] for s, items in found.items()}
    if not found["train"]:
        kinds = "/".join(s[1:].upper() for s in VIDEO_SUFFIXES)
        raise DataError(f"no clips in {dirs['train'] if explicit else root}: expected {kinds} "
                        f"files or folders of PNG/JPEG frames")
    read = _Read(str(root), [], [], classes=classes)
    bad: list[tuple[Path, str]] = []
    for split, items in found.items():
        clips, labels = _read_split(items, classes, size, bad)
        setattr(read, split, clips)
        setattr(read, f"{split}_labels", labels)
    if not read.train:
        raise DataError(f"none of the {len(found['train'])} clips in {root} could be read "
                        f"(first: {bad[0][0]}: {bad[0][1]})")
    if bad:
        total = sum(len(items) for items in found.values())
        warnings.warn(f"skipped {len(bad)} of {total} clips that could not be read "
                      f"(first: {bad[0][0]}: {bad[0][1]})", GanKitWarning, stacklevel=3)
    read.unreadable = len(bad)
    return read if explicit else _hold_out(read)


def _read_split(items: list[tuple[Path, Optional[str]]], classes: list[str], size: Optional[int],
                bad: list[tuple[Path, str]]) -> tuple[list[torch.Tensor], list[int]]:
    """Read each clip (resized to `size` at once, to bound memory) and its class index (0 without
    classes); a damaged file is appended to `bad` with its reason, and skipped."""
    clips, labels = [], []
    for path, cls in items:
        try:
            clip = read_clip(path)
        except _BAD_FILE as err:
            bad.append((path, str(err).splitlines()[0] if str(err) else type(err).__name__))
            continue
        clips.append(resize_square(clip, size) if size else clip)
        labels.append(classes.index(cls) if classes else 0)
    return clips, labels


def _find_clips(base: Path, cls: Optional[str] = None) -> list[tuple[Path, Optional[str]]]:
    """The clips (video files, frame folders) in `base` and in its class folders (subfolders with
    no frames of their own), with their class (None directly in `base`), sorted by path."""
    items: list[tuple[Path, Optional[str]]] = []
    for p in _entries(base):
        if (p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES) or (p.is_dir() and _frame_files(p)):
            items.append((p, cls))
        elif p.is_dir() and cls is None:
            items += _find_clips(p, p.name)
    return sorted(items, key=lambda item: str(item[0]))


def _entries(folder: Path) -> list[Path]:
    """`folder`'s entries sorted by name, without hidden ones (.DS_Store, macOS's ._ files)."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def _frame_files(folder: Path) -> list[Path]:
    """The PNG/JPEG frames in `folder` itself, sorted by name (a folder with some is one clip)."""
    return [p for p in _entries(folder) if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]


def read_clip(path: Path) -> torch.Tensor:
    """One clip (a folder of frames, a GIF, or a video ffmpeg reads) as uint8 [T, C, H, W], at most
    MAX_FRAMES frames; C = 1 if every frame is gray, else 3. A damaged file raises a _BAD_FILE."""
    if path.is_dir():
        files = _frame_files(path)
        frames = [decode_image(p) for p in files[:MAX_FRAMES]]
    elif path.suffix.lower() == ".gif":
        frames = _gif_frames(path)
    else:
        frames = _video_frames(path)
    if not frames:
        raise ValueError("no frames")
    h, w = frames[0].shape[:2]
    for i, frame in enumerate(frames):
        if frame.shape[:2] != (h, w):
            where = files[i] if path.is_dir() else f"{path} (frame {i})"
            raise DataError(f"{where}: a frame of {frame.shape[0]}x{frame.shape[1]} px in a clip "
                            f"of {h}x{w} px frames; every frame of a clip must have one size")
    if any(f.shape[2] == 3 for f in frames):
        frames = [np.broadcast_to(f, (h, w, 3)) for f in frames]
    clip = np.stack(frames)                                   # [T, H, W, C]
    # gray, whatever the file's mode; lossy video codecs (MJPEG, say) stray a few levels
    # between channels of a gray picture, which is still gray
    stray = 0 if path.is_dir() or path.suffix.lower() == ".gif" else GRAY_STRAY
    if clip.shape[3] == 3 and np.abs(clip.astype(np.int16) - clip[..., :1]).max() <= stray:
        clip = clip.mean(3, keepdims=True).round().astype(np.uint8)
    return torch.from_numpy(np.ascontiguousarray(clip.transpose(0, 3, 1, 2)))


def _gif_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a GIF (at most MAX_FRAMES) as uint8 [H, W, 3]; transparency onto white.
    A GIF stores a picture that stays on screen once, with a longer duration (Pillow writes
    repeated frames so): it counts as that many frames of the GIF's shortest duration."""
    pictures, durations = [], []
    with Image.open(path) as img:
        for frame in islice(ImageSequence.Iterator(img), MAX_FRAMES):
            durations.append(frame.info.get("duration") or 0)
            if frame.mode in ("RGBA", "LA", "PA") or "transparency" in frame.info:
                white = Image.new("RGBA", frame.size, (255, 255, 255, 255))
                frame = Image.alpha_composite(white, frame.convert("RGBA"))
            pictures.append(np.array(frame.convert("RGB")))
    base = min((d for d in durations if d > 0), default=0)
    out: list[np.ndarray] = []
    for picture, duration in zip(pictures, durations):
        out += [picture] * (max(1, round(duration / base)) if base and duration else 1)
    return out[:MAX_FRAMES]


def _video_frames(path: Path) -> list[np.ndarray]:
    """Frames [H, W, 3] of an MP4/WebM/AVI file through PyAV, else imageio (v3) with imageio-ffmpeg,
    else one DataError saying what to install. A decoder error raises ValueError (skipped)."""
    try:   # imported here, so that gankit needs neither package
        import av
    except ImportError:
        try:
            import imageio.v3 as iio
            import imageio_ffmpeg  # noqa: F401 - the MP4 reader imageio needs
        except ImportError:
            raise DataError("reading MP4/WebM/AVI videos needs PyAV or imageio-ffmpeg: pip install "
                            "av (or imageio imageio-ffmpeg), or convert them to GIF") from None
        av = None
    try:
        if av is None:
            return [np.asarray(f) for f in islice(iio.imiter(path), MAX_FRAMES)]
        with av.open(str(path)) as box:
            return [f.to_ndarray(format="rgb24") for f in islice(box.decode(video=0), MAX_FRAMES)]
    except Exception as err:  # noqa: BLE001 - the decoders raise their own types on damaged files
        raise ValueError(f"{type(err).__name__}: {err}") from None


# ---------------------------------------------------------------- windows and stacking


def _assemble(read: _Read, frames: Optional[int], size: Optional[int], seed: int) -> Clips:
    """One seeded random window of T frames of each clip, in one channel count and size, stacked."""
    longest = max(len(c) for c in read.train)
    t = frames or min(min(len(c) for c in read.train + read.test), FRAMES_CAP)
    if longest < t:
        raise DataError(f"{read.name}: no clip has {t} frames: the longest has {longest}; "
                        f"pass a lower --frames")
    rng = np.random.default_rng(seed)
    train = _windows(read.train, read.train_labels, t, rng)
    test = _windows(read.test, read.test_labels, t, rng)
    clips = [c for c, _ in train + test]
    channels = 3 if any(c.shape[1] == 3 for c in clips) else 1
    stacked = _stack([convert_channels(c, channels) for c in clips], size, read.name)
    labels = torch.tensor([y for _, y in train + test], dtype=torch.int64)
    short = len(read.train) + len(read.test) - len(clips)
    parts = [f"{read.name}: {len(train)} train + {len(test)} test clips of {t} frames, "
             f"{'x'.join(map(str, stacked.shape[2:]))}",
             f"every {HOLDOUT}th clip held out as test" * read.held_out,
             f"{len(read.classes)} classes" * bool(read.classes),
             f"skipped {read.unreadable} unreadable" * bool(read.unreadable),
             f"skipped {short} shorter than {t} frames" * bool(short)]
    has = bool(read.classes)
    return Clips(train=stacked[:len(train)], test=stacked[len(train):],
                 train_labels=labels[:len(train)] if has else None,
                 test_labels=labels[len(train):] if has else None, classes=list(read.classes),
                 note="; ".join(p for p in parts if p))


def _windows(clips: list[torch.Tensor], labels: list[int], t: int,
             rng: np.random.Generator) -> list[tuple[torch.Tensor, int]]:
    """One random window of `t` frames, with its label, of each clip at least that long."""
    kept = []
    for clip, label in zip(clips, labels):
        if len(clip) >= t:
            start = int(rng.integers(0, len(clip) - t + 1))
            kept.append((clip[start:start + t], label))
    return kept


def _stack(clips: list[torch.Tensor], size: Optional[int], name: str) -> torch.Tensor:
    """Clips [T, C, H, W] of one T and C -> [N, T, C, size, size] (size None: one H, W for all)."""
    sides = sorted({tuple(c.shape[-2:]) for c in clips})
    if len(sides) > 1 and size is None:
        (h1, w1), (h2, w2) = sides[0], sides[-1]
        raise DataError(f"{name}: clips have frames of different sizes ({h1}x{w1} to {h2}x{w2}); "
                        f"pass --resolution N (Python: resolution=N) to resize them to one")
    # folders are resized as read, so clips of several sizes only come here when size is None
    out = torch.stack(clips if len(sides) == 1 else [resize_square(c, size) for c in clips])
    if size is not None:
        n, t, c = out.shape[:3]
        out = resize_square(out.flatten(0, 1), size).view(n, t, c, size, size)
    return out
