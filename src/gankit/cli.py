"""The `gankit` command. Thin: flags -> config dataclasses -> the Python API.

Every error a user can cause prints one line `gankit: error: ...` and exits with code 2.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from . import tasks
from ._version import __version__
from .config import DEFAULT_STEPS, RunConfig, field_type, option_fields, resume_conflicts
from .errors import ConfigError, GanKitError, GanKitWarning
from .plugins import TRUST_HELP, add_plugin_flags
from .tasks import new_config, task_name, task_options


def _add_config_flags(p: argparse.ArgumentParser, task: str) -> None:
    """One flag per config field that applies to `task` (`z_dim` -> `--z-dim`), its own options
    in a group of their own; unset flags stay out of the namespace, so a resume knows exactly
    which ones the user gave."""
    klass = task_options(task)
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
        try:
            spec.add_sample_flags(s)
        except argparse.ArgumentError:   # the same flag, already added for another task
            pass


def _sample_flag_of_other_tasks(extra: Sequence[str], task: Optional[str]) -> Optional[str]:
    """For a `gankit sample` flag this run's task does not take but another's runs do."""
    if task is None:
        return None
    for arg in extra:
        flag = arg.split("=", 1)[0]
        takers = []
        for spec in tasks.specs():
            probe = argparse.ArgumentParser(add_help=False)
            spec.add_sample_flags(probe)
            if flag in probe._option_string_actions:
                takers.append(spec.name)
        if takers:
            return (f"{flag} is a `gankit sample` option of {' and '.join(takers)} runs, and "
                    f"this is a {task} run")
    return None


def _flag_of_other_tasks(extra: Sequence[str], task: str) -> Optional[str]:
    """For a `gankit train` flag the task does not take but another does: which tasks take it."""
    for arg in extra:
        flag = arg.split("=", 1)[0]
        if not flag.startswith("--"):
            continue
        name = flag[2:].replace("-", "_")
        if name.startswith("no_"):
            name = name[3:]
        takers = [s for s in tasks.specs()
                  if any(f.name == name for found in option_fields(s.options()).values()
                         for f in found)]
        if takers:
            cli = [(s.aliases or (s.name,))[0] for s in (*takers, tasks.get(task))]
            return (f"{flag} is an option of --task {' and '.join(cli[:-1])}, not of --task "
                    f"{cli[-1]} (`gankit train --task {cli[-1]} --help` lists its options)")
    return None


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
    _add_config_flags(t, task)
    s = sub.add_parser("sample", help="draw samples from a trained run")
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
    handlers = {"train": cmd_train, "sample": cmd_sample, "info": cmd_info, "eval": cmd_eval,
                "report": cmd_report, "compare": cmd_compare, "export": cmd_export}
    for spec in tasks.specs():
        handlers.update(spec.add_commands(sub))
    for name, handler in handlers.items():
        sub.choices[name].set_defaults(handler=handler)
    return p


def _import_plugins(args: argparse.Namespace) -> None:
    """The plugin code the user named on this command line, imported before any run is opened:
    --plugins SPEC, or with --trust-plugins what the named runs' config.json files record."""
    from .plugins import load_plugins, normalize_plugins
    from .rundir import read_config
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


