"""Table synthesis (CTGAN-style): new rows like a CSV table's.

The package: options.py (TableOptions, the recipe), model.py (TableModel: the row layout and the
nets), task.py (TableGANTask: the phases), facade.py (TableGAN), csvio.py (tables in and out,
shared with the impute task), fidelity.py (real vs generated), report.py, commands.py (`gankit
synth`). `TableGAN` and `TableOptions` are imported from here lazily, so that `gankit --help`
does not pay for pandas and torch."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from .. import register
from ..spec import TaskSpec


class TableSpec(TaskSpec):
    name = "table"
    order = 50
    summary = "synthetic rows like a CSV table's (--discrete); also `gankit synth`"
    previews = (".csv",)
    load_options = ("dataset",)
    sample_output = "samples.csv"

    def options(self) -> type:
        from .options import TableOptions
        return TableOptions

    def new_run(self, cfg: Any, out: Optional[Path]) -> Any:
        from .facade import new_run
        return new_run(self.name, cfg, out)

    def load_run(self, run_dir: Path, cfg: Any, *, device: str, weights_only: bool,
                 **given: Any) -> Any:
        from .facade import load_task_run
        return load_task_run(run_dir, cfg, device, weights_only, **given)

    def add_commands(self, sub: Any) -> dict:
        from .commands import add_synth
        return add_synth(sub)

    def report(self, gan: Any, output: Path, overwrite: bool, data: Optional[Path]
               ) -> Optional[Path]:
        from .report import build_table_report
        return build_table_report(gan, output, overwrite, data)


register(TableSpec())


def __getattr__(name: str) -> Any:
    if name == "TableGAN":
        from .facade import TableGAN
        return TableGAN
    if name == "TableOptions":
        from .options import TableOptions
        return TableOptions
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["TableGAN", "TableOptions", "TableSpec"]
