"""The semi-supervised task's options: which training items keep their labels."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Optional

from ...config import TaskOptions, option

TASK = "semi-supervised"


@dataclass(frozen=True)
class SemiOptions(TaskOptions):
    """The semi-supervised task's own options (`gankit train --task semi-supervised --help`)."""

    # D's loss is the task's own (labeled cross-entropy + real/fake), G's feature matching; G has
    # no moving average: the classifier is the product.
    UNUSED: ClassVar[frozenset[str]] = frozenset({
        "d_norm", "conditional", "cond", "n_critic", "gp_weight", "r1_gamma", "r2_gamma",
        "r1_every", "augment", "ema_halflife"})
    HELP: ClassVar[dict[str, str]] = {"width": "the classifier's first layer"}
    labels_per_class: Optional[int] = option(None, "keep the labels of N training images per "
                                             "class, drawn by --seed (recorded in the run's "
                                             "labeled.json); the rest train unlabeled", low=1)
    labeled: str = option("", "a file naming the training items that keep their labels "
                          "(indices, one per line); the rest train unlabeled")

    @classmethod
    def defaults(cls, given: dict[str, Any]) -> dict[str, Any]:
        """The paper's MNIST recipe (batch 100, Adam(3e-3, 0.5), z 100) at half its width (see
        nets/semi.py)."""
        return {"model": "ssl-mlp", "z_dim": 100, "batch_size": 100, "lr": 3e-3,
                "sample_every": 1000}


OPTIONS = {TASK: SemiOptions}
