"""Benchmark: pix2pix on a paired task built from data we have, edges -> Fashion-MNIST items.

Data (made once under OUT/data/ by gankit.data.edges): the first --n-train training items and the
first 1,000 test items of Fashion-MNIST as B, their edge maps (gankit's Sobel edges, dark lines on
white) as A; a folder of A/train, A/test, B/train, B/test PNGs, the way a user would bring one.

Arms, each in a process of its own with ONE thread, budget = the CPU time it spends training:

    pix2pix   `gankit train --task pix2pix --dataset OUT/data` with the defaults a user gets
              (U-Net + PatchGAN, non-saturating loss + 100 x L1)
    l1        the same U-Net, same defaults, trained with L1 only (`--loss none`)
    --set k=v (repeatable) adds options to both arms and names the rows, for recipe sweeps

At each mark the 1,000 held-out edge maps (28 px, as a user would pass them to `gankit
translate`) are translated and scored:

    class kept   the shipped Fashion-MNIST classifier puts the output in the item's true class
    FID          of the outputs against the other 9,000 test items (shipped classifier features)
    L1           mean |output - true item| on the [-1, 1] scale

Rows to beat: the edge maps themselves, and 1,000 real training items (the FID floor).

The paired folder, each arm's rows and a grid per mark go to OUT/ (bench/runs/edges, not
tracked); the table's rows go to bench/records/edges.jsonl (bench/record.py: the command, machine,
date, commit and the row). --collect trains nothing and prints the table from those records alone:
the rows of --arms at --minutes (`--minutes 3` for the 3-minute probes) and the rows to beat.

    python bench/edges.py [--minutes 5 15] [--arms pix2pix l1] [--parallel 2] [--set width=16]
                          [--threshold 0.25] [--soft]   (the edge maps: gankit edges' options)
    python bench/edges.py --collect [--minutes 5 15] [--arms pix2pix l1]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import record

N_TEST = 1000


def build(out: Path, n_train: int, threshold: float, soft: bool) -> Path:
    """The paired folder, made once for these edge options (remade when they differ)."""
    data = out / "data"
    if (data / "pairs.json").exists():
        made = json.loads((data / "pairs.json").read_text())
        if (made["threshold"], made.get("soft", False)) == (threshold, soft) \
                and made["counts"].get("train") == n_train:
            return data
    from gankit.data import load_dataset
    from gankit.data.edges import write_edge_pairs
    train, test = (load_dataset("fashion-mnist", split) for split in ("train", "test"))
    write_edge_pairs(data, {"train": train.images[:n_train], "test": test.images[:N_TEST]},
                     {"train": train.labels[:n_train], "test": test.labels[:N_TEST]},
                     threshold=threshold, overwrite=True, soft=soft)
    return data


def scorer(data: Path):  # noqa: ANN201
    """A function (outputs [N, 1, 28, 28] in [-1, 1]) -> {class_kept, fid, l1} on the test items."""
    import torch

    from gankit.data import load_dataset
    from gankit.data.edges import read_pair_labels
    from gankit.evaluation import default_extractor
    from gankit.metrics.fid import fid
    ext = default_extractor("fashion-mnist")
    test = load_dataset("fashion-mnist", "test").images
    truth, ref = test[:N_TEST].float() / 127.5 - 1, ext.features(test[N_TEST:])
    labels = torch.from_numpy(read_pair_labels(data, "test"))

    def score(x: torch.Tensor, y: torch.Tensor = labels) -> dict:
        return {"class_kept": float((ext.predict_proba(x).argmax(1) == y).float().mean()),
                "fid": fid(ext.features(x), ref), "l1": float((x - truth).abs().mean())}
    return score


def run_arm(arm: str, args: argparse.Namespace) -> None:
    import torch
    torch.set_num_threads(1)
    from cpu_budget import parse_options, train_until

    from gankit.data import load_dataset
    from gankit.data.edges import edge_maps
    from gankit.tasks.translate.facade import Translator
    from gankit.viz import from_uint8, make_grid, save_png, to_uint8
    data = args.out / "data"
    extra = parse_options(args.set)
    name = arm_name(arm, args)
    tr = Translator(data, "pix2pix", seed=args.seed, log_every=100,
                    **({"loss": "none"} if arm == "l1" else {}), **extra)
    score = scorer(data)
    test = load_dataset("fashion-mnist", "test").images[:N_TEST]
    edges = from_uint8(edge_maps(test, args.threshold, args.soft))
    trainer, spent, rows = tr.run.trainer, 0.0, []
    for mark in sorted(m * 60 for m in args.minutes):
        spent = train_until(trainer, mark, spent)
        out = tr.task.translate(edges)
        rows.append({"arm": name, "minutes": mark / 60, "steps": trainer.step,
                     "resolution": tr.config.data.resolution, "width": tr.config.model.width,
                     "batch_size": tr.config.train.batch_size, **score(out), "seed": args.seed,
                     "n_train": args.n_train, "threshold": args.threshold, "soft": args.soft})
        print(json.dumps(rows[-1]), flush=True)
        grid = torch.stack([edges[:10], out[:10], from_uint8(test[:10])], 1).reshape(-1, 1, 28, 28)
        save_png(make_grid(to_uint8(grid), nrow=6), args.out / f"grid-{name}-{mark / 60:g}.png",
                 scale=3)
    (args.out / f"{name}.json").write_text(json.dumps(rows, indent=1))


def arm_name(arm: str, args: argparse.Namespace) -> str:
    """An arm's row name: the arm, the --set options and the edge maps' if not the defaults."""
    from cpu_budget import parse_options
    return "-".join([arm] + [f"{k}{v}" for k, v in parse_options(args.set).items()]
                    + edge_name(args))


def edge_name(args: argparse.Namespace) -> list[str]:
    """What names rows made from edge maps other than the defaults ([] for the defaults)."""
    from gankit.data.edges import THRESHOLD
    return ([f"threshold{args.threshold:g}"] if args.threshold != THRESHOLD else []) + \
        (["soft"] if args.soft else [])


def reference_rows(data: Path, args: argparse.Namespace) -> list[dict]:
    from gankit.data import load_dataset
    from gankit.data.edges import edge_maps
    from gankit.viz import from_uint8
    score = scorer(data)
    test = load_dataset("fashion-mnist", "test").images[:N_TEST]
    train = load_dataset("fashion-mnist", "train")   # the last items: never in the pairs
    return [{"arm": " ".join(["edge maps (input)"] + edge_name(args)),
             **score(from_uint8(edge_maps(test, args.threshold, args.soft)))},
            {"arm": "real training items",   # other items: their L1 to the test items means nothing
             **{k: v for k, v in score(from_uint8(train.images[-N_TEST:]), train.labels[-N_TEST:]).items()
                if k != "l1"}}]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--minutes", type=float, nargs="+", default=[5, 15])
    p.add_argument("--arms", nargs="+", default=["pix2pix", "l1"])
    p.add_argument("--parallel", type=int, default=2)
    p.add_argument("--n-train", type=int, default=10000)
    p.add_argument("--set", action="append", default=[], help="an option for both arms, k=v")
    p.add_argument("--threshold", type=float, default=None,
                   help="edge maps: share of the strongest gradient that makes a line "
                        "(default: gankit edges' own)")
    p.add_argument("--soft", action="store_true", help="edge maps: line strength as gray levels")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("bench/runs/edges"),
                   help="the paired folder, raw rows and grids (git-ignored)")
    p.add_argument("--collect", action="store_true", help="train nothing: print the table from "
                   "the records (bench/records/edges.jsonl)")
    p.add_argument("--arm", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.threshold is None:
        from gankit.data.edges import THRESHOLD
        args.threshold = THRESHOLD
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.arm:
        return run_arm(args.arm, args)
    t0 = time.time()
    if args.collect:
        return print_table(args, t0)
    args.out.mkdir(parents=True, exist_ok=True)
    data = build(args.out, args.n_train, args.threshold, args.soft)
    from cpu_budget import run_arms
    base = [sys.executable, __file__, "--out", str(args.out), "--seed", str(args.seed),
            "--minutes", *map(str, args.minutes), "--threshold", str(args.threshold)] + \
        (["--soft"] if args.soft else []) + [a for kv in args.set for a in ("--set", kv)]
    run_arms(base, [(arm,) for arm in args.arms], args.parallel)
    rows = reference_rows(data, args)
    for arm in args.arms:
        rows += json.loads((args.out / f"{arm_name(arm, args)}.json").read_text())
    record.append("edges", rows)
    print_table(args, t0)


def print_table(args: argparse.Namespace, t0: float) -> None:
    """The recorded rows of --arms at --minutes (the latest of each) and the rows to beat."""
    minutes = {float(m) for m in args.minutes}

    def keep(rec: dict) -> bool:
        r = rec["row"]
        return "minutes" not in r or (float(r["minutes"]) in minutes
                                      and r["arm"].split("-")[0] in args.arms)

    def key(rec: dict) -> tuple:   # the rows to beat (no minutes) depend on the edge maps alone
        r = rec["row"]
        if "minutes" not in r:
            return (r["arm"],)
        return tuple(str(r.get(k)) for k in ("arm", "minutes", "probe", "seed", "n_train"))
    recs = record.read("edges", keep=keep, key=key)
    print(f"\nedges -> Fashion-MNIST items, {N_TEST:,} held-out; budget = CPU time of one thread; "
          f"{record.describe(recs)}; this invocation {(time.time() - t0) / 60:.0f} min wall\n")
    print("| model | CPU min | steps | crop | width | batch | class kept | FID | L1 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in record.rows(recs):
        name = r["arm"] + (f" ({r['probe']})" if "probe" in r else "") + (
            f", seed {r['seed']}" if r.get("seed") else "") + (
            f", {r['n_train']:,} pairs" if "minutes" in r and r.get("n_train", 10000) != 10000
            else "")
        print(f"| {name} | {r.get('minutes', 0):g} | {r.get('steps', '–')} | "
              f"{r.get('resolution', '–')} | {r.get('width', '–')} | {r.get('batch_size', '–')} | "
              f"{r['class_kept']:.1%} | {r['fid']:.1f} | "
              + (f"{r['l1']:.3f} |" if "l1" in r else "– |"))


if __name__ == "__main__":
    main()
