"""The `gankit` command. Thin: flags -> config dataclasses -> the Python API.

Every error a user can cause prints one line `gankit: error: ...` and exits with code 2. The
parser (parser.py) is generated from the configs and the registered tasks; train.py is `gankit
train`, runs.py the commands that open a trained run; each task adds commands of its own.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import Optional

from ..errors import GanKitError, GanKitWarning
from .parser import build_parser, flag_of_other_tasks, run_task, train_task


def _import_plugins(args: argparse.Namespace) -> None:
    """The plugin code the user named on this command line, imported before any run is opened:
    --plugins SPEC, or with --trust-plugins what the named runs' config.json files record."""
    from ..plugins import load_plugins, normalize_plugins
    from ..rundir import read_config
    if args.command == "train" and args.resume is None:
        return   # a new run imports its --plugins itself
    spec = getattr(args, "plugins", None) or vars(args).get("model.plugins")
    if spec:
        load_plugins(normalize_plugins(spec))
    if getattr(args, "trust_plugins", False):
        runs = [getattr(args, "run", None), getattr(args, "resume", None),
                *(getattr(args, "runs", None) or [])]
        for run in runs:
            if run is not None:
                load_plugins(read_config(run).model.plugins)


def _one_line_warnings() -> None:
    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        if issubclass(category, GanKitWarning):
            print(f"gankit: warning: {message}", file=sys.stderr)
        else:
            _orig(message, category, filename, lineno, file, line)
    _orig = warnings.showwarning
    warnings.showwarning = show


def _plugins_named(argv: Sequence[str]) -> Optional[str]:
    """The --plugins SPEC of a command line, read before the parser is built: plugin code may
    register a task (gankit.tasks.register), whose flags and commands the parser then has."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--plugins")
    known, _ = pre.parse_known_args(list(argv))
    return known.plugins


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    named = _plugins_named(argv)
    if named:
        from ..plugins import load_plugins, normalize_plugins
        try:
            load_plugins(normalize_plugins(named))
        except GanKitError as e:
            print(f"gankit: error: {e}", file=sys.stderr)
            return 2
    task = train_task(argv[1:]) if argv[:1] == ["train"] else None
    sample_task = run_task(argv[1:]) if argv[:1] == ["sample"] else None
    parser = build_parser(task, sample_task)
    args, extra = parser.parse_known_args(argv)
    if extra and args.command in ("train", "sample"):
        elsewhere = flag_of_other_tasks(extra, args.command,
                                        task if args.command == "train" else sample_task)
        if elsewhere:
            print(f"gankit: error: {elsewhere}", file=sys.stderr)
            return 2
    if extra:
        parser.parse_args(argv)   # argparse's own message and exit
    args.argv = argv   # for a torchrun relaunch
    if args.command is None:
        parser.print_help()
        return 2
    _one_line_warnings()
    try:
        _import_plugins(args)
        return args.handler(args)
    except GanKitError as e:
        print(f"gankit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:   # a second Ctrl-C: stopped at once, nothing more saved
        print("gankit: interrupted at once; the last checkpoint saved before stays the latest",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["build_parser", "main"]
