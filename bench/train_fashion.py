"""Benchmark: the default DCGAN on Fashion-MNIST for 2, 5 and 10 minutes of this machine's CPU.

One run, with a sample grid and FID taken when the training clock passes each mark (a single
10-minute run passes through the same states as separate 2- and 5-minute runs). Prints a table of
step/s, img/s, FID, classes covered and the grid paths; docs/benchmarks.md quotes it with machine and date.
The run directory (config, training log, grids, checkpoints) is --out, under bench/runs/ (not
tracked); the table's rows go to bench/records/train_fashion.jsonl (bench/record.py: the command,
machine, date, commit and the row), and --collect prints the table of each recorded run from
those records alone.

    python bench/train_fashion.py [--minutes 2 5 10] [--out bench/runs/fashion] [gankit train flags]
    python bench/train_fashion.py --collect
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import record
import torch

import gankit
from gankit.metrics import evaluate
from gankit.rundir import hardware
from gankit.train.trainer import Callback
from gankit.viz import make_grid, save_png, to_uint8


class Marks(Callback):
    """At each mark of training time: a 10x10 grid from fixed noise, the throughput so far, and
    FID / class coverage of 10,000 samples against the test split (evaluation time is excluded
    from the training clock)."""

    def __init__(self, gan: gankit.GAN, marks_s: list[float], out: Path, n_eval: int):
        self.gan, self.marks, self.out, self.rows = gan, sorted(marks_s), out, []
        self.z = gan.task.noise(100, torch.Generator(gan.device).manual_seed(123))
        self.n_eval, self.eval_s = n_eval, 0.0

    def on_step(self, trainer) -> None:
        train_s = trainer.elapsed - self.eval_s
        if self.marks and train_s >= self.marks[0]:
            t0 = time.monotonic()
            mark = self.marks.pop(0)
            path = self.out / f"grid-{mark / 60:g}min.png"
            save_png(make_grid(to_uint8(self.gan.task.generate(self.z)), nrow=10), path, scale=2)
            res = evaluate(self.gan.sample(self.n_eval, seed=0), "fashion-mnist",
                           metrics=("fid", "classes"))
            self.rows.append((mark, trainer.step, trainer.nimg, train_s, path, res["fid"].value,
                              res["classes"].value))
            print(f"  mark {mark / 60:g} min: step {trainer.step}, FID {res['fid'].value:.2f}",
                  flush=True)
            self.eval_s += time.monotonic() - t0
            if not self.marks:
                trainer.stop_reason = "last mark reached"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--minutes", type=float, nargs="+", default=[2, 5, 10])
    p.add_argument("--out", type=Path, default=Path("bench/runs/fashion"))
    p.add_argument("--n-eval", type=int, default=10_000, help="samples per FID evaluation")
    p.add_argument("--collect", action="store_true", help="train nothing: print the tables from "
                   "the records (bench/records/train_fashion.jsonl)")
    args, extra = p.parse_known_args()
    if args.collect:
        return collect()
    options = {}
    for k, v in zip(extra[::2], extra[1::2]):   # --batch-size 128 -> batch_size=128
        options[k.lstrip("-").replace("-", "_")] = type_of(v)
    out = args.out
    if out.exists():
        out = out.with_name(f"{out.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    gan = gankit.GAN(dataset="fashion-mnist", out=out, sample_every=2000, checkpoint_every=10**9,
                     log_every=200, **options)
    marks = Marks(gan, [m * 60 for m in args.minutes], out, args.n_eval)
    trainer = gan.run.trainer
    gan.run.start_run_dir()
    trainer.callbacks = gan.run.hooks.callbacks(10**9, None, False) + [marks]
    trainer.fit(10**9)
    cfg = gan.config
    setting = {"run": str(out), "model": cfg.model.model, "width": cfg.model.width,
               "z_dim": cfg.model.z_dim, "batch_size": cfg.train.batch_size, "lr": cfg.train.lr,
               "options": options, "threads": torch.get_num_threads(), "n_eval": args.n_eval}
    record.append("train_fashion", [
        {"minutes": mark / 60, "steps": step, "images": nimg, "train_s": round(elapsed, 2),
         "fid": fid, "classes": covered, "grid": str(path), **setting}
        for mark, step, nimg, elapsed, path, fid, covered in marks.rows])
    print(f"\nmachine: {hardware()}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"date {time.strftime('%Y-%m-%d')}")
    print_table(record.read("train_fashion")[-len(marks.rows):])


def print_table(recs: list[dict]) -> None:
    r0 = recs[0]["row"]
    print(f"model {r0['model']} width {r0['width'] or 'default'} z_dim {r0['z_dim']}, "
          f"batch {r0['batch_size']}, lr {r0['lr']}\n")
    print("| minutes | steps | images | step/s | img/s | FID (10k, test) | classes covered | "
          "sample grid |")
    print("|---|---|---|---|---|---|---|---|")
    for rec in recs:
        r = rec["row"]
        print(f"| {r['minutes']:g} | {r['steps']} | {r['images']} | {r['steps'] / r['train_s']:.1f} "
              f"| {r['images'] / r['train_s']:.0f} | {r['fid']:.2f} | {r['classes']:g}/10 | "
              f"{r['grid']} |")


def collect() -> None:
    """A table per recorded run (its run directory), from the records alone."""
    recs = record.read("train_fashion")
    for run in dict.fromkeys(r["row"].get("run") for r in recs):
        group = [r for r in recs if r["row"].get("run") == run]
        print(f"\nrun {run or 'not recorded'}: {record.describe(group)}")
        table = [r for r in group if "fid" in r["row"]]
        for r in group:
            if "fid" not in r["row"]:
                print(f"(a record without the table's rows: {json.dumps(r['row'])})")
        if table:
            print_table(table)


def type_of(v: str):
    for t in (int, float):
        try:
            return t(v)
        except ValueError:
            pass
    return v


if __name__ == "__main__":
    sys.exit(main())
