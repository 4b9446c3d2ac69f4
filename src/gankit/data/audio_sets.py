"""Bundled audio datasets, built offline from Debian packages and reproducible from a seed.

    build("spoken-digits", "~/audio/digits", seed=0)   # espeak-ng: "zero" … "nine"
    build("notes", "~/audio/notes", seed=0)            # fluidsynth + FluidR3_GM: instrument families
    python -m gankit.data.audio_sets notes OUT [--seed S] [--per-class N] [--test-per-class N]

Both sets are laid out the way `gankit.data.audio.load_audio` reads them:

    OUT/train/<class>/<name>.wav    16 kHz mono 16-bit PCM, exactly 16,384 samples (~1 s)
    OUT/test/<class>/<name>.wav
    OUT/dataset.json                name, version, seed, rate, length, classes, counts, the Debian
                                    packages' versions, every generation parameter, build date and
                                    a few sanity statistics

Reproducible: every clip's parameters are drawn from a numpy Generator seeded by
(seed, set, split, class), so the same seed and package versions give byte-identical WAV files,
and a smaller build is a prefix of a larger one (clip i of a class does not depend on per_class).
Only `dataset.json` differs between two builds (its build date).

Safe: a set is built in a hidden sibling folder and renamed into place at the end, so an
interrupted build leaves nothing half-written. An existing OUT is replaced only when it is empty
or a previous build of the same set (its dataset.json says so); anything else is a DataError.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np

from ..errors import DataError, GanKitError
from .audio import DEFAULT_LENGTH, SAMPLE_RATE, fit_length, read_wav, write_wav

VERSION = 1
SPLITS = ("train", "test")
TRIM_DB = -40.0             # silence: below this level relative to the clip's peak
MARGIN = 80                 # samples (5 ms) kept either side of the trimmed sound
PEAK_RANGE = (0.6, 0.95)    # each clip's peak is scaled to a random level in this range
MAX_WORKERS = 8

# --- spoken digits -----------------------------------------------------------------------------

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


# --- instrument notes --------------------------------------------------------------------------

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
# family -> (General MIDI program (0-based), lowest and highest MIDI pitch); the ranges avoid
# FluidR3_GM's gaps (its violin is silent at 94). Both splits play every program: the test split
# is fresh notes (pitch, velocity, level) of the same instruments, the distribution a generator
# imitates. (Holding out whole instruments, as NSynth does, made a different distribution: the
# shipped classifier then scored 59% on it, and real-vs-real FID was 78.)
FAMILIES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "keyboard": ((0, 33, 96), (2, 36, 96), (4, 36, 91),
                 (5, 36, 91), (6, 41, 89), (7, 36, 84),
                 (1, 33, 96)),
    "organ": ((16, 36, 96), (18, 36, 96), (19, 36, 96),
              (20, 36, 91), (21, 41, 89), (17, 36, 96)),
    "guitar": ((24, 40, 84), (25, 40, 84), (27, 40, 84),
               (28, 40, 76), (29, 40, 84), (30, 40, 84),
               (26, 40, 84)),
    "bass": ((32, 28, 55), (33, 28, 55), (35, 28, 55),
             (36, 28, 55), (37, 28, 55), (38, 28, 60),
             (39, 28, 60), (34, 28, 55)),
    "strings": ((40, 55, 93), (42, 36, 72), (43, 28, 55),
                (44, 36, 84), (48, 36, 96), (49, 36, 96),
                (50, 36, 96), (41, 48, 84)),
    "brass": ((56, 55, 82), (57, 40, 72), (58, 28, 58),
              (59, 55, 82), (61, 41, 77), (62, 36, 84),
              (63, 36, 84), (60, 41, 77)),
    "reed": ((64, 56, 87), (65, 49, 80), (67, 36, 68),
             (68, 58, 91), (69, 52, 81), (70, 34, 72),
             (71, 50, 91), (66, 44, 75)),
    "flute": ((72, 74, 100), (73, 60, 96), (75, 60, 96),
              (76, 60, 84), (77, 55, 84), (78, 60, 96),
              (79, 60, 84), (74, 60, 96)),
    "mallet": ((8, 60, 96), (9, 72, 100), (10, 60, 96),
               (12, 45, 96), (13, 65, 100), (14, 60, 77),
               (11, 53, 89)),
    "synth_lead": ((80, 36, 96), (82, 48, 96), (83, 36, 96),
                   (84, 36, 96), (85, 36, 96), (87, 36, 84),
                   (81, 36, 96)),
}
VELOCITY_RANGE = (50, 127)
HOLD_MS = 750               # note-on to note-off; the release rings on to the clip's end
SPACING_MS = 2000           # between onsets in a rendered MIDI file
LEAD_MS = 1000              # silence before the first onset
SYNTH_GAIN = 0.3            # fluidsynth -g: one note at a time stays well below full scale


@dataclass(frozen=True)
class Note:
    """One instrument-note clip to make."""

    split: str
    family: str
    index: int
    program: int
    pitch: int
    velocity: int
    peak: float

    @property
    def name(self) -> str:
        return f"{self.index:04d}_prog{self.program:03d}_n{self.pitch:03d}_v{self.velocity:03d}.wav"


def _notes(seed: int, split: str, family: str, n: int) -> list[Note]:
    """The first `n` notes of one (split, family); the stream depends on nothing else."""
    rng = np.random.default_rng([seed, 2, SPLITS.index(split), list(FAMILIES).index(family)])
    programs = FAMILIES[family]
    out = []
    for i in range(n):
        program, lo, hi = programs[rng.integers(len(programs))]
        out.append(Note(split, family, i, program, int(rng.integers(lo, hi + 1)),
                        int(rng.integers(VELOCITY_RANGE[0], VELOCITY_RANGE[1] + 1)),
                        round(float(rng.uniform(*PEAK_RANGE)), 4)))
    return out


def _varlen(n: int) -> bytes:
    """A MIDI variable-length quantity: 7 bits a byte, most significant first."""
    out = [n & 0x7F]
    while n > 0x7F:
        n >>= 7
        out.append((n & 0x7F) | 0x80)
    return bytes(reversed(out))


def midi_file(notes: Sequence[tuple[int, int, int]], spacing_ms: int = SPACING_MS,
              hold_ms: int = HOLD_MS, lead_ms: int = LEAD_MS) -> bytes:
    """A standard MIDI file (format 0, channel 1, 1 tick = 1 ms) that plays (program, pitch,
    velocity) notes one at a time: note k starts at lead_ms + k * spacing_ms and is held for
    hold_ms. Before each note every sound is cut (controller 120) so no tail leaks into it."""
    events: list[tuple[int, bytes]] = [(0, b"\xff\x51\x03" + (500_000).to_bytes(3, "big"))]
    for k, (program, pitch, velocity) in enumerate(notes):
        t = lead_ms + k * spacing_ms
        events += [(t - 50, bytes([0xB0, 120, 0])), (t - 40, bytes([0xB0, 121, 0])),
                   (t - 30, bytes([0xC0, program])), (t, bytes([0x90, pitch, velocity])),
                   (t + hold_ms, bytes([0x80, pitch, 0]))]
    events.append((lead_ms + len(notes) * spacing_ms, b"\xff\x2f\x00"))   # end of track
    track, now = bytearray(), 0
    for t, data in events:          # already in time order
        track += _varlen(t - now) + data
        now = t
    # 500 ticks per quarter note at 500,000 us per quarter note: 1 tick = 1 ms
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 500)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def _render(exe: str, soundfont: Path, notes: Sequence[Note], scratch: Path, tag: str
            ) -> np.ndarray:
    """fluidsynth's rendering of the notes (one process: the soundfont loads once), mono
    float32 at 16 kHz, reverb and chorus off."""
    from scipy.io import wavfile
    mid, wav = scratch / f"{tag}.mid", scratch / f"{tag}.wav"
    mid.write_bytes(midi_file([(n.program, n.pitch, n.velocity) for n in notes]))
    cmd = [exe, "-ni", "-q", "-R", "0", "-C", "0", "-g", str(SYNTH_GAIN), "-r", str(SAMPLE_RATE),
           "-O", "float", "-T", "wav", "-F", str(wav), str(soundfont), str(mid)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0 or not wav.exists():
        raise DataError(f"fluidsynth failed on {mid.name}: {(r.stderr or r.stdout).strip()[:200]}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # fluidsynth's PEAK chunk, which scipy skips
        rate, x = wavfile.read(wav)
    mid.unlink()
    wav.unlink()
    if rate != SAMPLE_RATE:
        raise DataError(f"fluidsynth wrote {rate} Hz audio, not {SAMPLE_RATE} Hz")
    return np.asarray(x, dtype=np.float32).reshape(len(x), -1).mean(axis=1)


def _make_family(exe: str, soundfont: Path, notes: Sequence[Note], staging: Path
                 ) -> list[tuple[float, bool]]:
    """Render one family's notes, slice each clip at its onset, scale and write it.
    Returns (RMS, whether the sound was still ringing at the clip's end) per note."""
    if not notes:
        return []
    tag = f"{notes[0].split}-{notes[0].family}"
    audio = _render(exe, soundfont, notes, staging / ".scratch", tag)
    per_ms = SAMPLE_RATE // 1000
    stats = []
    for k, n in enumerate(notes):
        start = (LEAD_MS + k * SPACING_MS) * per_ms
        x = fit_length(audio[start:start + DEFAULT_LENGTH], DEFAULT_LENGTH)
        peak = float(np.abs(x).max())
        if peak < 1e-4:
            raise DataError(f"fluidsynth rendered silence for program {n.program} pitch "
                            f"{n.pitch}: is {soundfont} a complete General MIDI soundfont?")
        clip = _scale(x, n.peak)
        write_wav(staging / n.split / n.family / n.name, clip)
        tail = np.abs(clip[-10 * per_ms:]).max()          # the last 10 ms
        stats.append((_rms(clip), bool(tail > n.peak * 10 ** (TRIM_DB / 20))))
    return stats


def build_notes(out: Union[str, Path], seed: int = 0, per_class: int = 300,
                test_per_class: int = 50, workers: Optional[int] = None,
                soundfont: Union[str, Path] = SOUNDFONT) -> Path:
    """Build the notes set in `out`: NSynth-like single notes, the class the instrument family.

    Ten families (FAMILIES: keyboard, organ, guitar, bass, strings, brass, reed, flute, mallet,
    synth_lead) of 6-8 General MIDI programs each, rendered by fluidsynth from FluidR3_GM at
    16 kHz with reverb and chorus off. Each note draws a program, a pitch in that program's range
    and a velocity in 50..127; it starts at the clip's first sample, is held 0.75 s and released
    within the 1.024 s clip, then is scaled to a random peak in 0.6..0.95. The test split is fresh
    notes of the same programs (drawn from a stream of its own). The notes
    of a family and split go into one MIDI file (2 s apart) and one fluidsynth call (the soundfont
    loads once); the clips are sliced at their known onsets. `workers` such renderings run at
    once. Returns the folder."""
    _check_counts(per_class, test_per_class)
    exe = _require("fluidsynth", "fluidsynth")
    soundfont = Path(soundfont)
    if not soundfont.is_file():
        raise DataError(f"the soundfont {soundfont} is missing: apt install fluid-soundfont-gm")
    # one rendering per (split, family): a note's rendering depends a little on the notes before
    # it in the file (fluidsynth's channel state), so a split's clips must not depend on the size
    # of the other split for a smaller build to be a prefix of a larger one
    plans = [_notes(seed, split, fam, count) for split, count in (("train", per_class),
                                                                 ("test", test_per_class))
             for fam in FAMILIES]
    params = {"soundfont": str(soundfont), "families": {
        fam: [list(p) for p in progs] for fam, progs in FAMILIES.items()}, "velocity": list(VELOCITY_RANGE),
        "hold_ms": HOLD_MS, "spacing_ms": SPACING_MS, "synth_gain": SYNTH_GAIN,
        "reverb": False, "chorus": False, "peak": list(PEAK_RANGE),
        "per_class": per_class, "test_per_class": test_per_class}
    with _staging(out, "notes") as staging:
        _class_dirs(staging, FAMILIES)
        (staging / ".scratch").mkdir()
        with ThreadPoolExecutor(_workers(workers)) as pool:
            stats = list(pool.map(lambda p: _make_family(exe, soundfont, p, staging), plans))
        shutil.rmtree(staging / ".scratch")
        rows = [(n.family, *s) for plan, st in zip(plans, stats) for n, s in zip(plan, st)]
        _manifest(staging, "notes", seed, list(FAMILIES), per_class, test_per_class,
                  ("fluidsynth", "fluid-soundfont-gm"), params, rows)
    return Path(out).expanduser()


# --- shared ------------------------------------------------------------------------------------

def trim(x: np.ndarray, db: float = TRIM_DB, margin: int = MARGIN) -> np.ndarray:
    """The clip without its leading and trailing silence: samples quieter than `db` below the
    peak, keeping `margin` samples either side. An all-zero clip is a DataError."""
    a = np.abs(x)
    peak = float(a.max()) if a.size else 0.0
    if peak <= 0.0:
        raise DataError("the synthesizer produced a silent clip")
    loud = np.flatnonzero(a > peak * 10 ** (db / 20))
    return x[max(0, loud[0] - margin):loud[-1] + 1 + margin]


def _scale(x: np.ndarray, peak: float) -> np.ndarray:
    return (x * (peak / float(np.abs(x).max()))).astype(np.float32)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _require(binary: str, package: str) -> str:
    """The path of an executable, or a DataError naming the Debian package that provides it."""
    path = shutil.which(binary)
    if path is None:
        raise DataError(f"{binary} is not installed: apt install {package}")
    return path


def package_versions(packages: Iterable[str]) -> dict[str, Optional[str]]:
    """Each Debian package's installed version (dpkg-query), or None where it is unknown."""
    versions: dict[str, Optional[str]] = {}
    for pkg in packages:
        try:
            r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                               capture_output=True, text=True, timeout=30)
            versions[pkg] = (r.stdout.strip() or None) if r.returncode == 0 else None
        except (OSError, subprocess.SubprocessError):
            versions[pkg] = None
    return versions


