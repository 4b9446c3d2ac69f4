"""Audio GANs: WAV loading, spectrograms, mel spectrograms and Griffin-Lim, the nets, and the
task (the default mel model, WaveGAN, SpecGAN)."""
from __future__ import annotations

import json
import math
import wave

import numpy as np
import pytest
import torch
from helpers import one_error, run, tone, tone_folder

from gankit.data.audio import (
    griffin_lim,
    is_labeled,
    load_audio,
    log_mel,
    log_spectrogram,
    mel_filterbank,
    mel_to_clips,
    mel_to_linear,
    read_wav,
    stft,
    write_wav,
)
from gankit.errors import ConfigError, DataError
from gankit.nets.audio import (
    SpecGANDiscriminator,
    SpecGANGenerator,
    WaveGANDiscriminator,
    WaveGANGenerator,
    phase_shuffle,
)

pytestmark = pytest.mark.usefixtures("one_thread")
RATE = 16000


def peak_hz(x: np.ndarray, rate: int = RATE) -> np.ndarray:
    """The dominant frequency of each clip [N, L]."""
    return np.abs(np.fft.rfft(x, axis=-1)).argmax(-1) * rate / x.shape[-1]


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


def test_mel_spectrogram_and_its_inversion_keep_a_tones_pitch():
    fb = mel_filterbank(64)
    assert fb.shape == (64, 513) and bool((fb.sum(1) > 0).all())          # no empty band
    assert bool((fb.argmax(1).diff() >= 0).all())                         # rising centres
    for freq, length, side in [(220, 16384, 64), (440, 16384, 64), (1000, 16384, 64),
                               (3000, 16384, 64), (300, 4096, 32), (1200, 4096, 32)]:
        x = torch.from_numpy(tone(freq, length))[None]
        m = log_mel(x, side, side)
        assert m.shape == (1, side, side)
        # within a tenth of the pitch: about one band of 32 (at 300 Hz, 76 Hz apart)
        assert abs(mel_to_linear(m)[0].mean(1).argmax().item() * RATE / 1024 - freq) < 0.1 * freq
        y = mel_to_clips(m, length, 32, torch.Generator().manual_seed(0))
        assert y.shape == (1, length)
        assert abs(peak_hz(y.numpy())[0] - freq) < 0.1 * freq, (freq, peak_hz(y.numpy()))
        assert float(y.abs().max()) > 0.1                                   # not silence
    silent = log_mel(torch.zeros(2, 4096), 32, 32)
    assert torch.allclose(silent, torch.full_like(silent, math.log(1e-2)))    # the floor
    assert mel_to_clips(silent, 4096).abs().max() < 1e-6


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
    from gankit.tasks.audio.facade import AudioGAN
    root = tone_folder(tmp_path / "tones", per_class=40, n=1024)
    gan = AudioGAN(root, model="wavegan", audio_length=1024, conditional=True, batch_size=16,
                   width=16, seed=0, out=tmp_path / "run")
    assert (gan.config.loss.loss, gan.config.loss.n_critic, gan.config.train.lr) == (
        "wgan-gp", 5, 1e-4)                                                 # the paper's recipe
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


STEPS = 2000   # the paper's recipe: 400 G steps, 2,000 critic steps


def test_default_mel_model_learns_the_pitch_of_each_class(tmp_path):
    """The default model on three classes of tones, with no options but small sizes: it is the
    mel model, conditional by itself (class folders), and after MEL_STEPS steps (~20 CPU-s) the
    samples of each class sound at that class's pitch."""
    from gankit.tasks.audio.facade import AudioGAN
    freqs = (300, 600, 1200)
    root = tone_folder(tmp_path / "tones", freqs, per_class=40, n=4096)
    gan = AudioGAN(root, audio_length=4096, resolution=32, width=16, batch_size=16, seed=0,
                   out=tmp_path / "run")
    c = gan.config
    assert (c.model.model, c.model.conditional, c.loss.loss, c.loss.n_critic, c.model.d_norm,
            c.data_shape) == ("mel", True, "ns", 1, "batch", (1, 32, 32))
    labels = torch.arange(60) % 3
    target = np.array(freqs)[labels.numpy()]
    before = np.abs(peak_hz(gan.sample(60, seed=1, labels=labels).numpy()) - target) < 0.2 * target
    gan.fit(steps=MEL_STEPS, progress=False)
    f = peak_hz(gan.sample(60, seed=1, labels=labels).numpy())
    # within a fifth of the pitch: about one band of the 32-band mel scale at 300 Hz (~76 Hz),
    # and far from the other classes' pitches (an octave apart)
    hit = np.abs(f - target) < 0.2 * target
    assert before.mean() < 0.5                               # measured: 0.35 untrained, 1.0 after
    for k in range(3):
        assert hit[labels.numpy() == k].mean() >= 0.8, f"class {k}: {f[labels.numpy() == k]}"


