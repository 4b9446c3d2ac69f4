"""`gankit augment` (labeled synthetic training data from a conditional image GAN run) and
`gankit check` (the pre-flight check of a model's nets, a plugin's included)."""
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
    c = sub.add_parser("check", help="one pass of a model's G and D (a built-in name, or one a "
                       "--plugins file registers) on a batch of the data: one line per mistake "
                       "(shapes, ranges, a sigmoid before the loss, parameters without gradient)")
    c.add_argument("--model", required=True, help="the net's registered name")
    c.add_argument("--dataset", default="mnist", help="the data (default mnist)")
    c.add_argument("--loss", default="ns", help="the loss it will train with (default ns)")
    c.add_argument("--z-dim", type=int, default=64, help="noise size (default 64)")
    c.add_argument("--width", type=int, default=None, help="the net's base width")
    c.add_argument("--conditional", action="store_true", help="a class-conditional pair")
    c.add_argument("--plugins", metavar="SPEC", help="import these modules or .py files first "
                   "(they register the nets)")
    return {"augment": cmd_augment, "check": cmd_check}


def cmd_augment(args: argparse.Namespace) -> int:
    from .augment import augment_run, describe
    report = augment_run(args.run, args.per_class, args.output, args.min_confidence, args.seed,
                         args.overwrite)
    print(f"wrote {describe(report)} to {report['output']}", file=sys.stderr)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Exit 0 with "no problems found" or the warnings; 2 with the errors."""
    from ...config import DataConfig, ModelConfig
    from ...data.training import load_training_data
    from ...errors import ConfigError
    from ...nets import build_nets
    from ...viz import from_uint8
    from .check import check_batch
    x, labels, _ = load_training_data(args.dataset, DataConfig(dataset=args.dataset))
    if args.conditional and labels is None:
        raise ConfigError(f"--conditional needs class labels, and {args.dataset} has none")
    classes = int(labels.max()) + 1 if args.conditional else 0
    G, D = build_nets(ModelConfig(model=args.model, z_dim=args.z_dim, width=args.width,
                                  conditional=args.conditional), tuple(x.shape[1:]), classes)
    y = labels[:16].long() if args.conditional else None
    findings = check_batch(G, D, from_uint8(x[:16]), y,
                           z_dim=int(getattr(G, "z_dim", args.z_dim)), loss=args.loss)
    for f in findings:
        print(f"gankit: {f.level}: {f.message}", file=sys.stderr)
    if not findings:
        print(f"no problems found in {args.model}'s G and D on {args.dataset}", file=sys.stderr)
    return 2 if any(f.level == "error" for f in findings) else 0
