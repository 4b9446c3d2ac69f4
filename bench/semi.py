"""Benchmark: does a semi-supervised GAN turn unlabeled images into accuracy (issue 19)?

The protocol. For each dataset (mnist: the 4,500 / 500 digits that ship offline when the MNIST
files are not cached; fashion-mnist: 60,000 / 10,000), K (labeled images per class) and seed:
  1. K training images of each class are labeled, drawn by gankit.tasks.semi.data.choose_labeled from
     the seed (the very ones `SemiGAN(..., labels_per_class=K, seed=S)` draws); the rest of the
     training split is unlabeled (its labels are never read); the test split is only scored;
  2. each arm below gets the same CPU budget (--minutes of ONE thread, time.process_time of its
     own process), which covers everything the arm does after loading the data: training a GAN,
     drawing its samples, pseudo-labeling passes, training the classifier. Test-split scoring is
     outside the budget;
  3. every arm's classifier is the same net, gankit.nets.semi.SemiClassifier with the task's
     default sizes (an MLP 1000-500-250-250-250 with weight norm and Gaussian noise), trained with
     Adam (--lr, default the task's 3e-3, beta1 0.5) on batches of min(100, labeled items):
       labels      cross-entropy on the K*10 labeled images, for the whole budget
       classical   the same, each batch randomly shifted (±2 px) and rotated (±10°), and for
                   Fashion-MNIST mirrored (bench/augment.py's `classical`)
       pseudo      self-training (Lee 2013, with a confidence threshold): a third of the budget
                   on the labels, then rounds of a sixth of it: label every unlabeled image the
                   net puts in a class with probability >= --threshold (per class at most twice
                   the median class's count or K, so no class floods the rest), and train on a
                   labeled batch + an equal pseudo-labeled batch; pseudo-labels are redrawn from
                   the current net every round
       ssl-gan     SemiGAN(dataset, labels_per_class=K, seed=S): gankit's defaults, no flags,
                   trained (its own net, G and D) until the budget is spent
       gan-aug     a conditional gankit GAN (bench/augment.py's small-data preset) trained on
                   the K*10 labeled images alone for --gan-share of the budget, then the net
                   trained for the rest on real + fresh GAN images each epoch
                   (gankit.tasks.gan.mixed.MixedDataset, half of each epoch synthetic)
     and, not run unless named in --arms, `labels-lr1e-3`: the labels arm with Adam 1e-3 (is the
     task's 3e-3 too high for a net that sees only the labels?);
  4. report test-split accuracy per arm, mean ± std over seeds.

The SSL-GAN trains with its trainer and bench/cpu_budget.train_until, as bench/augment.py trains
its GAN, not with `.fit(max_time=...)`: max_time is wall-clock time, which on a shared machine is
not CPU time, and fit writes checkpoints and sample grids the other arms do not pay for.

Each (dataset, K, seed, arm, budget) runs in a process of its own with ONE thread, writes its
log and OUT/DATASET-kK-sSEED-ARM-Mmin.json (OUT: bench/runs/semi, not tracked) and, when done,
one line to bench/records/semi.jsonl (bench/record.py: the command, machine, date, commit and
the job's result). A rerun skips the jobs that have a record with the same settings, so an
interrupted run resumes, and --collect prints the table from the records alone.

    python bench/semi.py [--datasets mnist fashion-mnist] [--ks 10 50] [--seeds 3]
                         [--minutes 5 15] [--arms labels classical pseudo ssl-gan gan-aug]
                         [--parallel 1] [--out bench/runs/semi] [--collect]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import record
from augment import classical, format_acc, train_gan
from cpu_budget import add_job_flags, finish_jobs, run_logged, train_until

ARMS = ("labels", "classical", "pseudo", "ssl-gan", "gan-aug")
EXTRA_ARMS = ("labels-lr1e-3",)
BATCH = 100            # the task's batch size
WARM_SHARE = 1 / 3     # pseudo: share of the budget on the labels before the first pseudo-labels
ROUND_SHARE = 1 / 6    # pseudo: share of the budget per round of pseudo-labels


def settings(args: argparse.Namespace) -> dict:
    """What a finished job must have been run with to count for these flags."""
    from gankit.nets.semi import DEFAULT_WIDTH
    return {"lr": args.lr, "batch": BATCH, "width": DEFAULT_WIDTH, "threshold": args.threshold,
            "gan_preset": args.gan_preset, "gan_share": args.gan_share,
            "synthetic_ratio": args.synthetic_ratio}


# ---------------------------------------------------------------- one job, in its own process


@dataclass
class Job:
    """One arm's data (uint8 images [N, 1, 28, 28], int64 labels) and its CPU budget."""

    dataset: str
    k: int
    seed: int
    budget: float          # CPU seconds
    x_lab: Any
    y_lab: Any
    x_unl: Any
    test: tuple
    classes: int
    labeled: Any           # indices of the labeled training items [K * classes]
    unl_truth: Any         # the unlabeled items' true labels: for the record only, never trained on
    data_note: str | None
    args: argparse.Namespace

    @property
    def mirror(self) -> bool:
        return self.dataset != "mnist"   # a mirrored 2 is no 2


