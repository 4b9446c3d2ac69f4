"""Benchmark: gankit's training step against a plain textbook loop, same nets, same batch.

The baseline is what the beginner articles write: a torch DataLoader over a TensorDataset of
normalized floats (batches moved to the device one by one), default Adam, `zero_grad()`, G run twice
per step (once for D, once for G), fp32 eager, and `.item()` on both losses every step. gankit's
side is its own trainer with the same generator and discriminator (built from the same config and
seed), data resident on the device, and the --precision / --compile given here.

    python bench/speed.py [--seconds 60] [--batch-sizes 64 256] [--width 32]
    python bench/speed.py --device cuda --batch-sizes 64 128 256 512 1024 2048 4096 \\
        --precision bf16 --compile --seconds 20
    python bench/speed.py --time-to-fid --minutes 20 [--device cuda ...]

Speed mode prints, per batch size, img/s and ms/step of both, the FLOPs of one training step
(counted by torch.utils.flop_counter: convolutions and matmuls, forward and backward) and the
FLOP/s achieved as a share of this machine's measured matmul peak (fp32 on CPU; fp32 and bf16 on a
GPU, the one matching --precision is used for gankit's row). Time-to-FID mode trains the textbook
baseline (the classic DCGAN: width 64, batch 64) and gankit's default each for --minutes of
training time, scoring FID (10,000 Fashion-MNIST test images vs --n-eval samples, shipped
Fashion-MNIST classifier features) every --eval-every seconds of training (evaluation time is not
counted), then prints when each first reached each --fid-levels value.

On a machine without Fashion-MNIST installed, put its IDX files (*-ubyte.gz) under
DIR/fashion-mnist/ and pass --data-dir DIR.

Each table's numbers (speed mode: the steps, seconds and FLOPs of each cell; time-to-FID mode: both
FID curves) go to bench/records/speed.jsonl (bench/record.py: the command, machine, date, commit
and the numbers); `python bench/speed.py --collect` reprints every recorded table from them.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))   # this checkout's gankit, installed or not

import record  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import gankit  # noqa: E402
from gankit.config import ModelConfig  # noqa: E402
from gankit.nets import build_nets  # noqa: E402

Z_DIM = 64


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Textbook:
    """The textbook loop, kept as an object so it can be stepped, timed, counted and sampled."""

    def __init__(self, images: torch.Tensor, batch: int, width: int, device: torch.device):
        torch.manual_seed(0)
        torch.backends.cudnn.benchmark = False   # the beginner's setting (gankit turns it on)
        G, D = build_nets(ModelConfig("dcgan", Z_DIM, width), tuple(images.shape[1:]))
        self.G, self.D, self.device, self.batch = G.to(device), D.to(device), device, batch
        data = torch.utils.data.TensorDataset(images.float() / 127.5 - 1)
        self.loader = torch.utils.data.DataLoader(data, batch_size=batch, shuffle=True,
                                                  drop_last=True)
        self.batches = iter(self.loader)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.ones = torch.ones(batch, device=device)
        self.zeros = torch.zeros(batch, device=device)
        self.steps = 0

    def step(self) -> None:
        try:
            (real,) = next(self.batches)
        except StopIteration:
            self.batches = iter(self.loader)
            (real,) = next(self.batches)
        real = real.to(self.device)
        z = torch.randn(self.batch, Z_DIM, device=self.device)
        self.opt_d.zero_grad()
        d_loss = (F.binary_cross_entropy_with_logits(self.D(real), self.ones)
                  + F.binary_cross_entropy_with_logits(self.D(self.G(z).detach()), self.zeros))
        d_loss.backward()
        self.opt_d.step()
        self.opt_g.zero_grad()
        g_loss = F.binary_cross_entropy_with_logits(self.D(self.G(z)), self.ones)
        g_loss.backward()
        self.opt_g.step()
        d_loss.item(), g_loss.item()   # the per-step print of the articles
        self.steps += 1

    def train_for(self, seconds: float) -> float:
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            self.step()
        return time.monotonic() - start

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        self.G.eval()
        out = torch.cat([self.G(torch.randn(min(500, n - i), Z_DIM, device=self.device)).float().cpu()
                         for i in range(0, n, 500)])
        self.G.train()
        return out


class Gankit:
    """gankit's trainer on the same data, no callbacks (no files, no progress): the step alone."""

    def __init__(self, batch: int, device: torch.device, scratch: Path, **options):
        self.gan = gankit.GAN("dcgan", "fashion-mnist", batch_size=batch, device=str(device),
                              log_every=100, sample_every=10**9, checkpoint_every=10**9,
                              out=scratch / f"gankit-{batch}-{time.monotonic_ns()}", **options)
        self.trainer = self.gan.run.trainer
        self.device = device

    def step(self) -> None:
        self.trainer.train_step()

    def train_for(self, seconds: float) -> float:
        start = time.monotonic()
        self.trainer.fit(10**12, max_time=seconds)
        sync(self.device)
        return time.monotonic() - start

    def sample(self, n: int) -> torch.Tensor:
        return self.gan.sample(n, seed=0)


