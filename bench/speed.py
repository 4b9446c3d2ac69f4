"""Benchmark: gankit's training step against a plain textbook loop, same nets, same batch.

The baseline is what the beginner articles write: a torch DataLoader over a TensorDataset of
normalized floats, default Adam (no fused/foreach choice), `zero_grad()`, G run twice per step
(once for D, once for G), and `.item()` on both losses every step. gankit's side is its own
trainer with the same generator and discriminator (built from the same config and seed).

    python bench/speed.py [--seconds 60] [--batch-sizes 64 256] [--width 32]

Prints img/s and ms/step for both and their ratio; the README quotes it with machine and date.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import time

import torch
import torch.nn.functional as F

import gankit
from gankit.config import ModelConfig
from gankit.nets import build_nets


def baseline(images: torch.Tensor, batch: int, width: int, seconds: float) -> tuple[int, float]:
    """(steps, seconds) of the textbook loop on uint8 images [N, 1, 28, 28]."""
    torch.manual_seed(0)
    G, D = build_nets(ModelConfig("dcgan", 64, width), tuple(images.shape[1:]))
    data = torch.utils.data.TensorDataset(images.float() / 127.5 - 1)
    loader = torch.utils.data.DataLoader(data, batch_size=batch, shuffle=True, drop_last=True)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    ones, zeros = torch.ones(batch), torch.zeros(batch)
    steps, start = 0, time.monotonic()
    while time.monotonic() - start < seconds:
        for (real,) in loader:
            z = torch.randn(batch, 64)
            opt_d.zero_grad()
            d_loss = (F.binary_cross_entropy_with_logits(D(real), ones)
                      + F.binary_cross_entropy_with_logits(D(G(z).detach()), zeros))
            d_loss.backward()
            opt_d.step()
            opt_g.zero_grad()
            g_loss = F.binary_cross_entropy_with_logits(D(G(z)), ones)
            g_loss.backward()
            opt_g.step()
            d_loss.item(), g_loss.item()   # the per-step print of the articles
            steps += 1
            if time.monotonic() - start >= seconds:
                break
    return steps, time.monotonic() - start


def gankit_steps(batch: int, width: int, seconds: float) -> tuple[int, float]:
    gan = gankit.GAN("dcgan", "fashion-mnist", width=width, batch_size=batch, ema_halflife=0,
                     log_every=100, sample_every=10**9, checkpoint_every=10**9,
                     out=f"bench/runs/speed-tmp-{os.getpid()}-{batch}")
    trainer = gan._get_trainer()
    gan._start_run_dir()
    trainer.callbacks = []                      # no files, no progress: the step alone
    start = time.monotonic()
    trainer.fit(10**9, max_time=seconds)
    elapsed = time.monotonic() - start
    shutil.rmtree(gan.run_dir, ignore_errors=True)   # only config.json was written
    return trainer.step, elapsed


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256])
    p.add_argument("--width", type=int, default=32)
    args = p.parse_args()
    images = gankit.load_dataset("fashion-mnist").images
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; date {time.strftime('%Y-%m-%d')}; dcgan width "
          f"{args.width} on Fashion-MNIST, {args.seconds:g} s per cell\n")
    print("| batch | textbook img/s | textbook ms/step | gankit img/s | gankit ms/step | speed-up |")
    print("|---|---|---|---|---|---|")
    for b in args.batch_sizes:
        bs, bt = baseline(images, b, args.width, args.seconds)
        gs, gt = gankit_steps(b, args.width, args.seconds)
        bi, gi = bs * b / bt, gs * b / gt
        print(f"| {b} | {bi:.0f} | {1000 * bt / bs:.1f} | {gi:.0f} | {1000 * gt / gs:.1f} "
              f"| {gi / bi:.2f}× |", flush=True)


if __name__ == "__main__":
    main()
