"""What both bundled audio sets share: trimming and levels, the staging folder an interrupted build
leaves nothing of, the manifest (dataset.json) and the checks of a build's arguments."""
from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ...errors import DataError
from ..audio import DEFAULT_LENGTH, SAMPLE_RATE

VERSION = 1
SPLITS = ("train", "test")
TRIM_DB = -40.0             # silence: below this level relative to the clip's peak
MARGIN = 80                 # samples (5 ms) kept either side of the trimmed sound
PEAK_RANGE = (0.6, 0.95)    # each clip's peak is scaled to a random level in this range
MAX_WORKERS = 8



def trim(x: np.ndarray, db: float = TRIM_DB, margin: int = MARGIN) -> np.ndarray:
    """The clip without its leading and trailing silence: samples quieter than `db` below the
    peak, keeping `margin` samples either side. An all-zero clip is a DataError."""
    a = np.abs(x)
    peak = float(a.max()) if a.size else 0.0
    if peak <= 0.0:
        raise DataError("the synthesizer produced a silent clip")
    loud = np.flatnonzero(a > peak * 10 ** (db / 20))
    return x[max(0, loud[0] - margin):loud[-1] + 1 + margin]


def _scale(x: np.ndarray, peak: float) -> np.ndarray:
    return (x * (peak / float(np.abs(x).max()))).astype(np.float32)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _require(binary: str, package: str) -> str:
    """The path of an executable, or a DataError naming the Debian package that provides it."""
    path = shutil.which(binary)
    if path is None:
        raise DataError(f"{binary} is not installed: apt install {package}")
    return path


def package_versions(packages: Iterable[str]) -> dict[str, Optional[str]]:
    """Each Debian package's installed version (dpkg-query), or None where it is unknown."""
    versions: dict[str, Optional[str]] = {}
    for pkg in packages:
        try:
            r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                               capture_output=True, text=True, timeout=30)
            versions[pkg] = (r.stdout.strip() or None) if r.returncode == 0 else None
        except (OSError, subprocess.SubprocessError):
            versions[pkg] = None
    return versions


def _check_counts(per_class: int, test_per_class: int) -> None:
    if int(per_class) < 1 or int(test_per_class) < 0:
        raise DataError(f"per_class must be at least 1 and test_per_class at least 0 (got "
                        f"{per_class} and {test_per_class})")


def _workers(workers: Optional[int]) -> int:
    """The threads that drive synthesizer processes: `workers`, else the usable CPUs (max 8)."""
    if workers:
        return max(1, int(workers))
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(MAX_WORKERS, cpus or 1))


def _class_dirs(staging: Path, classes: Iterable[str]) -> None:
    for split in SPLITS:
        for c in classes:
            (staging / split / c).mkdir(parents=True)


class _staging:
    """A context: a hidden temporary sibling of `out` to build in, renamed to `out` on success
    (replacing a previous build of the same set) and removed on failure."""

    def __init__(self, out: Union[str, Path], name: str):
        self.out, self.name = Path(out).expanduser(), name
        _check_target(self.out, name)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", suffix=".building",
                                          dir=self.out.parent))
        umask = os.umask(0o022)
        os.umask(umask)
        self.path.chmod(0o777 & ~umask)         # mkdtemp's 0700 would hide the set from others

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, kind, value, tb) -> None:
        if kind is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        try:
            _check_target(self.out, self.name)      # still ours after the build?
        except DataError:
            shutil.rmtree(self.path, ignore_errors=True)
            raise
        old = None
        if self.out.exists():
            old = self.path.with_suffix(".old")
            self.out.rename(old)
        self.path.rename(self.out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _check_target(out: Path, name: str) -> None:
    """A DataError unless `out` is absent, an empty folder or a previous build of set `name`."""
    if not out.exists():
        return
    if not out.is_dir():
        raise DataError(f"{out} is a file, not a folder to build the {name} set in")
    if not any(out.iterdir()):
        return
    try:
        previous = json.loads((out / "dataset.json").read_text()).get("name")
    except (OSError, ValueError, AttributeError):
        previous = None
    if previous != name:
        raise DataError(f"{out} is not empty and is not a previous build of the {name} set: "
                        f"choose another folder (nothing was written)")


def _manifest(folder: Path, name: str, seed: int, classes: Sequence[str], per_class: int,
              test_per_class: int, packages: Sequence[str], params: dict,
              rows: Sequence[tuple[str, float, bool]]) -> None:
    """Write dataset.json: what the set is, how it was made, and a few sanity statistics (the
    mean RMS of each class's clips, how many clips the 16,384-sample limit cut short)."""
    rms = {c: round(float(np.mean([r for k, r, _ in rows if k == c])), 5) for c in classes}
    info = {"name": name, "version": VERSION, "seed": int(seed), "rate": SAMPLE_RATE,
            "length": DEFAULT_LENGTH, "classes": list(classes),
            "counts": {"train": {c: int(per_class) for c in classes},
                       "test": {c: int(test_per_class) for c in classes}},
            "packages": package_versions(packages), "params": params,
            "stats": {"mean_rms": rms, "cut": int(sum(cut for _, _, cut in rows))},
            "built": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    (folder / "dataset.json").write_text(json.dumps(info, indent=1) + "\n")
