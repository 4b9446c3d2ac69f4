"""`gankit report RUN` for a table run (`gankit train --task table`, `gankit synth ... --save
RUN`): its training losses, each column real vs generated, correlations real vs generated, and
the categories it never draws.

The real table is the CSV the run recorded, or `--data IN.csv`.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Optional

import pandas as pd

from ... import health
from ...report import figures
from ...report.page import render, write_page
from ...train.callbacks import read_metrics
from .fidelity import RARE, column_fidelity, correlation_gap, missing_categories, numeric_matrices

N_ROWS = 5000


def _correlations(real: pd.DataFrame, fake: pd.DataFrame) -> Optional[dict]:
    """{uri: the two correlation matrices side by side, gap: their mean absolute difference} of
    the numeric columns; None below two of them."""
    both = numeric_matrices(real, fake)
    if both is None:
        return None
    return {"uri": figures.correlations(*both), "gap": correlation_gap(*both)}


def build_table_report(gan: Any, output: Path, overwrite: bool = False,
                       data: Optional[Path] = None) -> Path:
    """The page of a loaded table run (`gan`: its TableGAN)."""
    run_dir = Path(gan.run_dir)
    real, source = gan.reference(data)
    fake = gan.sample(min(len(real), N_ROWS), seed=0)
    records = read_metrics(run_dir)
    findings = [f.message for f in health.check(records, gan.config.loss.loss)]
    discrete = [str(real.columns[j]) for j in gan.discrete_columns]
    lost = missing_categories(real, fake, discrete)
    if lost:
        findings.append(f"mode collapse: {len(lost)} categories with at least {RARE:.0%} of the "
                        f"real rows never appear in {len(fake):,} generated rows: "
                        + ", ".join(lost[:10]) + (" …" if len(lost) > 10 else ""))
    kinds = ["collapse" if m.startswith("mode") else "divergence" for m in findings]
    c = gan.config
    settings = {"steps": gan.step, "epochs": c.train.epochs, "batch_size": c.train.batch_size,
                "lr": c.train.lr, "width": c.model.width, "z_dim": c.model.z_dim,
                **dataclasses.asdict(c.options)}
    summary = [("run", str(run_dir.resolve())), ("trained on", str(source)),
               ("rows", f"{len(real):,} real, {len(fake):,} generated for this page"),
               ("columns", f"{len(real.columns)} ({len(discrete)} categorical)"),
               ("settings", ", ".join(f"{k} {v}" for k, v in settings.items()
                                      if v not in (None, "")))]
    page = render("tablegan.html.j2", title=f"gankit report: {run_dir.resolve().name} (TableGAN)",
                  warnings=list(zip(kinds, findings)), summary=summary,
                  curves=figures.curves(records) if records else [],
                  columns=column_fidelity(real, fake), marginals=figures.marginals(real, fake),
                  correlations=_correlations(real, fake))
    return write_page(output, page, overwrite)


__all__ = ["build_table_report"]
