"""Benchmark: unpaired translation between two classes of Fashion-MNIST with CycleGAN.

Domains (default): A = sneakers (class 7), B = ankle boots (class 9), the training split's 6,000
images of each, unpaired, written as 28-px PNGs into OUT/data/A and OUT/data/B: the folder a user
brings. It trains with the defaults a user gets from `gankit train --task cyclegan --dataset
OUT/data` (gankit holds out a tenth of each folder; the scores below use the test split instead);
`--width` and `--batch-size` add a tuned row's flags. One process, ONE thread; budget = its CPU
time spent training.
At each mark, on the test split's 1,000 images of each class (never trained on):

    to-target acc.  the shipped Fashion-MNIST classifier puts A->B translations in class B (and
                    B->A in A): did the translation change what the picture is?
    cycle L1        mean |A->B->A - A| (and for B) on the [-1, 1] scale: is the content kept?
    FID to target   between A->B translations and real B test images (shipped classifier's
                    features; and B->A against A)

The untranslated images are the row to beat (their accuracy for the other class is the
classifier's confusion between the two, their FID the distance between the classes).

The domains' PNGs and a grid per mark go to OUT/ (bench/runs/cyclegan, not tracked); the table's
rows go to bench/records/cyclegan.jsonl (bench/record.py: the command, machine, date, commit and
the row), and --collect prints the table from those records alone.

    python bench/cyclegan.py [--domains 7,9] [--minutes 5 10 15] [--out bench/runs/cyclegan]
    python bench/cyclegan.py --collect
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import record

CLASSES = ["T-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
           "bag", "ankle boot"]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--domains", default="7,9")
    p.add_argument("--minutes", type=float, nargs="+", default=[5, 10, 15])
    p.add_argument("--width", type=int, default=None, help="default: gankit's")
    p.add_argument("--batch-size", type=int, default=None, help="default: gankit's")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("bench/runs/cyclegan"),
                   help="the domains' PNGs and the grids (git-ignored)")
    p.add_argument("--collect", action="store_true", help="train nothing: print the table from "
                   "the records (bench/records/cyclegan.jsonl)")
    args = p.parse_args()
    if args.collect:
        return collect()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch
    torch.set_num_threads(1)
    from cpu_budget import train_until

    from gankit.evaluation import default_extractor
    from gankit.metrics.fid import fid
    from gankit.tasks.cyclegan.facade import CycleGAN
    from gankit.viz import from_uint8, make_grid, save_png, to_uint8

    ka, kb = (int(k) for k in args.domains.split(","))
    args.out.mkdir(parents=True, exist_ok=True)
    folder = write_domains(args.dataset, ka, kb, args.out / "data")
    tuned = {k: v for k, v in (("width", args.width), ("batch_size", args.batch_size)) if v}
    cg = CycleGAN(folder, "cyclegan", seed=args.seed, log_every=100, **tuned)
    ext = default_extractor(args.dataset)
    test_a, test_b = (from_uint8(test_split(args.dataset, k)) for k in (ka, kb))
    feats = {k: ext.features(x) for k, x in (("A", test_a), ("B", test_b))}
    trainer = cg.run.trainer

    def measure(label: str) -> dict:
        t = cg.task
        ab = t.translate(test_a, net=t.G_AB) if label != "untranslated" else test_a
        ba = t.translate(test_b, net=t.G_BA) if label != "untranslated" else test_b
        acc_ab = float((ext.predict_proba(ab).argmax(1) == kb).float().mean())
        acc_ba = float((ext.predict_proba(ba).argmax(1) == ka).float().mean())
        row = {"model": label, "acc_AtoB": acc_ab, "acc_BtoA": acc_ba,
               "fid_AtoB": fid(ext.features(ab), feats["B"]),
               "fid_BtoA": fid(ext.features(ba), feats["A"])}
        if label != "untranslated":
            aba, bab = t.translate(ab, net=t.G_BA), t.translate(ba, net=t.G_AB)
            row["cycle_l1"] = float(((aba - test_a).abs().mean() + (bab - test_b).abs().mean()) / 2)
            grid = torch.stack([test_a[:8], ab[:8], aba[:8], test_b[:8], ba[:8], bab[:8]], 1)
            save_png(make_grid(to_uint8(grid.reshape(-1, *test_a.shape[1:])), nrow=6),
                     args.out / f"grid-{label}.png", scale=3)
        return row

    c = cg.config
    setting = (f"crop {c.data.resolution}, width {c.model.width}, batch {c.train.batch_size}"
               + (" (tuned flags)" if tuned else " (defaults)"))
    rows = [{**measure("untranslated"), "minutes": 0, "steps": 0}]
    print(json.dumps(rows[-1]), flush=True)
    spent, t0 = 0.0, time.time()
    for mark in sorted(m * 60 for m in args.minutes):
        spent = train_until(trainer, mark, spent)
        rows.append({**measure(f"cyclegan-{mark / 60:g}min"), "minutes": round(mark / 60, 3),
                     "steps": trainer.step})
        print(json.dumps(rows[-1]), flush=True)
    about = {"dataset": args.dataset, "domains": args.domains, "setting": setting,
             "n_train": [len(cg.pictures.train[0]), len(cg.pictures.train[1])],
             "n_test": [len(test_a), len(test_b)], "seed": args.seed}
    record.append("cyclegan", [{**r, **about} for r in rows])
    print_table(record.read("cyclegan")[-len(rows):],
                f"{args.dataset}: A = {CLASSES[ka]} ({ka}), B = {CLASSES[kb]} ({kb}); "
                f"{len(cg.pictures.train[0]):,} + {len(cg.pictures.train[1]):,} training images, "
                f"{len(test_a):,} + {len(test_b):,} test; {setting}; "
                f"{(time.time() - t0) / 60:.0f} min wall; ")


def collect() -> None:
    """A table per recorded (dataset, domains, setting), from bench/records/cyclegan.jsonl alone
    (the latest record of each row)."""
    def group(r: dict) -> tuple:
        return tuple(str(r["row"].get(k, "not recorded")) for k in ("dataset", "domains", "setting"))
    recs = record.read("cyclegan", key=lambda r: (group(r), r["row"]["model"]))
    for g in dict.fromkeys(group(r) for r in recs):
        print_table([r for r in recs if group(r) == g],
                    f"dataset: {g[0]}; domains: {g[1]}; setting: {g[2]}; ")


def print_table(recs: list[dict], about: str) -> None:
    rows = record.rows(recs)
    print(f"\n{about}budget = CPU time of one thread; {record.describe(recs)}\n")
    print("| model | CPU min | steps | A->B classified B | B->A classified A | cycle L1 | "
          "FID A->B vs B | FID B->A vs A |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['minutes']:g} | {r['steps']} | {r['acc_AtoB']:.1%} | "
              f"{r['acc_BtoA']:.1%} | {r.get('cycle_l1', float('nan')):.3f} | "
              f"{r['fid_AtoB']:.1f} | {r['fid_BtoA']:.1f} |")


def write_domains(dataset: str, ka: int, kb: int, out: Path) -> Path:
    """OUT/A and OUT/B: the training split's images of classes ka and kb as PNGs (made once)."""
    if (out / "B").is_dir():
        return out
    from gankit.data import load_dataset
    from gankit.viz import save_png
    d = load_dataset(dataset, "train")
    for side, k in (("A", ka), ("B", kb)):
        (out / side).mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(d.images[d.labels == k].permute(0, 2, 3, 1).numpy()):
            save_png(img, out / side / f"{i:05d}.png")
    return out


def test_split(dataset: str, k: int):  # noqa: ANN201
    """The test split's images of class k, uint8 [N, C, H, W]."""
    from gankit.data import load_dataset
    d = load_dataset(dataset, "test")
    return d.images[d.labels == k]


if __name__ == "__main__":
    main()
