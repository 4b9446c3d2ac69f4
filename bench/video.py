"""Benchmark: the video GAN at the defaults a user gets, against two image-GAN baselines given the
same CPU time, on moving-mnist (two digits bouncing, made offline from MNIST).

Arms (each one process, ONE thread; budget = its CPU time spent training, evaluation excluded):

    video        `gankit train --task video --dataset moving-mnist` at its defaults
    image        gankit's image GAN at its defaults, trained on the frames of the same training
                 clips (every frame an image); it gives two baselines at each mark:
    static         a clip is one generated frame repeated (a still picture: no time at all)
    frames         a clip is independent generated frames (no relation from frame to frame)

At each mark (default 5 and 15 CPU-minutes) an arm writes 500 sample clips (seed 0) to
OUT/ARM-Mmin.npz; `--score` then measures every saved mark against the 1,000 held-out clips
(made from MNIST's test digits, never trained on) with the scores `gankit eval` gives a video run:

    frame FID     Fréchet distance of single frames in the shipped MNIST classifier's features
    FVD           Fréchet distance of whole clips in the shipped moving-digits 3-D CNN's features
    identity      share of a clip's frames showing the clip's majority digits (real clips: ceiling)
    rigid         the identity of the arm's own first frames slid rigidly (what its digits would
                  score if they stayed exactly: the frame head misreads hard-to-read digits at
                  some positions); identity / rigid is the part of identity about staying
    motion        mean change of a pixel per frame, against the real clips' (gap: |fake-real|/real)
    accel gap     the same for the change of that change
    frozen        share of clips moving less than a tenth of the real clips' median

The clips, checkpoints and GIF grids go to OUT (bench/runs/video, not tracked); the table's rows
to bench/records/video.jsonl (bench/record.py), and --collect prints the table from those alone.

    python bench/video.py [--minutes 5 15] [--arms video image] [--parallel 2] [--seed 0]
    python bench/video.py --score
    python bench/video.py --collect
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import record

ARMS = ("video", "image")
N_CLIPS = 500          # sample clips scored per mark
N_REAL = 1000          # held-out clips scored against


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--minutes", type=float, nargs="+", default=[5, 15])
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    p.add_argument("--parallel", type=int, default=2, help="arms run side by side")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="video arm: options beside the defaults (another row)")
    p.add_argument("--out", type=Path, default=Path("bench/runs/video"),
                   help="clips, checkpoints and grids (git-ignored)")
    p.add_argument("--arm", nargs="+", help=argparse.SUPPRESS)
    p.add_argument("--score", action="store_true", help="train nothing: score the saved marks "
                   "and append their rows to bench/records/video.jsonl")
    p.add_argument("--collect", action="store_true", help="train nothing: print the table from "
                   "the records (bench/records/video.jsonl)")
    args = p.parse_args()
    if args.collect:
        return collect()
    if args.score:
        return score(args)
    if args.arm:
        return train_arm(args.arm[0], args)
    from cpu_budget import run_arms
    base = [sys.executable, __file__, "--seed", str(args.seed), "--out", str(args.out),
            "--minutes", *map(str, args.minutes), "--set", *args.set]
    run_arms(base, [(a,) for a in args.arms], args.parallel)
    score(args)


def arm_name(arm: str, settings: list[str]) -> str:
    return arm + ("+" + "+".join(settings) if settings and arm == "video" else "")


def train_arm(arm: str, args: argparse.Namespace) -> None:
    """Train one arm to each mark, writing OUT/<arm>-<M>min.npz (uint8 [N, T, H, W, C])."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import numpy as np
    import torch
    torch.set_num_threads(1)
    from cpu_budget import parse_options, train_until

    from gankit import GAN
    from gankit.tasks.video.facade import VideoGAN
    from gankit.tasks.video.outputs import clips_uint8, write_clips

    out = args.out / f"seed{args.seed}"
    out.mkdir(parents=True, exist_ok=True)
    name = arm_name(arm, args.set)
    video = VideoGAN("moving-mnist", seed=args.seed, out=out / "runs" / name, log_every=100,
                     **(parse_options(args.set) if arm == "video" else {}))
    if arm == "video":
        gan = video
    else:   # the frames of the video arm's own training clips, every frame an image
        frames = video.run.data.flatten(0, 1)
        gan = GAN(dataset=frames, seed=args.seed, out=out / "runs" / name, log_every=100)
    t = video.config.data_shape[0]
    spent, t0, meta = 0.0, time.time(), []
    trained = record.commit()   # the code this process imported (HEAD may move while it trains)
    for minutes in sorted(args.minutes):
        spent = train_until(gan.run.trainer, minutes * 60, spent, decay=gan)
        if arm == "video":
            clips = {name: video.sample(N_CLIPS, seed=0)}
        else:
            imgs = gan.sample(N_CLIPS * t, seed=0)                       # [N*T, C, H, W]
            clips = {"static": imgs[:N_CLIPS, None].expand(N_CLIPS, t, *imgs.shape[1:]),
                     "frames": imgs.reshape(N_CLIPS, t, *imgs.shape[1:])}
        for label, c in clips.items():
            path = out / f"{label}-{minutes:g}min.npz"
            np.savez_compressed(path, videos=clips_uint8(c))
            write_clips(c[:16], out / f"{label}-{minutes:g}min.gif", overwrite=True)
            meta.append({"arm": label, "minutes": minutes, "steps": gan.step,
                         "trained_commit": trained,
                         "cpu_s": round(spent, 1), "wall_s": round(time.time() - t0, 1),
                         "setting": describe(gan), "file": path.name})
            print(json.dumps(meta[-1]), flush=True)
    with open(out / f"{name}.json", "w") as f:
        json.dump(meta, f, indent=1)