MEL_STEPS = 300


def test_label_accuracy_matches_classes_by_name():
    """A run numbers its classes in its folders' sorted order (eight, five, ...); the shipped
    spoken-digits classifier in its own (zero, one, ...): label accuracy must compare names."""
    from gankit.tasks.audio.facade import classifier_labels
    run_order = sorted(["zero", "one", "two"])                            # one, two, zero
    got = classifier_labels(torch.tensor([0, 1, 2, 2]), run_order, ["zero", "one", "two"])
    assert got.tolist() == [1, 2, 0, 0]
    assert classifier_labels(None, run_order, ["zero"]) is None
    with pytest.raises(ConfigError, match="no class 'one'"):
        classifier_labels(torch.tensor([0]), run_order, ["zero", "two"])


def test_conditional_by_default_for_class_folders(tmp_path, capsys):
    from gankit.tasks.audio.facade import AudioGAN
    from gankit.tasks.audio.options import AudioOptions
    root = tone_folder(tmp_path / "tones", per_class=4)
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(4):
        write_wav(flat / f"{i}.wav", tone(300, 4096))
    assert is_labeled(root) and not is_labeled(flat) and not is_labeled(tmp_path / "missing")
    small = dict(audio_length=4096, resolution=16, width=4, batch_size=2)
    assert AudioGAN(root, **small).config.model.conditional
    assert AudioGAN(root, conditional=None, **small).config.num_classes == 3   # None: auto
    assert not AudioGAN(root, conditional=False, **small).config.model.conditional
    assert not AudioGAN(flat, **small).config.model.conditional
    # the recipe follows the model: WGAN-GP for the papers' models, flags given win
    assert AudioOptions.defaults({"model": "specgan"})["loss"] == "wgan-gp"
    assert AudioGAN(root, model="wavegan", lr=3e-4, **{**small, "resolution": None}
                    ).config.train.lr == 3e-4
    base = ["train", "--task", "audio", "--audio-length", "4096", "--resolution", "16",
            "--width", "4", "--batch-size", "2", "--steps", "1", "--no-progress"]
    for args, conditional in [([], True), (["--no-conditional"], False)]:
        out = tmp_path / f"run{len(args)}"
        assert run(capsys, *base, "--dataset", root, "--out", out, *args)[0] == 0
        cfg = json.loads((out / "config.json").read_text())
        assert cfg["model"]["conditional"] is conditional and cfg["model"]["model"] == "mel"
        assert (cfg["loss"]["loss"], cfg["train"]["lr"], cfg["model"]["z_dim"]) == ("ns", 4e-4, 64)
    out = tmp_path / "flatrun"
    assert run(capsys, *base, "--dataset", flat, "--out", out)[0] == 0
    assert json.loads((out / "config.json").read_text())["model"]["conditional"] is False


