"""Audio GANs: WAV loading, spectrograms and Griffin-Lim, WaveGAN/SpecGAN nets, and the task."""
from __future__ import annotations

import json
import math
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.data.audio import (griffin_lim, load_audio, log_spectrogram, read_wav, stft,
                               write_wav)
from gankit.errors import ConfigError, DataError
from gankit.nets.audio import (SpecGANDiscriminator, SpecGANGenerator, WaveGANDiscriminator,
                               WaveGANGenerator, phase_shuffle)
from helpers import one_error, run

pytestmark = pytest.mark.usefixtures("one_thread")
RATE = 16000


def tone(freq: float, n: int, rate: int = RATE, phase: float = 0.0, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * math.pi * freq * np.arange(n) / rate + phase)).astype(np.float32)


def peak_hz(x: np.ndarray, rate: int = RATE) -> np.ndarray:
    """The dominant frequency of each clip [N, L]."""
    return np.abs(np.fft.rfft(x, axis=-1)).argmax(-1) * rate / x.shape[-1]


def tone_folder(root: Path, freqs=(300, 600, 1200), per_class: int = 30, n: int = 4096) -> Path:
    rng = np.random.default_rng(0)
    for f in freqs:
        d = root / f"{f:04d}hz"
        d.mkdir(parents=True)
        for i in range(per_class):
            write_wav(d / f"{i:03d}.wav", tone(f, n, phase=rng.uniform(0, 2 * math.pi)))
    return root


# --- files -------------------------------------------------------------------------------------

def test_wav_round_trip_and_formats(tmp_path):
    x = tone(440, 8000)
    write_wav(tmp_path / "a.wav", x)
    assert np.abs(read_wav(tmp_path / "a.wav") - x).max() < 1e-4
    from scipy.io import wavfile
    stereo = np.stack([x, -x * 0], 1)                                      # mean of channels
    wavfile.write(tmp_path / "f32.wav", RATE, stereo.astype(np.float32))
    assert np.allclose(read_wav(tmp_path / "f32.wav"), x / 2, atol=1e-6)
    wavfile.write(tmp_path / "u8.wav", RATE, np.round(x * 127 + 128).astype(np.uint8))
    assert np.abs(read_wav(tmp_path / "u8.wav") - x).max() < 0.02
    wavfile.write(tmp_path / "i32.wav", RATE, np.round(x * 2 ** 31).astype(np.int32))
    assert np.abs(read_wav(tmp_path / "i32.wav") - x).max() < 1e-6
    # 22.05 kHz is resampled: same duration, same pitch
    wavfile.write(tmp_path / "22k.wav", 22050, np.round(tone(440, 22050, 22050) * 32767)
                  .astype(np.int16))
    y = read_wav(tmp_path / "22k.wav")
    assert len(y) == RATE and abs(peak_hz(y) - 440) < 2
    with wave.open(str(tmp_path / "a.wav")) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, RATE)


def test_bad_wav_files(tmp_path):
    (tmp_path / "text.wav").write_text("hello, I am not a sound")
    with pytest.raises(DataError, match="not a readable WAV"):
        read_wav(tmp_path / "text.wav")
    write_wav(tmp_path / "ok.wav", tone(440, 8000))
    (tmp_path / "cut.wav").write_bytes((tmp_path / "ok.wav").read_bytes()[:30])
    with pytest.raises(DataError):
        read_wav(tmp_path / "cut.wav")


def test_folder_loading_skips_and_counts(tmp_path):
    root = tone_folder(tmp_path / "data", per_class=10, n=3000)
    (root / "0300hz" / "junk.wav").write_bytes(b"RIFF....garbage")
    write_wav(root / "0600hz" / "short.wav", tone(600, 500))               # < 1/4 of 4096
    data = load_audio(root, length=4096)
    assert data.classes == ["0300hz", "0600hz", "1200hz"]
    assert data.train.shape == (27, 4096) and data.held.shape == (3, 4096)   # every 10th held
    assert data.skipped == {"unreadable": 1, "too short": 1}
    assert "skipped 1 unreadable, 1 too short" in data.note
    assert torch.all(data.train[:, 3000:] == 0)                            # padded with silence
    assert sorted(data.train_labels.tolist()) == sorted([0] * 9 + [1] * 9 + [2] * 9)
    flat = tmp_path / "flat"
    flat.mkdir()
    write_wav(flat / "a.wav", tone(300, 20000))
    d = load_audio(flat, length=4096)
    assert d.train_labels is None and d.train.shape == (1, 4096)           # cut to the length


