"""A fuzzer over the WAV reader: damaged headers, truncations, bit flips, crafted sample rates
and NaN samples each give one DataError, or a clip of finite samples in [-1, 1]."""
from __future__ import annotations

import io
import random
import struct

import numpy as np
import pytest
from scipy.io import wavfile

from gankit.data.audio import read_wav
from gankit.errors import DataError


def _wav(data: np.ndarray, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    wavfile.write(buf, rate, data)
    return buf.getvalue()


def _with_rate(data: bytes, rate: int) -> bytes:
    """The same file with the fmt chunk's sample rate (bytes 24-27) replaced."""
    return data[:24] + struct.pack("<I", rate) + data[28:]


def _cases() -> dict[str, bytes]:
    t = np.arange(4000) / 16000
    tone = np.sin(2 * np.pi * 440 * t)
    good = {"pcm16": _wav((tone * 20000).astype(np.int16)),
            "float32": _wav(tone.astype(np.float32)),
            "pcm8": _wav(((tone + 1) * 100).astype(np.uint8)),
            "stereo": _wav(np.stack([tone, tone], 1).astype(np.float32), 44100)}
    nan = tone.astype(np.float32)
    nan[100] = np.nan
    cases = {f"{k}.wav": v for k, v in good.items()}
    cases.update({"nan.wav": _wav(nan), "inf.wav": _wav(np.full(500, np.inf, np.float32)),
                  "rate0.wav": _with_rate(good["pcm16"], 0),
                  "rate1.wav": _with_rate(good["pcm16"], 1),
                  "rate-huge.wav": _with_rate(good["pcm16"], 2**31 - 1),
                  "empty.wav": b"", "riff-only.wav": b"RIFF",
                  "header-only.wav": b"RIFF\0\0\0\0WAVE"})
    rng = random.Random(0)
    for name, data in good.items():
        for cut in {0, 4, 12, 20, 36, 44, 45, len(data) // 2, *(rng.randrange(len(data))
                                                                 for _ in range(10))}:
            cases[f"{name}-cut{cut}.wav"] = data[:cut]
        for _ in range(30):
            i = rng.randrange(min(len(data), 64))   # mostly the header, where damage hurts
            b = bytearray(data)
            b[i] ^= 1 << rng.randrange(8)
            cases[f"{name}-flip{i}-{rng.randrange(10**6)}.wav"] = bytes(b)
    return cases


def test_read_wav_reads_or_raises_one_data_error(tmp_path):
    cases = _cases()
    assert len(cases) >= 150
    refused = 0
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        try:
            x = read_wav(path)
        except DataError as e:
            assert "\n" not in str(e), (name, e)
            refused += 1
            continue
        except Exception as e:  # noqa: BLE001 - the point of the test
            pytest.fail(f"{name}: {type(e).__name__}: {e}")
        assert x.dtype == np.float32 and np.isfinite(x).all() and np.abs(x).max() <= 1, name
        assert len(x) < 10 * 16000, name   # no crafted rate blows a clip up
    assert refused >= 8


@pytest.mark.parametrize("name", ["nan.wav", "rate0.wav", "rate1.wav", "rate-huge.wav"])
def test_nan_samples_and_crafted_rates_are_refused(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(_cases()[name])
    with pytest.raises(DataError):
        read_wav(path)
