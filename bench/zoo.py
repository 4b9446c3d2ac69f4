"""Benchmark: the GAN zoo on Fashion-MNIST (or MNIST) at equal CPU budgets.

Each configuration (objective x stabilizer x architecture x conditioning) trains in a process of
its own with ONE thread, and its budget is that process's CPU time spent training (evaluation
excluded). Counting CPU time rather than wall time keeps the comparison fair when configurations
run side by side (`--parallel 2` on this 2-core machine) or share the machine with other work.
At each mark: FID of 10,000 EMA samples against the test split (shipped classifier features), the
classes covered, and for conditional models the share of samples the shipped classifier puts in
the requested class (overall and the worst class). Prints a markdown table; docs/benchmarks.md quotes it.

Each configuration's log and sample grids go to OUT/ (bench/runs/zoo, not tracked); when it is
done, one line goes to bench/records/zoo.jsonl (bench/record.py: the command, machine, date,
commit and its rows). --collect trains nothing and prints the table from the records alone (the
latest record of each configuration on --dataset).

    python bench/zoo.py [--dataset fashion-mnist] [--minutes 5 10] [--configs default hinge-sn ...]
                        [--parallel 2] [--out bench/runs/zoo] [--collect]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import record

# Options of each configuration, as gankit.GAN keyword arguments. "default" is the core's default.
CONFIGS: dict[str, dict] = {
    "fast-cpu": {},                      # the defaults
    "classic": {"lr": 2e-4},             # the core's default before this benchmark
    "lsgan": {"loss": "lsgan", "lr": 2e-4},
    "hinge-sn": {"loss": "hinge", "d_norm": "spectral", "lr": 2e-4},
    "wgan-gp": {"loss": "wgan-gp", "d_norm": "none", "n_critic": 5, "lr": 1e-4, "beta1": 0.0,
                "beta2": 0.9},
    "diffaug": {"augment": "translation,cutout", "lr": 2e-4},
    "r1": {"d_norm": "none", "r1_gamma": 0.1, "lr": 2e-4},
    "resnet": {"model": "resnet", "loss": "hinge", "lr": 2e-4},
    "r3gan": {"model": "r3gan", "loss": "rpgan", "d_norm": "none", "r1_gamma": 0.05,
              "r2_gamma": 0.05, "lr": 2e-4, "beta1": 0.0, "beta2": 0.99},   # --preset r3gan
    "rpgan": {"loss": "rpgan", "r1_gamma": 0.05, "r2_gamma": 0.05},        # its loss, our nets
    "cond-proj": {"conditional": True},
    "cond-acgan": {"conditional": True, "cond": "acgan"},
    "cond-proj-nonorm": {"conditional": True, "d_norm": "none"},
}


def worker(name: str, args: argparse.Namespace) -> dict:
    import torch
    torch.set_num_threads(1)
    from cpu_budget import train_until

    import gankit
    from gankit.metrics import evaluate
    from gankit.viz import make_grid, save_png, to_uint8

    out = args.out / name
    out.mkdir(parents=True, exist_ok=True)
    gan = gankit.GAN(dataset=args.dataset, seed=args.seed, **CONFIGS[name])
    trainer = gan.run.trainer
    conditional = gan.config.model.conditional
    marks = sorted(m * 60 for m in args.minutes)
    rows: list[dict] = []
    z = gan.task.noise(100, torch.Generator(gan.device).manual_seed(123))

    spent, wall = 0.0, 0.0
    for mark in marks:
        t0 = time.monotonic()
        spent = train_until(trainer, mark, spent)
        wall += time.monotonic() - t0
        rows_of_class = torch.arange(100) // 10 % max(gan.config.num_classes, 1)
        grid = to_uint8(gan.task.generate(z, labels=rows_of_class if conditional else None))
        save_png(make_grid(grid, nrow=10), out / f"grid-{mark / 60:g}min.png", scale=2)
        n = args.n_eval
        eval_labels = gan.balanced_labels(n) if conditional else None
        images = gan.sample(n, seed=0, labels=eval_labels)
        res = evaluate(images, args.dataset, metrics=("fid", "classes"), labels=eval_labels)
        row = {"config": name, "minutes": round(mark / 60, 4), "cpu_s": round(spent, 1),
               "wall_s": round(wall, 1), "steps": trainer.step, "fid": res["fid"].value,
               "classes": res["classes"].value}
        if conditional:
            acc = res["label_accuracy"]
            row.update(cond_acc=acc.value, cond_acc_min=acc.extra["worst_class"],
                       cond_acc_per_class=acc.extra["per_class"])
        rows.append(row)
        print(json.dumps(row), flush=True)
    return {"config": name, "options": CONFIGS[name], "rows": rows}


def from_log(name: str, args: argparse.Namespace) -> dict:
    log = args.out / f"{name}.log"
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")] \
        if log.is_file() else []
    return {"config": name, "options": CONFIGS[name], "rows": rows}


def run_one(name: str, args: argparse.Namespace) -> dict:
    """A configuration in a fresh single-threaded process; returns its rows."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [sys.executable, __file__, "--worker", name, "--dataset", args.dataset, "--seed",
           str(args.seed), "--n-eval", str(args.n_eval), "--out", str(args.out), "--minutes",
           *[str(m) for m in args.minutes]]
    log = args.out / f"{name}.log"
    args.out.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        print(f"{name}: failed (exit {proc.returncode}); see {log}", file=sys.stderr)
        return {"config": name, "options": CONFIGS[name], "rows": []}
    print(f"{name}: done", flush=True)
    result = from_log(name, args)
    record.append("zoo", [{"dataset": args.dataset, **result, "seed": args.seed,
                           "n_eval": args.n_eval}])
    return result


