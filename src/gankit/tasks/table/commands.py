"""`gankit synth`: CSV in, CSV out, through a table run (kept with --save). The table task adds
it (`add_synth`); the impute task's `gankit impute` shares `check_save_dir` and `progress`. User
errors are raised as GanKitError subclasses; pandas and torch load only when a command runs."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ...errors import ConfigError


def add_synth(subparsers: Any) -> dict:
    """Add `gankit synth` to an argparse subparsers object."""
    s = subparsers.add_parser("synth", help="generate a synthetic CSV table like a real one (in "
                              "one go: `gankit train --task table` and `gankit sample`)")
    s.add_argument("input", type=Path, metavar="IN.csv")
    s.add_argument("--num", type=int, required=True, help="how many rows to generate")
    s.add_argument("--output", type=Path, required=True, metavar="OUT.csv")
    s.add_argument("--discrete", default="", help="numeric columns to treat as categories: a,b")
    s.add_argument("--epochs", type=float, default=None, help="training epochs (default: 300, and "
                   "at least 1500 steps)")
    s.add_argument("--save", type=Path, default=None, metavar="RUN", help="keep the table run in "
                   "this new directory (sample it again, report on it, resume it); default: none "
                   "kept")
    s.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    return {"synth": run_synth}


def progress(args: argparse.Namespace) -> bool:
    """Whether a table command shows a progress bar: on a terminal, unless --no-progress."""
    return not getattr(args, "no_progress", False) and sys.stderr.isatty()


def run_synth(args: argparse.Namespace) -> int:
    """Train a table run on IN.csv and write --num synthetic rows to OUT.csv."""
    import tempfile

    from ...outputs import refuse_overwrite
    from .csvio import write_rows
    from .facade import TableGAN
    if args.num < 1:
        raise ConfigError(f"--num must be at least 1, got {args.num}")
    refuse_overwrite(Path(args.output), getattr(args, "overwrite", False))
    if args.save is not None:   # refused before training, not after
        check_save_dir(args.save)
    options: dict[str, Any] = {"discrete": getattr(args, "discrete", ""), "seed": args.seed}
    if getattr(args, "epochs", None) is not None:
        options["epochs"] = args.epochs
    with tempfile.TemporaryDirectory(prefix="gankit-synth-") as tmp:
        out = args.save if args.save is not None else Path(tmp) / "run"
        gan = TableGAN(args.input, out=out, **options).fit(progress=progress(args))
        rows = gan.sample(args.num, seed=args.seed)
        write_rows(rows, Path(args.output))
    kept = f"; the run is in {args.save}" if args.save is not None else ""
    print(f"wrote {args.num} synthetic rows to {args.output}{kept}", file=sys.stderr)
    return 0


def check_save_dir(path: Path) -> None:
    """Where `gankit synth/impute --save` may put its run: a new or empty directory, never a
    gankit run or any other folder of files."""
    from ...rundir import is_run
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--save {path} is a file, not a directory; refusing to touch it")
    if is_run(path):
        raise ConfigError(f"--save {path} is a gankit run; keep the table run somewhere else")
    if path.is_dir() and any(path.iterdir()):
        raise ConfigError(f"--save {path} is not empty; refusing to write into it")


__all__ = ["add_synth", "check_save_dir", "progress", "run_synth"]