def describe(gan) -> str:
    c = gan.config
    extra = (f", {c.data_shape[0]} frames" if c.task == "video" else "")
    width = f"width {c.model.width}" if c.model.width else "its default width"
    return f"{c.model.model} {width}, batch {c.train.batch_size}, {c.data_shape[-1]} px{extra}"


def score(args: argparse.Namespace) -> None:
    """Score every saved mark against the held-out clips; append the rows; print the table."""
    import numpy as np
    import torch

    from gankit.tasks.video.facade import VideoGAN
    from gankit.tasks.video.scores import clip_motion, video_results
    from gankit.viz import from_uint8
    torch.set_num_threads(1)
    out = args.out / f"seed{args.seed}"
    video = VideoGAN("moving-mnist", seed=args.seed, out=out / "ref")
    ref = from_uint8(video.reference("test")[:N_REAL])
    digits = video.config.options.digits
    real_motion = clip_motion(ref)[0]                 # per clip: its spread is the aim's range
    lo, hi = (float(real_motion.quantile(q)) for q in (0.05, 0.95))
    rows = []
    for meta_file in sorted(out.glob("*.json")):
        for m in json.loads(meta_file.read_text()):
            clips = torch.from_numpy(np.load(out / m["file"])["videos"]).permute(0, 1, 4, 2, 3)
            s = video_results(from_uint8(clips), ref, moving_digits=digits)
            rows.append({**m, **{k: round(float(r.value), 4) for k, r in s.items()},
                         "motion_real_p05": round(lo, 4), "motion_real_p95": round(hi, 4),
                         "seed": args.seed, "n_fake": len(clips), "n_real": len(ref)})
            print(json.dumps(rows[-1]), flush=True)
    record.append("video", rows)
    print_table(record.read("video")[-len(rows):])


def collect() -> None:
    recs = record.read("video", key=lambda r: (r["row"]["arm"], r["row"]["minutes"],
                                               r["row"]["seed"], r["row"]["setting"]))
    print_table(recs)


def print_table(recs: list[dict]) -> None:
    order = {"video": 0, "static": 2, "frames": 3}
    rows = sorted(record.rows(recs), key=lambda r: (r["minutes"], order.get(r["arm"], 1), r["arm"],
                                                    r["seed"]))
    print(f"\nmoving-mnist, {N_CLIPS} clips per row against {N_REAL} held-out; budget = CPU time "
          f"of one thread; {record.describe(recs)}\n")
    print("| arm | CPU min | steps | frame FID | FVD | identity (real) | rigid | identity / rigid "
          "| motion (real 5–95%) | accel gap | frozen | setting |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        seed = f", seed {r['seed']}" if r["seed"] else ""
        print(f"| {r['arm']}{seed} | {r['minutes']:g} | {r['steps']} | {r['frame_fid']:.1f} | "
              f"{r['fvd']:.1f} | {r['identity']:.1%} ({r['identity_real']:.1%}) | "
              f"{_share(r.get('identity_rigid'))} | "
              f"{_share(r.get('identity_rigid') and r['identity'] / r['identity_rigid'])} | "
              f"{r['motion']:.4f} ({r['motion_real_p05']:.3f}–{r['motion_real_p95']:.3f}) | "
              f"{r['accel_gap']:.2f} | "
              f"{r['frozen']:.1%} | {r['setting']} |")


def _share(x) -> str:
    return "–" if x is None else f"{x:.1%}"


if __name__ == "__main__":
    main()
