"""A fuzzer over the .npy / .npz readers: truncations, bit flips, crafted headers, wrong dtypes,
NaN, files named for the other format. Every reader either reads the file or raises one
GanKitError; no other exception, and no allocation a header merely claims."""
from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import one_error

from gankit.data import load_dataset
from gankit.errors import GanKitError
from gankit.evaluation import load_samples
from gankit.tasks.gan.augment import read_npz

READERS = {
    "load_dataset": lambda p: load_dataset(str(p)),
    "load_samples": load_samples,
    "read_npz": read_npz,
}


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _npy(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _good() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (24, 8, 8, 1), dtype=np.uint8)
    labels = np.arange(24) % 3
    buf = io.BytesIO()
    np.savez_compressed(buf, images=images, labels=labels)
    return {"plain.npz": _npz(images=images, labels=labels), "compressed.npz": buf.getvalue(),
            "bare.npy": _npy(images)}


def _crafted() -> dict[str, bytes]:
    """Files a hostile or careless writer makes, each of them broken in one known way."""
    images = np.zeros((4, 8, 8, 1), np.uint8)
    big = _npy(images).replace(b"(4, 8, 8, 1)", b"(999999, 999999, 999, 1)")   # ~931 GiB claimed
    big_member = io.BytesIO()
    with zipfile.ZipFile(big_member, "w") as z:
        z.writestr("images.npy", big)
    return {
        "huge-header.npy": big, "huge-header.npz": big_member.getvalue(),
        "npy-named.npz": _npy(images), "npz-named.npy": _npz(images=images),
        "empty.npz": b"", "text.npz": b"images = [1, 2, 3]\n",
        "objects.npz": _npz(images=np.array(["a", "b"], dtype=object)),
        "nan-labels.npz": _npz(images=images, labels=np.array([0, 1, np.nan, 2])),
        "inf-images.npz": _npz(images=np.full((4, 8, 8), np.inf, np.float32)),
        "negative-labels.npz": _npz(images=images, labels=np.array([0, -1, 2, 1])),
        "huge-label.npz": _npz(images=images, labels=np.array([0, 1, 2, 10**15])),
        "complex.npz": _npz(images=np.zeros((4, 8, 8), np.complex64)),
        "strings.npz": _npz(images=np.array(["abc"] * 4)),
        "wrong-shape.npz": _npz(images=np.zeros((4, 5), np.uint8)),
        "no-images.npz": _npz(weights=np.zeros(3), bias=np.zeros(3)),
        "labels-too-few.npz": _npz(images=images, labels=np.arange(2)),
        "zero-images.npz": _npz(images=np.zeros((0, 8, 8), np.uint8)),
        "float-labels.npz": _npz(images=images, labels=np.array([0.5, 1, 2, 0])),
    }


def _mutants(seed: int = 0, per_file: int = 40) -> dict[str, bytes]:
    """Truncations at many lengths and single-byte flips at random places of good files."""
    rng = random.Random(seed)
    out = {}
    for name, data in _good().items():
        stem, ext = name.rsplit(".", 1)
        for cut in sorted({0, 1, 5, 9, len(data) // 2, len(data) - 1,
                           *(rng.randrange(len(data)) for _ in range(per_file // 2))}):
            out[f"{stem}-cut{cut}.{ext}"] = data[:cut]
        for _ in range(per_file):
            i = rng.randrange(len(data))
            flipped = bytearray(data)
            flipped[i] ^= 1 << rng.randrange(8)
            out[f"{stem}-flip{i}.{ext}"] = bytes(flipped)
    return out


CASES = {**_good(), **_crafted(), **_mutants()}


def test_the_fuzzer_tries_hundreds_of_cases_and_the_good_files_read():
    assert len(CASES) >= 200
    for name, data in _good().items():
        Path(name).write_bytes(data)
        assert len(load_dataset(name).images) == 24


@pytest.mark.parametrize("reader", READERS)
def test_every_reader_reads_or_raises_one_gankit_error(reader):
    outcomes = {"read": 0, "refused": 0}
    for name, data in CASES.items():
        path = Path(name)
        path.write_bytes(data)
        try:
            READERS[reader](path)
            outcomes["read"] += 1
        except GanKitError as e:
            assert "\n" not in str(e), (name, str(e))
            outcomes["refused"] += 1
        except Exception as e:  # noqa: BLE001 - the point of the test
            pytest.fail(f"{reader} on {name}: {type(e).__name__}: {e}")
        finally:
            path.unlink()
    assert outcomes["refused"] >= len(_crafted()) - 3, outcomes


def test_a_crafted_header_is_refused_before_anything_is_allocated():
    Path("huge.npy").write_bytes(_crafted()["huge-header.npy"])
    with pytest.raises(GanKitError, match="claims"):
        load_dataset("huge.npy")


def test_bad_files_and_odd_paths_are_one_line_from_the_cli(capsys):
    Path("bad.npz").write_bytes(_npy(np.zeros((4, 8, 8), np.uint8))[:40])
    Path("d.npz").mkdir()
    one_error(capsys, "train", "--dataset", "bad.npz", "--steps", "1")
    one_error(capsys, "eval", "--samples", "bad.npz", "--dataset", "mnist")
    one_error(capsys, "eval", "--samples", "d.npz", "--dataset", "mnist")
    one_error(capsys, "train", "--dataset", "d.npz", "--steps", "1")
