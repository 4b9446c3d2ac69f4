"""Benchmark: does GAN data augmentation help a classifier that has little labeled data?

The low-data protocol. For each dataset, K (labeled images per class) and seed:
  1. keep K training images of each class, chosen by the seed; nothing else of the training split
     is used by anything below;
  2. train a conditional GAN (--gan-preset, default small-data: DiffAugment) on those images only,
     for a fixed CPU budget (--gan-minutes of one thread, however many images K gives);
  3. train one fixed small CNN, from the same initial weights and for the same number of steps,
     on each arm's data:
       real              the K-per-class images
       real+classical    the same, each batch randomly shifted (±2 px) and rotated (±10°), and for
                         Fashion-MNIST mirrored left-right (never digits: a mirrored 2 is no 2)
       real+GAN          gankit.tasks.gan.mixed.MixedDataset: the real images plus fresh
                         balanced GAN draws each epoch, --synthetic-ratio of each epoch's items
                         synthetic
       real+classical+GAN  both (the classical transforms apply to real and synthetic alike)
       GAN only          fresh GAN draws only, as many per epoch as there are real images: the
                         classification accuracy score (CAS, Ravuri & Vinyals 2019)
  4. report the test-split accuracy of each arm (mean ± std over seeds) and CPU times.

No arm uses the shipped domain classifier to filter samples (`--min-confidence`): it was trained
on the whole training split, so filtering with it would smuggle the labels of thousands of images
into the low-data arms. It appears only in the GAN's diagnostic "label acc." column.

Each (dataset, K, seed) runs in a process of its own with ONE thread and writes its log, its
GAN's sample grid and OUT/DATASET-kK-sSEED.json (OUT: bench/runs/augment, not tracked); when it
is done, one line goes to bench/records/augment.jsonl (bench/record.py: the command, machine,
date, commit and the job's result). A rerun skips the jobs that have a record with the same
settings, so an interrupted run resumes, and --collect prints the table from the records alone.

    python bench/augment.py [--datasets mnist fashion-mnist] [--ks 10 50 200] [--seeds 3]
                            [--gan-minutes 10] [--clf-steps 2000] [--parallel 2]
                            [--out bench/runs/augment] [--collect]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import record
from cpu_budget import add_job_flags, finish_jobs, run_logged

ARMS = ("real", "real+classical", "real+GAN", "real+classical+GAN", "GAN only")
CLF_BATCH = 64
CLF_LR = 1e-3
N_LABEL_CHECK = 1000   # GAN samples the shipped classifier judges, for the diagnostic column


def gan_minutes(args: argparse.Namespace, k: int) -> float:
    """--gan-minutes: one budget for every K, or one per K in the order of --ks."""
    return args.gan_minutes[0] if len(args.gan_minutes) == 1 else \
        args.gan_minutes[args.ks.index(k)]


def settings(args: argparse.Namespace, k: int) -> dict:
    """What a finished job must have been run with to count for these flags."""
    return {"gan_minutes": gan_minutes(args, k), "gan_preset": args.gan_preset,
            "clf_steps": args.clf_steps, "synthetic_ratio": args.synthetic_ratio}


# ---------------------------------------------------------------- one job, in its own process


def small_cnn(classes: int):
    """The fixed classifier every arm trains: two conv blocks and a hidden layer (~420k weights)."""
    from torch import nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # [B, 32, 14, 14]
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # [B, 64, 7, 7]
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(128, classes))


def classical(x, gen, mirror: bool):
    """Random shift (±2 px), rotation (±10°) and optionally a left-right mirror of a batch of
    [0, 1] images [B, C, H, W]; the background (0) fills what moves in."""
    import torch
    import torch.nn.functional as F
    b, _, h, w = x.shape
    angle = (torch.rand(b, generator=gen) * 2 - 1) * math.radians(10)
    shift = torch.randint(-2, 3, (b, 2), generator=gen).float()   # whole pixels
    sx = torch.where(torch.rand(b, generator=gen) < 0.5, -1.0, 1.0) if mirror else torch.ones(b)
    cos, sin = angle.cos(), angle.sin()
    # affine_grid maps output to input coordinates in [-1, 1]: a pixel is 2/W wide
    theta = torch.stack([torch.stack([cos * sx, -sin, -shift[:, 0] * 2 / w], 1),
                         torch.stack([sin * sx, cos, -shift[:, 1] * 2 / h], 1)], 1)   # [B, 2, 3]
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class GanOnly:
    """Fresh balanced GAN draws, `per_class` of each class per epoch (the GAN-only arm)."""

    def __init__(self, gan, per_class: int, seed: int):
        self.gan, self.per_class, self.seed, self.epoch = gan, per_class, seed, None
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        from gankit.tasks.gan.augment import synthesize
        if epoch != self.epoch:
            self.epoch = epoch
            self.images, self.labels, _ = synthesize(self.gan, self.per_class,
                                                     seed=self.seed * 100_003 + epoch + 1)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.images[i], self.labels[i]


def train_classifier(arm: str, make_data, test, seed: int, steps: int, mirror: bool,
                     classes: int) -> dict:
    """Train the fixed CNN for `steps` steps on the dataset `make_data()` builds (uint8 items);
    its accuracy on `test`. The CPU time counts building the data (GAN arms: drawing samples)."""
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader
    t0 = time.process_time()
    data = make_data()
    torch.manual_seed(seed)   # the same initial weights in every arm
    net = small_cnn(classes)
    opt = torch.optim.Adam(net.parameters(), lr=CLF_LR)
    order, aug = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)
    loader = DataLoader(data, batch_size=CLF_BATCH, shuffle=True, generator=order)
    step, epoch, seen = 0, 0, 0
    net.train()
    while step < steps:
        if hasattr(data, "set_epoch"):
            data.set_epoch(epoch)   # fresh synthetic images every epoch
        for xb, yb in loader:
            x = xb.float() / 255   # [B, 1, 28, 28] in [0, 1]
            if "classical" in arm:
                x = classical(x, aug, mirror)
            loss = F.cross_entropy(net(x * 2 - 1), yb.long())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step, seen = step + 1, seen + len(yb)
            if step == steps:
                break
        epoch += 1
    train_s = time.process_time() - t0
    net.eval()
    x_test, y_test = test
    with torch.no_grad():
        pred = torch.cat([net(x_test[i:i + 1000].float() / 127.5 - 1).argmax(1)
                          for i in range(0, len(x_test), 1000)])
    return {"arm": arm, "acc": float((pred == y_test).float().mean()), "cpu_s": round(train_s, 1),
            "epochs": epoch, "items_seen": seen, "final_loss": loss.item()}


def subset(labels, k: int, seed: int):
    """Indices of k training images of each class, chosen by the seed."""
    import numpy as np
    rng = np.random.default_rng(seed)
    classes = sorted(set(labels.tolist()))
    return np.sort(np.concatenate([rng.choice(np.flatnonzero(labels.numpy() == c), k,
                                              replace=False) for c in classes]))


def train_gan(x, y, args: argparse.Namespace, k: int, seed: int):
    """A conditional GAN on the subset alone, trained for --gan-minutes of this process's CPU."""
    import gankit

    gan = gankit.GAN(dataset=(x, y), conditional=True, preset=args.gan_preset, seed=seed,
                     batch_size=min(64, len(x)))
    trainer = gan.run.trainer   # as bench/zoo.py: train without writing a run directory

    from cpu_budget import train_until
    used = train_until(trainer, gan_minutes(args, k) * 60)
    return gan, {"steps": trainer.step, "cpu_s": round(used, 1)}


