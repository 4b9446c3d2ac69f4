"""The table task's options (`gankit train --task table --help` lists them) and its recipe:
CTGAN's nets and loss, scaled down for a CPU."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ...config import RunConfig, TaskOptions, option
from ...errors import ConfigError

TASK = "table"
NET = "ctgan"
DEFAULT_EPOCHS = 300


@dataclass(frozen=True)
class TableOptions(TaskOptions):
    """The table task's own options (`gankit train --task table --help` lists them)."""

    # WGAN-GP with one critic step per G step and CTGAN's nets; no images, classes or moving
    # average; the run's length comes from the table when none is given (LENGTH_FROM_DATA).
    UNUSED: ClassVar[frozenset[str]] = frozenset({
        "resolution", "channels", "d_norm", "conditional", "cond", "n_critic", "r1_gamma",
        "r2_gamma", "r1_every", "augment", "ema_halflife", "eval_every", "eval_metrics",
        "eval_num", "early_stop_patience", "compile", "memory_format"})
    LENGTH_FROM_DATA: ClassVar[bool] = True
    discrete: str = option("", "numeric columns to treat as categories: a,b (text columns "
                           "always are)")
    pac: int = option(10, "rows the critic judges together (PacGAN), against mode collapse",
                      low=1)
    max_modes: int = option(10, "Gaussian modes per numeric column, at most", low=1)
    min_steps: int = option(1500, "without --steps, --epochs or --max-time: 300 epochs, but at "
                            "least this many steps (a small table's 300 epochs are too few)",
                            low=0)

    @classmethod
    def defaults(cls, given: dict[str, Any]) -> dict[str, Any]:
        """CTGAN's recipe scaled down for a CPU: nets of 128 units, batches of 500 rows, Adam
        (2e-4, 0.5, 0.9), WGAN-GP (penalty 10), noise of 64."""
        return {"model": NET, "loss": "wgan-gp", "width": 128, "batch_size": 500, "lr": 2e-4,
                "beta1": 0.5, "beta2": 0.9, "gp_weight": 10.0, "z_dim": 64}


OPTIONS = {TASK: TableOptions}


def check_config(cfg: RunConfig) -> None:
    if cfg.model.model not in (NET, "dcgan"):
        raise ConfigError(f"--task {TASK} uses its own nets (--model {NET}), not "
                          f"{cfg.model.model}")
    if cfg.loss.loss != "wgan-gp":
        raise ConfigError(f"--task {TASK} trains with WGAN-GP (CTGAN's loss), not "
                          f"--loss {cfg.loss.loss}")
    if cfg.model.width is None:
        raise ConfigError("--width: the table nets need a width")


__all__ = ["DEFAULT_EPOCHS", "NET", "OPTIONS", "TASK", "TableOptions",
           "check_config"]
