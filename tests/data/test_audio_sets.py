"""The bundled audio sets: layout, reproducibility, alignment of the rendered notes, errors."""
from __future__ import annotations

import json
import re
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from gankit.data import audio_sets as sets
from gankit.data.audio import DEFAULT_LENGTH, SAMPLE_RATE, load_audio, read_wav
from gankit.data.audio_sets import speech
from gankit.data.audio_sets.notes import _varlen
from gankit.errors import DataError

pytestmark = pytest.mark.usefixtures("one_thread")

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed")
needs_fluidsynth = pytest.mark.skipif(
    shutil.which("fluidsynth") is None or not sets.SOUNDFONT.is_file(),
    reason="fluidsynth or the FluidR3_GM soundfont is not installed")
TINY = dict(per_class=2, test_per_class=1, workers=2)


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    return sets.build("spoken-digits", tmp_path_factory.mktemp("d") / "digits", seed=0, **TINY)


@pytest.fixture(scope="module")
def notes(tmp_path_factory) -> Path:
    if shutil.which("fluidsynth") is None or not sets.SOUNDFONT.is_file():
        pytest.skip("fluidsynth or the FluidR3_GM soundfont is not installed")
    return sets.build("notes", tmp_path_factory.mktemp("n") / "notes", seed=0, **TINY)


def wav_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.wav"))}


def check_layout(folder: Path, name: str, classes: list[str]) -> None:
    info = json.loads((folder / "dataset.json").read_text())
    assert info["name"] == name and info["version"] == 1 and info["seed"] == 0
    assert (info["rate"], info["length"]) == (SAMPLE_RATE, DEFAULT_LENGTH)
    assert info["classes"] == classes
    assert info["counts"] == {"train": {c: 2 for c in classes}, "test": {c: 1 for c in classes}}
    assert all(v is None or isinstance(v, str) for v in info["packages"].values())
    assert info["built"] and info["params"]["per_class"] == 2
    for split, n in (("train", 2), ("test", 1)):
        assert sorted(p.name for p in (folder / split).iterdir()) == sorted(classes)
        for c in classes:
            files = sorted((folder / split / c).glob("*.wav"))
            assert len(files) == n
            for f in files:
                with wave.open(str(f)) as w:
                    assert (w.getnchannels(), w.getsampwidth(), w.getframerate(),
                            w.getnframes()) == (1, 2, SAMPLE_RATE, DEFAULT_LENGTH)
    assert not list(folder.parent.glob(".*building*"))       # no staging folder left behind
    data = load_audio(folder)
    assert data.classes == sorted(classes)
    assert data.train.shape == (2 * len(classes), DEFAULT_LENGTH)
    assert data.held.shape == (len(classes), DEFAULT_LENGTH)
    assert sorted(data.train_labels.tolist()) == sorted(list(range(len(classes))) * 2)


def test_spoken_digits_layout(digits: Path) -> None:
    check_layout(digits, "spoken-digits", list(sets.DIGITS))
    info = json.loads((digits / "dataset.json").read_text())
    assert set(info["params"]["train_variants"]).isdisjoint(info["params"]["test_variants"])
    for split, variants in (("train", info["params"]["train_variants"]),
                            ("test", info["params"]["test_variants"])):
        for p in (digits / split).rglob("*.wav"):                # speakers kept apart
            assert p.name.split("+")[1].split("_")[0] in variants


def test_spoken_digits_sound_like_different_words(digits: Path) -> None:
    spectra = []
    for word in sets.DIGITS:
        x = read_wav(sorted((digits / "train" / word).glob("*.wav"))[0])
        assert np.sqrt(np.mean(x ** 2)) > 0.02 and np.abs(x).max() > 0.5   # not silent
        assert np.abs(x[-1000:]).max() < 1e-3                     # the word fits, then silence
        spectra.append(np.abs(np.fft.rfft(x, 2048 * 8)).reshape(-1)[:8192])
    for i in range(len(spectra)):
        for j in range(i):
            assert np.corrcoef(spectra[i], spectra[j])[0, 1] < 0.95


def test_notes_layout(notes: Path) -> None:
    check_layout(notes, "notes", list(sets.FAMILIES))
    for split in ("train", "test"):
        for family, programs in sets.FAMILIES.items():
            allowed = {p[0] for p in programs}
            for f in (notes / split / family).glob("*.wav"):    # the family's own programs
                assert int(re.search(r"prog(\d+)", f.name)[1]) in allowed


def dominant_hz(x: np.ndarray) -> float:
    seg = x[800:12800]                                          # the held part of the note
    spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg)), 1 << 16))
    return float(np.argmax(spec)) * SAMPLE_RATE / (1 << 16)