def step_flops(step: Callable[[], None]) -> int:
    """FLOPs of one call of `step` (matmuls and convolutions, forward and backward)."""
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def matmul_peak(device: torch.device, dtype: torch.dtype, seconds: float = 1.0) -> float:
    """The best FLOP/s of square matmuls on this device: the machine's practical peak."""
    n = 8192 if device.type == "cuda" else 1024
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = 0.0
    for _ in range(3):
        a @ b
        sync(device)
        reps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            a @ b
            reps += 1
        sync(device)
        best = max(best, 2 * n**3 * reps / (time.perf_counter() - start))
    return best


def cell(steps: int, batch: int, elapsed: float, flops: int, peak: float) -> str:
    rate = flops * steps / elapsed
    return (f"{steps * batch / elapsed:.0f} | {1000 * elapsed / steps:.2f} | {flops / 1e9:.2f} | "
            f"{rate / 1e9:.1f} | {100 * rate / peak:.1f}%")


def speed_table(args: argparse.Namespace, images: torch.Tensor, device: torch.device,
                scratch: Path) -> None:
    peaks = {"fp32": matmul_peak(device, torch.float32)}
    if device.type == "cuda":
        peaks["bf16"] = matmul_peak(device, torch.bfloat16)
    print("matmul peak: " + ", ".join(f"{k} {v / 1e9:.0f} GFLOP/s" for k, v in peaks.items()))
    gk_kind = args.precision if args.precision in peaks else "fp32"   # CPU: fp32 peak only
    gk_peak = peaks[gk_kind]
    print(f"gankit: precision {args.precision}, compile {args.compile}, memory format "
          f"{args.memory_format}; "
          f"{args.warmup} warm-up steps each, then {args.seconds:g} s per cell in "
          f"{args.rounds} alternating turns\n")
    print(speed_head(gk_kind))
    rows = []
    options = dict(width=args.width, ema_halflife=0, precision=args.precision,
                   compile=args.compile, memory_format=args.memory_format)
    for b in args.batch_sizes:
        base = Textbook(images, b, args.width, device)
        base_flops = step_flops(base.step)
        gk = Gankit(b, device, scratch, **options)
        counted = gk if args.compile == "none" else Gankit(b, device, scratch, width=args.width,
                                                           ema_halflife=0)
        gk_flops = step_flops(counted.step)
        for _ in range(args.warmup):   # includes compilation with --compile
            base.step()
            gk.step()
        sync(device)
        base.steps, first = 0, gk.trainer.step
        base_time = gk_time = 0.0
        for _ in range(args.rounds):   # alternate, so a change in machine load hits both alike
            base_time += base.train_for(args.seconds / args.rounds)
            gk_time += gk.train_for(args.seconds / args.rounds)
        gk_steps = gk.trainer.step - first
        rows.append({"batch": b, "textbook": [base.steps, base_time, base_flops],
                     "gankit": [gk_steps, gk_time, gk_flops]})
        print(speed_row(rows[-1], peaks["fp32"], gk_peak), flush=True)
        del base, gk, counted
        if device.type == "cuda":
            torch.cuda.empty_cache()
    record.append("speed", [{"mode": "speed", "device": str(device), "width": args.width,
                             "precision": args.precision, "compile": args.compile,
                             "memory_format": args.memory_format, "warmup": args.warmup,
                             "seconds": args.seconds, "rounds": args.rounds,
                             "threads": torch.get_num_threads(), "peaks": peaks,
                             "peak_used": gk_kind, "rows": rows,
                             "row_fields": "steps, seconds, FLOPs of one step"}])


