"""Benchmark: gankit's default audio GAN, WaveGAN and SpecGAN against a plain non-GAN model, at
fixed CPU budgets.

Data: the bundled sets (gankit.data.audio_sets), built offline once under OUT/data/ (or taken
from --sets DIR/NAME when there):

    spoken-digits   "zero" ... "nine" spoken by espeak-ng over voices, pitches and speeds
    notes           single notes of ten instrument families rendered by fluidsynth (FluidR3_GM)

Arms:

    default    exactly what `gankit train --task audio --dataset DIR` trains, no other flag: the
               mel model (a DCGAN on 64x64 log-mel spectrograms, non-saturating loss, Adam 4e-4,
               width 32, batch 64), conditional since the bundled sets have class folders; its
               clips are drawn for every class equally often, so it also gets a label accuracy.
               --set KEY=VALUE (repeatable) gives it options, and names its rows by them; with
               lr_decay=linear each of --minutes is a run of its own, its learning rate reaching
               0 where its CPU budget runs out (as `--max-time` makes it)
    wavegan    gankit's WaveGAN (unconditional, as in Donahue et al. 2019's SC09 experiments;
               the GANs below never see a label): WGAN-GP, 5 critic steps, Adam(1e-4, 0.5, 0.9), phase shuffle 2,
               model size --width (the paper: 64)
    specgan    gankit's SpecGAN on 128x128 normalized log spectrograms, Griffin-Lim to audio
    baseline   no training: each sample is the mean log spectrogram of a class (drawn with the
               training set's class frequencies) plus Gaussian noise of that class's per-bin
               standard deviation, made audio by the same Griffin-Lim; it uses the labels the
               GANs do not, and costs seconds
    real       no model: training clips (the row to beat; FID here is the floor of the measure)

Each arm runs in a process of its own with ONE thread; a GAN's budget is the CPU time that
process spends training (bench/cpu_budget.py), at each of --minutes (the same run continued, a
clips at each mark). Then --num clips are drawn, kept under OUT/clips/, and scored (at the end, or
by --collect) with the set's shipped spectrogram classifier (gankit.metrics.audio): inception score, FID against the held-out clips on the
classifier's features, the share of confidently classified clips (top class >= 0.8), the
classes that appear, and the memorization check. A few WAVs and a spectrogram PNG of each arm
go to OUT/NAME-ARM-MIN/ (OUT: bench/runs/audio, not tracked). Each row scored goes to
bench/records/audio.jsonl (bench/record.py: the command, machine, date, commit and the row);
--collect trains and scores nothing and prints the table from those records alone (the latest
record of each row on --data).

    python bench/audio.py [--data spoken-digits notes] [--models default wavegan ...]
                          [--minutes 5 10] [--parallel 1] [--num 1000] [--width 16]
                          [--set r1_gamma=1 ...] [--out bench/runs/audio] [--collect]

--width and --batch-size are WaveGAN's and SpecGAN's; the default arm takes no option.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import record
from cpu_budget import parse_options, run_arms

ARMS = ("default", "wavegan", "specgan", "baseline", "real")
KEEP = 3          # WAVs kept per arm and mark


def data_dir(name: str, args: argparse.Namespace) -> Path:
    """The set's folder: --sets/NAME if built there, else OUT/data/NAME (built once)."""
    from gankit.data.audio_sets import build
    if args.sets is not None and (args.sets / name / "dataset.json").exists():
        return args.sets / name
    path = args.out / "data" / name
    if not (path / "dataset.json").exists():
        build(name, path, seed=0)
    return path


def keep(clips, out: Path, rate: int) -> None:  # noqa: ANN001
    from gankit.data.audio import spectrogram_image, write_wav
    from gankit.viz import save_png
    out.mkdir(parents=True, exist_ok=True)
    for i, clip in enumerate(clips[:KEEP]):
        write_wav(out / f"{i}.wav", clip, rate)
    save_png(spectrogram_image(clips[:16], rows=2), out / "spectrograms.png")


def baseline_clips(audio, num: int, seed: int):  # noqa: ANN001, ANN201
    """Class mean log spectrogram + per-bin Gaussian noise, Griffin-Lim to audio."""
    import torch

    from gankit.data.audio import griffin_lim, log_spectrogram
    gen = torch.Generator().manual_seed(seed)
    spec = torch.cat([log_spectrogram(audio.train[i:i + 500])
                      for i in range(0, len(audio.train), 500)])
    k = len(audio.classes)
    mean = torch.stack([spec[audio.train_labels == c].mean(0) for c in range(k)])  # [K, F, T]
    std = torch.stack([spec[audio.train_labels == c].std(0) for c in range(k)])
    freq = torch.bincount(audio.train_labels, minlength=k).float()
    y = torch.multinomial(freq, num, replacement=True, generator=gen)
    out = []
    for i in range(0, num, 250):
        c = y[i:i + 250]
        s = mean[c] + std[c] * torch.randn(mean[c].shape, generator=gen)
        out.append(griffin_lim(torch.exp(s), audio.length, 32, gen).clamp(-1, 1))
    return torch.cat(out)


