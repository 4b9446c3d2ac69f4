"""Shared fixtures for the data tests: an isolated cache folder (the loopback HTTP server is in
tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test gets an empty GANKIT_DATA and no proxy; the network is off unless a test turns it on."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("GANKIT_DATA", str(cache))
    monkeypatch.setenv("GANKIT_OFFLINE", "1")
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    return cache
