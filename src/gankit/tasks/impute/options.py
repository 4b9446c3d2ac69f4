"""The impute task's options (`gankit train --task impute --help` lists them) and its checks:
GAIN's own nets, losses and validation."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ...config import DEFAULT_STEPS, RunConfig, TaskOptions, option, require_options
from ...errors import ConfigError

TASK = "impute"
NET = "gain"


@dataclass(frozen=True)
class ImputeOptions(TaskOptions):
    """The impute task's own options (`gankit train --task impute --help` lists them)."""

    # GAIN's own nets, losses and Adam (PyTorch's betas); its validation is its own (every
    # --validate-every steps, --patience in steps), not the shared --eval-every.
    UNUSED: ClassVar[frozenset[str]] = frozenset({
        "resolution", "channels", "z_dim", "d_norm", "conditional", "cond", "plugins", "loss",
        "n_critic", "gp_weight", "r1_gamma", "r2_gamma", "r1_every", "augment", "lr_d", "beta1",
        "beta2", "ema_halflife", "lr_decay", "eval_every", "eval_metrics", "eval_num",
        "early_stop_patience", "stop_on_divergence", "precision", "compile", "memory_format"})
    hint_rate: float = option(0.9, "share of cells whose observed/missing state D is told (the "
                              "hint); D is scored on the rest", low=0.0, high=1.0)
    alpha: float = option(100.0, "weight of G's reconstruction of the observed cells", low=0.0)
    hide_rate: float = option(0.2, "share of a batch's observed cells also hidden from G, so that "
                              "reconstruction scores cells G had to predict (0: the paper's GAIN)",
                              low=0.0, below=1.0)
    validation_fraction: float = option(0.1, "share of observed cells held out of training to "
                                        "score G; the best G is kept (0: none, train every step)",
                                        low=0.0, below=1.0)
    validate_every: int = option(50, "score G on the held-out cells every N steps", low=1)
    patience: int = option(1000, "stop after this many steps without a better held-out score",
                           low=1)
    weight_decay: float = option(0.0, "Adam weight decay of G and D", low=0.0)

    @classmethod
    def defaults(cls, given: dict[str, Any]) -> dict[str, Any]:
        """GAINImputer's defaults: 3,000 steps of 128 rows, Adam 1e-3, nets as wide as the
        encoded row but at least 128 (width None)."""
        return {"model": NET, "steps": DEFAULT_STEPS, "batch_size": 128, "lr": 1e-3}


OPTIONS = {TASK: ImputeOptions}


def require_impute(cfg: RunConfig) -> None:
    require_options(cfg, ImputeOptions, TASK)
    if cfg.model.model != NET:
        raise ConfigError(f"--task {TASK} uses GAIN's own nets (--model {NET}), not "
                          f"{cfg.model.model}")
    if cfg.train.steps is not None and cfg.train.steps < 1:
        raise ConfigError(f"--steps (--iterations) must be at least 1, got {cfg.train.steps}")


__all__ = ["NET", "OPTIONS", "TASK", "ImputeOptions", "require_impute"]
