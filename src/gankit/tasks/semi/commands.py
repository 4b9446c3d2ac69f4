"""`gankit classify`: a semi-supervised run's labels and class probabilities for items."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from ...errors import ConfigError
from ...plugins import add_plugin_flags


def add_commands(sub: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    cl = sub.add_parser("classify", help="classify images with a semi-supervised run: a label "
                        "and each class's probability per item")
    cl.add_argument("run", type=Path)
    cl.add_argument("inputs", type=Path, nargs="+", metavar="INPUT",
                    help="image files (resized to the run's size), folders of them, or .npy/.npz "
                    "arrays (`images` or `x`: one item per row)")
    cl.add_argument("--output", type=Path, help="FILE.csv (item, label, class, p_<class>...) or "
                    "FILE.npz (`labels`, `probs`, `names`, `classes`); default: CSV on stdout")
    cl.add_argument("--overwrite", action="store_true", help="replace an existing output")
    add_plugin_flags(cl)
    return {"classify": cmd_classify}


def cmd_classify(args: argparse.Namespace) -> int:
    from ...api import load_run
    from .classify import classify_items, write_predictions
    from .options import TASK
    gan = load_run(args.run, weights_only=True)
    if gan.config.task != TASK:
        raise ConfigError(f"{args.run} is a {gan.config.task} run; `gankit classify` takes a "
                          f"{TASK} run (gankit train --task {TASK})")
    names, probs = classify_items(gan, args.inputs)
    write_predictions(names, probs, gan.classes, args.output, args.overwrite)
    if args.output is not None:
        print(f"wrote {len(names)} predictions to {args.output}", file=sys.stderr)
    return 0
