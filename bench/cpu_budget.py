"""Training to a CPU-time budget, as every benchmark here measures: the CPU time this process
spends training (evaluation excluded), so configurations running side by side, or beside other
work, are compared fairly. Imported by the scripts in bench/ (run as `python bench/NAME.py`)."""
from __future__ import annotations

import sys
import time

from gankit.train.trainer import Callback, Trainer


class CPUBudget(Callback):
    """Stops the trainer once `spent` (CPU seconds already used) + this session's reach `limit`."""

    def __init__(self, limit: float, spent: float = 0.0):
        self.limit, self.spent, self.start = limit, spent, time.process_time()

    def used(self) -> float:
        return self.spent + time.process_time() - self.start

    def on_step(self, trainer: Trainer) -> None:
        if self.used() >= self.limit:
            trainer.stop_reason = "budget"


def train_until(trainer: Trainer, limit: float, spent: float = 0.0) -> float:
    """Train (with no other callbacks) until `limit` CPU seconds in all; returns the seconds used."""
    budget = CPUBudget(limit, spent)
    trainer.callbacks = [budget]
    trainer.fit(sys.maxsize)
    return budget.used()
