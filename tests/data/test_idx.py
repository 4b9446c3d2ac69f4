"""The IDX reader: round trips in every element type, gzip, and clear errors for broken files."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from gankit.data.idx import encode_idx, read_idx
from gankit.errors import DataError


def test_reads_hand_written_header(tmp_path):
    # written byte by byte, independent of encode_idx: magic 00 00 08 03, dims 2x3x4 big-endian
    pixels = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    raw = b"\x00\x00\x08\x03" + struct.pack(">3I", 2, 3, 4) + pixels.tobytes()
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(raw)
    np.testing.assert_array_equal(read_idx(path), pixels)
    np.testing.assert_array_equal(read_idx(str(path)), pixels)
    np.testing.assert_array_equal(read_idx(raw), pixels)


@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
@pytest.mark.parametrize("compress", [False, True])
def test_round_trip(tmp_path, dtype, compress):
    array = (np.arange(30).reshape(5, 6) - 7).astype(dtype)
    raw = encode_idx(array)
    path = tmp_path / ("a.gz" if compress else "a")
    path.write_bytes(gzip.compress(raw) if compress else raw)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


def test_multibyte_values_are_big_endian():
    raw = b"\x00\x00\x0b\x01" + struct.pack(">I", 2) + struct.pack(">2h", 258, -2)
    np.testing.assert_array_equal(read_idx(raw), [258, -2])


def test_one_dimensional_labels():
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    np.testing.assert_array_equal(read_idx(gzip.compress(encode_idx(labels))), labels)


@pytest.mark.parametrize(
    "raw, fragment",
    [
        (b"", "bad magic"),
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "bad magic"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "bad magic"),
        (b"\x00\x00\x08\x03\x00\x00", "truncated IDX header"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 10) + b"\x00" * 9, "truncated"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 1) + b"\x00" * 2, "trailing bytes"),
    ],
)
def test_broken_files_name_the_file(tmp_path, raw, fragment):
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(raw)
    with pytest.raises(DataError, match=fragment) as info:
        read_idx(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_truncated_gzip(tmp_path):
    path = tmp_path / "cut.gz"
    noise = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)  # incompressible
    path.write_bytes(gzip.compress(encode_idx(noise))[:1000])
    with pytest.raises(DataError, match="cut.gz.*gzip"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="nope"):
        read_idx(tmp_path / "nope")
