"""A fuzzer over the text, CSV, IDX and image-folder readers: truncated and bit-flipped files,
crafted sizes, wrong encodings. Each reads the file, skips it with a warning (image folders), or
raises one GanKitError; no other exception."""
from __future__ import annotations

import gzip
import io
import random
import shutil
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gankit.data.idx import encode_idx, read_idx
from gankit.data.images import load_folder
from gankit.data.tabular import read_csv_table
from gankit.data.text import load_text
from gankit.errors import GanKitError


def _mutants(data: bytes, seed: int, flips: int = 25) -> list[bytes]:
    rng = random.Random(seed)
    out = [data[:k] for k in sorted({0, 1, 4, 8, 16, len(data) // 2, len(data) - 1})]
    for _ in range(flips):
        b = bytearray(data)
        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        out.append(bytes(b))
    return out


def _image(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (16, 16, 3), np.uint8)).save(buf, fmt)
    return buf.getvalue()


def _in_folder(path: Path) -> None:
    """The damaged image beside a good one in a folder, read as a dataset."""
    folder = Path("folder")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    (folder / "good.png").write_bytes(_image("PNG"))
    shutil.copy(path, folder / f"bad{path.suffix}")
    load_folder(folder)


def _photo(size: tuple[int, int] = (24, 20)) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (*size, 3), np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _among_photos(path: Path) -> None:
    """The file among color photos (colorize) and as one side of a pair (pix2pix), read as the
    translation tasks read them; each good file still reads."""
    from gankit.tasks.translate.data import load_pairs, load_photos
    root = Path("photos")
    shutil.rmtree(root, ignore_errors=True)
    for side in ("A", "B"):
        (root / side).mkdir(parents=True)
        for i in range(3):
            (root / side / f"{i}.png").write_bytes(_photo())
    shutil.copy(path, root / "A" / f"9{path.suffix}")
    shutil.copy(root / "B" / "0.png", root / "B" / "9.png")
    load_photos(root / "A", 16)
    load_pairs(root, 16)


def _cases() -> dict[str, tuple]:
    text = "the cat\nsat on\nthe mat\nüñï\n".encode() * 20
    csv = b"a,b,c\n1,2,x\n3,4,y\n5,,z\n7,8.5,x\n" * 3
    idx = encode_idx(np.arange(50, dtype=np.uint8).reshape(2, 5, 5))
    crafted = bytearray(idx)
    crafted[4:8] = (2**31 - 1).to_bytes(4, "big")   # 2 billion items claimed
    bomb = bytearray(_image("PNG"))
    bomb[16:24] = (60000).to_bytes(4, "big") * 2   # a 60,000 x 60,000 header
    bomb[29:33] = zlib.crc32(bomb[12:29]).to_bytes(4, "big")   # with its checksum right, so
    # that PIL's decompression-bomb check is what stops it
    return {
        "text": (lambda p: load_text(p), ".txt", _mutants(text, 1) + [
            b"\xff\xfe\x00a", b"\x00" * 10, b"x\n" * 3]),
        "csv": (read_csv_table, ".csv", _mutants(csv, 2) + [
            b"a,b\n1,nan\n2,inf\n", b"a\n" + b"1e999\n" * 5, b"\xff\xfe", b"a,a\n1,2\n", b""]),
        "idx": (read_idx, ".idx", _mutants(idx, 3) + [
            bytes(crafted), gzip.compress(idx)[:20], gzip.compress(bytes(crafted))]),
        "png": (_in_folder, ".png", _mutants(_image("PNG"), 4) + [bytes(bomb), _photo((1, 1))]),
        "jpeg": (_in_folder, ".jpg", _mutants(_image("JPEG"), 5)),
        "photo": (_among_photos, ".png", _mutants(_photo(), 6) + [
            bytes(bomb), _photo((1, 1)), _photo((1, 40))]),
    }


@pytest.mark.parametrize("kind", ["text", "csv", "idx", "png", "jpeg", "photo"])
def test_reader_reads_skips_or_raises_one_gankit_error(kind):
    read, suffix, datas = _cases()[kind]
    assert len(datas) >= 30
    for i, data in enumerate(datas):
        path = Path(f"case-{i}{suffix}")
        path.write_bytes(data)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # a skipped image is said in one warning line
                read(path)
        except GanKitError as e:
            assert "\n" not in str(e), (kind, i, str(e))
        except Exception as e:  # noqa: BLE001 - the point of the test
            pytest.fail(f"{kind} case {i}: {type(e).__name__}: {e}")
