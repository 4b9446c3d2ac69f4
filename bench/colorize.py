"""Benchmark: does the GAN make colorization more colorful than L1 alone, at what cost in PSNR?

Photographs (offline): 35 photos among the wallpapers of Debian's `mate-backgrounds`,
`lomiri-wallpapers-16.04`, `lomiri-wallpapers-20.04` and `plasma-workspace-wallpapers` (chosen by
eye: landscapes, plants, animals, objects; no renders or paintings), and scikit-learn's two sample
photos. Every 4th packaged photo (sorted by name) and scikit-learn's flower are held out for
testing (9 photos); the model never sees them. One training wallpaper (ColdRipple) is black and
white; gankit skips it and says so, a check of that path on real files. Arms, each in a process
of its own with ONE thread, budget = that process's CPU time spent training:

    gan        pix2pix colorization: U-Net + PatchGAN, non-saturating loss + 100 x L1 (the default)
    gan-l1w10  the same with 10 x L1 (--l1-weight 10): more weight on the adversarial loss
    l1         the same U-Net trained with L1 only (--loss none): the no-GAN ablation
    gray       no model: the gray input itself (zero color)

At each mark: on the held-out photos, whole (short side 128 px): PSNR and SSIM of the colorized
picture against the true one, and its colorfulness (Hasler & Suesstrunk) over the true picture's.
A side-by-side PNG (input | output | truth) per held-out photo is written for each arm, with its
log, under OUT/ (bench/runs/colorize, not tracked); the table's rows go to
bench/records/colorize.jsonl (bench/record.py: the command, machine, date, commit and the row),
and --collect prints the table from those records alone (the latest record of each arm and mark).

    python bench/colorize.py [--minutes 5 15] [--arms gan gan-l1w10 l1 gray] [--parallel 2]
                             [--out bench/runs/colorize] [--collect]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import record

ARMS = {"gan": {}, "gan-l1w10": {"l1_weight": 10}, "l1": {"loss": "none"}, "gray": None}
SIZE, WIDTH, BATCH = 64, 32, 16


# Photographs among the wallpapers of Debian packages (the rest of those packages is abstract art,
# renders or paintings, left out by eye); the package names the apt-get line to install them.
PHOTO_SOURCES = {
    "mate-backgrounds": ["/usr/share/backgrounds/mate/nature/*.jpg"],
    "lomiri-wallpapers-16.04": [f"/usr/share/backgrounds/{n}.jpg" for n in (
        "Bridge_by_Sander_Klootwijk", "Dragonfly_by_Bolly", "Picture_0B_by_freespace",
        "Picture_1A_by_freespace", "Wine_by_Jakkub_Mede", "aitzgorri_by_Aitzol_Berasategi",
        "free_by_Peter_Nerlich", "friends_by_Aitzol_Berasategi", "life_by_Aitzol_Berasategi",
        "picosdeeuropa_by_Aitzol_Berasategi", "seeding_by_Clements_Engelhardt",
        "sunset_by_Aitzol_Berasategi")],
    "lomiri-wallpapers-20.04": ["/usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg",
                                "/usr/share/backgrounds/Infinite-Sea_by_Aury88.jpg"],
    "plasma-workspace-wallpapers": [f"/usr/share/wallpapers/{n}/contents/images/*.jpg" for n in (
        "BytheWater", "ColdRipple", "DarkestHour", "EveningGlow", "FallenLeaf", "Kite",
        "OneStandsOut", "Path", "summer_1am")],
}


SIZES_OF_ONE = "/contents/images/"   # a plasma wallpaper: one photo in many sizes, named by its folder


def packaged_photos() -> list[Path]:
    """One file per photograph (the largest size a wallpaper comes in), sorted by name."""
    found, missing = [], []
    for package, patterns in PHOTO_SOURCES.items():
        files = []
        for pattern in patterns:
            matches = sorted(Path("/").glob(pattern.lstrip("/")), key=lambda f: f.stat().st_size)
            files += matches[-1:] if SIZES_OF_ONE in pattern else matches
        if not files:
            missing.append(package)
        found += files
    if missing:
        sys.exit(f"needs the photos of: apt-get install {' '.join(missing)}")
    return sorted(found, key=lambda f: photo_name(f).lower())


def photo_name(f: Path) -> str:
    return f.parents[2].name if SIZES_OF_ONE in str(f) else f.stem


def build_photos(root: Path) -> Path:
    """ROOT/{train,test}/ from the packaged photos and scikit-learn's two sample photos; every 4th
    packaged photo (by name) and scikit-learn's flower are held out. Rebuilt when the list changes."""
    from PIL import Image
    from sklearn.datasets import load_sample_images
    photos = packaged_photos()
    listing = "\n".join(map(str, photos))
    if (root / "sources.txt").is_file() and (root / "sources.txt").read_text() == listing:
        return root
    tmp = root.with_name(root.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for split in ("train", "test"):
        (tmp / split).mkdir(parents=True)
    for i, f in enumerate(photos):
        img = Image.open(f).convert("RGB")
        img.thumbnail((640, 640))
        img.save(tmp / ("test" if i % 4 == 3 else "train") / f"{photo_name(f)}.jpg", quality=95)
    sk = load_sample_images()
    for name, arr in zip(sk.filenames, sk.images):
        Image.fromarray(arr).save(tmp / ("test" if "flower" in name else "train") /
                                  Path(name).name, quality=95)
    (tmp / "sources.txt").write_text(listing)
    shutil.rmtree(root, ignore_errors=True)
    os.replace(tmp, root)
    return root


def worker(arm: str, args: argparse.Namespace) -> None:
    import torch
    torch.set_num_threads(1)
    import numpy as np
    from cpu_budget import train_until

    from gankit.tasks.translate import color
    from gankit.tasks.translate.data import colorize_pair
    from gankit.tasks.translate.facade import Translator
    from gankit.viz import from_uint8, save_png, to_uint8

    out = args.out / arm
    out.mkdir(parents=True, exist_ok=True)
    tr = Translator(args.photos, "colorize", resolution=SIZE, width=WIDTH, batch_size=BATCH,
                    seed=args.seed, log_every=100, **(ARMS[arm] or {}))
    trainer = tr.run.trainer

    def pictures(t: Translator) -> list:
        """(input, output, truth) [1, 3, H, W] per held-out photo, whole windows of the net."""
        m = 2 ** t.task.G.depth
        rows = []
        for img in t.pictures.held:
            h, w = (img.shape[1] // m) * m, (img.shape[2] // m) * m
            truth = from_uint8(img[None, :, :h, :w])
            y, _ = colorize_pair(truth)
            out_ = (color.gray_rgb(y) if ARMS[arm] is None else
                    t.as_pictures(y, t.task.translate(y)))
            rows.append((color.gray_rgb(y), out_, truth))
        return rows

    def score(rows: list) -> dict:
        psnr = [float(color.psnr(o, t)[0]) for _, o, t in rows]
        ssim = [float(color.ssim(o, t)[0]) for _, o, t in rows]
        cf = [float(color.colorfulness(o)[0] / color.colorfulness(t)[0]) for _, o, t in rows]
        return {"psnr": float(np.mean(psnr)), "ssim": float(np.mean(ssim)),
                "colorfulness_ratio": float(np.mean(cf)), "n_test": len(rows)}

    marks = [0.0] if ARMS[arm] is None else sorted(m * 60 for m in args.minutes)
    spent = 0.0
    for mark in marks:
        if ARMS[arm] is not None:
            spent = train_until(trainer, mark, spent)
        rows = pictures(tr)
        row = {"arm": arm, "minutes": round(mark / 60, 4), "cpu_s": round(spent, 1),
               "steps": trainer.step, **score(rows)}
        print(json.dumps(row), flush=True)
    for i, (inp, o, t) in enumerate(rows):
        save_png(to_uint8(torch.cat([inp, o, t], 3))[0], out / f"test-{i}.png")


def run_one(arm: str, args: argparse.Namespace) -> list[dict]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [sys.executable, __file__, "--worker", arm, "--photos", str(args.photos), "--out",
           str(args.out), "--seed", str(args.seed), "--minutes", *[str(m) for m in args.minutes]]
    log = args.out / f"{arm}.log"
    with open(log, "w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
    if proc.returncode:
        print(f"{arm}: failed, see {log}", file=sys.stderr)
    return [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--minutes", type=float, nargs="+", default=[5, 15])
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    p.add_argument("--parallel", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--photos", type=Path, default=Path("bench/data/photos"))
    p.add_argument("--out", type=Path, default=Path("bench/runs/colorize"),
                   help="logs and side-by-side PNGs (git-ignored)")
    p.add_argument("--collect", action="store_true", help="train nothing: print the table from "
                   "the records (bench/records/colorize.jsonl)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.worker, args)
        return
    t0 = time.time()
    if not args.collect:
        args.photos = build_photos(args.photos)
        args.out.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(args.parallel) as pool:
            rows = [r for rs in pool.map(lambda a: run_one(a, args), args.arms) for r in rs]
        photos = {"train_files": len(list((args.photos / "train").iterdir())),
                  "test_files": len(list((args.photos / "test").iterdir()))}
        record.append("colorize", [{**r, "photos": photos, "seed": args.seed} for r in rows])
    recs = record.read("colorize", keep=lambda r: r["row"]["arm"] in args.arms,
                       key=lambda r: (r["row"]["arm"], r["row"]["minutes"]))
    rows = record.rows(recs)
    print(f"\ncolorization, crops {SIZE} px, width {WIDTH}, batch {BATCH}; budget = CPU time of "
          f"one thread; {record.describe(recs)}; this invocation {(time.time() - t0) / 60:.0f} "
          f"min wall\n")
    print("| arm | CPU min | steps | PSNR (dB) | SSIM | colorfulness / truth |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['arm']} | {r['minutes']:g} | {r['steps']} | {r['psnr']:.2f} | "
              f"{r['ssim']:.3f} | {r['colorfulness_ratio']:.2f} |")


if __name__ == "__main__":
    main()