def new_net(job: Job):
    """The classifier every non-GAN arm trains, from the same initial weights (the seed's)."""
    import torch

    from gankit.nets.semi import SemiClassifier, noise_layers
    torch.manual_seed(job.seed)
    net = SemiClassifier(tuple(job.x_lab.shape[1:]), job.classes)
    noise = torch.Generator().manual_seed(job.seed + 1)
    for layer in noise_layers(net):
        layer.generator = noise
    return net


def batches(x, y, seed: int, transform: Callable | None = None) -> Callable[[], tuple]:
    """A function returning the next batch (floats [b, 1, 28, 28] in [-1, 1], labels [b]) of
    reshuffled passes over uint8 images x, b = min(BATCH, len(x)); `transform` works on [0, 1]."""
    import torch
    gen, aug = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)
    b, order, pos = min(BATCH, len(x)), torch.empty(0, dtype=torch.long), 0

    def next_batch() -> tuple:
        nonlocal order, pos
        if pos + b > len(order):
            order, pos = torch.randperm(len(x), generator=gen), 0
        idx, pos = order[pos:pos + b], pos + b
        xb = x[idx].float() / 255
        if transform is not None:
            xb = transform(xb, aug)
        return xb * 2 - 1, y[idx]
    return next_batch


def fit_net(net, opt, next_batch: Callable[[], tuple], deadline: float,
            max_steps: int | None = None) -> int:
    """Cross-entropy steps on next_batch() until this process's CPU time reaches `deadline` (or
    `max_steps` are done); the number of steps."""
    import torch.nn.functional as F
    net.train()
    steps = 0
    while time.process_time() < deadline and (max_steps is None or steps < max_steps):
        x, y = next_batch()
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        steps += 1
    return steps


def logits(net, x):
    """The net's logits [N, K] of uint8 images x, in eval mode (no noise)."""
    import torch
    net.eval()
    with torch.no_grad():
        return torch.cat([net(x[i:i + 1000].float() / 127.5 - 1) for i in range(0, len(x), 1000)])


def optimizer(net, lr: float):
    import torch
    return torch.optim.Adam(net.parameters(), lr=lr, betas=(0.5, 0.999))


def arm_labels(job: Job, t0: float, lr: float | None = None, transform=None) -> tuple[Any, dict]:
    net = new_net(job)
    steps = fit_net(net, optimizer(net, lr or job.args.lr),
                    batches(job.x_lab, job.y_lab, job.seed, transform), t0 + job.budget)
    return net, {"steps": steps}


def arm_classical(job: Job, t0: float) -> tuple[Any, dict]:
    return arm_labels(job, t0, transform=lambda x, gen: classical(x, gen, job.mirror))


