"""GANs for tables: GAIN imputation and conditional table synthesis, scikit-learn/pandas native.

Imported lazily, so that `gankit --help` does not pay for scikit-learn and torch."""
from __future__ import annotations

from typing import Any

__all__ = ["GAINImputer", "GAINRun", "ImputeOptions", "TableGAN", "TableOptions"]


def __getattr__(name: str) -> Any:
    if name in ("GAINImputer", "GAINRun", "ImputeOptions"):
        from . import gain
        return getattr(gain, name)
    if name in ("TableGAN", "TableOptions"):
        from . import synth
        return getattr(synth, name)
    raise AttributeError(f"module 'gankit.tabular' has no attribute {name!r}")
