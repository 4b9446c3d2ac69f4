"""GANs for tables: GAIN imputation and conditional table synthesis, scikit-learn/pandas native."""
from __future__ import annotations

from .gain import GAINImputer
from .synth import TableGAN, TableGANConfig

__all__ = ["GAINImputer", "TableGAN", "TableGANConfig"]