def run_arm(args: argparse.Namespace) -> None:
    """One arm of one set in this process (one thread): its clips at each mark go to
    OUT/clips/NAME-ARM-MIN.npz (int16) with OUT/NAME-ARM-MIN.json; `score` scores them after."""
    import numpy as np
    import torch
    torch.set_num_threads(1)
    from gankit.data.audio import load_audio
    name, arm = args.arm
    path = data_dir(name, args)
    given = parse_options(args.set) if arm == "default" else {}
    audio = load_audio(path)
    (args.out / "clips").mkdir(exist_ok=True)

    def save(clips, mark: float, info: dict, labels=None) -> None:  # noqa: ANN001
        tag = f"{name}-{arm}{set_tag(given)}-{mark:g}"
        pcm = np.round(clips.clamp(-1, 1).numpy() * 32767).astype(np.int16)
        extra = {} if labels is None else {"labels": labels.numpy()}   # the classes asked for
        np.savez(args.out / "clips" / f"{tag}.npz", audio=pcm, rate=audio.rate, **extra)
        keep(clips, args.out / tag, audio.rate)
        row = {"data": name, "model": arm, "minutes": mark, **info, "set": given,
               "n_train": len(audio.train), "n_held": len(audio.held), "num": len(clips),
               "seed": args.seed}
        (args.out / f"{tag}.json").write_text(json.dumps(row, indent=1))
        print(f"{tag}: {info}", flush=True)

    if arm in ("default", "wavegan", "specgan"):
        from cpu_budget import train_until

        from gankit.tasks.audio.facade import AudioGAN
        def new_gan() -> AudioGAN:
            return (AudioGAN(path, seed=args.seed, **given) if arm == "default" else
                    AudioGAN(path, model=arm, width=args.width, seed=args.seed,
                             batch_size=args.batch_size, conditional=False))
        gan = new_gan()
        trainer = gan.run.trainer
        labels = gan.labels_for(None, args.num)   # conditional: every class equally often
        # A run whose learning rate decays to 0 at its end is a run of its own per budget (as
        # `--max-time` makes it); others go on from one mark to the next.
        decays = gan.config.train.lr_decay != "none"
        spent = 0.0
        for i, mark in enumerate(args.minutes):
            if decays and i:
                gan, spent = new_gan(), 0.0
                trainer = gan.run.trainer
            spent = train_until(trainer, mark * 60, spent, decay=gan)
            t0 = time.process_time()
            clips = gan.sample(args.num, seed=args.seed, labels=labels)
            m = gan.config.model
            save(clips, mark, {"cpu_s": spent, "steps": trainer.step, "width": m.width,
                               "model_name": m.model, "conditional": m.conditional,
                               "batch_size": gan.config.train.batch_size, "lr": gan.config.train.lr,
                               "lr_decay": gan.config.train.lr_decay,
                               "r1_gamma": gan.config.loss.r1_gamma,
                               "sample_cpu_s": time.process_time() - t0}, labels)
    elif arm == "baseline":
        t0 = time.process_time()
        clips = baseline_clips(audio, args.num, args.seed)
        save(clips, 0, {"cpu_s": time.process_time() - t0})
    else:
        idx = torch.randperm(len(audio.train), generator=torch.Generator().manual_seed(args.seed))
        save(audio.train[idx[:args.num]], 0, {"cpu_s": 0.0})