@pytest.mark.parametrize("model", ["mel", "wavegan"])
def test_cli_train_sample_resume(tmp_path, capsys, model):
    """The default model (no --model) and WaveGAN: resume is exact, sample and eval work."""
    root = tone_folder(tmp_path / "tones", per_class=8)
    common = ["--task", "audio", "--dataset", str(root), "--audio-length", "4096", "--width", "4",
              "--batch-size", "8", "--log-every", "5", "--sample-every", "10",
              "--checkpoint-every", "10", "--no-progress"]
    common += ["--model", "wavegan"] if model == "wavegan" else []
    assert run(capsys, "train", *common, "--steps", "20", "--out", str(tmp_path / "full"))[0] == 0
    assert run(capsys, "train", *common, "--steps", "10", "--out", str(tmp_path / "half"))[0] == 0
    assert run(capsys, "train", "--resume", str(tmp_path / "half"), "--steps", "20",
               "--no-progress")[0] == 0
    from gankit.api import load_run
    from gankit.train.state import latest_checkpoint, load_checkpoint
    a, _ = load_checkpoint(latest_checkpoint(tmp_path / "full"))
    b, _ = load_checkpoint(latest_checkpoint(tmp_path / "half"))
    for net in ("G", "D", "G_ema"):
        for k, v in a[net].items():
            assert torch.equal(v, b[net][k]), (net, k)                     # resume is exact
    info = json.loads((tmp_path / "full" / "audio.json").read_text())
    assert info["rate"] == RATE and info["length"] == 4096 and info["bundled"] is None
    cfg = json.loads((tmp_path / "full" / "config.json").read_text())
    assert cfg["model"]["model"] == model and cfg["model"]["conditional"] is True
    assert cfg["loss"]["loss"] == ("ns" if model == "mel" else "wgan-gp")
    assert ("mel" in info) == (model == "mel")
    assert (tmp_path / "full" / "samples" / "step-0000020.wav").exists()
    assert (tmp_path / "full" / "samples" / "step-0000020.png").exists()
    out = tmp_path / "clips"
    assert run(capsys, "sample", str(tmp_path / "full"), "--num", "3", "--output", str(out))[0] == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["000000-0300hz.wav", "000001-0600hz.wav", "000002-1200hz.wav",
                     "spectrograms.png"]                                  # balanced classes
    assert read_wav(out / "000000-0300hz.wav").shape == (4096,)
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
    assert run(capsys, "report", str(tmp_path / "full"), "--output",
               str(tmp_path / "r.html"))[0] == 0
    page = (tmp_path / "r.html").read_text()
    assert page.count("<audio controls") == 8 and 'id="clips"' in page   # the clips, to play
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
    one_error(capsys, *base, "--dataset", str(root), "--resolution", "48",
              match="mel spectrogram's side")
    one_error(capsys, *base, "--dataset", str(root), "--model", "wavegan", "--resolution", "64",
              match="mel model's spectrogram size")
    one_error(capsys, *base, "--dataset", str(root), "--model", "wavegan", "--r1-gamma", "1",
              match="mel model's")
    one_error(capsys, *base, "--dataset", str(root), "--augment", "color",
              match="--augment is an option of --task gan")
    flat = tmp_path / "flat"
    flat.mkdir()
    write_wav(flat / "a.wav", tone(300, 4096))
    one_error(capsys, *base, "--dataset", str(flat), "--conditional", match="class labels")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.wav").write_text("no")
    one_error(capsys, *base, "--dataset", str(tmp_path / "junk"), match="no usable training clips")


def test_show_gives_a_player_per_clip_named_by_class(tmp_path):
    import base64
    import io
    import re

    from gankit.tasks.audio.facade import AudioGAN
    gan = AudioGAN(tone_folder(tmp_path / "tones", per_class=4, n=2048), out=tmp_path / "r",
                   audio_length=2048, resolution=16, width=4, batch_size=2)
    page = gan.show(3, seed=0)._repr_html_()
    wavs = re.findall(r'<audio controls preload="none" src="data:audio/wav;base64,([^"]+)"', page)
    assert len(wavs) == 3 and "data:image/png;base64," in page          # and the spectrograms
    assert [c in page for c in ("0300hz", "0600hz", "1200hz")] == [True] * 3   # one per class
    with wave.open(io.BytesIO(base64.b64decode(wavs[0]))) as w:
        assert (w.getframerate(), w.getnframes()) == (RATE, 2048)
    assert page.count("0600hz") == 1 and "0600hz" not in gan.show(2, labels=0)._repr_html_()
