"""`gankit report DIR` for a saved TableGAN (`gankit synth ... --save DIR`): its training losses,
each column real vs generated, correlations real vs generated, and the categories it never draws.

The real table is the CSV recorded at save time, or `--data IN.csv`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from .. import health
from ..errors import DataError
from ..train.callbacks import read_metrics
from . import figures
from .page import render, write_page

N_ROWS = 5000
RARE = 0.01   # categories at least this common in the real table should appear in samples


def is_table_model(path: Path) -> bool:
    path = Path(path)
    return (path / "table.json").is_file() and not (path / "config.json").exists()


def column_fidelity(real: pd.DataFrame, fake: pd.DataFrame) -> list[tuple]:
    """(column, kind, distance, real summary, generated summary) per column: the two-sample KS
    statistic for numbers, total variation distance of category shares otherwise (both 0..1)."""
    from scipy.stats import ks_2samp
    rows = []
    for c in real.columns:
        r, f = real[c].dropna(), fake[c].dropna()
        if pd.api.types.is_numeric_dtype(r) and r.nunique() > 10 and len(f):
            rows.append((str(c), "numeric", float(ks_2samp(r, f).statistic),
                         f"mean {r.mean():.4g}, sd {r.std():.4g}",
                         f"mean {f.mean():.4g}, sd {f.std():.4g}"))
        else:
            rp = r.astype(str).value_counts(normalize=True)
            fp = f.astype(str).value_counts(normalize=True)
            tv = 0.5 * float(rp.subtract(fp, fill_value=0).abs().sum())
            rows.append((str(c), "categorical", tv, f"{len(rp)} values", f"{len(fp)} values"))
    return rows


def missing_categories(real: pd.DataFrame, fake: pd.DataFrame, discrete: list[str]) -> list[str]:
    """'column=value' for common real categories (share >= RARE) that no generated row holds."""
    out = []
    for c in discrete:
        shares = real[c].dropna().astype(str).value_counts(normalize=True)
        drawn = set(fake[c].dropna().astype(str))
        out += [f"{c}={v}" for v, p in shares.items() if p >= RARE and v not in drawn]
    return out


def _correlations(real: pd.DataFrame, fake: pd.DataFrame) -> Optional[dict]:
    """{uri: the two correlation matrices side by side, gap: their mean absolute difference} of
    the numeric columns (missing cells filled with the column mean); None below two of them."""
    numeric = [c for c in real.columns if pd.api.types.is_numeric_dtype(real[c])]
    if len(numeric) < 2:
        return None
    r, f = (t[numeric].astype(float) for t in (real, fake))
    r, f = r.fillna(r.mean()).to_numpy(), f.fillna(f.mean()).to_numpy()
    gap = np.nanmean(np.abs(np.corrcoef(r, rowvar=False) - np.corrcoef(f, rowvar=False)))
    return {"uri": figures.correlations(r, f), "gap": float(gap)}


def build_table_report(model_dir: Path, output: Path, overwrite: bool = False,
                       data: Optional[Path] = None) -> Path:
    from ..data.tabular import read_csv_table
    from ..tabular.synth import TableGAN
    model_dir = Path(model_dir)
    gan = TableGAN.load(model_dir)
    meta = json.loads((model_dir / "table.json").read_text())
    source = Path(data) if data is not None else (Path(meta["source"]) if meta.get("source")
                                                  else None)
    if source is None:
        raise DataError(f"{model_dir} does not record the table it was trained on: pass "
                        f"--data IN.csv")
    real = read_csv_table(source)[0]
    trained_on = [str(c.name) for c in gan.encoder.columns]
    if list(map(str, real.columns)) != trained_on:
        raise DataError(f"{source} has columns {list(real.columns)}, the model was trained on "
                        f"{trained_on}")
    fake = gan.sample(min(len(real), N_ROWS), seed=0)
    records = read_metrics(model_dir)
    findings = [f.message for f in health.check(records, "wgan-gp")]
    discrete = [str(real.columns[j]) for j in gan.discrete_columns]
    lost = missing_categories(real, fake, discrete)
    if lost:
        findings.append(f"mode collapse: {len(lost)} categories with at least {RARE:.0%} of the "
                        f"real rows never appear in {len(fake):,} generated rows: "
                        + ", ".join(lost[:10]) + (" …" if len(lost) > 10 else ""))
    kinds = ["collapse" if m.startswith("mode") else "divergence" for m in findings]
    cfg = meta["config"]
    summary = [("model", str(model_dir.resolve())), ("trained on", str(source)),
               ("rows", f"{len(real):,} real, {len(fake):,} generated for this page"),
               ("columns", f"{len(real.columns)} ({len(discrete)} categorical)"),
               ("settings", ", ".join(f"{k} {v}" for k, v in cfg.items()))]
    page = render("tablegan.html.j2", title=f"gankit report: {model_dir.resolve().name} (TableGAN)",
                  warnings=list(zip(kinds, findings)), summary=summary,
                  curves=figures.curves(records) if records else [],
                  columns=column_fidelity(real, fake), marginals=figures.marginals(real, fake),
                  correlations=_correlations(real, fake))
    return write_page(output, page, overwrite)