def test_folder_with_nothing_usable(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no .wav files"):
        load_audio(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.wav").write_text("not audio")
    write_wav(bad / "b.wav", tone(440, 100))
    with pytest.raises(DataError, match="no usable training clips.*1 unreadable.*1 too short"):
        load_audio(bad)
    with pytest.raises(DataError, match="no such folder"):
        load_audio(tmp_path / "missing")


# --- spectrograms --------------------------------------------------------------------------------

def test_spectrogram_shape_and_griffin_lim_rebuilds_a_tone():
    x = torch.from_numpy(tone(1000, 16384))[None]
    s = log_spectrogram(x)
    assert s.shape == (1, 128, 128)
    assert int(s[0].mean(1).argmax()) == 16                                # 1000 Hz / 62.5 Hz
    mag = stft(x).abs()
    y = griffin_lim(mag, 16384, iters=32, generator=torch.Generator().manual_seed(0))
    assert y.shape == (1, 16384)
    err = ((stft(y).abs() - mag).norm() / mag.norm()).item()
    assert err < 0.2                                                       # spectral convergence
    assert abs(peak_hz(y.numpy())[0] - 1000) < 62.5                        # within one STFT bin
    # random phases alone are far from it
    noise = griffin_lim(mag, 16384, iters=0, generator=torch.Generator().manual_seed(0))
    assert ((stft(noise).abs() - mag).norm() / mag.norm()).item() > 2 * err


# --- nets ----------------------------------------------------------------------------------------

def test_wavegan_and_specgan_shapes():
    z, y = torch.randn(2, 100), torch.tensor([0, 2])
    G, D = WaveGANGenerator(16384, 100, 4, 3), WaveGANDiscriminator(16384, 4, 3)
    x = G(z, y)
    assert x.shape == (2, 1, 16384) and x.abs().max() <= 1
    assert D(x, y).shape == (2,)
    G, D = SpecGANGenerator(128, 100, 4), SpecGANDiscriminator(128, 4)
    x = G(z)
    assert x.shape == (2, 1, 128, 128) and D(x).shape == (2,)
    with pytest.raises(ValueError, match="multiple of 1024"):
        WaveGANGenerator(16000, 100, 4)


def test_phase_shuffle():
    x = torch.randn(64, 3, 50)
    assert phase_shuffle(x, 0) is x
    g = torch.Generator().manual_seed(0)
    y = phase_shuffle(x, 2, g)
    assert y.shape == x.shape
    shifts = set()
    for i in range(64):    # each example is x shifted by some s in -2..2, edges reflected
        match = [s for s in range(-2, 3) if torch.equal(y[i, :, 2:-2], x[i, :, 2 - s:48 - s])]
        assert len(match) == 1
        shifts.add(match[0])
    assert shifts == {-2, -1, 0, 1, 2}
    assert torch.equal(y[:, :, 2:-2][torch.tensor([0])], y[:1, :, 2:-2])
    assert torch.equal(phase_shuffle(x, 2, torch.Generator().manual_seed(0)), y)   # seeded


# --- the task ------------------------------------------------------------------------------------

def test_conditional_wavegan_learns_the_pitch_of_each_class(tmp_path):
    """Three classes of pure tones (300, 600, 1200 Hz): after a short run the samples of each
    class have their dominant frequency near that class's pitch."""
    from gankit.apps.audio import AudioGAN
    root = tone_folder(tmp_path / "tones", per_class=40, n=1024)
    gan = AudioGAN(root, audio_length=1024, conditional=True, batch_size=16, width=16, seed=0,
                   out=tmp_path / "run")
    labels = torch.arange(60) % 3
    target = np.array([300, 600, 1200])[labels.numpy()]
    before = np.abs(peak_hz(gan.sample(60, seed=1, labels=labels).numpy()) - target) < 30
    gan.fit(steps=STEPS, progress=False)
    f = peak_hz(gan.sample(60, seed=1, labels=labels).numpy())
    hit = np.abs(f - target) < 30
    assert before.mean() < 0.2
    assert hit.mean() >= 0.8, f"dominant frequencies {f[:12]}"  # 1024 samples: 15.6 Hz bins
    for k in range(3):
        assert hit[labels.numpy() == k].mean() >= 0.5
    # classes by name (their folders'), as `gankit sample --label NAME` takes them
    assert gan.classes == ["0300hz", "0600hz", "1200hz"]
    assert gan.labels_for("0600hz", 2).tolist() == [1, 1]
    assert gan.labels_for(["1200hz", "0300hz"], 2).tolist() == [2, 0]
    with pytest.raises(ConfigError, match="unknown class '440hz'"):
        gan.labels_for("440hz", 1)


STEPS = 1000   # the paper's recipe: 200 G steps, 1,000 critic steps


def test_cli_train_sample_resume(tmp_path, capsys):
    root = tone_folder(tmp_path / "tones", per_class=8)
    common = ["--task", "audio", "--dataset", str(root), "--audio-length", "4096", "--width", "4",
              "--batch-size", "8", "--log-every", "5", "--sample-every", "10",
              "--checkpoint-every", "10", "--no-progress"]
    assert run(capsys, "train", *common, "--steps", "20", "--out", str(tmp_path / "full"))[0] == 0
    assert run(capsys, "train", *common, "--steps", "10", "--out", str(tmp_path / "half"))[0] == 0
    assert run(capsys, "train", "--resume", str(tmp_path / "half"), "--steps", "20",
               "--no-progress")[0] == 0
    from gankit.api import load_run
    from gankit.train.state import latest_checkpoint, load_checkpoint
    a, _ = load_checkpoint(latest_checkpoint(tmp_path / "full"))
    b, _ = load_checkpoint(latest_checkpoint(tmp_path / "half"))
    for net in ("G", "D"):
        for k, v in a[net].items():
            assert torch.equal(v, b[net][k]), (net, k)                     # resume is exact
    info = json.loads((tmp_path / "full" / "audio.json").read_text())
    assert info["rate"] == RATE and info["length"] == 4096 and info["bundled"] is None
    assert (tmp_path / "full" / "samples" / "step-0000020.wav").exists()
    assert (tmp_path / "full" / "samples" / "step-0000020.png").exists()
    out = tmp_path / "clips"
    assert run(capsys, "sample", str(tmp_path / "full"), "--num", "3", "--output", str(out))[0] == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["000000.wav", "000001.wav", "000002.wav", "spectrograms.png"]
    assert read_wav(out / "000000.wav").shape == (4096,)
    assert run(capsys, "sample", str(tmp_path / "full"), "--num", "2", "--output",
               str(tmp_path / "two.npz"))[0] == 0
    z = np.load(tmp_path / "two.npz")
    assert z["audio"].shape == (2, 4096) and int(z["rate"]) == RATE
    gan = load_run(tmp_path / "full")
    assert torch.equal(gan.sample(2, seed=3), gan.sample(2, seed=3))
    one_error(capsys, "sample", str(tmp_path / "full"), "--num", "2", "--output", str(out),
              match="exists")
    one_error(capsys, "sample", str(tmp_path / "full"), "--num", "2", "--output",
              str(tmp_path / "x.mp3"), match="unknown output type")
    one_error(capsys, "eval", str(tmp_path / "full"), "--num", "10", match="classifier")
    one_error(capsys, "report", str(tmp_path / "full"), match="audio run")
    one_error(capsys, "augment", str(tmp_path / "full"), "--per-class", "2", "--output",
              str(tmp_path / "aug.npz"), match="audio run")
    one_error(capsys, "export", str(tmp_path / "full"), "--format", "onnx", match="audio run")
    one_error(capsys, "translate", str(tmp_path / "full"), str(out), "--output",
              str(tmp_path / "tr"), match="audio run")


def test_cli_bad_audio_input(tmp_path, capsys):
    root = tone_folder(tmp_path / "tones", per_class=3)
    base = ["train", "--task", "audio", "--steps", "1", "--no-progress"]
    one_error(capsys, *base, "--dataset", str(tmp_path / "nope"), match="no such folder")
    one_error(capsys, *base, "--dataset", str(root), "--model", "resnet",
              match="wavegan and specgan")
    one_error(capsys, *base, "--dataset", str(root), "--model", "specgan", "--audio-length",
              "4096", match="128 x 128")
    one_error(capsys, *base, "--dataset", str(root), "--audio-length", "5000",
              match="multiple of 1024")
    flat = tmp_path / "flat"
    flat.mkdir()
    write_wav(flat / "a.wav", tone(300, 4096))
    one_error(capsys, *base, "--dataset", str(flat), "--conditional", match="class labels")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.wav").write_text("no")
    one_error(capsys, *base, "--dataset", str(tmp_path / "junk"), match="no usable training clips")
