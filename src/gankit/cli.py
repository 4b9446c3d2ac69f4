"""The `gankit` command. Thin: flags -> config dataclasses -> the Python API.

Every error a user can cause prints one line `gankit: error: ...` and exits with code 2.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import warnings
from pathlib import Path
from typing import Any, Optional, Sequence

from ._version import __version__
from .config import DEFAULT_STEPS, RunConfig, field_type, option_fields, resume_conflicts
from .errors import ConfigError, GanKitError, GanKitWarning
from .presets import PRESETS
from .tasks import (APP_TASKS, IMAGE_GAN, TRANSLATION_TASKS, app_module, new_config, task_name,
                    task_options)


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
            help_text = f.metadata.get("help", "")
            if default not in (None, ""):
                help_text += f" (default: {default})"
            flag, dest = f"--{f.name.replace('_', '-')}", f"{section}.{f.name}"
            if field_type(f) is bool:   # a switch: --conditional, and --no-conditional to say no
                group.add_argument(flag, dest=dest, action="store_const", const=True,
                                   default=argparse.SUPPRESS, help=f.metadata.get("help", ""))
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
        return IMAGE_GAN


TRUST_HELP = ("import the plugin code the run's config.json names (only for a run you trust: a "
              "run directory's files are otherwise never run as code)")


def _add_plugin_flags(p: argparse.ArgumentParser) -> None:
    """What a command that opens a run needs for a run trained with plugins."""
    p.add_argument("--plugins", metavar="SPEC", help="import these modules or .py files first "
                   "(the ones the run was trained with); opening a run never imports them by "
                   "itself")
    p.add_argument("--trust-plugins", action="store_true", help=TRUST_HELP)


def _flag_of_other_tasks(extra: Sequence[str], task: str) -> Optional[str]:
    """For a `gankit train` flag the task does not take but another does: which tasks take it."""
    for arg in extra:
        flag = arg.split("=", 1)[0]
        if not flag.startswith("--"):
            continue
        name = flag[2:].replace("-", "_")
        if name.startswith("no_"):
            name = name[3:]
        takers = [t for t in (IMAGE_GAN, *APP_TASKS)
                  if any(f.name == name for found in option_fields(task_options(t)).values()
                         for f in found)]
        if takers:
            cli = ["gan" if t == IMAGE_GAN else t for t in (*takers, task)]
            return (f"{flag} is an option of --task {' and '.join(cli[:-1])}, not of --task "
                    f"{cli[-1]} (`gankit train --task {cli[-1]} --help` lists its options)")
    return None


def build_parser(task: str = IMAGE_GAN) -> argparse.ArgumentParser:
    """The parser; `gankit train` gets the flags of `task` (see train_task)."""
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
    t.add_argument("--task", choices=("gan", IMAGE_GAN, *APP_TASKS), default=None,
                   help="gan (default; config.json calls it image-gan, which is taken too): "
                   "images from noise; pix2pix: paired translation A -> B "
                   "(a folder with A/ and B/, or side-by-side AB images); colorize: grayscale -> "
                   "color from a folder of color photos; cyclegan: unpaired A <-> B (A/ and B/ "
                   "folders, or --domains KA,KB of a labeled dataset); text: words or sentences "
                   "from a text file, one item per line (--unit, --max-len, --vocab-size); audio: "
                   "one-second sounds from a folder of WAV files or of class folders (--model mel, "
                   "the default, wavegan or specgan; conditional by default on class folders, "
                   "--no-conditional; --audio-length); table: synthetic rows like a CSV table's "
                   "(--discrete); impute: GAIN, which fills the missing cells of a CSV table "
                   "(then `gankit impute IN.csv --run RUN`); semi-supervised: a classifier from "
                   "few labels and many unlabeled images (--labels-per-class). `gankit train --task "
                   "T --help` lists the options of task T")
    t.add_argument("--trust-plugins", action="store_true", help="with --resume: " + TRUST_HELP)
    t.add_argument("--allow-data-change", action="store_true", help="with --resume: go on even "
                   "though the data differs from what the run trained on (its item count or "
                   "first and last items)")
    if task == IMAGE_GAN:
        t.add_argument("--preset", metavar="NAME", help="a named, measured combination of the "
                       "options below (flags given beside it win): " + ", ".join(PRESETS))
    _add_config_flags(t, task)
    s = sub.add_parser("sample", help="draw samples from a trained run")
    s.add_argument("run", type=Path)
    s.add_argument("--num", type=int, default=64, help="how many samples (default 64)")
    s.add_argument("--output", type=Path, required=True, help="FILE.npz (uint8 images [N,H,W,C]), "
                   "FILE.png (a grid) or a directory (one PNG per image); for a text run FILE.txt "
                   "(one item per line); for an audio run a directory (one WAV per clip and "
                   "spectrograms.png), FILE.wav (the clips in a row) or FILE.npz; for a table "
                   "run FILE.csv")
    s.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    s.add_argument("--label", help="conditional runs: draw only this class, by number (or, for "
                   "an audio run, by name: its class folder's); default: every class equally "
                   "often; a .npz gets their `labels`")
    s.add_argument("--no-ema", action="store_true", help="use the raw generator, not its average")
    s.add_argument("--overwrite", action="store_true", help="replace an existing output")
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
    from .tabular.cli import add_commands
    add_commands(sub)
    e = sub.add_parser("eval", help="score a run's samples (FID, KID, precision/recall, classes, "
                       "held-out D loss), or a .npz of samples; a text run: n-gram JSD, valid, "
                       "novel and distinct-n against its held-out items; an audio run on a "
                       "bundled set: inception score, FID and class coverage from the set's "
                       "spectrogram classifier")
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
    cl = sub.add_parser("classify", help="classify images with a semi-supervised run: a label "
                        "and each class's probability per item")
    cl.add_argument("run", type=Path)
    cl.add_argument("inputs", type=Path, nargs="+", metavar="INPUT",
                    help="image files (resized to the run's size), folders of them, or .npy/.npz "
                    "arrays (`images` or `x`: one item per row)")
    cl.add_argument("--output", type=Path, help="FILE.csv (item, label, class, p_<class>...) or "
                    "FILE.npz (`labels`, `probs`, `names`, `classes`); default: CSV on stdout")
    cl.add_argument("--overwrite", action="store_true", help="replace an existing output")
    r = sub.add_parser("report", help="one self-contained HTML page about a run: curves, samples "
                       "over training, interpolations, memorization and health checks")
    r.add_argument("run", type=Path)
    r.add_argument("--output", type=Path, help="the .html file (default ./RUNNAME-report.html; "
                   "never inside the run directory)")
    r.add_argument("--overwrite", action="store_true", help="replace --output even if it is not "
                   "a gankit report")
    r.add_argument("--no-memorization", action="store_true", help="skip the nearest-neighbour "
                   "check (the slowest part on large datasets)")
    r.add_argument("--data", type=Path, metavar="IN.csv", help="a table or impute run: the real "
                   "table to compare with (default: the one it was trained on)")
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
    for opens_a_run in (s, a, e, tr, cl, r, c, x):
        _add_plugin_flags(opens_a_run)
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
    from .api import GAN, load_run
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
        gan.config = _with(gan.config, given)
        gan.task.cfg = gan.config
        if {"lr", "lr_d"} & set(given.get("train", {})):
            from .train.optim import set_learning_rates
            set_learning_rates(gan.task.optimizers, gan.config.train)
        if gan.dist.is_main:
            gan.check_data()
            gan.claim_run()   # before anything in it changes
            write_config(gan.run_dir, gan.config)
            print(f"resuming {gan.run_dir} at step {gan.step}", file=sys.stderr)
    else:
        task = task_name(args.task)
        options = {k: v for section in given.values() for k, v in section.items()}
        if task != IMAGE_GAN and "dataset" not in options:
            raise ConfigError(f"--task {args.task} needs --dataset (its data)")
        cfg = new_config(task, getattr(args, "preset", None), **options)
        t = cfg.train
        if t.steps is None and t.epochs is None and t.max_time is None and \
                not task_options(task).LENGTH_FROM_DATA:
            cfg = cfg.replace(train=dataclasses.replace(t, steps=DEFAULT_STEPS))
        if task == IMAGE_GAN:
            gan = GAN(config=cfg, dataset=cfg.data.dataset, out=args.out)
        else:
            gan = app_module(task).new_run(task, cfg, args.out)
    t = gan.config.train
    until = t.steps
    if t.epochs is not None:
        epoch_steps = gan.steps_for_epochs(t.epochs)
        until = epoch_steps if until is None else min(until, epoch_steps)
    gan.fit(until=until, max_time=t.max_time, progress=False if args.no_progress else None)
    return _report_end(gan) if gan.dist.is_main else 0


def _report_end(gan: Any) -> int:
    task = gan.config.task
    from .info import PREVIEWS
    end = ".png and .wav" if task == "audio" else PREVIEWS.get(task, ".png")
    last = f"{gan.run_dir}/samples/step-{gan.step:07d}" + end
    if task in TRANSLATION_TASKS:
        use = f"translate: gankit translate {gan.run_dir} IMAGES... --output DIR"
    elif task == "impute":
        use = f"impute: gankit impute IN.csv --run {gan.run_dir} --output OUT.csv"
    else:
        use = (f"sample more: gankit sample {gan.run_dir} --num 64 --output samples"
               + {"text": ".txt", "audio": "/", "table": ".csv"}.get(task, ".png"))
    print(f"stopped: {gan.stop_reason} at step {gan.step}; run directory {gan.run_dir}\n"
          f"  samples: {last}\n  curves:  {gan.run_dir}/curves.png\n  {use}", file=sys.stderr)
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
    label = args.label
    if label is not None and label.lstrip("-").isdigit():
        label = int(label)
    labels = gan.labels_for(label, args.num)
    samples = gan.sample(args.num, seed=args.seed, ema=not args.no_ema, labels=labels)
    where = gan.save(samples, args.output, overwrite=args.overwrite, labels=labels)
    print(f"wrote {args.num} samples to {where}", file=sys.stderr)
    return 0


def cmd_augment(args: argparse.Namespace) -> int:
    from .apps.augment import augment_run, describe
    report = augment_run(args.run, args.per_class, args.output, args.min_confidence, args.seed,
                         args.overwrite)
    print(f"wrote {describe(report)} to {report['output']}", file=sys.stderr)
    return 0


def cmd_edges(args: argparse.Namespace) -> int:
    from .data import load_dataset
    from .data.edges import write_edge_pairs
    from .errors import DataError
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


def cmd_audio_data(args: argparse.Namespace) -> int:
    from .data.audio_sets import build
    path = build(args.name, args.output, seed=args.seed, per_class=args.per_class,
                 test_per_class=args.test_per_class)
    meta = json.loads((path / "dataset.json").read_text())
    counts = {split: sum(n.values()) for split, n in meta["counts"].items()}
    print(f"built {args.name} in {path}: {counts.get('train', 0)} training and "
          f"{counts.get('test', 0)} held-out clips, {len(meta['classes'])} classes; train on it "
          f"with: gankit train --task audio --dataset {path} --conditional", file=sys.stderr)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation import (evaluate_images, evaluate_run, format_results, load_samples,
                             parse_metrics, summary)
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
        if hasattr(gan, "metric_results"):   # a task with scores of its own (text)
            results = gan.metric_results(args.num, args.seed, args.split)
        else:
            results = evaluate_run(gan, args.num, metrics, args.split, args.extractor, args.seed)
    else:
        if not args.dataset:
            raise ConfigError("--samples needs --dataset NAME (the reference data)")
        if "dloss" in metrics:
            raise ConfigError("dloss needs a run's discriminator: evaluate the run, not --samples")
        results = evaluate_images(load_samples(args.samples), args.dataset, metrics, args.split,
                                  args.extractor, args.seed)
    print(json.dumps(summary(results), indent=2) if args.json else format_results(results))
    return 0


def cmd_translate(args: argparse.Namespace) -> int:
    from .api import load_run
    from .apps.translate import TASKS, translate_files
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


def cmd_classify(args: argparse.Namespace) -> int:
    from .api import load_run
    from .apps.semi import TASK, classify_items, write_predictions
    gan = load_run(args.run, weights_only=True)
    if gan.config.task != TASK:
        raise ConfigError(f"{args.run} is a {gan.config.task} run; `gankit classify` takes a "
                          f"{TASK} run (gankit train --task {TASK})")
    names, probs = classify_items(gan, args.inputs)
    write_predictions(names, probs, gan.classes, args.output, args.overwrite)
    if args.output is not None:
        print(f"wrote {len(names)} predictions to {args.output}", file=sys.stderr)
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


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    task = train_task(argv[1:]) if argv[:1] == ["train"] else IMAGE_GAN
    parser = build_parser(task)
    args, extra = parser.parse_known_args(argv)
    if extra and args.command == "train":
        elsewhere = _flag_of_other_tasks(extra, task)
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
    from .tabular.cli import run_impute, run_synth
    commands = {"train": cmd_train, "sample": cmd_sample, "info": cmd_info, "eval": cmd_eval,
                "impute": run_impute, "synth": run_synth, "report": cmd_report,
                "compare": cmd_compare, "export": cmd_export, "translate": cmd_translate,
                "augment": cmd_augment, "audio-data": cmd_audio_data,
                "edges": cmd_edges, "classify": cmd_classify}
    try:
        _import_plugins(args)
        return commands[args.command](args)
    except GanKitError as e:
        print(f"gankit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:   # a second Ctrl-C: stopped at once, nothing more saved
        print("gankit: interrupted at once; the last checkpoint saved before stays the latest",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
