"""Audio for the audio GANs: WAV files in, fixed-length 16 kHz mono clips out, and back.

    clip = read_wav("dog.wav")                       # float32 [-1, 1], mono, at 16 kHz
    write_wav("out.wav", clip)                       # 16-bit PCM
    data = load_audio("digits/", length=16384)       # a folder: see below
    data.train, data.train_labels, data.classes      # float32 [N, L], int64 [N], class names

A folder holds WAV files directly (unconditional), or one sub-folder per class
(`DIR/label/*.wav`, labeled), or `train/` and `test/` folders of either kind (the bundled sets of
gankit.data.audio_sets are laid out so). Without train/test, every 10th file of each class (in
name order) is held out, so the split follows the folder and needs no seed.

Every clip is made mono (the mean of its channels), resampled to 16 kHz (polyphase, scipy), then
cut to the first `length` samples or padded with silence at the end (WaveGAN's recipe). A file
that is not a readable WAV is skipped and counted, as is a clip shorter than a quarter of the
length (mostly padding: far too short for the model); if nothing remains, a DataError says why.

Spectrograms (SpecGAN, the metrics' classifiers): `log_spectrogram` is the log magnitude of a
256-point STFT with hop 128 (16 ms windows at 16 kHz), the highest frequency bin dropped, so a
16,384-sample clip gives 128 x 128; `griffin_lim` turns magnitudes back into a waveform.

Mel spectrograms (the default audio model, an image GAN on them): `log_mel` is the log of a
1,024-point STFT's magnitudes pooled by `bands` triangular mel filters, with a hop of
length / `frames` samples, so a clip is a `bands` x `frames` image (64 x 64 by default: 64 mel
bands up to 8 kHz, 16 ms hops). `mel_to_linear` undoes the pooling as well as it can (the
filterbank's pseudo-inverse, clamped at zero) for Griffin-Lim.
"""
from __future__ import annotations

import io
import math
import struct
import wave as _wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch

from ..errors import DataError

SAMPLE_RATE = 16000
DEFAULT_LENGTH = 16384          # ~1 s at 16 kHz, WaveGAN's clip length
MIN_SHARE = 0.25                # clips shorter than this share of the length are skipped
HOLD_EVERY = 10
N_FFT, HOP = 256, 128
LOG_EPS = 1e-6
MEL_N_FFT = 1024                # 64 ms windows: narrow enough mel bands at low pitch (15.6 Hz bins)
MEL_EPS = 1e-2                  # the mel floor: about 80 dB below a loud band (silence maps here)
WAV_SUFFIXES = (".wav", ".wave")
MIN_RATE, MAX_RATE = 1_000, 768_000   # sample rates a WAV file really has


# --- files -------------------------------------------------------------------------------------

def read_wav(path: Union[str, Path], rate: Optional[int] = SAMPLE_RATE) -> np.ndarray:
    """A WAV file as float32 mono in [-1, 1], resampled to `rate` (None: the file's own rate).
    PCM 8/16/24/32-bit and 32/64-bit float files are read; anything else is a DataError."""
    from scipy.io import wavfile
    path = Path(path)
    try:
        with open(path, "rb") as f:
            if f.read(4) != b"RIFF":
                raise ValueError("not a RIFF/WAV file")
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # scipy warns on chunks it skips (LIST, cue)
            file_rate, data = wavfile.read(path)
    except (OSError, ValueError, EOFError, struct.error, UnboundLocalError, ZeroDivisionError,
            MemoryError, TypeError, IndexError, KeyError, OverflowError) as e:
        # scipy's reader meets damaged headers with many kinds of error: all mean the same here
        raise DataError(f"{path}: not a readable WAV file ({e or type(e).__name__})") from None
    if not MIN_RATE <= file_rate <= MAX_RATE:
        raise DataError(f"{path}: a sample rate of {file_rate} Hz (a WAV file's is "
                        f"{MIN_RATE:,} to {MAX_RATE:,}); the header is damaged")
    x = _to_float(np.asarray(data), path)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.ndim != 1 or x.size == 0:
        raise DataError(f"{path}: the WAV file holds no samples")
    if not np.isfinite(x).all():
        raise DataError(f"{path}: the WAV file holds NaN or infinite samples")
    if rate is not None and file_rate != rate:
        x = resample(x, file_rate, rate)
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def _to_float(data: np.ndarray, path: Path) -> np.ndarray:
    if data.dtype == np.uint8:
        return (data.astype(np.float32) - 128.0) / 128.0
    if data.dtype in (np.int16, np.int32):
        return data.astype(np.float32) / float(-np.iinfo(data.dtype).min)
    if data.dtype in (np.float32, np.float64):
        return data.astype(np.float32)
    raise DataError(f"{path}: WAV samples of type {data.dtype} are not supported (PCM 8/16/24/32 "
                    f"or float)")