def speed_head(gk_kind: str) -> str:
    return ("| batch | textbook img/s | ms/step | GFLOP/step | GFLOP/s | % fp32 peak "
            f"| gankit img/s | ms/step | GFLOP/step | GFLOP/s | % {gk_kind} peak | speed-up |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|")


def speed_row(r: dict, base_peak: float, gk_peak: float) -> str:
    b, (bs, bt, bf), (gs, gt, gf) = r["batch"], r["textbook"], r["gankit"]
    speedup = (gs * b / gt) / (bs * b / bt)
    return (f"| {b} | {cell(bs, b, bt, bf, base_peak)} | {cell(gs, b, gt, gf, gk_peak)} "
            f"| {speedup:.2f}× |")


def time_to_fid(args: argparse.Namespace, images: torch.Tensor, device: torch.device,
                scratch: Path) -> None:
    from gankit.metrics import reference_features
    from gankit.metrics.features import load_extractor
    from gankit.metrics.fid import feature_stats, frechet_distance
    extractor = load_extractor("fashion-mnist").to(device)
    ref = feature_stats(reference_features("fashion-mnist", "test", extractor))

    def fid(samples: torch.Tensor) -> float:
        return frechet_distance(*ref, *feature_stats(extractor.features(samples)))

    sides = {"textbook": lambda: Textbook(images, 64, args.baseline_width, device),
             "gankit": lambda: Gankit(args.batch_sizes[0] if args.batch_sizes_given else 64,
                                      device, scratch, precision=args.precision,
                                      compile=args.compile, memory_format=args.memory_format)}
    runners = {name: make() for name, make in sides.items()}
    curves: dict[str, list[tuple[float, float]]] = {name: [] for name in runners}
    trained = dict.fromkeys(runners, 0.0)
    limit = args.minutes * 60 - 1e-6
    while any(t < limit for t in trained.values()):
        for name, runner in runners.items():   # alternating windows: load changes hit both alike
            if trained[name] >= limit:
                continue
            trained[name] += runner.train_for(min(args.eval_every, limit - trained[name]))
            curves[name].append((trained[name], fid(runner.sample(args.n_eval))))
            print(f"{name:>8}: {trained[name]:7.1f} s  FID {curves[name][-1][1]:8.2f}", flush=True)
    record.append("speed", [{"mode": "time-to-fid", "device": str(device),
                             "minutes": args.minutes, "eval_every": args.eval_every,
                             "n_eval": args.n_eval, "fid_levels": args.fid_levels,
                             "baseline_width": args.baseline_width, "precision": args.precision,
                             "compile": args.compile, "memory_format": args.memory_format,
                             "threads": torch.get_num_threads(), "curves": curves}])
    print_fid_table(curves, args.fid_levels, args.minutes, args.baseline_width)


