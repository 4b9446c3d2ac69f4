"""GANs for tables: GAIN imputation and conditional table synthesis, scikit-learn/pandas native.

Imported lazily, so that `gankit --help` does not pay for scikit-learn and torch."""
from __future__ import annotations

from typing import Any

__all__ = ["GAINImputer", "TableGAN", "TableOptions"]


def __getattr__(name: str) -> Any:
    if name == "GAINImputer":
        from .gain import GAINImputer
        return GAINImputer
    if name in ("TableGAN", "TableOptions"):
        from . import synth
        return getattr(synth, name)
    raise AttributeError(f"module 'gankit.tabular' has no attribute {name!r}")