def gan_diagnostics(gan, dataset: str, path: Path) -> dict:
    """A 10x10 grid (a row per class) and the share of balanced samples the shipped classifier
    puts in the class asked for (a look at the GAN only; no arm uses this classifier)."""
    import torch

    from gankit.evaluation import default_extractor
    from gankit.viz import make_grid, save_png, to_uint8
    rows = torch.arange(100) // 10
    save_png(make_grid(to_uint8(gan.sample(100, seed=0, labels=rows)), nrow=10), path, scale=2)
    labels = gan.balanced_labels(N_LABEL_CHECK)
    images = gan.sample(N_LABEL_CHECK, seed=1, labels=labels)
    pred = default_extractor(dataset).predict_proba(images).argmax(1)
    return {"label_acc": float((pred == labels).float().mean())}


def worker(dataset: str, k: int, seed: int, args: argparse.Namespace) -> None:
    import torch
    torch.set_num_threads(1)
    from gankit.data import load_dataset
    from gankit.tasks.gan.mixed import MixedDataset

    train, test = load_dataset(dataset, "train"), load_dataset(dataset, "test")
    index = torch.from_numpy(subset(train.labels, k, seed))
    x, y = train.images[index], train.labels[index]   # uint8 [10k, 1, 28, 28], int64 [10k]
    classes = int(train.labels.max()) + 1
    gan, gan_row = train_gan(x, y, args, k, seed)
    gan_row.update(gan_diagnostics(gan, dataset, args.out / f"{job_name(dataset, k, seed)}.png"))
    print(json.dumps({"gan": gan_row}), flush=True)
    arms = {}
    makers = {"GAN only": lambda: GanOnly(gan, k, seed),
              "GAN": lambda: MixedDataset((x, y), gan, args.synthetic_ratio, seed=seed),
              "real": lambda: torch.utils.data.TensorDataset(x, y)}
    for arm in ARMS:
        make = makers[arm] if arm in makers else makers["GAN" if "GAN" in arm else "real"]
        arms[arm] = train_classifier(arm, make, (test.images, test.labels), seed, args.clf_steps,
                                     mirror=dataset != "mnist", classes=classes)
        print(json.dumps(arms[arm]), flush=True)
    result = {"dataset": dataset, "k": k, "seed": seed, "settings": settings(args, k),
              "data_note": train.note, "n_train_split": len(train.labels),
              "n_test": len(test.labels), "gan": gan_row, "arms": arms,
              "torch": torch.__version__, "date": time.strftime("%Y-%m-%d")}
    path = args.out / f"{job_name(dataset, k, seed)}.json"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, path)   # a job's file is whole or absent: a killed job is simply rerun