def print_fid_table(curves: dict, levels: list[float], minutes: float,
                    baseline_width: int) -> None:
    """When each side first reached each FID level: the end of the first window at or below."""
    print(f"\n| FID ≤ | textbook (width {baseline_width}, batch 64) reaches it at | gankit "
          f"default reaches it at | time ratio |")
    print("|---|---|---|---|")
    for level in levels:
        at = {n: next((t for t, f in c if f <= level), None) for n, c in curves.items()}
        fmt = {n: f"{t:.0f} s" if t is not None else f"not in {minutes:g} min"
               for n, t in at.items()}
        ratio = (f"{at['textbook'] / at['gankit']:.1f}×"
                 if at["textbook"] is not None and at["gankit"] is not None else "–")
        print(f"| {level:g} | {fmt['textbook']} | {fmt['gankit']} | {ratio} |")


def collect() -> None:
    """Every recorded table, from bench/records/speed.jsonl alone."""
    for rec in record.read("speed"):
        r = rec["row"]
        print(f"\n`{rec['command']}`: {record.describe([rec])}; device {r.get('device', 'cpu')}")
        if r["mode"] == "time-to-fid" and "printed" in r:
            # converted from a log whose curve kept 1 decimal: the table as the run printed it
            print("\n" + "\n".join(r["printed"]))
        elif r["mode"] == "time-to-fid":
            print_fid_table(r["curves"], r["fid_levels"], r["minutes"], r["baseline_width"])
        else:
            gk_kind = r["peak_used"]
            print("matmul peak: " + ", ".join(f"{k} {v / 1e9:.0f} GFLOP/s"
                                               for k, v in r["peaks"].items()) + "\n")
            print(speed_head(gk_kind))
            for row in r["rows"]:
                print(speed_row(row, r["peaks"]["fp32"], r["peaks"][gk_kind]))


def main(argv: Optional[list[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--seconds", type=float, default=60, help="timed seconds per cell")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first (compilation)")
    p.add_argument("--rounds", type=int, default=3, help="timed turns each side takes, alternating")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=None,
                   help="batch sizes of the speed table (default 64 256)")
    p.add_argument("--width", type=int, default=32, help="dcgan width of the speed table")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="gankit's side")
    p.add_argument("--compile", nargs="?", const="auto", default="none",
                   help="gankit's side: torch.compile mode (bare: auto)")
    p.add_argument("--memory-format", default="auto",
                   choices=["auto", "channels-last", "contiguous"], help="gankit's side")
    p.add_argument("--time-to-fid", action="store_true", help="the time-to-FID race instead")
    p.add_argument("--minutes", type=float, default=20, help="training minutes of each side")
    p.add_argument("--eval-every", type=float, default=60, help="training seconds between FIDs")
    p.add_argument("--n-eval", type=int, default=5000, help="samples per FID")
    p.add_argument("--fid-levels", type=float, nargs="+", default=[150, 100, 70, 50, 40, 30])
    p.add_argument("--baseline-width", type=int, default=64, help="textbook DCGAN width (race)")
    p.add_argument("--data-dir", help="folder holding fashion-mnist/*-ubyte.gz (sets GANKIT_DATA)")
    p.add_argument("--collect", action="store_true", help="measure nothing: reprint every table "
                   "recorded in bench/records/speed.jsonl")
    args = p.parse_args(argv)
    if args.collect:
        return collect()
    args.batch_sizes_given = args.batch_sizes is not None
    args.batch_sizes = args.batch_sizes or [64, 256]
    if args.data_dir:
        os.environ["GANKIT_DATA"] = str(Path(args.data_dir).resolve())
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("bench/speed.py: --device cuda, but this machine has no usable CUDA GPU")
    images = gankit.load_dataset("fashion-mnist").images   # uint8 [60000, 1, 28, 28]
    what = (torch.cuda.get_device_name(device) if device.type == "cuda"
            else f"{platform.machine()} CPU, {os.cpu_count()} cores, {torch.get_num_threads()} threads")
    print(f"machine: {what}; torch {torch.__version__}; date {time.strftime('%Y-%m-%d')}; "
          f"Fashion-MNIST")
    scratch = Path(tempfile.mkdtemp(prefix="gankit-bench-"))
    try:
        if args.time_to_fid:
            time_to_fid(args, images, device, scratch)
        else:
            speed_table(args, images, device, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
