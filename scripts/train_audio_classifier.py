"""Train a shipped audio classifier: `python scripts/train_audio_classifier.py --dataset spoken-digits --seed 0`.

Trains gankit.metrics.audio.SpecClassifier on the train split of a bundled audio set (built with
gankit.data.audio_sets.build when --data holds no dataset.json yet), reproducibly from the seed on
CPU with one thread. Augmentation, because generated clips are never as clean as the data: a random
time shift (up to 0.1 s either way, silence filled in), a random gain (-20..+6 dB, clipped to
[-1, 1]) and white noise of a random level (std 1e-4..3e-2) on most clips. The fp16 weights go to
src/gankit/metrics/weights/<set>-audio-classifier.safetensors and the entry "audio:<set>" of
manifest.json records the normalization, the classes, what the set was built from and how well the
stored weights classify the train and test splits.
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
from train_feature_classifier import (  # scripts/ is on sys.path
    atomic_write,
    train_epochs,
    update_manifest,
)

from gankit.data.audio import AudioData, load_audio
from gankit.metrics import audio as am
from gankit.metrics import features as feat

SETS = ("notes", "spoken-digits")
EPOCHS = {"notes": 16, "spoken-digits": 12}  # what the shipped weights were trained with
MAX_SHIFT = 1600  # samples: 0.1 s at 16 kHz
GAIN_DB = (-20.0, 6.0)
NOISE_LOG10_STD = (-4.0, -1.5)
NOISE_SHARE = 0.8  # of clips that get noise; the rest stay clean
TILT = 1.5  # nats of log magnitude: a random spectral tilt of up to ±13 dB at the band edges
FREQ_MASK, TIME_MASK = 16, 16  # SpecAugment: one band of up to 16 bins, one stretch of up to 16 frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, choices=SETS)
    parser.add_argument("--data", type=Path, default=None, help="default: ~/.cache/gankit/audio-sets/<dataset>")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="default: 12 for spoken-digits, 16 for notes")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--width", type=int, default=16, help="channels of the first conv (doubling after)")
    parser.add_argument("--no-spec-augment", dest="spec_augment", action="store_false",
                        help="leave out the spectral tilt and the frequency/time masks")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (1 keeps the run reproducible)")
    parser.add_argument("--out-dir", type=Path, default=feat.WEIGHTS_DIR)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.epochs = args.epochs or EPOCHS[args.dataset]
    folder = (args.data or Path.home() / ".cache" / "gankit" / "audio-sets" / args.dataset).expanduser()
    info = dataset_info(args.dataset, folder)
    data = load_audio(folder, classes=info["classes"])
    start = time.time()
    config = am.SpecClassifierConfig(
        channels=tuple(args.width * m for m in (1, 2, 4, 8)), num_classes=len(data.classes),
        **normalization(data.train))  # fmt: skip
    net = train_classifier(data, config, args)
    path = args.out_dir / f"{args.dataset}-audio-classifier.safetensors"
    sha = write_weights(net, path)
    entry = evaluate(args.dataset, path, sha, config, data)
    entry.update(seed=args.seed, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                 augmentation={"max_shift": MAX_SHIFT, "gain_db": list(GAIN_DB),
                               "noise_log10_std": list(NOISE_LOG10_STD), "noise_share": NOISE_SHARE,
                               **({"tilt": TILT, "freq_mask": FREQ_MASK, "time_mask": TIME_MASK}
                                  if args.spec_augment else {})},
                 width=args.width,
                 train_seconds=round(time.time() - start, 1),
                 data={k: info[k] for k in ("name", "version", "seed", "packages", "built") if k in info})
    update_manifest(args.out_dir / feat.MANIFEST, am.MANIFEST_PREFIX + args.dataset, entry)
    print(json.dumps(entry, indent=2))


def dataset_info(name: str, folder: Path) -> dict:
    """The set's dataset.json, building the set into `folder` first when it is not there."""
    meta = folder / "dataset.json"
    if not meta.is_file():
        from gankit.data.audio_sets import build

        print(f"building {name} into {folder} …", flush=True)
        build(name, folder)
    info = json.loads(meta.read_text())
    if info.get("name") != name:
        raise SystemExit(f"{meta} describes '{info.get('name')}', not '{name}'")
    return info


def normalization(clips: torch.Tensor) -> dict[str, float]:
    """Mean and std of the floored log spectrograms of clean training clips [N, L]: the input scaling."""
    floor = am.SpecClassifierConfig.floor
    total, total_sq, count = 0.0, 0.0, 0
    for start in range(0, len(clips), 500):
        spec = am.log_spectrogram(clips[start : start + 500]).clamp(min=floor).double()
        total, total_sq, count = total + float(spec.sum()), total_sq + float((spec**2).sum()), count + spec.numel()
    mean = total / count
    return {"floor": floor, "mean": round(mean, 4), "std": round((total_sq / count - mean**2) ** 0.5, 4)}


