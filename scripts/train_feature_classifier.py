"""Train a shipped feature classifier: `python scripts/train_feature_classifier.py --dataset fashion-mnist --seed 0`.

Trains gankit.metrics.features.Gray28Classifier on the dataset's train split only (random shifts of
up to 2 px as augmentation), reproducibly from the seed on CPU, stores the weights as fp16 safetensors
in src/gankit/metrics/weights/<dataset>-classifier.safetensors and records in manifest.json what it
was trained on and how well the stored (fp16) weights classify the train and test splits.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from safetensors.torch import save as save_safetensors

from gankit.data import load_dataset
from gankit.metrics import features as feat

EPOCHS = {"mnist": 20, "fashion-mnist": 5}  # mnist offline has 4,500 digits: more passes, same minutes
SHIFT = 2  # pixels of random translation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, choices=sorted(EPOCHS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="default: 20 for mnist, 5 for fashion-mnist")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (1 keeps the run reproducible)")
    parser.add_argument("--out-dir", type=Path, default=feat.WEIGHTS_DIR)
    parser.add_argument("--evaluate-only", action="store_true",
                        help="re-measure the stored weights' accuracies and update them in the manifest")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    epochs = args.epochs or EPOCHS[args.dataset]

    train, test = load_dataset(args.dataset, "train"), load_dataset(args.dataset, "test")
    if args.evaluate_only:
        return reevaluate(args.dataset, args.out_dir, train, test)
    start = time.time()
    net = train_classifier(train.images, train.labels, epochs, args)
    path = args.out_dir / f"{args.dataset}-classifier.safetensors"
    sha = write_weights(net, path, args.dataset)
    entry = evaluate(args.dataset, path, sha, train, test)
    entry.update(seed=args.seed, epochs=epochs, batch_size=args.batch_size, lr=args.lr,
                 train_seconds=round(time.time() - start, 1), data_note=train.note)
    update_manifest(args.out_dir / feat.MANIFEST, args.dataset, entry)
    print(json.dumps(entry, indent=2))


def train_classifier(images: torch.Tensor, labels: torch.Tensor, epochs: int, args) -> feat.Gray28Classifier:
    """AdamW + one-cycle schedule on shifted copies of uint8 images [N, 1, 28, 28]; seeded throughout."""
    torch.manual_seed(args.seed)  # the init
    gen = torch.Generator().manual_seed(args.seed)  # the order and the shifts
    net = feat.Gray28Classifier().to(memory_format=torch.channels_last)
    x_all = images.float() / 127.5 - 1  # [N, 1, 28, 28] in [-1, 1]
    return train_epochs(net, labels, lambda idx: random_shift(x_all[idx], gen), epochs, args, gen)


def train_epochs(net: torch.nn.Module, labels: torch.Tensor, batch_input, epochs: int, args,
                 gen: torch.Generator) -> torch.nn.Module:
    """`epochs` passes over the examples in an order drawn from `gen`: AdamW (weight decay 5e-4)
    with a one-cycle schedule peaking at args.lr, cross-entropy with label smoothing 0.05;
    `batch_input(idx)` gives the net's input for the examples idx. Returns the net in eval mode."""
    steps_per_epoch = -(-len(labels) // args.batch_size)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=epochs * steps_per_epoch)
    for epoch in range(epochs):
        net.train()
        order, correct, tick = torch.randperm(len(labels), generator=gen), 0, time.time()
        for start in range(0, len(order), args.batch_size):
            idx = order[start : start + args.batch_size]
            logits = net(batch_input(idx).contiguous(memory_format=torch.channels_last))
            loss = F.cross_entropy(logits, labels[idx], label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            correct += int((logits.argmax(1) == labels[idx]).sum())
        print(f"epoch {epoch + 1}/{epochs}: train acc (augmented) {correct / len(order):.4f}, "
              f"{time.time() - tick:.0f}s", flush=True)
    return net.eval()


def random_shift(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Translate each image [B, C, H, W] by up to SHIFT px each way, filling with background (-1)."""
    b, _, h, w = x.shape
    padded = F.pad(x, (SHIFT,) * 4, value=-1.0)
    dy, dx = torch.randint(0, 2 * SHIFT + 1, (2, b), generator=gen)
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None]  # [B, 1, H, 1]
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :]  # [B, 1, 1, W]
    batch = torch.arange(b)[:, None, None, None]
    chan = torch.arange(x.shape[1])[None, :, None, None]
    return padded[batch, chan, rows, cols]


def write_weights(net: feat.Gray28Classifier, path: Path, dataset: str) -> str:
    """Save the state as fp16 safetensors (atomically) and return the file's SHA-256."""
    state = {k: v.detach().contiguous().to(torch.float16) for k, v in net.state_dict().items()
             if not k.endswith("num_batches_tracked")}
    meta = {"architecture": feat.ARCHITECTURE, "dataset": dataset}
    blob = save_safetensors(state, metadata=meta)
    atomic_write(path, blob)
    return hashlib.sha256(blob).hexdigest()


def evaluate(dataset: str, path: Path, sha: str, train, test) -> dict:
    """Accuracy of the stored weights, loaded exactly as users load them (fp16 → fp32, BatchNorm folded)."""
    net = feat.Gray28Classifier()
    state = {k: v.float() for k, v in load_file(str(path)).items()}
    net.load_state_dict(state, strict=False)
    extractor = feat.ClassifierExtractor(net, f"{dataset}-classifier", sha)
    acc = {}
    for split, data in (("train", train), ("test", test)):
        pred = extractor.predict_proba(data.images).argmax(1)
        acc[split] = round(float((pred == data.labels).double().mean()), 6)
    return {
        "file": path.name, "dataset": dataset, "architecture": feat.ARCHITECTURE,
        "config": feat.config_dict(net.config), "sha256": sha, "bytes": path.stat().st_size,
        "train_accuracy": acc["train"], "test_accuracy": acc["test"],
        "n_train": len(train.images), "n_test": len(test.images),
        "date": datetime.date.today().isoformat(), "torch": torch.__version__,
    }


def reevaluate(dataset: str, out_dir: Path, train, test) -> None:
    """Measure the accuracies of the stored weights again, keeping the manifest's training record."""
    manifest_path = out_dir / feat.MANIFEST
    old = json.loads(manifest_path.read_text())[dataset]
    path = out_dir / old["file"]
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    if sha != old["sha256"]:
        raise SystemExit(f"{path} does not match its manifest entry; retrain instead")
    fresh = evaluate(dataset, path, sha, train, test)
    entry = {**old, **{k: fresh[k] for k in ("train_accuracy", "test_accuracy", "n_test", "torch")}}
    entry["evaluated"] = fresh["date"]
    update_manifest(manifest_path, dataset, entry)
    print(json.dumps(entry, indent=2))


def update_manifest(path: Path, dataset: str, entry: dict) -> None:
    """Replace this dataset's entry in manifest.json, keeping the others (written atomically)."""
    manifest = json.loads(path.read_text()) if path.is_file() else {}
    manifest[dataset] = entry
    atomic_write(path, (json.dumps(dict(sorted(manifest.items())), indent=2) + "\n").encode())


def atomic_write(path: Path, blob: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(blob)
    os.chmod(tmp, 0o644)  # mkstemp makes it private; shipped files are world-readable
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