def pseudo_labels(net, x_unl, threshold: float, classes: int, floor: int) -> tuple[Any, Any]:
    """(indices into x_unl, predicted labels) of the confident items, per class at most twice
    the median class's count or `floor`, whichever is more (the most confident first)."""
    import torch
    p, pred = torch.softmax(logits(net, x_unl), 1).max(1)
    sure = p >= threshold
    counts = torch.bincount(pred[sure], minlength=classes)
    cap = max(int(2 * counts.float().median()), floor)
    keep = []
    for c in range(classes):
        idx = torch.nonzero(sure & (pred == c)).flatten()
        keep.append(idx[p[idx].argsort(descending=True)[:cap]])
    keep = torch.cat(keep)
    return keep, pred[keep]


def arm_pseudo(job: Job, t0: float) -> tuple[Any, dict]:
    import torch
    net = new_net(job)
    opt = optimizer(net, job.args.lr)
    labeled = batches(job.x_lab, job.y_lab, job.seed)
    end = t0 + job.budget
    steps = fit_net(net, opt, labeled, t0 + WARM_SHARE * job.budget)
    rounds = []
    while time.process_time() < end:
        idx, y = pseudo_labels(net, job.x_unl, job.args.threshold, job.classes, job.k)
        truth = job.unl_truth[idx]   # for the record only
        rounds.append({"n": len(idx),
                       "acc": float((y == truth).float().mean()) if len(idx) else None,
                       "per_class_min": int(torch.bincount(y, minlength=job.classes).min())})
        round_end = min(end, time.process_time() + ROUND_SHARE * job.budget)
        if not len(idx):
            steps += fit_net(net, opt, labeled, round_end)
            continue
        pseudo = batches(job.x_unl[idx], y, job.seed + len(rounds))

        def both() -> tuple:
            (xl, yl), (xp, yp) = labeled(), pseudo()
            return torch.cat([xl, xp]), torch.cat([yl, yp])
        steps += fit_net(net, opt, both, round_end)
    return net, {"steps": steps, "rounds": rounds}