def score(row_path: Path, args: argparse.Namespace) -> dict | None:
    """The row of OUT/NAME-ARM-MIN.json with its scores, computed once and kept in the file;
    None if it was scored before (and so recorded then)."""
    import numpy as np
    import torch

    from gankit.data.audio import load_audio
    from gankit.metrics.audio import audio_scores
    row = json.loads(row_path.read_text())
    if "scores" in row:
        return None
    path = data_dir(row["data"], args)
    audio = load_audio(path)
    npz = np.load(args.out / "clips" / f"{row_path.stem}.npz")
    clips = torch.from_numpy(npz["audio"].astype(np.float32) / 32767)
    labels = None
    if "labels" in npz:   # the run's class numbers (its folders, sorted) -> the classifier's
        from gankit.metrics.audio import load_audio_classifier
        from gankit.tasks.audio.facade import classifier_labels
        labels = classifier_labels(torch.from_numpy(npz["labels"]), audio.classes,
                                   load_audio_classifier(row["data"]).classes)
    t0 = time.process_time()
    results = audio_scores(clips, row["data"], reference=audio.held, train=audio.train,
                           requested_labels=labels, seed=args.seed)
    row.update(scores={k: r.value for k, r in results.items()},
               extra={k: r.extra for k, r in results.items()}, classes=audio.classes,
               score_cpu_s=time.process_time() - t0)
    row_path.write_text(json.dumps(row, indent=1))
    return row


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", nargs="+", default=["spoken-digits", "notes"],
                   choices=["spoken-digits", "notes"])
    p.add_argument("--models", nargs="+", default=list(ARMS), choices=ARMS)
    p.add_argument("--minutes", nargs="+", type=float, default=[5.0, 10.0],
                   help="CPU minutes per GAN: a score at each")
    p.add_argument("--width", type=int, default=16, help="the GANs' model size d")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--num", type=int, default=1000, help="clips drawn from each model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--parallel", type=int, default=1, help="arms run side by side")
    p.add_argument("--set", action="append", default=[], help="an option of the default arm, "
                   "KEY=VALUE (its rows are named by them)")
    p.add_argument("--sets", type=Path, help="a folder holding already built sets (NAME/)")
    p.add_argument("--out", type=Path, default=Path("bench/runs/audio"),
                   help="clips, WAVs, spectrograms and unscored rows (git-ignored)")
    p.add_argument("--collect", action="store_true", help="train and score nothing: print the "
                   "table from the records (bench/records/audio.jsonl)")
    p.add_argument("--arm", nargs=2, help=argparse.SUPPRESS)   # internal: run one arm here
    args = p.parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"
    if args.arm:
        return run_arm(args)
    if not args.collect:
        args.out.mkdir(parents=True, exist_ok=True)
        for name in args.data:
            data_dir(name, args)
        jobs = [(name, arm) for name in args.data for arm in args.models]
        base = [sys.executable, __file__, "--minutes", *map(str, args.minutes), "--width",
                str(args.width), "--batch-size", str(args.batch_size), "--num", str(args.num),
                "--seed", str(args.seed), "--out", str(args.out)]
        if args.sets is not None:
            base += ["--sets", str(args.sets)]
        base += [a for kv in args.set for a in ("--set", kv)]
        run_arms(base, jobs, args.parallel)
        import torch
        torch.set_num_threads(max(args.parallel, 1))
        fresh = [score(f, args) for f in sorted(args.out.glob("*.json"))
                 if f.name != "results.json"]
        record.append("audio", [r for r in fresh if r is not None])
    recs = record.read("audio", keep=lambda r: r["row"]["data"] in args.data,
                       key=lambda r: (r["row"]["data"], r["row"]["model"],
                                      set_tag(r["row"].get("set", {})), r["row"]["minutes"]))
    order = {a: i for i, a in enumerate(ARMS)}
    recs.sort(key=lambda r: (r["row"]["data"], order[r["row"]["model"]],
                             set_tag(r["row"].get("set", {})), r["row"]["minutes"]))
    rows = record.rows(recs)
    nums = sorted({f"{r['num']:,}" if "num" in r else "not recorded" for r in rows})
    print(f"\nclips scored per row: {'/'.join(nums) or '-'}; WaveGAN and SpecGAN unconditional; "
          f"the default as `gankit train --task audio` makes it; one thread each; "
          f"{record.describe(recs)}\n")
    print("| data | model | CPU min | steps | IS | FID | confident | classes seen | "
          "label accuracy | memorized |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        s = r["scores"]
        acc = f"{s['label_accuracy']:.0%}" if "label_accuracy" in s else "–"
        print(f"| {r['data']} | {arm_name(r)} | {r['cpu_s'] / 60:.1f} | {r.get('steps', '-')} | "
              f"{s['inception_score']:.2f} | {s['fid']:.1f} | {s['confident']:.0%} | "
              f"{s['classes']:.0f}/{len(r['classes'])} | {acc} | {s['memorization']:.1%} |")


def arm_name(row: dict) -> str:
    """The table's name of an arm (the default: its model, and whether it was conditional)."""
    if row["model"] != "default":
        return row["model"]
    given = "".join(f", {k}={v}" for k, v in row.get("set", {}).items())
    return f"default ({row.get('model_name', 'mel')}" + (
        ", conditional" if row.get("conditional") else "") + given + ")"


def set_tag(extra: dict) -> str:
    """The part of a row's file name that names the options --set gave its arm."""
    return "".join(f"+{k}{v}" for k, v in extra.items())


if __name__ == "__main__":
    main()