def resample(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Polyphase resampling along the last axis (scipy.signal.resample_poly, Kaiser window)."""
    from scipy.signal import resample_poly
    if from_rate <= 0:
        raise DataError(f"a sample rate of {from_rate} Hz")
    g = math.gcd(int(from_rate), int(to_rate))
    return resample_poly(x, to_rate // g, from_rate // g, axis=-1).astype(np.float32)


def wav_bytes(x: Union[np.ndarray, torch.Tensor], rate: int = SAMPLE_RATE) -> bytes:
    """A mono clip in [-1, 1] as the bytes of a 16-bit PCM WAV file."""
    x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    pcm = np.round(np.clip(x.astype(np.float64).reshape(-1), -1.0, 1.0) * 32767).astype("<i2")
    buf = io.BytesIO()
    with _wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(rate))
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def write_wav(path: Union[str, Path], x: Union[np.ndarray, torch.Tensor],
              rate: int = SAMPLE_RATE) -> None:
    """A mono clip in [-1, 1] as a 16-bit PCM WAV file (written whole to FILE.tmp, then renamed)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(wav_bytes(x, rate))
    tmp.replace(path)


def fit_length(x: np.ndarray, length: int) -> np.ndarray:
    """The first `length` samples, or the clip padded with silence at the end."""
    if len(x) >= length:
        return x[:length]
    return np.concatenate([x, np.zeros(length - len(x), dtype=x.dtype)])


# --- folders -----------------------------------------------------------------------------------

@dataclass
class AudioData:
    """Clips float32 [N, L] in [-1, 1] at `rate`; labels int64 [N] when the folder is labeled."""

    train: torch.Tensor
    held: torch.Tensor
    train_labels: Optional[torch.Tensor]
    held_labels: Optional[torch.Tensor]
    classes: list[str]
    rate: int
    length: int
    note: str
    skipped: dict[str, int] = field(default_factory=dict)


def _wav_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in WAV_SUFFIXES)


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def is_labeled(path: Union[str, Path]) -> bool:
    """Whether a folder holds class folders of WAV files (directly or under train/), as
    `load_audio` would read it; False for anything it could not read (load_audio says why)."""
    folder = Path(path).expanduser()
    try:
        if (folder / "train").is_dir() and (folder / "test").is_dir():
            folder = folder / "train"
        files, labeled = _listing(folder)
        return labeled and bool(files)
    except OSError:
        return False


def _listing(folder: Path) -> tuple[list[tuple[Path, Optional[str]]], bool]:
    """(file, class name or None) pairs of a folder of WAVs or of class folders."""
    direct, subdirs = _wav_files(folder), _class_dirs(folder)
    if direct:
        return [(p, None) for p in direct], False
    files = [(p, d.name) for d in subdirs for p in _wav_files(d)]
    return files, True