def arm_gan_aug(job: Job, t0: float) -> tuple[Any, dict]:
    import torch

    from gankit.tasks.gan.mixed import MixedDataset
    gan_args = argparse.Namespace(gan_minutes=[job.args.gan_share * job.budget / 60], ks=[job.k],
                                  gan_preset=job.args.gan_preset)
    gan, gan_row = train_gan(job.x_lab, job.y_lab, gan_args, job.k, job.seed)
    data = MixedDataset((job.x_lab, job.y_lab), gan, job.args.synthetic_ratio, seed=job.seed)
    net = new_net(job)
    opt = optimizer(net, job.args.lr)
    steps, epoch = 0, 0
    while time.process_time() < t0 + job.budget:   # an epoch: the real + fresh GAN images
        data.set_epoch(epoch)
        x = torch.stack([torch.as_tensor(data[i][0]) for i in range(len(data))])
        y = torch.tensor([int(data[i][1]) for i in range(len(data))])
        steps += fit_net(net, opt, batches(x, y, job.seed + epoch), t0 + job.budget,
                         max_steps=-(-len(x) // BATCH))
        epoch += 1
    return net, {"steps": steps, "epochs": epoch, "gan": gan_row}


def arm_ssl_gan(job: Job, t0: float) -> tuple[Any, dict]:
    """The semi-supervised GAN with gankit's defaults; the clock starts once it is built (its
    data loading, like every arm's, is outside the budget)."""
    from gankit.tasks.semi.facade import SemiGAN
    gan = SemiGAN(job.dataset, labels_per_class=job.k, seed=job.seed)
    if gan.semi.labeled.tolist() != job.labeled.tolist():
        raise RuntimeError("SemiGAN labeled other items than choose_labeled drew")
    train_until(gan.run.trainer, job.budget)
    return gan, {"steps": gan.run.trainer.step}


ARM_FUNCS = {"labels": arm_labels, "classical": arm_classical, "pseudo": arm_pseudo,
             "ssl-gan": arm_ssl_gan, "gan-aug": arm_gan_aug,
             "labels-lr1e-3": lambda job, t0: arm_labels(job, t0, lr=1e-3)}


def load_job(dataset: str, k: int, seed: int, minutes: float, args: argparse.Namespace) -> Job:
    import torch

    from gankit.data import load_dataset
    from gankit.tasks.semi.data import choose_labeled
    train, test = load_dataset(dataset, "train"), load_dataset(dataset, "test")
    classes = int(train.labels.max()) + 1
    lab = choose_labeled(train.labels, k, classes, seed)
    unl = torch.ones(len(train.labels), dtype=torch.bool)
    unl[lab] = False
    return Job(dataset, k, seed, minutes * 60, train.images[lab], train.labels[lab],
               train.images[unl], (test.images, test.labels), classes, lab, train.labels[unl],
               train.note, args)


def worker(dataset: str, k: int, seed: int, arm: str, minutes: float,
           args: argparse.Namespace) -> None:
    import torch

    from gankit.rundir import hardware
    torch.set_num_threads(1)
    job = load_job(dataset, k, seed, minutes, args)
    t0 = time.process_time()
    model, row = ARM_FUNCS[arm](job, t0)
    cpu = time.process_time() - t0
    if cpu < 0.98 * job.budget:   # stopped early (e.g. SIGTERM: the trainer saves and returns)
        raise SystemExit(f"{job_name(dataset, k, seed, arm, minutes)}: stopped after {cpu:.0f} "
                         f"of {job.budget:.0f} CPU-seconds; no result written")
    x_test, y_test = job.test
    if arm == "ssl-gan":
        acc = model.evaluate()["accuracy"]
    else:
        acc = float((logits(model, x_test).argmax(1) == y_test).float().mean())
    result = {"dataset": dataset, "k": k, "seed": seed, "arm": arm, "minutes": minutes,
              "settings": settings(args), "accuracy": acc, "cpu_s": round(cpu, 1), **row,
              "n_labeled": len(job.y_lab), "n_unlabeled": len(job.x_unl), "n_test": len(y_test),
              "labeled_sha1": hashlib.sha1(str(job.labeled.tolist()).encode()).hexdigest()[:12],
              "data_note": job.data_note, "torch": torch.__version__, "machine": hardware(),
              "date": time.strftime("%Y-%m-%d")}
    print(json.dumps(result), flush=True)
    path = args.out / f"{job_name(dataset, k, seed, arm, minutes)}.json"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, path)   # a job's file is whole or absent: a killed job is simply rerun


# ---------------------------------------------------------------- the driver


def job_name(dataset: str, k: int, seed: int, arm: str, minutes: float) -> str:
    return f"{dataset}-k{k}-s{seed}-{arm}-{minutes:g}min"


def job_key(row: dict) -> tuple:
    return row["dataset"], row["k"], row["seed"], row["arm"], float(row["minutes"])


def recorded(args: argparse.Namespace) -> dict[tuple, dict]:
    """{job: its latest record} of bench/records/semi.jsonl, for the current settings."""
    recs = record.read("semi", keep=lambda r: r["row"]["settings"] == settings(args),
                       key=lambda r: job_key(r["row"]))
    return {job_key(r["row"]): r for r in recs}


def finished(job: tuple, args: argparse.Namespace) -> dict | None:
    """The job's result if it has a record with the current settings, else None."""
    rec = args.records.get((job[0], job[1], job[2], job[3], float(job[4])))
    return None if rec is None else {**rec["row"], "machine": rec["machine"], "date": rec["date"]}


def run_job(job: tuple, args: argparse.Namespace) -> dict | None:
    dataset, k, seed, arm, minutes = job
    name = job_name(*job)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [sys.executable, __file__, "--worker", dataset, str(k), str(seed), arm, str(minutes),
           "--out", str(args.out), "--lr", str(args.lr), "--threshold", str(args.threshold),
           "--gan-preset", args.gan_preset, "--gan-share", str(args.gan_share),
           "--synthetic-ratio", str(args.synthetic_ratio)]
    wall = run_logged(cmd, env, args.out / f"{name}.log", name)
    if wall is None:
        return None
    result = json.loads((args.out / f"{name}.json").read_text())
    row = {k: v for k, v in result.items() if k not in ("machine", "date", "torch")}
    record.append("semi", [{**row, "wall_min": round(wall, 1)}])
    print(f"{name}: {100 * result['accuracy']:.1f}% in {wall:.1f} min wall", flush=True)
    return result


def table(results: list[dict], arms: list[str]) -> str:
    groups: dict[tuple, dict[str, list[float]]] = {}
    for r in results:
        cell = groups.setdefault((r["dataset"], r["k"], r["minutes"]), {})
        cell.setdefault(r["arm"], []).append(r["accuracy"])
    lines = ["| dataset | K/class | CPU-min | " + " | ".join(arms) + " | seeds |",
             "|" + "---|" * (len(arms) + 4)]
    for (dataset, k, minutes), cell in sorted(groups.items()):
        n = sorted({len(v) for v in cell.values()})
        lines.append(f"| {dataset} | {k} | {minutes:g} | "
                     + " | ".join(format_acc(cell[a]) if a in cell else "-" for a in arms)
                     + f" | {'-'.join(map(str, (n[0], n[-1]) if len(n) > 1 else n))} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"])
    p.add_argument("--ks", type=int, nargs="+", default=[10, 50], help="labeled images per class")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per (dataset, K)")
    p.add_argument("--minutes", type=float, nargs="+", default=[5.0],
                   help="CPU budgets (minutes of one thread) per arm; each is a job of its own")
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS + EXTRA_ARMS)
    p.add_argument("--lr", type=float, default=3e-3, help="Adam lr of the non-GAN arms' net")
    p.add_argument("--threshold", type=float, default=0.95, help="pseudo: confidence to keep")
    p.add_argument("--gan-preset", default="small-data", help="gan-aug: the conditional GAN's")
    p.add_argument("--gan-share", type=float, default=0.5, help="gan-aug: budget share of the GAN")
    p.add_argument("--synthetic-ratio", type=float, default=0.5,
                   help="gan-aug: share of synthetic items in each epoch")
    add_job_flags(p, "bench/runs/semi", parallel=1, worker_args=5)
    args = p.parse_args()
    os.environ.setdefault("GANKIT_OFFLINE", "1")   # mnist: the shipped digits unless cached
    if not args.collect:
        args.out.mkdir(parents=True, exist_ok=True)
    if args.worker:
        dataset, k, seed, arm, minutes = args.worker
        worker(dataset, int(k), int(seed), arm, float(minutes), args)
        return
    args.records = recorded(args)
    t0 = time.time()
    jobs = [(d, k, s, a, m) for d in args.datasets for k in args.ks for s in range(args.seeds)
            for m in args.minutes for a in args.arms]
    done, pending = finish_jobs(jobs, lambda job: finished(job, args),
                                lambda job: run_job(job, args), args.parallel, args.collect)
    results = [r for r in done.values() if r is not None]
    missing = [job_name(*job) for job in pending]
    notes = sorted({r["data_note"] or f"{r['dataset']}: the full train split" for r in results})
    # the records' own machines and dates: a CPU budget buys fewer steps on a slower CPU
    machines = sorted({"a machine not recorded" if r.get("machine") in (None, record.UNRECORDED)
                       else r["machine"] for r in results})
    dates = sorted({r["date"][:10] for r in results}) or [time.strftime("%Y-%m-%d")]
    print(f"\nTest-split accuracy (%), mean ± std over seeds, of one classifier net "
          f"(SemiClassifier, the task's default sizes; ssl-gan: its D) per arm, each arm given "
          f"the same CPU budget of one thread. Data: {'; '.join(notes) or '-'}. "
          f"Run on {'; '.join(machines)}, {dates[0]} to {dates[-1]}; this invocation "
          f"{(time.time() - t0) / 60:.0f} min wall with {args.parallel} in parallel\n")
    print(table(results, args.arms))
    if missing:
        print(f"\nnot finished with these settings: {', '.join(missing)}")


if __name__ == "__main__":
    main()
