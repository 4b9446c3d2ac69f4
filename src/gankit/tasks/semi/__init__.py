"""The semi-supervised GAN: a classifier from few labels and many unlabeled images."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from .. import register
from ..spec import TaskSpec


class SemiSpec(TaskSpec):
    name = "semi-supervised"
    order = 60
    summary = ("a classifier from few labels and many unlabeled images (--labels-per-class); "
               "then `gankit classify`")
    eval_help = "accuracy of its classifier on the held-out items"
    load_options = ("dataset",)

    def options(self) -> type:
        from .options import SemiOptions
        return SemiOptions

    def new_run(self, cfg: Any, out: Optional[Path]) -> Any:
        from .facade import new_run
        return new_run(self.name, cfg, out)

    def load_run(self, run_dir: Path, cfg: Any, *, device: str, weights_only: bool,
                 **given: Any) -> Any:
        from .facade import load_task_run
        return load_task_run(run_dir, cfg, device, weights_only, **given)

    def describe(self, run_dir: Path) -> dict[str, Any]:
        """Its labeled items: how many, of how many classes."""
        try:
            doc = json.loads((Path(run_dir) / "labeled.json").read_text())
            return {"labeled": len(doc["indices"]), "classes": list(doc["classes"])}
        except (OSError, ValueError, KeyError, TypeError):
            return {}

    def info_data(self, facts: dict[str, Any]) -> str:
        if "labeled" not in facts:
            return ""
        return f"; {facts['labeled']} labeled items of {len(facts['classes'])} classes"

    def add_commands(self, sub: Any) -> dict:
        from .commands import add_commands
        return add_commands(sub)


register(SemiSpec())