def _given(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key, value in vars(args).items():
        if "." in key:
            section, name = key.split(".", 1)
            out.setdefault(section, {})[name] = value
    return out


def _with(cfg: RunConfig, given: dict[str, dict[str, Any]]) -> RunConfig:
    return cfg.replace(**{s: dataclasses.replace(getattr(cfg, s), **v) for s, v in given.items()})


def _relaunch_distributed(args: argparse.Namespace) -> int:
    """`gankit train --distributed N ...` outside torchrun: run the same command under torchrun."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    from .train.distributed import default_nproc, torchrun_command
    try:
        torchrun(torchrun_command(default_nproc(args.distributed), args.argv))
    except ChildFailedError:
        raise GanKitError("a training process failed (its message is above)") from None
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .train.distributed import launched_by_torchrun, shutdown
    if args.distributed is not None and not launched_by_torchrun():
        return _relaunch_distributed(args)
    try:
        return _train(args)
    finally:
        shutdown()


def _train(args: argparse.Namespace) -> int:
    from .api import load_run
    from .rundir import write_config
    given = _given(args)
    if args.trust_plugins and args.resume is None:
        raise ConfigError("--trust-plugins is for --resume (a new run imports its --plugins)")
    if "plugins" in given.get("model", {}):
        from .plugins import normalize_plugins
        given["model"]["plugins"] = normalize_plugins(given["model"]["plugins"])
    if args.resume is not None:
        if args.out is not None and args.out.resolve() != args.resume.resolve():
            raise ConfigError("--out and --resume name different directories; a resumed run "
                              "stays in its own directory")
        if getattr(args, "preset", None) is not None or args.task is not None:
            raise ConfigError("--preset and --task set up a new run; a resumed run keeps its "
                              "configuration")
        gan = load_run(args.resume, device=given.get("train", {}).get("device", "auto"),
                       allow_data_change=args.allow_data_change)
        conflicts = resume_conflicts(gan.config, given)
        if conflicts:
            raise ConfigError(f"cannot resume {args.resume} with a changed configuration: "
                              + "; ".join(conflicts))
        gan.config = _with(gan.config, given)   # the run, its task and optimizers follow
        if gan.dist.is_main:
            gan.check_data()
            gan.claim_run()   # before anything in it changes
            write_config(gan.run_dir, gan.config)
            print(f"resuming {gan.run_dir} at step {gan.step}", file=sys.stderr)
    else:
        spec = tasks.get(args.task)
        options = {k: v for section in given.values() for k, v in section.items()}
        if spec.needs_dataset and "dataset" not in options:
            raise ConfigError(f"--task {args.task} needs --dataset (its data)")
        cfg = new_config(spec.name, getattr(args, "preset", None), **options)
        t = cfg.train
        if t.steps is None and t.epochs is None and t.max_time is None and \
                not spec.options().LENGTH_FROM_DATA:
            cfg = cfg.replace(train=dataclasses.replace(t, steps=DEFAULT_STEPS))
        gan = spec.new_run(cfg, args.out)
    t = gan.config.train
    until = t.steps
    if t.epochs is not None:
        epoch_steps = gan.steps_for_epochs(t.epochs)
        until = epoch_steps if until is None else min(until, epoch_steps)
    gan.fit(until=until, max_time=t.max_time, progress=False if args.no_progress else None)
    return _report_end(gan) if gan.dist.is_main else 0


def _report_end(gan: Any) -> int:
    from .train.state import step_name
    spec = tasks.get(gan.config.task)
    last = f"{gan.run_dir}/samples/{step_name(gan.step)}" + " and ".join(spec.previews)
    print(f"stopped: {gan.stop_reason} at step {gan.step}; run directory {gan.run_dir}\n"
          f"  samples: {last}\n  curves:  {gan.run_dir}/curves.png\n  "
          f"{spec.next_step(gan.run_dir)}", file=sys.stderr)
    if (gan.stop_reason or "").startswith("diverged"):
        from .train.state import latest_checkpoint
        lr = gan.config.train.lr
        print(f"  the last good checkpoint, {latest_checkpoint(gan.run_dir).name}, is the one "
              f"`sample`, `eval` and `--resume` use; go on from it at a lower learning rate: "
              f"gankit train --resume {gan.run_dir} --lr {lr / 4:g}", file=sys.stderr)
        return 1
    if (gan.stop_reason or "").startswith("interrupted"):
        sigterm = "SIGTERM" in gan.stop_reason
        print(f"{'terminated' if sigterm else 'interrupted'} at the end of step {gan.step}; "
              f"checkpoint saved. Continue with: gankit train --resume {gan.run_dir}",
              file=sys.stderr)
        return 143 if sigterm else 130
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from .api import load_run
    if args.num < 1:
        raise ConfigError(f"--num must be at least 1, got {args.num}")
    gan = load_run(args.run, weights_only=True)
    options = tasks.get(gan.config.task).sample_options(gan, args)
    samples = gan.sample(args.num, seed=args.seed, **options)
    where = gan.save(samples, args.output, overwrite=args.overwrite, labels=options.get("labels"))
    print(f"wrote {args.num} samples to {where}", file=sys.stderr)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation import evaluate_images, format_results, load_samples, parse_metrics, summary
    metrics = parse_metrics(args.metrics)
    if (args.run is None) == (args.samples is None):
        raise ConfigError("give a run directory or --samples FILE.npz (one of them)")
    if args.run is not None:
        from .api import load_run
        if args.num < 2:
            raise ConfigError(f"--num must be at least 2, got {args.num}")
        gan = load_run(args.run, weights_only=True)
        if args.dataset and args.dataset != gan.config.data.dataset:
            raise ConfigError(f"--dataset {args.dataset} differs from the run's dataset "
                              f"{gan.config.data.dataset}")
        results = gan.metric_results(args.num, args.seed, args.split, metrics=metrics,
                                     extractor=args.extractor)
    else:
        if not args.dataset:
            raise ConfigError("--samples needs --dataset NAME (the reference data)")
        if "dloss" in metrics:
            raise ConfigError("dloss needs a run's discriminator: evaluate the run, not --samples")
        results = evaluate_images(load_samples(args.samples), args.dataset, metrics, args.split,
                                  args.extractor, args.seed)
    print(json.dumps(summary(results), indent=2) if args.json else format_results(results))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .report import build_report
    path = build_report(args.run, args.output, overwrite=args.overwrite,
                        memorization=not args.no_memorization, data=args.data)
    print(f"wrote {path}", file=sys.stderr)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .report import compare_runs
    result, path = compare_runs(args.runs, args.output, overwrite=args.overwrite)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        names = result["runs"]
        if result["differences"]:
            print("differences:")
            for f, vals in result["differences"].items():
                print(f"  {f}: " + ", ".join(f"{n}={v}" for n, v in zip(names, vals)))
        else:
            print("the runs have the same configuration")
        keys = sorted({k for nums in result["final"].values() for k in nums})
        width = max(len(k) for k in keys)
        print("final:" + "".join(f"  {n}" for n in names))
        for k in keys:
            vals = [result["final"][n].get(k, "-") for n in names]
            print(f"  {k:{width}s} " + "  ".join(f"{v:.4g}" if isinstance(v, float) else str(v)
                                                for v in vals))
    if path is not None:
        print(f"wrote {path}", file=sys.stderr)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from .info import describe_run, format_info
    info = describe_run(args.run)
    print(json.dumps(info, indent=2) if args.json else format_info(info))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export_generator
    path = export_generator(args.run, args.format, args.output, overwrite=args.overwrite,
                            ema=not args.no_ema)
    check = json.loads(Path(f"{path}.json").read_text())["verification"]
    print(f"wrote {path} ({args.format}; matches PyTorch to {check['max_abs_diff']:.1e} at batch "
          f"sizes {', '.join(map(str, check['batch_sizes']))}); inputs and outputs are described "
          f"in {path}.json", file=sys.stderr)
    return 0


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
        from .plugins import load_plugins, normalize_plugins
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
        elsewhere = (_flag_of_other_tasks(extra, task) if args.command == "train"
                     else _sample_flag_of_other_tasks(extra, sample_task))
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
