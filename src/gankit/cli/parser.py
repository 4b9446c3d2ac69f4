"""The `gankit` command line's parser: flags generated from the config dataclasses and the
registered tasks (their --task help, options, sample flags and commands)."""
from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Callable, Optional

from .. import tasks
from .._version import __version__
from ..config import field_type, option_fields
from ..errors import ConfigError
from ..plugins import TRUST_HELP, add_plugin_flags
from ..tasks import task_name
from ..tasks.spec import TaskSpec


def add_config_flags(p: argparse.ArgumentParser, task: str) -> None:
    """One flag per config field that applies to `task` (`z_dim` -> `--z-dim`), its own options
    in a group of their own; unset flags stay out of the namespace, so a resume knows exactly
    which ones the user gave."""
    klass = tasks.get(task).options()
    own_defaults = klass.defaults({})   # the task's recipe for its default model
    for section, found in option_fields(klass).items():
        if not found:
            continue
        title = f"{task} options" if section == "options" else f"{section} options"
        group = p.add_argument_group(title)
        for f in found:
            default = own_defaults.get(f.name, f.default)
            help_text = klass.HELP.get(f.name, f.metadata.get("help", ""))
            if default not in (None, ""):
                help_text += f" (default: {default})"
            flag, dest = f"--{f.name.replace('_', '-')}", f"{section}.{f.name}"
            if field_type(f) is bool:   # a switch: --conditional, and --no-conditional to say no
                group.add_argument(flag, dest=dest, action="store_const", const=True,
                                   default=argparse.SUPPRESS,
                                   help=klass.HELP.get(f.name, f.metadata.get("help", "")))
                group.add_argument(f"--no-{flag[2:]}", dest=dest, action="store_const",
                                   const=False, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
                continue
            extra = {"nargs": "?", "const": f.metadata["const"]} if "const" in f.metadata else {}
            group.add_argument(flag, dest=dest, type=field_type(f), default=argparse.SUPPRESS,
                               metavar=f.name.upper(), help=help_text, **extra)


def train_task(argv: Sequence[str]) -> str:
    """The task whose flags `gankit train ARGV` takes: --task's, or with --resume the run's own
    (read from its config.json); the image GAN's when neither says (or says something unknown,
    which the parser then names)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--task")
    pre.add_argument("--resume")
    known, _ = pre.parse_known_args(list(argv))
    name = known.task
    if name is None and known.resume:
        try:
            name = json.loads((Path(known.resume) / "config.json").read_text()).get("task")
        except (OSError, ValueError, AttributeError):
            name = None   # loading the run says what is wrong with it
    try:
        return task_name(name)
    except ConfigError:
        return tasks.default_task().name


def run_task(argv: Sequence[str]) -> Optional[str]:
    """The task of the run `gankit sample RUN ...` names (from its config.json), or None when
    it cannot be read (loading the run then says why)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("run", nargs="?")
    known, _ = pre.parse_known_args([a for a in argv if a != "--"])
    try:
        name = json.loads((Path(known.run) / "config.json").read_text()).get("task")
        return task_name(name)
    except (OSError, ValueError, AttributeError, TypeError, ConfigError):
        return None


def _add_sample_flags(s: argparse.ArgumentParser, task: Optional[str]) -> None:
    """The sample flags of `task`'s runs; every task's when the run's task is not known."""
    for spec in ([tasks.get(task)] if task is not None else tasks.specs()):
        spec.add_sample_flags(s)


def _taking(flag: str, add_flags: Callable[[argparse.ArgumentParser, TaskSpec], None]
            ) -> list[TaskSpec]:
    """The tasks whose flags (as `add_flags(parser, spec)` adds them) include `flag`."""
    takers = []
    for spec in tasks.specs():
        probe = argparse.ArgumentParser(add_help=False)
        add_flags(probe, spec)
        if flag in probe._option_string_actions:
            takers.append(spec)
    return takers


def flag_of_other_tasks(extra: Sequence[str], command: str, task: Optional[str]) -> Optional[str]:
    """For a flag of `gankit train` (or `sample`) that `task` (or its runs) does not take but
    another task does: one line naming the tasks that take it."""
    if task is None:
        return None
    for flag in (arg.split("=", 1)[0] for arg in extra if arg.startswith("--")):
        if command == "train":
            takers = _taking(flag, lambda p, s: add_config_flags(p, s.name))
            if takers:
                cli = [_cli_name(s) for s in (*takers, tasks.get(task))]
                return (f"{flag} is an option of --task {_listed(cli[:-1])}, not of --task "
                        f"{cli[-1]} (`gankit train --task {cli[-1]} --help` lists its options)")
        else:
            takers = _taking(flag, lambda p, s: s.add_sample_flags(p))
            if takers:
                return (f"{flag} is a `gankit sample` option of "
                        f"{_listed([s.name for s in takers])} runs, and this is a {task} run")
    return None


def _listed(names: list[str]) -> str:
    """a, b and c."""
    return " and ".join(names) if len(names) < 3 else f"{', '.join(names[:-1])} and {names[-1]}"


def _cli_name(spec: TaskSpec) -> str:
    return (spec.aliases or (spec.name,))[0]


def build_parser(task: Optional[str] = None, sample_task: Optional[str] = None
                 ) -> argparse.ArgumentParser:
    """The parser and each command's handler; `gankit train` gets the flags of `task` (see
    train_task; None: the default task's), `gankit sample` the sample flags of `sample_task`'s
    runs (see run_task; None: every task's), and each task adds its own commands."""
    p = argparse.ArgumentParser(prog="gankit", description="Train and use generative adversarial "
                                "networks. `gankit train` with no flags trains a DCGAN on MNIST.")
    p.add_argument("--version", action="version", version=f"gankit {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    t = sub.add_parser("train", help="train a GAN (or continue one with --resume)")
    t.add_argument("--out", type=Path, help="run directory (default: a new one under runs/)")
    t.add_argument("--resume", type=Path, metavar="RUN", help="continue this run exactly where it "
                   "stopped")
    t.add_argument("--no-progress", action="store_true", help="no progress bar or lines")
    t.add_argument("--distributed", type=int, nargs="?", const=0, metavar="N",
                   help="train on N processes with torch.distributed (default N: one per GPU; "
                   "gloo on the CPU); the same as `torchrun --standalone --nproc_per_node=N -m "
                   "gankit train ...`, which gankit also detects by itself")
    t.add_argument("--task", choices=[n for s in tasks.specs() for n in (s.name, *s.aliases)],
                   default=None, metavar="TASK", help="; ".join(
                       f"{(s.aliases or (s.name,))[0]}: {s.summary}" for s in tasks.specs())
                   + ". `gankit train --task T --help` lists the options of task T")
    t.add_argument("--trust-plugins", action="store_true", help="with --resume: " + TRUST_HELP)
    t.add_argument("--allow-data-change", action="store_true", help="with --resume: go on even "
                   "though the data differs from what the run trained on (its item count or "
                   "first and last items)")
    presets = tasks.get(task).presets
    if presets:
        t.add_argument("--preset", metavar="NAME", help="a named, measured combination of the "
                       "options below (flags given beside it win): " + ", ".join(presets))
    add_config_flags(t, task)
    # several tasks declare the same sample flag (--label): the last declaration stands
    s = sub.add_parser("sample", help="draw samples from a trained run",
                       conflict_handler="resolve")
    s.add_argument("run", type=Path)
    s.add_argument("--num", type=int, default=64, help="how many samples (default 64)")
    s.add_argument("--output", type=Path, required=True, help="FILE.npz (uint8 images [N,H,W,C]), "
                   "FILE.png (a grid) or a directory (one PNG per image)" + "".join(
                       f"; {spec.name} runs: {spec.sample_help}" for spec in tasks.specs()
                       if spec.sample_help))
    s.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    _add_sample_flags(s, sample_task)
    s.add_argument("--overwrite", action="store_true", help="replace an existing output")
    e = sub.add_parser("eval", help="score a run's samples (FID, KID, precision/recall, classes, "
                       "held-out D loss), or a .npz of samples" + "".join(
                           f"; {spec.name} runs: {spec.eval_help}" for spec in tasks.specs()
                           if spec.eval_help))
    e.add_argument("run", type=Path, nargs="?", help="a run directory (its EMA generator is sampled)")
    e.add_argument("--samples", type=Path, help="FILE.npz with `images` uint8 [N,H,W,C] instead of a run")
    e.add_argument("--dataset", help="reference dataset for --samples (default: the run's)")
    e.add_argument("--metrics", default="fid,kid,pr,classes",
                   help="comma list of fid,kid,pr,classes,dloss (default fid,kid,pr,classes)")
    e.add_argument("--num", type=int, default=10_000, help="samples drawn from the run (default 10000)")
    e.add_argument("--split", default="test", help="reference split (default test)")
    e.add_argument("--extractor", help="feature extractor: mnist or fashion-mnist (default: the "
                   "dataset's own), or inception: the FID Inception-v3 (pip install "
                   "'gankit[inception]' and its weights in gankit's data folder: see "
                   "docs/measuring.md)")
    e.add_argument("--seed", type=int, default=0, help="noise and subset seed (default 0)")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    r = sub.add_parser("report", help="one self-contained HTML page about a run: curves, samples "
                       "over training, interpolations, memorization and health checks")
    r.add_argument("run", type=Path)
    r.add_argument("--output", type=Path, help="the .html file (default ./RUNNAME-report.html; "
                   "never inside the run directory)")
    r.add_argument("--overwrite", action="store_true", help="replace --output even if it is not "
                   "a gankit report")
    r.add_argument("--no-memorization", action="store_true", help="skip the nearest-neighbour "
                   "check (the slowest part on large datasets)")
    r.add_argument("--data", type=Path, metavar="IN.csv", help=" or ".join(
                   s.name for s in tasks.specs() if s.report_data) + " runs: the real table to "
                   "compare with (default: the one it was trained on)")
    c = sub.add_parser("compare", help="runs side by side: configuration differences, curves on "
                       "shared axes, final numbers")
    c.add_argument("runs", type=Path, nargs="+", metavar="RUN")
    c.add_argument("--output", type=Path, help="write an HTML page here")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.add_argument("--overwrite", action="store_true", help="replace --output even if it is not "
                   "a gankit page")
    i = sub.add_parser("info", help="describe a run")
    i.add_argument("run", type=Path)
    i.add_argument("--json", action="store_true", help="print one JSON object")
    x = sub.add_parser("export", help="write a run's generator as one ONNX or TorchScript file "
                       "that runs without gankit (checked against PyTorch, described in FILE.json)")
    x.add_argument("run", type=Path)
    x.add_argument("--format", default="onnx", metavar="FORMAT", help="onnx (default; runs with "
                   "onnxruntime alone) or torchscript (torch.jit.load)")
    x.add_argument("--output", type=Path, metavar="FILE", help="where to write (default: "
                   "./RUN-generator.onnx or .ts.pt; never inside the run); FILE.json goes "
                   "beside it")
    x.add_argument("--no-ema", action="store_true", help="export the raw generator, not its "
                   "average")
    x.add_argument("--overwrite", action="store_true",
                   help="replace an existing FILE and FILE.json")
    for opens_a_run in (s, e, r, c, i, x):
        add_plugin_flags(opens_a_run)
    from .runs import cmd_compare, cmd_eval, cmd_export, cmd_info, cmd_report, cmd_sample
    from .train import cmd_train
    handlers = {"train": cmd_train, "sample": cmd_sample, "info": cmd_info, "eval": cmd_eval,
                "report": cmd_report, "compare": cmd_compare, "export": cmd_export}
    for spec in tasks.specs():
        handlers.update(spec.add_commands(sub))
    for name, handler in handlers.items():
        sub.choices[name].set_defaults(handler=handler)
    return p


__all__ = ["add_config_flags", "build_parser", "flag_of_other_tasks", "run_task", "train_task"]