def _check_counts(per_class: int, test_per_class: int) -> None:
    if int(per_class) < 1 or int(test_per_class) < 0:
        raise DataError(f"per_class must be at least 1 and test_per_class at least 0 (got "
                        f"{per_class} and {test_per_class})")


def _workers(workers: Optional[int]) -> int:
    """The threads that drive synthesizer processes: `workers`, else the usable CPUs (max 8)."""
    if workers:
        return max(1, int(workers))
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(MAX_WORKERS, cpus or 1))


def _class_dirs(staging: Path, classes: Iterable[str]) -> None:
    for split in SPLITS:
        for c in classes:
            (staging / split / c).mkdir(parents=True)


class _staging:
    """A context: a hidden temporary sibling of `out` to build in, renamed to `out` on success
    (replacing a previous build of the same set) and removed on failure."""

    def __init__(self, out: Union[str, Path], name: str):
        self.out, self.name = Path(out).expanduser(), name
        _check_target(self.out, name)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", suffix=".building",
                                          dir=self.out.parent))
        umask = os.umask(0o022)
        os.umask(umask)
        self.path.chmod(0o777 & ~umask)         # mkdtemp's 0700 would hide the set from others

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, kind, value, tb) -> None:
        if kind is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        try:
            _check_target(self.out, self.name)      # still ours after the build?
        except DataError:
            shutil.rmtree(self.path, ignore_errors=True)
            raise
        old = None
        if self.out.exists():
            old = self.path.with_suffix(".old")
            self.out.rename(old)
        self.path.rename(self.out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _check_target(out: Path, name: str) -> None:
    """A DataError unless `out` is absent, an empty folder or a previous build of set `name`."""
    if not out.exists():
        return
    if not out.is_dir():
        raise DataError(f"{out} is a file, not a folder to build the {name} set in")
    if not any(out.iterdir()):
        return
    try:
        previous = json.loads((out / "dataset.json").read_text()).get("name")
    except (OSError, ValueError, AttributeError):
        previous = None
    if previous != name:
        raise DataError(f"{out} is not empty and is not a previous build of the {name} set: "
                        f"choose another folder (nothing was written)")


def _manifest(folder: Path, name: str, seed: int, classes: Sequence[str], per_class: int,
              test_per_class: int, packages: Sequence[str], params: dict,
              rows: Sequence[tuple[str, float, bool]]) -> None:
    """Write dataset.json: what the set is, how it was made, and a few sanity statistics (the
    mean RMS of each class's clips, how many clips the 16,384-sample limit cut short)."""
    rms = {c: round(float(np.mean([r for k, r, _ in rows if k == c])), 5) for c in classes}
    info = {"name": name, "version": VERSION, "seed": int(seed), "rate": SAMPLE_RATE,
            "length": DEFAULT_LENGTH, "classes": list(classes),
            "counts": {"train": {c: int(per_class) for c in classes},
                       "test": {c: int(test_per_class) for c in classes}},
            "packages": package_versions(packages), "params": params,
            "stats": {"mean_rms": rms, "cut": int(sum(cut for _, _, cut in rows))},
            "built": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    (folder / "dataset.json").write_text(json.dumps(info, indent=1) + "\n")


BUNDLED: dict[str, Callable[..., Path]] = {"spoken-digits": build_spoken_digits,
                                           "notes": build_notes}


def build(name: str, out: Union[str, Path], seed: int = 0, per_class: int = 300,
          test_per_class: int = 50, workers: Optional[int] = None) -> Path:
    """Build the bundled set `name` (a key of BUNDLED) in folder `out`; returns the folder."""
    if name not in BUNDLED:
        raise DataError(f"unknown audio set {name!r}: known sets are {', '.join(BUNDLED)}")
    return BUNDLED[name](out, seed=seed, per_class=per_class, test_per_class=test_per_class,
                         workers=workers)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`python -m gankit.data.audio_sets NAME OUT [--seed S] [--per-class N]
    [--test-per-class N] [--workers W]`: build a set and print one summary line. A user error is
    one line on stderr and exit code 2."""
    p = argparse.ArgumentParser(prog="python -m gankit.data.audio_sets",
                                description="Build a bundled audio dataset offline.")
    p.add_argument("name", help=f"the set: {', '.join(BUNDLED)}")
    p.add_argument("out", help="the folder to build it in")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--per-class", type=int, default=300, help="training clips per class")
    p.add_argument("--test-per-class", type=int, default=50, help="test clips per class")
    p.add_argument("--workers", type=int, default=None, help="synthesizer processes at once")
    args = p.parse_args(argv)
    start = time.perf_counter()
    try:
        folder = build(args.name, args.out, args.seed, args.per_class, args.test_per_class,
                       args.workers)
        info = json.loads((folder / "dataset.json").read_text())
    except GanKitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    n_train, n_test = (sum(info["counts"][s].values()) for s in SPLITS)
    print(f"{args.name}: {n_train} train + {n_test} test clips, {len(info['classes'])} classes, "
          f"seed {args.seed}, in {folder} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