def load_audio(path: Union[str, Path], length: int = DEFAULT_LENGTH, rate: int = SAMPLE_RATE,
               classes: Optional[Sequence[str]] = None) -> AudioData:
    """The clips of a folder (see the module's doc). `classes` fixes the class order (a resumed
    run's); by default the sub-folders' names in sorted order."""
    folder = Path(path).expanduser()
    if not folder.exists():
        raise DataError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise DataError(f"{folder}: audio data is a folder of WAV files (or of class folders)")
    if length < 256:
        raise DataError(f"a clip length of {length} samples is too short (at least 256)")
    split = (folder / "train").is_dir() and (folder / "test").is_dir()
    if split:
        train_files, labeled = _listing(folder / "train")
        held_files, held_labeled = _listing(folder / "test")
        if held_files and held_labeled != labeled:
            raise DataError(f"{folder}: train/ and test/ must both hold class folders or both "
                            f"hold WAV files")
    else:
        files, labeled = _listing(folder)
        train_files, held_files = [], []
        by_class: dict[Optional[str], list[Path]] = {}
        for p, c in files:
            by_class.setdefault(c, []).append(p)
        for c, ps in by_class.items():
            for i, p in enumerate(ps):
                (held_files if i % HOLD_EVERY == HOLD_EVERY - 1 else train_files).append((p, c))
    if not train_files:
        raise DataError(f"{folder}: no .wav files (directly, or in one folder per class)")
    names = list(classes) if classes is not None else (
        sorted({c for _, c in train_files if c is not None}) if labeled else [])
    skipped = {"unreadable": 0, "too short": 0, "unknown class": 0}
    examples: dict[str, str] = {}

    def read(items: list[tuple[Path, Optional[str]]],
             ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        clips, labels = [], []
        for p, c in items:
            if labeled and c not in names:
                skipped["unknown class"] += 1
                continue
            try:
                x = read_wav(p, rate)
            except DataError as e:
                skipped["unreadable"] += 1
                examples.setdefault("unreadable", str(e))
                continue
            if len(x) < MIN_SHARE * length:
                skipped["too short"] += 1
                examples.setdefault("too short", f"{p.name}: {len(x)} samples")
                continue
            clips.append(fit_length(x, length))
            if labeled:
                labels.append(names.index(c))
        x = torch.from_numpy(np.stack(clips)) if clips else torch.zeros(0, length)
        y = torch.tensor(labels, dtype=torch.long) if labeled else None
        return x, y

    train, train_labels = read(train_files)
    held, held_labels = read(held_files)
    skipped = {k: v for k, v in skipped.items() if v}
    if len(train) == 0:
        why = "; ".join(f"{v} {k}" + (f" (e.g. {examples[k]})" if k in examples else "")
                        for k, v in skipped.items())
        raise DataError(f"{folder}: no usable training clips ({why}; clips must be WAV files "
                        f"of at least {int(MIN_SHARE * length)} samples at {rate} Hz)")
    note = (f"{len(train)} training and {len(held)} held-out clips of {length} samples at "
            f"{rate} Hz from {folder}" + (f", {len(names)} classes" if labeled else ""))
    if skipped:
        note += "; skipped " + ", ".join(f"{v} {k}" for k, v in skipped.items())
    return AudioData(train, held, train_labels, held_labels, names, rate, length, note, skipped)


# --- spectrograms ------------------------------------------------------------------------------

def _window(device: torch.device) -> torch.Tensor:
    return torch.hann_window(N_FFT, device=device)


def stft(x: torch.Tensor) -> torch.Tensor:
    """Complex STFT [N, 128, frames] of clips [N, L] (256-point Hann windows, hop 128, centered;
    the Nyquist bin dropped). A clip of 16,384 samples has 129 frames; the last is dropped too,
    so the spectrogram is 128 x 128."""
    s = torch.stft(x.float(), N_FFT, HOP, window=_window(x.device), center=True,
                   return_complex=True)
    return s[:, :-1, :-1] if s.shape[-1] > 1 else s[:, :-1]


def log_spectrogram(x: torch.Tensor) -> torch.Tensor:
    """log(|STFT| + 1e-6) [N, 128, frames] of clips [N, L]."""
    return torch.log(stft(x).abs() + LOG_EPS)


def griffin_lim(mag: torch.Tensor, length: int, iters: int = 32,
                generator: Optional[torch.Generator] = None, momentum: float = 0.99,
                n_fft: int = N_FFT, hop: int = HOP) -> torch.Tensor:
    """Clips [N, length] whose STFT magnitudes approach `mag` [N, bins, frames] (as `stft` gives
    them, or `mel_to_linear`: the last frame, and any bins above `bins`, dropped): Griffin &
    Lim's alternating projections with the 'fast' momentum of Perraudin et al. 2013. Phases
    start at random (from `generator`) or at zero."""
    n, bins, frames = mag.shape
    full = torch.zeros(n, n_fft // 2 + 1, frames + 1, device=mag.device)   # dropped bins, frame
    full[:, :bins, :frames] = mag
    if generator is not None:
        phase = torch.rand(full.shape, generator=generator, device=generator.device) * 2 * math.pi
        phase = phase.to(mag.device)
    else:
        phase = torch.zeros_like(full)
    spec = torch.polar(full, phase)
    window = torch.hann_window(n_fft, device=mag.device)
    prev = torch.zeros_like(spec)
    for _ in range(iters):
        x = torch.istft(spec, n_fft, hop, window=window, center=True, length=length)
        rebuilt = torch.stft(x, n_fft, hop, window=window, center=True, return_complex=True)
        accel = rebuilt + (momentum / (1 + momentum)) * (rebuilt - prev) if momentum else rebuilt
        prev = rebuilt
        spec = full * torch.exp(1j * torch.angle(accel))
    return torch.istft(spec, n_fft, hop, window=window, center=True, length=length)


def mel_filterbank(bands: int, n_fft: int = MEL_N_FFT, rate: int = SAMPLE_RATE,
                   ) -> torch.Tensor:
    """Triangular filters [bands, n_fft // 2 + 1] evenly spaced on the mel scale (HTK's
    2595 log10(1 + f / 700)) from 0 Hz to rate / 2, each peaking at 1 on its centre."""
    def mel(f: torch.Tensor) -> torch.Tensor:
        return 2595.0 * torch.log10(1.0 + f / 700.0)
    hz = torch.linspace(0, rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    edges = 700.0 * (10 ** (torch.linspace(0, float(mel(torch.tensor(rate / 2.0))), bands + 2,
                                           dtype=torch.float64) / 2595.0) - 1.0)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]   # [bands, 1] each
    up, down = (hz - lo) / (mid - lo), (hi - hz) / (hi - mid)
    return torch.minimum(up, down).clamp_min(0).float()


def mel_hop(length: int, frames: int) -> int:
    """The STFT hop that gives a clip of `length` samples `frames` frames (the last dropped)."""
    if length % frames:
        raise DataError(f"a clip of {length} samples does not split into {frames} frames")
    return length // frames


def log_mel(x: torch.Tensor, bands: int = 64, frames: int = 64) -> torch.Tensor:
    """log(mel magnitudes + MEL_EPS) [N, bands, frames] of clips [N, L]: a 1,024-point STFT
    with hop L / frames (centered; the last frame dropped), pooled by `mel_filterbank`."""
    hop, fb = mel_hop(x.shape[-1], frames), mel_filterbank(bands).to(x.device)
    out = []
    for i in range(0, len(x), 250):    # bounds the memory of the complex spectrograms
        s = torch.stft(x[i:i + 250].float(), MEL_N_FFT, hop, center=True, return_complex=True,
                       window=torch.hann_window(MEL_N_FFT, device=x.device))[..., :frames]
        out.append(torch.log(torch.einsum("mf,nft->nmt", fb, s.abs()) + MEL_EPS))
    return torch.cat(out) if out else torch.zeros(0, bands, frames)


def mel_to_linear(logmel: torch.Tensor) -> torch.Tensor:
    """STFT magnitudes [N, MEL_N_FFT // 2 + 1, frames] from log mel [N, bands, frames]: the mel
    magnitudes through the filterbank's pseudo-inverse, negative values (its ringing) set to 0."""
    fb = mel_filterbank(logmel.shape[1]).to(logmel.device)
    mel = (torch.exp(logmel.float()) - MEL_EPS).clamp_min(0)
    return torch.einsum("fm,nmt->nft", torch.linalg.pinv(fb), mel).clamp_min(0)


def mel_to_clips(logmel: torch.Tensor, length: int, iters: int = 32,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Clips [N, length] from log mel spectrograms [N, bands, frames], by `mel_to_linear` and
    Griffin-Lim (1,024-point, hop length / frames), 250 at a time."""
    hop = mel_hop(length, logmel.shape[-1])
    out = [griffin_lim(mel_to_linear(logmel[i:i + 250]), length, iters, generator,
                       n_fft=MEL_N_FFT, hop=hop) for i in range(0, len(logmel), 250)]
    return torch.cat(out) if out else torch.zeros(0, length)


def spectrogram_image(clips: torch.Tensor, rows: Optional[int] = None) -> np.ndarray:
    """A uint8 RGB grid [H, W, 3] of the clips' log spectrograms (low frequencies at the bottom,
    'magma' colours), for PNG previews."""
    import matplotlib
    spec = log_spectrogram(clips.reshape(len(clips), -1).cpu())
    hi = float(spec.max())
    lo = hi - math.log(1e4)                      # an 80 dB range below the loudest bin
    img = ((spec.clamp(lo, hi) - lo) / (hi - lo)).flip(1).numpy()   # [N, F, T]
    n = len(img)
    cols = math.ceil(math.sqrt(n)) if rows is None else math.ceil(n / rows)
    rows = math.ceil(n / cols)
    f, t = img.shape[1:]
    grid = np.zeros((rows * (f + 2), cols * (t + 2)), dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, cols)
        grid[r * (f + 2):r * (f + 2) + f, c * (t + 2):c * (t + 2) + t] = img[i]
    rgb = matplotlib.colormaps["magma"](grid)[..., :3]
    return (rgb * 255).round().astype(np.uint8)
