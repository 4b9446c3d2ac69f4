"""spoken-digits: "zero" … "nine" spoken by espeak-ng in many voices, accents, pitches and
speeds (the held-out split uses voices the training split never hears)."""
from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ...errors import DataError
from ..audio import DEFAULT_LENGTH, SAMPLE_RATE, fit_length, read_wav, write_wav
from .common import (
    PEAK_RANGE,
    SPLITS,
    TRIM_DB,
    _check_counts,
    _class_dirs,
    _manifest,
    _require,
    _rms,
    _scale,
    _staging,
    _workers,
    trim,
)

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# espeak-ng's own (formant-synthesis) English voices; the mbrola ones need extra packages.
ACCENTS = ("en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
           "en-029", "en-us-nyc")
# Voice variants (espeak-ng-data/voices/!v): a speaker is accent + variant. The test split's
# variants never occur in training, so test speakers are unseen speakers (accents are shared:
# there are only eight). Novelty variants (robots, whisper, croak …) are left out.
TRAIN_VARIANTS = ("m1", "m2", "m4", "m5", "m6", "m7", "adam", "Andy", "benjamin", "caleb",
                  "edward", "grandpa", "john", "max", "norbert", "paul", "quincy", "rob", "travis",
                  "f1", "f3", "f4", "Annie", "Andrea", "belinda", "linda", "steph")
TEST_VARIANTS = ("m3", "m8", "david", "michel", "victor", "ed",
                 "f2", "f5", "aunty", "grandma", "Alicia")
PITCH_RANGE = (20, 80)      # espeak-ng -p (0-99, 50 = the voice's own)
SPEED_RANGE = (120, 200)    # espeak-ng -s, words per minute
MAX_OFFSET = 1600           # samples (100 ms): the word starts at a random offset up to this


@dataclass(frozen=True)
class Utterance:
    """One spoken-digit clip to make: who says which word how, and where it goes."""

    split: str
    word: str
    index: int
    accent: str
    variant: str
    pitch: int
    speed: int
    peak: float
    offset: float           # share of the allowed start offset, in [0, 1)

    @property
    def name(self) -> str:
        return f"{self.index:04d}_{self.accent}+{self.variant}_p{self.pitch}_s{self.speed}.wav"


def _utterances(seed: int, split: str, word: str, n: int, variants: Sequence[str]
                ) -> list[Utterance]:
    """The first `n` clips of one (split, word); the stream depends on nothing else."""
    rng = np.random.default_rng([seed, 1, SPLITS.index(split), DIGITS.index(word)])
    out = []
    for i in range(n):
        out.append(Utterance(
            split, word, i, ACCENTS[rng.integers(len(ACCENTS))],
            variants[rng.integers(len(variants))],
            int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1)),
            int(rng.integers(SPEED_RANGE[0], SPEED_RANGE[1] + 1)),
            round(float(rng.uniform(*PEAK_RANGE)), 4), float(rng.random())))
    return out


def _espeak_variants(exe: str) -> tuple[list[str], list[str]]:
    """The train and test variants this espeak-ng has (it silently falls back to the plain voice
    for an unknown variant, so they are looked up in its data folder)."""
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"Data at:\s*(\S+)", out)
    if m is None or not (Path(m.group(1)) / "voices" / "!v").is_dir():
        return list(TRAIN_VARIANTS), list(TEST_VARIANTS)
    have = {p.name for p in (Path(m.group(1)) / "voices" / "!v").iterdir()}
    train = [v for v in TRAIN_VARIANTS if v in have]
    test = [v for v in TEST_VARIANTS if v in have]
    if not train or not test:
        raise DataError(f"espeak-ng at {exe} has too few English voice variants in "
                        f"{m.group(1)}/voices/!v: reinstall espeak-ng-data")
    return train, test


def _speak(exe: str, u: Utterance, scratch: Path) -> np.ndarray:
    """espeak-ng's rendering of one utterance, float32 at 16 kHz (it writes 22,050 Hz)."""
    tmp = scratch / f"{u.split}-{u.word}-{u.index}.wav"
    cmd = [exe, "-w", str(tmp), "-v", f"{u.accent}+{u.variant}", "-p", str(u.pitch),
           "-s", str(u.speed), "-a", "100", u.word]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0 or not tmp.exists():
        raise DataError(f"espeak-ng failed on {' '.join(cmd)}: {r.stderr.strip()[:200]}")
    x = read_wav(tmp, SAMPLE_RATE)
    tmp.unlink()
    return x


def _make_utterance(exe: str, u: Utterance, staging: Path) -> tuple[float, bool]:
    """Render, trim, scale and place one word; write it. Returns (RMS, whether it was cut)."""
    x = trim(_speak(exe, u, staging / ".scratch"))
    room = max(0, DEFAULT_LENGTH - len(x))
    start = int(u.offset * min(MAX_OFFSET, room + 1))
    clip = fit_length(np.concatenate([np.zeros(start, np.float32), _scale(x, u.peak)]),
                      DEFAULT_LENGTH)
    write_wav(staging / u.split / u.word / u.name, clip)
    return _rms(clip), start + len(x) > DEFAULT_LENGTH


def build_spoken_digits(out: Union[str, Path], seed: int = 0, per_class: int = 300,
                        test_per_class: int = 50, workers: Optional[int] = None) -> Path:
    """Build the spoken-digits set in `out`: "zero" … "nine" said by espeak-ng.

    Each clip draws an accent (8 English voices), a voice variant, a pitch (-p 20..80) and a speed
    (120..200 words per minute). Speakers are kept apart: the test split uses 11 voice variants
    (TEST_VARIANTS: m3, m8, f2, f5, …) that never occur in training (27 others). The rendering is
    resampled to 16 kHz, trimmed of silence below -40 dB of its peak (5 ms margin), scaled to a
    random peak in 0.6..0.95, started at a random offset of up to 100 ms (less when the word would
    not fit) and padded to 16,384 samples. `workers` espeak-ng processes run at once (default:
    the CPU count, at most 8). Returns the folder."""
    _check_counts(per_class, test_per_class)
    exe = _require("espeak-ng", "espeak-ng")
    train_v, test_v = _espeak_variants(exe)
    plan = [u for split, n, variants in (("train", per_class, train_v),
                                         ("test", test_per_class, test_v))
            for w in DIGITS for u in _utterances(seed, split, w, n, variants)]
    params = {"words": list(DIGITS), "accents": list(ACCENTS), "train_variants": train_v,
              "test_variants": test_v, "pitch": list(PITCH_RANGE), "speed_wpm": list(SPEED_RANGE),
              "amplitude": 100, "trim_db": TRIM_DB, "peak": list(PEAK_RANGE),
              "max_offset": MAX_OFFSET, "per_class": per_class, "test_per_class": test_per_class}
    with _staging(out, "spoken-digits") as staging:
        _class_dirs(staging, DIGITS)
        (staging / ".scratch").mkdir()
        with ThreadPoolExecutor(_workers(workers)) as pool:
            stats = list(pool.map(lambda u: _make_utterance(exe, u, staging), plan))
        shutil.rmtree(staging / ".scratch")
        _manifest(staging, "spoken-digits", seed, DIGITS, per_class, test_per_class,
                  ("espeak-ng",), params, [(u.word, *s) for u, s in zip(plan, stats)])
    return Path(out).expanduser()
