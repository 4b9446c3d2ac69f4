"""The commands that open a trained run: sample, eval, report, compare, info, export."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import tasks
from ..errors import ConfigError


def cmd_sample(args: argparse.Namespace) -> int:
    from ..api import load_run
    if args.num < 1:
        raise ConfigError(f"--num must be at least 1, got {args.num}")
    gan = load_run(args.run, weights_only=True)
    spec = tasks.get(gan.config.task)
    options = spec.sample_options(gan, args)
    samples = gan.sample(args.num, seed=args.seed, **options)
    where = gan.save(samples, args.output, overwrite=args.overwrite, labels=options.get("labels"),
                     **spec.save_options(gan, args))
    print(f"wrote {args.num} samples to {where}", file=sys.stderr)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from ..evaluation import evaluate_images, format_results, load_samples, parse_metrics, summary
    metrics = parse_metrics(args.metrics)
    if (args.run is None) == (args.samples is None):
        raise ConfigError("give a run directory or --samples FILE.npz (one of them)")
    if args.run is not None:
        from ..api import load_run
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
    from ..report import build_report
    path = build_report(args.run, args.output, overwrite=args.overwrite,
                        memorization=not args.no_memorization, data=args.data)
    print(f"wrote {path}", file=sys.stderr)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from ..report import compare_runs
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
    from ..info import describe_run, format_info
    info = describe_run(args.run)
    print(json.dumps(info, indent=2) if args.json else format_info(info))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..export import export_generator
    path = export_generator(args.run, args.format, args.output, overwrite=args.overwrite,
                            ema=not args.no_ema)
    check = json.loads(Path(f"{path}.json").read_text())["verification"]
    print(f"wrote {path} ({args.format}; matches PyTorch to {check['max_abs_diff']:.1e} at batch "
          f"sizes {', '.join(map(str, check['batch_sizes']))}); inputs and outputs are described "
          f"in {path}.json", file=sys.stderr)
    return 0


__all__ = ["cmd_compare", "cmd_eval", "cmd_export", "cmd_info", "cmd_report",
           "cmd_sample"]
