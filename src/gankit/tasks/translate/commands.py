"""`gankit translate` (any run that translates images: pix2pix, colorize, cyclegan) and
`gankit edges` (a paired folder for pix2pix from images)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from ...errors import ConfigError
from ...plugins import add_plugin_flags


def add_commands(sub: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    tr = sub.add_parser("translate", help="translate images with a pix2pix, colorize or cyclegan "
                        "run")
    tr.add_argument("run", type=Path)
    tr.add_argument("inputs", type=Path, nargs="+", metavar="INPUT",
                    help="image files, folders of them, or .npz files with `images`")
    tr.add_argument("--output", type=Path, required=True, help="a directory for the PNGs")
    tr.add_argument("--direction", choices=("AtoB", "BtoA"), default="AtoB",
                    help="AtoB (default), or BtoA for a cyclegan run (pix2pix and colorize "
                    "learn A to B only)")
    tr.add_argument("--overwrite", action="store_true", help="replace existing output files")
    ed = sub.add_parser("edges", help="a paired folder for pix2pix from images: OUTPUT/A = their "
                        "edge maps (dark lines on white), OUTPUT/B = the images, train/ and test/ "
                        "kept apart")
    ed.add_argument("source", help="a dataset name (mnist, fashion-mnist, digits), an image folder "
                    "or a .npy/.npz file")
    ed.add_argument("output", type=Path, help="the folder to write (new or empty)")
    ed.add_argument("--threshold", type=float, default=0.25, help="a line is where the gradient "
                    "passes this share of the image's strongest (default 0.25)")
    ed.add_argument("--soft", action="store_true", help="keep line strength as gray levels "
                    "(white at the threshold, black at the strongest) instead of black lines")
    ed.add_argument("--limit", type=int, default=None, help="at most N images of each split")
    ed.add_argument("--overwrite", action="store_true", help="replace a non-empty OUTPUT")
    add_plugin_flags(tr)
    return {"translate": cmd_translate, "edges": cmd_edges}


def cmd_translate(args: argparse.Namespace) -> int:
    from ...api import load_run
    from .files import translate_files
    from .options import TASKS
    gan = load_run(args.run, weights_only=True)
    if gan.config.task not in TASKS:
        raise ConfigError(f"{args.run} is a {gan.config.task} run, not a translation run: "
                          f"use `gankit sample`")
    if args.direction != "AtoB" and gan.config.task != "cyclegan":
        raise ConfigError(f"a {gan.config.task} run translates A to B only; for B to A, train "
                          f"another run with the folders swapped (or a cyclegan run)")
    written, _ = translate_files(gan, args.inputs, args.output, args.overwrite, args.direction)
    print(f"wrote {written} translated images to {args.output}", file=sys.stderr)
    return 0


def cmd_edges(args: argparse.Namespace) -> int:
    from ...data import load_dataset
    from ...data.edges import write_edge_pairs
    from ...errors import DataError
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}")
    splits, labels = {}, {}
    for split in ("train", "test"):
        try:
            d = load_dataset(args.source, split)
        except DataError:
            if split == "train":
                raise
            continue   # no test split: gankit train holds out every 10th pair itself
        splits[split] = d.images[:args.limit]
        if d.labels is not None:
            labels[split] = d.labels[:args.limit]
    counts = write_edge_pairs(args.output, splits, labels or None, args.threshold, args.overwrite,
                              soft=args.soft)
    print(f"wrote {', '.join(f'{n} {s}' for s, n in counts.items())} pairs to {args.output}; "
          f"train on them with: gankit train --task pix2pix --dataset {args.output}",
          file=sys.stderr)
    return 0
