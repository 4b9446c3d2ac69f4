"""Bundled audio datasets, built offline from Debian packages and reproducible from a seed.

    build("spoken-digits", "~/audio/digits", seed=0)   # espeak-ng: "zero" … "nine"
    build("notes", "~/audio/notes", seed=0)            # fluidsynth + FluidR3_GM: instrument families
    python -m gankit.data.audio_sets notes OUT [--seed S] [--per-class N] [--test-per-class N]

Both sets are laid out the way `gankit.data.audio.load_audio` reads them:

    OUT/train/<class>/<name>.wav    16 kHz mono 16-bit PCM, exactly 16,384 samples (~1 s)
    OUT/test/<class>/<name>.wav
    OUT/dataset.json                name, version, seed, rate, length, classes, counts, the Debian
                                    packages' versions, every generation parameter, build date and
                                    a few sanity statistics

Reproducible: every clip's parameters are drawn from a numpy Generator seeded by
(seed, set, split, class), so the same seed and package versions give byte-identical WAV files,
and a smaller build is a prefix of a larger one (clip i of a class does not depend on per_class).
Only `dataset.json` differs between two builds (its build date).

Safe: a set is built in a hidden sibling folder and renamed into place at the end, so an
interrupted build leaves nothing half-written. An existing OUT is replaced only when it is empty
or a previous build of the same set (its dataset.json says so); anything else is a DataError.

The sets: speech.py (spoken digits), notes.py (instrument notes), common.py (what both share).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Callable, Optional, Union

from ...errors import DataError, GanKitError
from .common import SPLITS, trim
from .notes import FAMILIES, SOUNDFONT, build_notes, midi_file
from .speech import DIGITS, build_spoken_digits

BUNDLED: dict[str, Callable[..., Path]] = {"spoken-digits": build_spoken_digits,
                                           "notes": build_notes}


def build(name: str, out: Union[str, Path], seed: int = 0, per_class: int = 300,
          test_per_class: int = 50, workers: Optional[int] = None) -> Path:
    """Build the bundled set `name` (a key of BUNDLED) in folder `out`; returns the folder."""
    if name not in BUNDLED:
        raise DataError(f"unknown audio set {name!r}: known sets are {', '.join(BUNDLED)}")
    return BUNDLED[name](out, seed=seed, per_class=per_class, test_per_class=test_per_class,
                         workers=workers)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`python -m gankit.data.audio_sets NAME OUT [--seed S] [--per-class N]
    [--test-per-class N] [--workers W]`: build a set and print one summary line. A user error is
    one line on stderr and exit code 2."""
    p = argparse.ArgumentParser(prog="python -m gankit.data.audio_sets",
                                description="Build a bundled audio dataset offline.")
    p.add_argument("name", help=f"the set: {', '.join(BUNDLED)}")
    p.add_argument("out", help="the folder to build it in")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--per-class", type=int, default=300, help="training clips per class")
    p.add_argument("--test-per-class", type=int, default=50, help="test clips per class")
    p.add_argument("--workers", type=int, default=None, help="synthesizer processes at once")
    args = p.parse_args(argv)
    start = time.perf_counter()
    try:
        folder = build(args.name, args.out, args.seed, args.per_class, args.test_per_class,
                       args.workers)
        info = json.loads((folder / "dataset.json").read_text())
    except GanKitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    n_train, n_test = (sum(info["counts"][s].values()) for s in SPLITS)
    print(f"{args.name}: {n_train} train + {n_test} test clips, {len(info['classes'])} classes, "
          f"seed {args.seed}, in {folder} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())



__all__ = ["BUNDLED", "DIGITS", "FAMILIES", "SOUNDFONT", "build", "build_notes",
           "build_spoken_digits", "main", "midi_file", "trim"]
