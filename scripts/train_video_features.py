"""Train the shipped clip network: `python scripts/train_video_features.py --seed 0` (about 7 CPU-minutes).

Trains gankit.metrics.video.ClipNet on Moving MNIST's train split only (MNIST's training digits; the
video task's CPU default: 16 frames, 32 px, 2 digits on a 64-px canvas), reproducibly from the seed on
CPU with one thread. Three targets, so that its features see both what is shown and how it moves:

- the digits in a frame (multi-label over the 10 classes), from that frame alone (the frame head,
  used by `identity`), learnt first on random single frames (many more clips a second than whole
  clips give), then frozen;
- the digits of the clip (multi-label), from the clip features;
- the clip's temporal order, each clip drawn as one of four with equal odds: as it is; its frames
  shuffled; one frame held for 1..T/4 frames (the motion stalls, then goes on); one frame repeated
  throughout (a still picture).

Each batch is a random window of 4..16 frames (the full 16 half the time), so the network takes any
clip of at least 4 frames. The fp16 weights go to src/gankit/metrics/weights/moving-mnist-clip-net
.safetensors, and the entry "video:moving-mnist" of manifest.json records how well the stored weights
do on held-out clips (MNIST's test digits) and on training clips: each head's accuracy.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save as save_safetensors
from train_feature_classifier import atomic_write, update_manifest  # scripts/ is on sys.path

from gankit.data import load_dataset
from gankit.data.images import resize_square
from gankit.metrics import features as feat
from gankit.metrics import video as vm
from gankit.tasks.video.data import moving_mnist

KEY = vm.MANIFEST_PREFIX + "moving-mnist"
FILE = "moving-mnist-clip-net.safetensors"
CANVAS = 64  # Moving MNIST's canvas, shown at --side px (as the video task does)
CHUNK = 1000  # clips made at a time: bounds the 64-px canvas in memory
N_EVAL = 1000  # training clips whose accuracies are measured beside the held-out ones


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clips", type=int, default=10_000, help="training clips (default 10000)")
    parser.add_argument("--held", type=int, default=1000, help="held-out clips measured (default 1000)")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--digits", type=int, default=2)
    parser.add_argument("--frame-steps", type=int, default=6000, help="steps on single frames first")
    parser.add_argument("--frame-batch", type=int, default=128, help="frames a step, first")
    parser.add_argument("--epochs", type=int, default=3, help="passes over the clips, after")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (1 keeps the run reproducible)")
    parser.add_argument("--out-dir", type=Path, default=feat.WEIGHTS_DIR)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = vm.ClipNetConfig()
    start = time.time()
    train = make_clips(args.clips, "train", args, config.side)
    held = make_clips(args.held, "test", args, config.side)
    net = train_network(*train, config, args)
    train_seconds = round(time.time() - start, 1)
    path = args.out_dir / FILE
    sha = write_weights(net, path)
    entry = evaluate(path, sha, config, train, held, args)
    entry.update(seed=args.seed, frame_steps=args.frame_steps, frame_batch=args.frame_batch, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                 frames=args.frames, digits=args.digits, canvas=CANVAS, side=config.side,
                 train_seconds=train_seconds, data_note=load_dataset("mnist", "train").note)
    update_manifest(args.out_dir / feat.MANIFEST, KEY, entry)
    print(json.dumps(entry, indent=2))


def make_clips(n: int, split: str, args, side: int) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 clips [n, frames, 1, side, side] of the split's digits and their multi-hot digit sets
    float [n, 10]; seeded from args.seed (the held-out clips from other seeds than training's)."""
    clips, sets = [], []
    base = args.seed * 100_003 + (50_000 if split == "test" else 0)
    for i in range(0, n, CHUNK):
        x, classes = moving_mnist(min(CHUNK, n - i), split, args.frames, CANVAS, args.digits,
                                  seed=base + i // CHUNK)
        m, t = x.shape[:2]
        clips.append(resize_square(x.flatten(0, 1), side).view(m, t, 1, side, side))
        sets.append(torch.zeros(m, 10).scatter_(1, classes, 1.0))
    return torch.cat(clips), torch.cat(sets)


def window(clips: torch.Tensor, gen: torch.Generator, frames: int) -> torch.Tensor:
    """A random window of the batch's clips [B, T, ...]: all T frames half the time, else 4..T-1."""
    if torch.rand((), generator=gen) < 0.5 or frames <= vm.MIN_FRAMES:
        return clips
    length = int(torch.randint(vm.MIN_FRAMES, frames, (), generator=gen))
    start = int(torch.randint(0, frames - length + 1, (), generator=gen))
    return clips[:, start : start + length]


def reorder(clip: torch.Tensor, order: int, gen: torch.Generator) -> torch.Tensor:
    """One clip [T, ...] as ORDERS[order]: real, shuffled, held (a frame held 1..T/4 frames, then
    the clip goes on) or static (one frame repeated)."""
    t = clip.shape[0]
    if order == 1:
        perm = torch.randperm(t, generator=gen)
        if torch.equal(perm, torch.arange(t)):
            perm = perm.roll(1)
        return clip[perm]
    if order == 2:
        k = int(torch.randint(1, max(2, t // 4 + 1), (), generator=gen))
        at = int(torch.randint(0, t - k, (), generator=gen))
        idx = torch.cat([torch.arange(at + 1), torch.full((k,), at), torch.arange(at + 1, t - k)])
        return clip[idx]
    if order == 3:
        return clip[int(torch.randint(0, t, (), generator=gen))].expand_as(clip)
    return clip


def batch_input(clips: torch.Tensor, orders: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """uint8 clips [B, T, 1, S, S] reordered as `orders` [B] → float [-1, 1]."""
    x = torch.stack([reorder(c, int(o), gen) for c, o in zip(clips, orders)])
    return x.float() / 127.5 - 1


def losses(out: dict[str, torch.Tensor], sets: torch.Tensor, orders: torch.Tensor) -> torch.Tensor:
    """The clip's digit set (binary cross-entropy) plus its order (cross-entropy)."""
    return (F.binary_cross_entropy_with_logits(out["digits"], sets)
            + F.cross_entropy(out["order"], orders, label_smoothing=0.05))  # fmt: skip


def train_network(clips: torch.Tensor, sets: torch.Tensor, config: vm.ClipNetConfig, args) -> vm.ClipNet:
    """The frame path on single frames first, then everything on whole clips; seeded throughout
    (init and dropout; frames drawn, order, windows, reorderings)."""
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    net = vm.ClipNet(config)
    net.frames.to(memory_format=torch.channels_last)
    pretrain_frames(net, clips, sets, args, gen)
    return train_clips(net, clips, sets, args, gen)


def pretrain_frames(net: vm.ClipNet, clips: torch.Tensor, sets: torch.Tensor, args, gen: torch.Generator) -> None:
    """The frame encoder and head on random single frames (args.frame_batch a step, each from another
    clip): digits are learnt from many more clips a second than whole clips give, so the joint
    training that follows starts from frames that already name their digits."""
    params = [*net.frames.parameters(), *net.frame_body.parameters(), *net.frame_head.parameters()]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=args.frame_steps)
    net.train()
    tick, hits = time.time(), 0.0
    for step in range(args.frame_steps):
        idx = torch.randint(0, len(clips), (args.frame_batch,), generator=gen)
        t = torch.randint(0, clips.shape[1], (args.frame_batch,), generator=gen)
        x = clips[idx, t].float() / 127.5 - 1  # [B, 1, S, S]
        logits = net.frame_head(net.frame_body(net.frames(x.contiguous(memory_format=torch.channels_last))))
        loss = F.binary_cross_entropy_with_logits(logits, sets[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step >= args.frame_steps - 100:  # the last 100 steps' accuracy, for the log
            truth = vm.digit_sets(sets[idx], args.digits)
            hits += float((vm.digit_sets(torch.sigmoid(logits.detach()), args.digits) == truth).double().mean())
    print(f"frames: {args.frame_steps} steps, train acc (last 100) {hits / min(100, args.frame_steps):.3f}, "
          f"{time.time() - tick:.0f}s", flush=True)


def train_clips(net: vm.ClipNet, clips: torch.Tensor, sets: torch.Tensor, args, gen: torch.Generator) -> vm.ClipNet:
    """The motion path, clip features and clip heads on whole clips in random orders and windows
    (AdamW + one-cycle schedule), on the frame path as pretrained, frozen: its digits stay as
    learnt from frames, and a step costs a third less."""
    frame_path = (net.frames, net.frame_body, net.frame_head)
    for module in frame_path:
        module.requires_grad_(False)
    params = [p for p in net.parameters() if p.requires_grad]
    steps = args.epochs * -(-len(clips) // args.batch_size)
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=steps)
    for epoch in range(args.epochs):
        net.train()
        for module in frame_path:
            module.eval()  # BatchNorm's statistics and dropout as pretrained
        perm, hits, tick = torch.randperm(len(clips), generator=gen), torch.zeros(3), time.time()
        for start in range(0, len(perm), args.batch_size):
            idx = perm[start : start + args.batch_size]
            orders = torch.randint(0, len(vm.ORDERS), (len(idx),), generator=gen)
            out = net(batch_input(window(clips[idx], gen, args.frames), orders, gen))
            loss = losses(out, sets[idx], orders)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            hits += batch_hits(out, sets[idx], orders, args.digits)
        acc = ", ".join(f"{k} {v:.3f}" for k, v in zip(("digits", "frames", "order"), hits / len(perm)))
        print(f"epoch {epoch + 1}/{args.epochs}: train acc {acc}, {time.time() - tick:.0f}s", flush=True)
    return net.eval()


def batch_hits(out: dict[str, torch.Tensor], sets: torch.Tensor, orders: torch.Tensor, k: int) -> torch.Tensor:
    """Clips whose digit set, frames' digit sets (a share of each clip) and order are right: [3]."""
    with torch.no_grad():
        truth = vm.digit_sets(sets, k)  # [B] bit masks
        clip = vm.digit_sets(torch.sigmoid(out["digits"]), k) == truth
        frames = vm.frame_classes(torch.sigmoid(out["frames"]), k) == truth[:, None]
        order = out["order"].argmax(1) == orders
        return torch.stack([clip.sum(), frames.double().mean(1).sum(), order.sum()]).float()


def write_weights(net: vm.ClipNet, path: Path) -> str:
    """Save the state as fp16 safetensors (atomically) and return the file's SHA-256."""
    state = {k: v.detach().contiguous().to(torch.float16) for k, v in net.state_dict().items()
             if not k.endswith("num_batches_tracked")}  # fmt: skip
    # one metadata key only: several are written in a random order, and the SHA-256 would vary
    blob = save_safetensors(state, metadata={"architecture": vm.ARCHITECTURE})
    atomic_write(path, blob)
    return hashlib.sha256(blob).hexdigest()


def evaluate(path: Path, sha: str, config: vm.ClipNetConfig, train, held, args) -> dict:
    """Each head's accuracy with the stored weights, loaded as users load them (fp16 → fp32)."""
    entry = {"file": path.name, "dataset": "moving-mnist", "architecture": vm.ARCHITECTURE,
             "config": vm.config_dict(config), "classes": [str(i) for i in range(10)], "orders": list(vm.ORDERS)}
    ext = vm.extractor_from_weights(path.read_bytes(), entry, sha)
    accuracy = {}
    for split, (clips, sets) in (("train", (train[0][:N_EVAL], train[1][:N_EVAL])), ("test", held)):
        accuracy[split] = head_accuracies(ext, clips, sets, args)
    return {**entry, "sha256": sha, "bytes": path.stat().st_size,
            "accuracy": {head: {s: accuracy[s][head] for s in accuracy} for head in accuracy["test"]},
            "n_train": args.clips, "n_train_measured": min(N_EVAL, args.clips), "n_test": len(held[0]),
            "date": datetime.date.today().isoformat(), "torch": torch.__version__}  # fmt: skip


def head_accuracies(ext: vm.VideoExtractor, clips: torch.Tensor, sets: torch.Tensor, args) -> dict:
    """clip_digits (exact digit set), frame_digits (share of frames), order (each clip in all four
    orders, reordered from a fixed seed) and order_<name> per order; rounded to 4 places."""
    gen = torch.Generator().manual_seed(12345)
    truth = vm.digit_sets(sets, args.digits)
    acc: dict[str, float] = {}
    for o, name in enumerate(vm.ORDERS):
        x = torch.stack([reorder(c, o, gen) for c in clips])
        out = ext.outputs(x)
        digits, orders = ext.heads(out.features)
        if name == "real":
            acc["clip_digits"] = float((vm.digit_sets(digits, args.digits) == truth).double().mean())
            frames = vm.frame_classes(out.frame_probs, args.digits) == truth[:, None]
            acc["frame_digits"] = float(frames.double().mean())
            acc["identity_real"] = float(vm.identity(vm.frame_classes(out.frame_probs, args.digits)).mean())
        acc[f"order_{name}"] = float((orders.argmax(1) == o).double().mean())
    acc["order"] = sum(acc[f"order_{n}"] for n in vm.ORDERS) / len(vm.ORDERS)
    return {k: round(v, 4) for k, v in acc.items()}


if __name__ == "__main__":
    main()
