"""`gankit audio-data`: build a bundled audio set offline."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable


def add_commands(sub: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    ad = sub.add_parser("audio-data", help="build a bundled audio set offline: spoken-digits "
                        "(ten digit words spoken by espeak-ng) or notes (instrument notes "
                        "rendered by fluidsynth), into OUTPUT/train and OUTPUT/test")
    ad.add_argument("name", help="spoken-digits or notes")
    ad.add_argument("output", type=Path, help="the folder to build (new, or a previous build of "
                    "the same set)")
    ad.add_argument("--seed", type=int, default=0, help="voices, pitches, ... are drawn from it "
                    "(default 0): the same seed builds the same files")
    ad.add_argument("--per-class", type=int, default=300, help="training clips per class")
    ad.add_argument("--test-per-class", type=int, default=50, help="held-out clips per class")
    return {"audio-data": cmd_audio_data}


def cmd_audio_data(args: argparse.Namespace) -> int:
    from ...data.audio_sets import build
    path = build(args.name, args.output, seed=args.seed, per_class=args.per_class,
                 test_per_class=args.test_per_class)
    meta = json.loads((path / "dataset.json").read_text())
    counts = {split: sum(n.values()) for split, n in meta["counts"].items()}
    print(f"built {args.name} in {path}: {counts.get('train', 0)} training and "
          f"{counts.get('test', 0)} held-out clips, {len(meta['classes'])} classes; train on it "
          f"with: gankit train --task audio --dataset {path} --conditional", file=sys.stderr)
    return 0