def from_records(name: str, args: argparse.Namespace) -> dict:
    """The configuration's latest record on --dataset (rows [] and "missing" if none)."""
    recs = record.read("zoo", keep=lambda r: (r["row"]["dataset"], r["row"]["config"])
                       == (args.dataset, name))
    if not recs:
        return {"config": name, "options": CONFIGS[name], "rows": [], "missing": True}
    return {**recs[-1]["row"], "record": recs[-1]}


def table(results: list[dict], minutes: list[float]) -> str:
    def opts(o: dict) -> str:
        return " ".join(f"--{k.replace('_', '-')}" + ("" if v is True else f" {v}")
                        for k, v in o.items()) or "(defaults)"
    head = ["config", "flags"] + [f"steps @{m:g}" for m in minutes] + \
        [f"FID @{m:g} min" for m in minutes] + ["classes", "cond. acc. (worst class)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        by_min = {round(row["minutes"], 4): row for row in r["rows"]}
        if not by_min:
            lines.append(f"| {r['config']} | {opts(r['options'])} | "
                         f"{'no record' if r.get('missing') else 'failed'} |")
            continue
        last = by_min[max(by_min)]
        acc = (f"{last['cond_acc']:.1%} ({last['cond_acc_min']:.1%})" if "cond_acc" in last
               else "–")
        cells = [r["config"], opts(r["options"])]
        cells += [str(by_min[m]["steps"]) if m in by_min else "–" for m in minutes]
        cells += [f"{by_min[m]['fid']:.1f}" if m in by_min else "–" for m in minutes]
        cells += [f"{last['classes']:g}/10", acc]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--minutes", type=float, nargs="+", default=[5, 10],
                   help="CPU-minute marks (one thread) at which to evaluate")
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--parallel", type=int, default=2, help="configurations run side by side")
    p.add_argument("--n-eval", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("bench/runs/zoo"),
                   help="logs and sample grids (git-ignored)")
    p.add_argument("--collect", action="store_true",
                   help="train nothing: print the table from the records (bench/records/zoo.jsonl)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.worker, args)
        return
    t0 = time.time()
    if not args.collect:
        with ThreadPoolExecutor(args.parallel) as pool:
            list(pool.map(lambda n: run_one(n, args), args.configs))
    results = [from_records(n, args) for n in args.configs]
    recs = [r["record"] for r in results if "record" in r]
    print(f"\n{args.dataset}, FID of EMA samples vs the test split (shipped classifier "
          f"features); budget = CPU time of one thread spent training; {record.describe(recs)}; "
          f"this invocation {(time.time() - t0) / 60:.0f} min wall with {args.parallel} in "
          f"parallel\n")
    print(table(results, sorted(round(m, 4) for m in args.minutes)))


if __name__ == "__main__":
    main()
