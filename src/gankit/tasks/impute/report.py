"""`gankit report RUN` for an impute run (`gankit train --task impute`, `gankit impute ...
--save RUN`): its losses and held-out error, and per column how well it fills cells training
never saw, beside a fill with the column's mean or most frequent value.

The real table is the CSV the run recorded, or `--data IN.csv`.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Optional

from ... import health
from ...report import figures
from ...report.page import render, write_page
from ...train.callbacks import read_metrics


def build_impute_report(imp: Any, output: Path, overwrite: bool = False,
                        data: Optional[Path] = None) -> Path:
    """The page of a loaded impute run (`imp`: its GAINRun)."""
    run_dir = Path(imp.run_dir)
    real = imp.reference(data)
    columns = imp.column_errors(real)
    records = read_metrics(run_dir)
    findings = [f.message for f in health.check(records, "gain")]
    better = sum(err < base for *_, err, base in columns)
    worse = [name for name, _, _, err, base in columns if err > base]
    if worse:
        findings.append(f"no better than a plain fill: on {', '.join(worse[:10])} GAIN's error "
                        f"on held-out cells is above that of the column's mean or most frequent "
                        f"value")
    c = imp.config
    keep = imp.task.keep
    summary = [("run", str(run_dir.resolve())),
               ("trained on", str(data or c.data.dataset)),
               ("table", f"{len(real):,} rows, {len(real.columns)} columns, "
                         f"{int(real.isna().to_numpy().sum()):,} missing cells"),
               ("steps", f"{imp.step:,}" + (f" (best held-out error at step {keep.best_it:,}: "
                                            f"{keep.best:.4g}; that G fills tables)"
                                            if keep is not None and keep.found else "")),
               ("settings", ", ".join(f"{k} {v}" for k, v in {
                   "batch_size": c.train.batch_size, "lr": c.train.lr, "width": c.model.width,
                   **dataclasses.asdict(c.options)}.items() if v is not None))]
    page = render("impute.html.j2", title=f"gankit report: {run_dir.resolve().name} (GAIN)",
                  warnings=[("quality", m) for m in findings], summary=summary,
                  curves=figures.curves(records) if records else [], columns=columns,
                  better=better)
    return write_page(output, page, overwrite)


__all__ = ["build_impute_report"]
