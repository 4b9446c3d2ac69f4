"""GAIN imputation: fills the missing cells of a CSV table.

The package: options.py (ImputeOptions), imputer.py (GAINImputer, the scikit-learn transformer),
task.py (GAINTask: the phases both train with), facade.py (GAINRun: GAIN as a run), report.py,
commands.py (`gankit impute`); it reads and writes tables with the table task's csvio.
`GAINImputer`, `GAINRun` and `ImputeOptions` are imported from here lazily, so that `gankit
--help` does not pay for scikit-learn and torch."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from .. import register
from ..spec import TaskSpec


class ImputeSpec(TaskSpec):
    name = "impute"
    order = 51
    summary = ("GAIN, which fills the missing cells of a CSV table (then `gankit impute IN.csv "
               "--run RUN`)")
    previews = (".csv",)
    load_options = ("dataset",)
    sample_output = None

    def next_step(self, run_dir: Path) -> str:
        return f"impute: gankit impute IN.csv --run {run_dir} --output OUT.csv"

    def options(self) -> type:
        from .options import ImputeOptions
        return ImputeOptions

    def new_run(self, cfg: Any, out: Optional[Path]) -> Any:
        from .facade import new_run
        return new_run(self.name, cfg, out)

    def load_run(self, run_dir: Path, cfg: Any, *, device: str, weights_only: bool,
                 **given: Any) -> Any:
        from .facade import load_task_run
        return load_task_run(run_dir, cfg, device, weights_only, **given)

    def add_commands(self, sub: Any) -> dict:
        from .commands import add_impute
        return add_impute(sub)

    def report(self, gan: Any, output: Path, overwrite: bool, data: Optional[Path]
               ) -> Optional[Path]:
        from .report import build_impute_report
        return build_impute_report(gan, output, overwrite, data)


register(ImputeSpec())


def __getattr__(name: str) -> Any:
    if name == "GAINImputer":
        from .imputer import GAINImputer
        return GAINImputer
    if name == "GAINRun":
        from .facade import GAINRun
        return GAINRun
    if name == "ImputeOptions":
        from .options import ImputeOptions
        return ImputeOptions
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["GAINImputer", "GAINRun", "ImputeOptions", "ImputeSpec"]