def train_classifier(data: AudioData, config: am.SpecClassifierConfig, args) -> am.SpecClassifier:
    """AdamW + one-cycle schedule on augmented training clips; seeded throughout (init, order, augmentation)."""
    torch.manual_seed(args.seed)  # the init and dropout
    gen = torch.Generator().manual_seed(args.seed)  # the order and the augmentation
    net = am.SpecClassifier(config).to(memory_format=torch.channels_last)

    def batch_input(idx: torch.Tensor) -> torch.Tensor:
        clips = augment(data.train[idx], gen)
        return train_input(clips, config, gen) if args.spec_augment else am.spectrogram_input(clips, config)
    return train_epochs(net, data.train_labels, batch_input, args.epochs, args, gen)


def augment(clips: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Clips [B, L] shifted in time (silence filled in), scaled by a random gain, with noise added."""
    b, length = clips.shape
    padded = F.pad(clips, (MAX_SHIFT, MAX_SHIFT))
    offset = torch.randint(0, 2 * MAX_SHIFT + 1, (b, 1), generator=gen)
    x = padded.gather(1, offset + torch.arange(length))  # [B, L]
    gain_db = torch.empty(b, 1).uniform_(*GAIN_DB, generator=gen)
    x = x * 10 ** (gain_db / 20)
    std = 10 ** torch.empty(b, 1).uniform_(*NOISE_LOG10_STD, generator=gen)
    std = std * (torch.rand(b, 1, generator=gen) < NOISE_SHARE)
    x = x + std * torch.randn(b, length, generator=gen)
    return x.clamp(-1.0, 1.0)


def train_input(clips: torch.Tensor, config: am.SpecClassifierConfig, gen: torch.Generator) -> torch.Tensor:
    """The network's input [B, 1, 128, T] of augmented clips [B, L], augmented once more as a spectrogram:
    a random tilt (another microphone, another instrument's brightness) and SpecAugment's masks, so
    that no single band or moment decides the class (held-out instruments differ in a few bands)."""
    spec = am.log_spectrogram(clips)  # [B, F, T]
    b, f, t = spec.shape
    slope = torch.empty(b, 1, 1).uniform_(-TILT, TILT, generator=gen)
    spec = (spec + slope * torch.linspace(-1, 1, f).view(1, f, 1)).clamp(min=config.floor)
    spec = _mask(_mask(spec, 1, FREQ_MASK, config.floor, gen), 2, TIME_MASK, config.floor, gen)
    return ((spec - config.mean) / config.std).unsqueeze(1)


def _mask(spec: torch.Tensor, dim: int, width: int, value: float, gen: torch.Generator) -> torch.Tensor:
    """Set a random stretch of 0..width rows (dim 1) or columns (dim 2) of each [F, T] to `value`."""
    b, size = spec.shape[0], spec.shape[dim]
    w = torch.randint(0, width + 1, (b, 1), generator=gen)
    start = (torch.rand(b, 1, generator=gen) * (size - w + 1)).long()
    pos = torch.arange(size).view(1, size)
    hit = (pos >= start) & (pos < start + w)  # [B, size]
    hit = hit.view(b, size, 1) if dim == 1 else hit.view(b, 1, size)
    return spec.masked_fill(hit, value)


def write_weights(net: am.SpecClassifier, path: Path) -> str:
    """Save the state as fp16 safetensors (atomically) and return the file's SHA-256."""
    state = {k: v.detach().contiguous().to(torch.float16) for k, v in net.state_dict().items()
             if not k.endswith("num_batches_tracked")}  # fmt: skip
    # one metadata key only: safetensors writes several in a random order, and the file's SHA-256
    # would then differ between two runs of the same seed (the set is named by the file and manifest)
    blob = save_safetensors(state, metadata={"architecture": am.ARCHITECTURE})
    atomic_write(path, blob)
    return hashlib.sha256(blob).hexdigest()


def evaluate(dataset: str, path: Path, sha: str, config: am.SpecClassifierConfig, data: AudioData) -> dict:
    """Accuracy of the stored weights, loaded exactly as users load them (fp16 → fp32, BatchNorm folded)."""
    entry = {
        "file": path.name, "dataset": dataset, "architecture": am.ARCHITECTURE,
        "config": am.config_dict(config), "classes": list(data.classes),
    }  # fmt: skip
    extractor = am.extractor_from_weights(path.read_bytes(), entry, sha)
    acc = {}
    for split, clips, labels in (("train", data.train, data.train_labels), ("test", data.held, data.held_labels)):
        pred = extractor.predict_proba(clips).argmax(1)
        acc[split] = round(float((pred == labels).double().mean()), 6)
    return {
        **entry, "sha256": sha, "bytes": path.stat().st_size,
        "train_accuracy": acc["train"], "test_accuracy": acc["test"],
        "n_train": len(data.train), "n_test": len(data.held),
        "date": datetime.date.today().isoformat(), "torch": torch.__version__,
    }  # fmt: skip


if __name__ == "__main__":
    main()
