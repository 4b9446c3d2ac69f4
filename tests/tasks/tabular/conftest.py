"""Shared tables for the tabular tests; every test runs single-threaded (the machine is shared)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every tabular test runs with one torch thread (see tests/conftest.py)."""


def mixed_table(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """float (2 decimals), int, bool, string, pandas category and nullable Int64 columns."""
    rng = np.random.default_rng(seed)
    city = rng.choice(["Lyon", "Paris", "Nice"], n, p=[0.5, 0.3, 0.2])
    age = np.where(rng.random(n) < 0.5, rng.normal(30, 3, n), rng.normal(60, 5, n))
    return pd.DataFrame({
        "city": pd.array(city, dtype="str"),
        "age": age.round().astype(np.int64),
        "income": np.round(np.exp(rng.normal(10, 0.5, n)) + (city == "Paris") * 20000, 2),
        "member": rng.random(n) < 0.3,
        "grade": pd.Categorical(rng.choice(["a", "b", "c"], n), categories=["c", "b", "a"]),
        "kids": pd.array(rng.integers(0, 4, n), dtype="Int64"),
    })


@pytest.fixture
def mixed():
    return mixed_table


def knock_out(df: pd.DataFrame, rate: float, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A copy of df with a `rate` share of cells missing completely at random, and that mask."""
    mask = np.random.default_rng(seed).random(df.shape) < rate
    out = df.copy()
    for j, c in enumerate(df.columns):
        out[c] = out[c].mask(mask[:, j]) if out[c].dtype.kind not in "bi" else \
            out[c].astype(float if out[c].dtype.kind == "i" else object).mask(mask[:, j])
    return out, mask
