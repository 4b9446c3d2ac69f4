"""Table synthesis (CTGAN-style): new rows like a CSV table's."""
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
        from ...tabular.synth import TableOptions
        return TableOptions

    def new_run(self, cfg: Any, out: Optional[Path]) -> Any:
        from ...tabular.synth import new_run
        return new_run(self.name, cfg, out)

    def load_run(self, run_dir: Path, cfg: Any, *, device: str, weights_only: bool,
                 **given: Any) -> Any:
        from ...tabular.synth import load_task_run
        return load_task_run(run_dir, cfg, device, weights_only, **given)

    def add_commands(self, sub: Any) -> dict:
        from ...tabular.cli import add_synth
        return add_synth(sub)

    def report(self, gan: Any, output: Path, overwrite: bool, data: Optional[Path]
               ) -> Optional[Path]:
        from ...report.table import build_table_report
        return build_table_report(gan, output, overwrite, data)


register(TableSpec())
