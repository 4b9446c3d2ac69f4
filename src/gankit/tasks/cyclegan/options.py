"""CycleGAN's options: the two domains of a labeled dataset, and the weights of its losses."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ...config import option
from ..translate.options import TranslationBase


@dataclass(frozen=True)
class CycleGANOptions(TranslationBase):
    """CycleGAN's own options (`gankit train --task cyclegan --help` lists them)."""

    UNUSED: ClassVar[frozenset[str]] = TranslationBase.UNUSED - {"channels"}
    domains: str = option("", "on a labeled dataset: the classes A,B that are the two domains "
                          "(e.g. 7,9)")
    cycle_weight: float = option(10.0, "weight of the cycle-consistency loss (lambda)", low=0.0)
    identity_weight: float = option(0.5, "weight of the identity loss, times lambda (0 = off)",
                                    low=0.0)

    def named_dataset(self) -> bool:
        return bool(self.domains)

    @classmethod
    def defaults(cls, given: dict[str, Any]) -> dict[str, Any]:
        """Least squares (CycleGAN's) and batch 16 (more, smaller steps per CPU-minute; measured
        in bench/cyclegan.py)."""
        return {**TranslationBase.defaults(given), "model": "cyclegan", "loss": "lsgan"}


OPTIONS = {"cyclegan": CycleGANOptions}