def test_notes_sound_at_the_requested_pitch(notes: Path) -> None:
    """Clips sliced at the wrong onset would hold another note: a flute's strongest partial is
    its fundamental or the octave above; an organ's is a harmonic of it (or of the 16-foot stop
    an octave below)."""
    for f in sorted(notes.glob("*/flute/*.wav")) + sorted(notes.glob("*/organ/*.wav")):
        pitch = int(re.search(r"_n(\d+)", f.name)[1])
        f0 = 440.0 * 2 ** ((pitch - 69) / 12)
        ratio = dominant_hz(read_wav(f)) / f0
        if f.parent.name == "flute":
            cents = 1200 * np.log2(ratio)
            assert min(abs(cents), abs(cents - 1200)) < 50, f.name
        else:
            assert abs(2 * ratio - round(2 * ratio)) < 0.03 * 2 * ratio, f.name
        x = read_wav(f)
        assert np.abs(x[:400]).max() > 0.05                     # the note starts the clip


@needs_espeak
def test_spoken_digits_reproducible(digits: Path, tmp_path: Path) -> None:
    again = sets.build_spoken_digits(tmp_path / "again", seed=0, **TINY)
    assert wav_bytes(again) == wav_bytes(digits)
    small = sets.build_spoken_digits(tmp_path / "small", seed=0, per_class=1, test_per_class=1)
    assert wav_bytes(small).items() <= wav_bytes(digits).items()   # a prefix of the larger set
    other = sets.build_spoken_digits(tmp_path / "other", seed=1, per_class=1, test_per_class=0)
    assert not set(wav_bytes(other).values()) & set(wav_bytes(digits).values())


@needs_fluidsynth
def test_notes_reproducible(notes: Path, tmp_path: Path) -> None:
    assert wav_bytes(sets.build_notes(tmp_path / "again", seed=0, **TINY)) == wav_bytes(notes)
    small = sets.build_notes(tmp_path / "small", seed=0, per_class=1, test_per_class=1)
    assert wav_bytes(small).items() <= wav_bytes(notes).items()     # a prefix of the larger set
    other = sets.build_notes(tmp_path / "other", seed=1, per_class=1, test_per_class=0)
    assert not set(wav_bytes(other).values()) & set(wav_bytes(notes).values())


@pytest.mark.parametrize("name,package", [("spoken-digits", "espeak-ng"), ("notes", "fluidsynth")])
def test_missing_binary_names_the_package(name, package, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(shutil, "which", lambda binary: None)
    with pytest.raises(DataError, match=f"apt install {package}$"):
        sets.build(name, tmp_path / "out", per_class=1, test_per_class=0)
    assert not list(tmp_path.iterdir())


def test_missing_soundfont_names_the_package(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(shutil, "which", lambda binary: "/usr/bin/" + binary)
    with pytest.raises(DataError, match="apt install fluid-soundfont-gm"):
        sets.build_notes(tmp_path / "out", soundfont=tmp_path / "none.sf2")


def test_interrupted_build_leaves_nothing(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(shutil, "which", lambda binary: "/bin/true")

    def fail(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(speech, "_speak", fail)
    with pytest.raises(KeyboardInterrupt):
        sets.build_spoken_digits(tmp_path / "out", per_class=1, test_per_class=0, workers=1)
    assert not list(tmp_path.iterdir())


@needs_espeak
def test_refuses_a_foreign_folder_and_replaces_its_own(tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(DataError, match="not a previous build of the spoken-digits set"):
        sets.build_spoken_digits(out, per_class=1, test_per_class=0)
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    sets.build_spoken_digits(tmp_path / "own", seed=0, per_class=1, test_per_class=0)
    sets.build_spoken_digits(tmp_path / "own", seed=1, per_class=1, test_per_class=0)
    assert json.loads((tmp_path / "own" / "dataset.json").read_text())["seed"] == 1
    assert len(list((tmp_path / "own").rglob("*.wav"))) == 10
    with pytest.raises(DataError, match="not a previous build of the notes set"):
        sets.build_notes(tmp_path / "own", per_class=1, test_per_class=0)


def test_unknown_set_and_cli_errors(capsys, tmp_path) -> None:
    with pytest.raises(DataError, match="spoken-digits, notes"):
        sets.build("speech", tmp_path / "x")
    assert sets.main(["speech", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "known sets are spoken-digits, notes" in err
    assert sets.main(["notes", str(tmp_path / "x"), "--per-class", "0"]) == 2


@needs_espeak
def test_cli_builds_and_prints_one_line(capsys, tmp_path) -> None:
    rc = sets.main(["spoken-digits", str(tmp_path / "d"), "--seed", "3", "--per-class", "1",
                    "--test-per-class", "1"])
    out = capsys.readouterr().out
    assert rc == 0 and out.count("\n") == 1 and "10 train + 10 test clips" in out
    assert json.loads((tmp_path / "d" / "dataset.json").read_text())["seed"] == 3


def test_midi_file_encoding() -> None:
    assert [_varlen(n) for n in (0, 127, 128, 16383, 16384)] == [
        b"\x00", b"\x7f", b"\x81\x00", b"\xff\x7f", b"\x81\x80\x00"]
    data = sets.midi_file([(73, 69, 100)], spacing_ms=2000, hold_ms=750, lead_ms=1000)
    assert data[:14] == b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xf4"   # format 0, 500 tpq
    assert data[14:18] == b"MTrk" and int.from_bytes(data[18:22], "big") == len(data) - 22
    assert b"\xc0\x49" in data and b"\x90\x45\x64" in data and data.endswith(b"\xff\x2f\x00")