# ---------------------------------------------------------------- the driver


def job_name(dataset: str, k: int, seed: int) -> str:
    return f"{dataset}-k{k}-s{seed}"


def finished(dataset: str, k: int, seed: int, args: argparse.Namespace):
    """The job's result if it has a record with the current settings, else None."""
    recs = record.read("augment", keep=lambda r: (r["row"]["dataset"], r["row"]["k"],
                                                  r["row"]["seed"]) == (dataset, k, seed)
                       and r["row"]["settings"] == settings(args, k))
    if not recs:
        return None
    rec = recs[-1]
    return {**rec["row"], "machine": rec["machine"], "date": rec["date"], "torch": rec["torch"]}


def run_job(job: tuple[str, int, int], args: argparse.Namespace):
    dataset, k, seed = job
    name = job_name(*job)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [sys.executable, __file__, "--worker", dataset, str(k), str(seed), "--out",
           str(args.out), "--ks", str(k), "--gan-minutes", str(gan_minutes(args, k)),
           "--gan-preset", args.gan_preset, "--clf-steps", str(args.clf_steps), "--synthetic-ratio",
           str(args.synthetic_ratio)]
    wall = run_logged(cmd, env, args.out / f"{name}.log", name)
    if wall is None:
        return None
    result = json.loads((args.out / f"{name}.json").read_text())
    record.append("augment", [{**{k: v for k, v in result.items() if k not in ("date", "torch")},
                               "wall_min": round(wall, 1)}])
    print(f"{name}: done in {wall:.1f} min wall", flush=True)
    return finished(dataset, k, seed, args)


def _mean_std(values: list[float]) -> tuple[float, float]:
    m = sum(values) / len(values)
    if len(values) < 2:
        return m, float("nan")
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def format_acc(values: list[float]) -> str:
    m, s = _mean_std(values)
    return f"{100 * m:.1f}" if math.isnan(s) else f"{100 * m:.1f} ± {100 * s:.1f}"


