"""How close a synthetic table is to a real one, column by column and in its correlations: what
`gankit eval` prints and `gankit report` shows for a table run."""
from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

RARE = 0.01   # categories at least this common in the real table should appear in samples


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


def numeric_matrices(real: pd.DataFrame, fake: pd.DataFrame
                     ) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """The numeric columns of both tables as float arrays [N, C] (missing cells filled with the
    column mean); None below two numeric columns."""
    numeric = [c for c in real.columns if pd.api.types.is_numeric_dtype(real[c])]
    if len(numeric) < 2:
        return None
    r, f = (t[numeric].astype(float) for t in (real, fake))
    return r.fillna(r.mean()).to_numpy(), f.fillna(f.mean()).to_numpy()


def correlation_gap(r: np.ndarray, f: np.ndarray) -> float:
    """Mean absolute difference of the two correlation matrices of r and f [N, C]."""
    return float(np.nanmean(np.abs(np.corrcoef(r, rowvar=False) - np.corrcoef(f, rowvar=False))))


def fidelity_scores(real: pd.DataFrame, fake: pd.DataFrame, discrete: list[str]) -> dict:
    """{ks: mean KS statistic of the numeric columns, tv: mean total variation of the categorical
    ones, corr_gap: correlation_gap, missing_categories: how many common real categories no fake
    row holds}; a score whose columns the table lacks is left out. Lower is closer, 0 is equal."""
    rows = column_fidelity(real, fake)
    out: dict[str, float] = {}
    for kind, key in (("numeric", "ks"), ("categorical", "tv")):
        found = [d for _, k, d, *_ in rows if k == kind]
        if found:
            out[key] = float(np.mean(found))
    both = numeric_matrices(real, fake)
    if both is not None:
        out["corr_gap"] = correlation_gap(*both)
    out["missing_categories"] = float(len(missing_categories(real, fake, discrete)))
    return out
