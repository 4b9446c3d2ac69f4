"""Helpers the test modules share (pytest puts tests/ on sys.path: see pyproject.toml)."""
from __future__ import annotations

import importlib
import math
import random
import shutil
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from PIL import Image

from gankit.cli import main
from gankit.data.audio import write_wav

RATE = 16000   # the audio task's sample rate


def run(capsys: Any, *argv: Any) -> tuple[int, str, str]:
    """`gankit ARGV...` in-process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error(capsys: Any, *argv: Any, match: Optional[str] = None, alone: bool = False) -> str:
    """Run a command that must fail the user-facing way: exit code 2, exactly one line
    `gankit: error: ...` (containing `match`), no traceback; with `alone`, nothing else on stderr.
    Returns that line."""
    code, _, err = run(capsys, *argv)
    lines = [ln for ln in err.splitlines() if ln.startswith("gankit: error:")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert match is None or match in lines[0], err
    assert not alone or err == lines[0] + "\n", err
    return lines[0]


def quiet(**kw: Any) -> dict[str, Any]:
    """Training options that write no sample grids or checkpoints before the end."""
    return {"log_every": 50, "sample_every": 10**6, "checkpoint_every": 10**6, **kw}


def digits_gan(out: Any, **kw: Any) -> Any:
    """A small DCGAN on the 8x8 digits (upscaled to 32): a few steps per CPU-second."""
    import gankit
    return gankit.GAN("dcgan", "digits", out=out, batch_size=16, width=16, **quiet(**kw))


def last_checkpoint_files(run: Any) -> dict[str, dict[str, Any]]:
    """The tensors of a run's newest checkpoint: file stem -> name -> tensor."""
    from safetensors.torch import load_file

    from gankit.train.state import list_checkpoints
    ckpt = list_checkpoints(run)[-1]
    return {f.stem: load_file(str(f)) for f in ckpt.glob("*.safetensors")}


# --- small datasets of every kind, written to files ------------------------------------------

def grammar_file(path, n: int = 2000, seed: int = 0):
    """n strings of the language (ab|cd)+ with 1 to 4 pairs (30 strings in all), one a line."""
    rng = random.Random(seed)
    path.write_text("".join("".join(rng.choice(("ab", "cd")) for _ in range(rng.randint(1, 4)))
                            + "\n" for _ in range(n)))
    return path


def digit_domains(root, n: int = 120):
    """A/: digits; B/: other digits, inverted (unpaired). Returns the A images."""
    from sklearn.datasets import load_digits
    d = load_digits()
    imgs = [np.asarray(Image.fromarray((x * 255 / 16).astype(np.uint8)).resize((16, 16)))
            for x in d.images[:2 * n]]
    for side, group, f in (("A", imgs[:n], lambda x: x), ("B", imgs[n:], lambda x: 255 - x)):
        (root / side).mkdir(parents=True)
        for i, img in enumerate(group):
            Image.fromarray(f(img)).save(root / side / f"{i:03d}.png")
    return np.stack(imgs[:n])


def tone(freq: float, n: int, rate: int = RATE, phase: float = 0.0, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * math.pi * freq * np.arange(n) / rate + phase)).astype(np.float32)


def tone_folder(root: Path, freqs=(300, 600, 1200), per_class: int = 30, n: int = 4096) -> Path:
    rng = np.random.default_rng(0)
    for f in freqs:
        d = root / f"{f:04d}hz"
        d.mkdir(parents=True)
        for i in range(per_class):
            write_wav(d / f"{i:03d}.wav", tone(f, n, phase=rng.uniform(0, 2 * math.pi)))
    return root


def blobs(n: int, size: int, seed: int) -> np.ndarray:
    """n smooth random RGB pictures uint8 [n, size, size, 3]."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size // 4, size // 4, generator=g)
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return (x * 255).round().byte().permute(0, 2, 3, 1).numpy()


def write_pairs(root, a: np.ndarray, b: np.ndarray) -> None:
    for side, arr in (("A", a), ("B", b)):
        (root / side).mkdir(parents=True)
        for i, img in enumerate(arr):
            Image.fromarray(img).save(root / side / f"{i:03d}.png")


def square_clips(root: Path) -> Path:
    """Two class folders of 6-frame GIFs under root: a square moving right, or down (5 each)."""
    for k, axis in enumerate(("right", "down")):
        (root / axis).mkdir(parents=True)
        for i in range(5):
            frames = []
            for t in range(6):
                a = np.zeros((16, 16), np.uint8)
                y, x = (2 + i, 2 + 2 * t) if k == 0 else (2 + 2 * t, 2 + i)
                a[y:y + 4, x:x + 4] = 255
                frames.append(Image.fromarray(a))
            frames[0].save(root / axis / f"{i}.gif", save_all=True, append_images=frames[1:])
    return root


def tamper_shipped_weights(tmp_path: Path, monkeypatch: Any, key: str, flip: int = 0xFF) -> None:
    """Make gankit read a copy of its shipped weights in which the file of manifest entry `key`
    has one byte in the middle of its tensors XOR-ed with `flip`; the other files stay intact."""
    features_module = importlib.import_module("gankit.metrics.features")
    copy = tmp_path / "weights"
    shutil.copytree(features_module.WEIGHTS_DIR, copy)
    path = copy / features_module.read_manifest()[key]["file"]
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= flip
    path.write_bytes(bytes(blob))
    monkeypatch.setattr(features_module, "WEIGHTS_DIR", copy)