def tables(results: list[dict], args: argparse.Namespace) -> str:
    groups: dict[tuple[str, int], list[dict]] = {}
    for r in results:
        groups.setdefault((r["dataset"], r["k"]), []).append(r)
    acc = ["| dataset | K/class | seeds | " + " | ".join(ARMS) + " | GAN label acc. |",
           "|" + "---|" * (len(ARMS) + 4)]
    cpu = ["| dataset | K/class | GAN steps | GAN CPU min | " + " | ".join(ARMS) + " |",
           "|" + "---|" * (len(ARMS) + 4)]
    for (dataset, k), rs in sorted(groups.items()):
        acc.append(f"| {dataset} | {k} | {len(rs)} | "
                   + " | ".join(format_acc([r["arms"][a]["acc"] for r in rs]) for a in ARMS)
                   + f" | {format_acc([r['gan']['label_acc'] for r in rs])} |")
        steps = _mean_std([r["gan"]["steps"] for r in rs])[0]
        gan_min = _mean_std([r["gan"]["cpu_s"] / 60 for r in rs])[0]
        cpu.append(f"| {dataset} | {k} | {steps:.0f} | {gan_min:.1f} | "
                   + " | ".join(f"{_mean_std([r['arms'][a]['cpu_s'] for r in rs])[0]:.0f} s"
                                for a in ARMS) + " |")
    return "\n".join(acc) + "\n\nCPU time (one thread, mean over seeds; GAN arms include drawing " \
        "their samples):\n\n" + "\n".join(cpu)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"])
    p.add_argument("--ks", type=int, nargs="+", default=[10, 50, 200],
                   help="labeled training images kept per class")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per (dataset, K)")
    p.add_argument("--gan-minutes", type=float, nargs="+", default=[10.0],
                   help="CPU minutes (one thread) of GAN training per (dataset, K, seed): one "
                   "value for every K, or one per K in the order of --ks")
    p.add_argument("--gan-preset", default="small-data")
    p.add_argument("--clf-steps", type=int, default=2000,
                   help=f"classifier steps of batch {CLF_BATCH}, the same in every arm")
    p.add_argument("--synthetic-ratio", type=float, default=0.5,
                   help="share of synthetic items in each epoch of the real+GAN arms")
    add_job_flags(p, "bench/runs/augment", parallel=2, worker_args=3)
    args = p.parse_args()
    if len(args.gan_minutes) not in (1, len(args.ks)):
        p.error(f"--gan-minutes takes one value or one per K ({len(args.ks)})")
    if not args.collect:
        args.out.mkdir(parents=True, exist_ok=True)
    if args.worker:
        dataset, k, seed = args.worker
        worker(dataset, int(k), int(seed), args)
        return
    t0 = time.time()
    jobs = [(d, k, s) for d in args.datasets for k in args.ks for s in range(args.seeds)]
    done, pending = finish_jobs(jobs, lambda job: finished(*job, args),
                                lambda job: run_job(job, args), args.parallel, args.collect)
    results = [r for r in done.values() if r is not None]
    missing = [job_name(*job) for job in pending]
    notes = sorted({r["data_note"] or f"{r['dataset']}: the full train split" for r in results})
    # the records' own machines and dates, not this machine's
    machines = sorted({"a machine not recorded" if r["machine"] == record.UNRECORDED
                       else r["machine"] for r in results})
    dates = sorted({r["date"][:10] for r in results}) or ["-"]
    print(f"\nTest-split accuracy (%) of one fixed CNN ({args.clf_steps} steps of batch "
          f"{CLF_BATCH}, Adam {CLF_LR:g}) trained on K labeled images per class, mean ± std over "
          f"seeds; the conditional GAN ({args.gan_preset} preset) saw only those images, for "
          f"{'/'.join(f'{m:g}' for m in args.gan_minutes)} CPU-minutes; synthetic ratio "
          f"{args.synthetic_ratio:g}. "
          f"Data: {'; '.join(notes) or '-'}. Run on {'; '.join(machines) or '-'}, torch "
          f"{', '.join(sorted({r['torch'] for r in results})) or '-'}, {dates[0]} to {dates[-1]}; "
          f"this invocation {(time.time() - t0) / 60:.0f} min wall with {args.parallel} in "
          f"parallel\n")
    print(tables(results, args))
    if missing:
        print(f"\nnot finished with these settings: {', '.join(missing)}")


if __name__ == "__main__":
    main()
