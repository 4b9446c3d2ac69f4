"""How much class information do edge maps carry? The bound behind bench/edges.py's *class kept*.

Any translator G, followed by the shipped classifier C, is itself a classifier of edge maps (C(G(e))),
so class kept can be no better than the best classifier of the edge maps. This trains a classifier
of the shipped kind and strength on the edge maps themselves (gankit.metrics.features.Gray28Classifier,
scripts/train_feature_classifier.py's recipe: 5 epochs, AdamW one-cycle 3e-3, batch 128, shifts of
up to 2 px; one thread, seed 0) and reports its test accuracy: on all 10,000 test items and on the
1,000 that bench/edges.py scores, with the per-class accuracy of the four tops (T-shirt, pullover,
coat, shirt). Beside it: the shipped classifier on the real test items (a translator that returned
the true item exactly would keep the class this often).

Its rows go to bench/records/edge_info.jsonl (bench/record.py: the command, machine, date, commit
and the row); the table printed is every recorded row, the latest of each (input, train items),
and --collect prints it from the records alone without training.

    python bench/edge_info.py [--variants binary-0.25 soft-0.25 binary-0.1] [--n-train 60000]
    python bench/edge_info.py --collect
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import record

N_BENCH = 1000   # bench/edges.py scores the first 1,000 test items
TOPS = {0: "T-shirt", 2: "pullover", 4: "coat", 6: "shirt"}


def edges_of(images, variant: str):  # noqa: ANN001, ANN201
    """uint8 [N, 1, 28, 28] -> their edge maps for a variant "binary-T" / "soft-T" ("real": as is)."""
    from gankit.data.edges import edge_maps
    if variant == "real":
        return images
    kind, threshold = variant.split("-")
    return edge_maps(images, float(threshold), soft=kind == "soft")


def accuracies(pred, labels) -> dict:  # noqa: ANN001
    out = {"test_acc": float((pred == labels).float().mean()),
           "bench_acc": float((pred[:N_BENCH] == labels[:N_BENCH]).float().mean())}
    for k, name in TOPS.items():
        out[f"acc_{name}"] = float((pred[labels == k] == k).float().mean())
    return out


def run_variant(variant: str, n_train: int, seed: int) -> dict:
    import torch
    torch.set_num_threads(1)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from train_feature_classifier import train_classifier

    from gankit.data import load_dataset
    train, test = load_dataset("fashion-mnist", "train"), load_dataset("fashion-mnist", "test")
    t0 = time.process_time()
    args = argparse.Namespace(seed=seed, batch_size=128, lr=3e-3)
    net = train_classifier(edges_of(train.images[:n_train], variant), train.labels[:n_train], 5, args)
    with torch.no_grad():
        x = edges_of(test.images, variant).float() / 127.5 - 1
        pred = torch.cat([net(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    return {"variant": variant, "n_train": n_train, "cpu_min": (time.process_time() - t0) / 60,
            **accuracies(pred, test.labels)}


def shipped_row() -> dict:
    from gankit.data import load_dataset
    from gankit.evaluation import default_extractor
    test = load_dataset("fashion-mnist", "test")
    pred = default_extractor("fashion-mnist").predict_proba(test.images).argmax(1)
    return {"variant": "real items, shipped classifier", "n_train": 60000, **accuracies(pred, test.labels)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--variants", nargs="+", default=["binary-0.25"])
    p.add_argument("--n-train", type=int, nargs="+", default=[60000])
    p.add_argument("--parallel", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--collect", action="store_true", help="train nothing: print the table from "
                   "the records (bench/records/edge_info.jsonl)")
    args = p.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if not args.collect:
        jobs = [(v, n) for v in args.variants for n in args.n_train]
        with ProcessPoolExecutor(max(args.parallel, 1)) as pool:
            rows = [shipped_row()] + list(pool.map(run_variant, *zip(*jobs),
                                                   [args.seed] * len(jobs)))
        record.append("edge_info", [{**r, "seed": args.seed} for r in rows])
    recs = record.read("edge_info", key=lambda r: (r["row"]["variant"], r["row"]["n_train"]))
    print(f"{record.describe(recs)}\n")
    print("| classifier input | train items | test acc (10,000) | bench items (1,000) | "
          + " | ".join(TOPS.values()) + " |")
    print("|---|---|---|---|" + "---|" * len(TOPS))
    for r in record.rows(recs):
        print(f"| {r['variant']} | {r['n_train']:,} | {r['test_acc']:.1%} | {r['bench_acc']:.1%} | "
              + " | ".join(f"{r['acc_' + n]:.1%}" for n in TOPS.values()) + " |")


if __name__ == "__main__":
    main()
