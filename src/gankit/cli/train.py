"""`gankit train`: a new run from flags, or `--resume` of one (with the flags a resume may
change), on one process or several (torchrun)."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from .. import tasks
from ..config import DEFAULT_STEPS, RunConfig, resume_conflicts
from ..errors import ConfigError, GanKitError
from ..tasks import new_config


def cmd_train(args: argparse.Namespace) -> int:
    from ..train.distributed import launched_by_torchrun, shutdown
    if args.distributed is not None and not launched_by_torchrun():
        return _relaunch_distributed(args)
    try:
        return _train(args)
    finally:
        shutdown()


def _relaunch_distributed(args: argparse.Namespace) -> int:
    """`gankit train --distributed N ...` outside torchrun: run the same command under torchrun."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    from ..train.distributed import default_nproc, torchrun_command
    try:
        torchrun(torchrun_command(default_nproc(args.distributed), args.argv))
    except ChildFailedError:
        raise GanKitError("a training process failed (its message is above)") from None
    return 0


def _train(args: argparse.Namespace) -> int:
    from ..api import load_run
    from ..rundir import write_config
    given = _given(args)
    if args.trust_plugins and args.resume is None:
        raise ConfigError("--trust-plugins is for --resume (a new run imports its --plugins)")
    if "plugins" in given.get("model", {}):
        from ..plugins import normalize_plugins
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
    from ..train.state import step_name
    spec = tasks.get(gan.config.task)
    last = f"{gan.run_dir}/samples/{step_name(gan.step)}" + " and ".join(spec.previews)
    print(f"stopped: {gan.stop_reason} at step {gan.step}; run directory {gan.run_dir}\n"
          f"  samples: {last}\n  curves:  {gan.run_dir}/curves.png\n  "
          f"{spec.next_step(gan.run_dir)}", file=sys.stderr)
    if (gan.stop_reason or "").startswith("diverged"):
        from ..train.state import latest_checkpoint
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


def _given(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key, value in vars(args).items():
        if "." in key:
            section, name = key.split(".", 1)
            out.setdefault(section, {})[name] = value
    return out


def _with(cfg: RunConfig, given: dict[str, dict[str, Any]]) -> RunConfig:
    return cfg.replace(**{s: dataclasses.replace(getattr(cfg, s), **v) for s, v in given.items()})


__all__ = ["cmd_train"]
