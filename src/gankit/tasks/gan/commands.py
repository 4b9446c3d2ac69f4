"""`gankit augment`: labeled synthetic training data from a conditional image GAN run."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from ...plugins import add_plugin_flags


def add_commands(sub: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    a = sub.add_parser("augment", help="labeled synthetic training data from a conditional run: "
                       "N images of each class in a .npz (`images`, `labels`), optionally only "
                       "those the dataset's shipped classifier recognizes")
    a.add_argument("run", type=Path)
    a.add_argument("--per-class", type=int, required=True, metavar="N", help="images per class")
    a.add_argument("--output", type=Path, required=True, metavar="FILE.npz",
                   help="`images` uint8 [M,H,W,C] and `labels` int64 [M], as `gankit sample` "
                   "writes")
    a.add_argument("--min-confidence", type=float, metavar="P", help="keep only images the shipped "
                   "classifier of the run's dataset puts in their class with probability >= P, "
                   "drawing more (up to 50x N per class) until each class has N")
    a.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    a.add_argument("--overwrite", action="store_true", help="replace an existing output")
    add_plugin_flags(a)
    return {"augment": cmd_augment}


def cmd_augment(args: argparse.Namespace) -> int:
    from .augment import augment_run, describe
    report = augment_run(args.run, args.per_class, args.output, args.min_confidence, args.seed,
                         args.overwrite)
    print(f"wrote {describe(report)} to {report['output']}", file=sys.stderr)
    return 0
