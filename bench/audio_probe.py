"""Recipe probes for the audio task's mel model: one run of AudioGAN with KEY=VALUE options,
trained on one thread to each of --minutes CPU-minutes (the same run continued), scored at each
mark on --num clips (fewer than bench/audio.py's 1,000: cheaper, FID a little higher) with the
set's shipped classifier. Rows are appended to bench/records/audio_probe.jsonl (bench/record.py:
the command, machine, date, commit and the scores); the last mark's spectrograms go to
OUT/NAME.png (OUT: bench/runs/audio/probes, not tracked). The defaults' table is bench/audio.py's;
this is how its recipe was chosen. --collect prints the recorded rows (of --data) as a table.

    python bench/audio_probe.py --data notes --minutes 5 10 --set r1_gamma=1 [--decay linear]
    python bench/audio_probe.py --collect [--data notes]

--decay linear|cosine scales every learning rate from its value to 0 over the last of --minutes
(the CPU budget): what a run does when it knows its length.
"""
from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import record
from cpu_budget import CPUBudget, parse_options

from gankit.train.trainer import Callback, Trainer


class Decay(Callback):
    """lr = base * f(used / horizon) for every optimizer, by the CPU time used."""

    def __init__(self, budget: CPUBudget, horizon: float, kind: str, optimizers: dict):
        self.budget, self.horizon, self.kind = budget, horizon, kind
        self.base = {k: [g["lr"] for g in o.param_groups] for k, o in optimizers.items()}
        self.optimizers = optimizers

    def on_step(self, trainer: Trainer) -> None:
        p = min(self.budget.used() / self.horizon, 1.0)
        f = 1 - p if self.kind == "linear" else 0.5 * (1 + math.cos(math.pi * p))
        for k, o in self.optimizers.items():
            for g, base in zip(o.param_groups, self.base[k]):
                g["lr"] = base * f


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="notes")
    p.add_argument("--sets", type=Path, default=Path("/work/audiosets"))
    p.add_argument("--minutes", nargs="+", type=float, default=[5.0, 10.0])
    p.add_argument("--num", type=int, default=400)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--decay", choices=["none", "linear", "cosine"], default="none")
    p.add_argument("--name", default=None)
    p.add_argument("--out", type=Path, default=Path("bench/runs/audio/probes"),
                   help="the spectrogram PNGs (git-ignored)")
    p.add_argument("--collect", action="store_true",
                   help="train nothing: print the recorded rows (bench/records/audio_probe.jsonl)")
    args = p.parse_args()
    if args.collect:
        return collect(args)
    os.environ["OMP_NUM_THREADS"] = "1"
    import sys

    import torch
    torch.set_num_threads(1)
    from gankit.data.audio import spectrogram_image
    from gankit.metrics.audio import audio_scores, load_audio_classifier
    from gankit.tasks.audio.facade import AudioGAN, classifier_labels
    from gankit.viz import save_png
    extra = parse_options(args.set)
    name = args.name or "-".join([args.data] + [f"{k}{v}" for k, v in extra.items()] +
                                 ([args.decay] if args.decay != "none" else []) or ["default"])
    args.out.mkdir(parents=True, exist_ok=True)
    gan = AudioGAN(args.sets / args.data, seed=args.seed, **extra)
    trainer = gan.run.trainer
    audio = gan.reference("test")
    labels = gan.labels_for(None, args.num)
    ext = load_audio_classifier(args.data)
    req = classifier_labels(labels, gan.classes, ext.classes) if labels is not None else None
    spent = 0.0
    for mark in args.minutes:
        budget = CPUBudget(mark * 60, spent)
        trainer.callbacks = [budget]
        if args.decay != "none":
            trainer.callbacks.append(Decay(budget, args.minutes[-1] * 60, args.decay,
                                           gan.task.optimizers))
        trainer.fit(sys.maxsize)
        spent = budget.used()
        t0 = time.time()
        clips = gan.sample(args.num, seed=args.seed, labels=labels)
        res = audio_scores(clips, ext, reference=audio.held, train=audio.train,
                           requested_labels=req, seed=args.seed)
        s = {k: r.value for k, r in res.items()}
        row = {"name": name, "data": args.data, "options": extra, "decay": args.decay,
               "horizon": args.minutes[-1], "minutes": mark, "cpu_s": round(spent, 1),
               "steps": trainer.step, "num": args.num, "seed": args.seed, **s}
        record.append("audio_probe", [row])
        print(f"{name} {mark:g} min, {trainer.step} steps: IS {s['inception_score']:.2f} "
              f"FID {s['fid']:.1f} conf {s['confident']:.0%} classes {s['classes']:.0f} "
              f"acc {s.get('label_accuracy', float('nan')):.0%} ({time.time() - t0:.0f} s to "
              f"score)", flush=True)
    save_png(spectrogram_image(clips[:16], rows=2), args.out / f"{name}.png")


def collect(args: argparse.Namespace) -> None:
    """The recorded rows of --data (all sets when --data is not given on the command line)."""
    import sys
    given = "--data" in sys.argv
    recs = record.read("audio_probe", keep=lambda r: not given or r["row"]["data"] == args.data)
    print(f"{record.describe(recs)}\n")
    print("| run | decay | horizon | CPU min | steps | clips | IS | FID | confident | classes | "
          "label accuracy | date | note |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for rec in recs:
        r = rec["row"]
        acc = f"{r['label_accuracy']:.0%}" if "label_accuracy" in r else "–"
        print(f"| {r['name']} | {r['decay']} | {r['horizon']:g} | {r['minutes']:g} | {r['steps']} | "
              f"{r['num']} | {r['inception_score']:.2f} | {r['fid']:.1f} | {r['confident']:.0%} | "
              f"{r['classes']:.0f} | {acc} | {rec['date']} | {r.get('note', '')} |")


if __name__ == "__main__":
    main()
