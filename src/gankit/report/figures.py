"""The report's plots (matplotlib, rendered to PNG data: URIs)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import numpy as np

from ..viz import figure
from .page import figure_uri

if TYPE_CHECKING:
    import pandas as pd

COUNTERS = ("step", "elapsed", "nimg")
# Panels of training numbers, in this order; any other logged key gets a panel of its own.
GROUPS: list[tuple[str, tuple[str, ...]]] = [
    ("losses", ("d_loss", "g_loss", "g_adv", "g_cond", "d_cls", "g_cls", "gp", "r1")),
    ("discriminator output (probability 'real')", ("d_real", "d_fake")),
    ("sample diversity (1 = as spread as real data)", ("diversity",)),
]
LOWER_IS_BETTER = ("fid", "kid", "dloss")


def panels(records: list[dict]) -> list[tuple[str, tuple[str, ...]]]:
    """(title, keys) of every panel the records can fill."""
    keys = {k for r in records for k in r if k not in COUNTERS}
    out = [(title, tuple(k for k in group if k in keys)) for title, group in GROUPS]
    out = [(t, ks) for t, ks in out if ks]
    grouped = {k for _, ks in out for k in ks}
    out += [(k, (k,)) for k in sorted(keys - grouped)]
    return out


def curves(records: list[dict], best_step: Optional[int] = None) -> list[tuple[str, str]]:
    """(title, data URI) per panel; each figure shows the numbers over steps and over wall time,
    with the best checkpoint's step marked."""
    out = []
    for title, keys in panels(records):
        fig = figure((11, 3.2))
        axes = fig.subplots(1, 2)
        for key in keys:
            rows = [r for r in records if key in r and isinstance(r[key], (int, float))]
            marker = "o" if len(rows) < 40 else None
            for ax, x in zip(axes, ("step", "elapsed")):
                ax.plot([r[x] for r in rows], [r[key] for r in rows], marker=marker, ms=3,
                        label=key)
        for ax, x in zip(axes, ("step", "wall time (s)")):
            ax.set(xlabel=x, title=title)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        if best_step is not None:
            axes[0].axvline(best_step, color="red", ls="--", lw=1, label="best checkpoint")
            near = [r["elapsed"] for r in records if r.get("step") == best_step]
            if near:
                axes[1].axvline(near[0], color="red", ls="--", lw=1)
            axes[0].legend(fontsize=8)
        fig.tight_layout()
        out.append((title, figure_uri(fig)))
    return out


def shared_curves(runs: dict[str, list[dict]]) -> list[tuple[str, str]]:
    """One figure per logged key, every run on the same axes (over steps and wall time)."""
    keys = sorted({k for recs in runs.values() for r in recs for k in r if k not in COUNTERS})
    out = []
    for key in keys:
        fig = figure((11, 3.2))
        axes = fig.subplots(1, 2)
        for name, recs in runs.items():
            rows = [r for r in recs if key in r and isinstance(r[key], (int, float))]
            if not rows:
                continue
            for ax, x in zip(axes, ("step", "elapsed")):
                ax.plot([r[x] for r in rows], [r[key] for r in rows], label=name,
                        marker="o" if len(rows) < 40 else None, ms=3)
        for ax, x in zip(axes, ("step", "wall time (s)")):
            ax.set(xlabel=x, title=key)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.tight_layout()
        out.append((key, figure_uri(fig)))
    return out


def distance_histogram(generated: np.ndarray, reference: np.ndarray, ref_label: str) -> str:
    fig = figure((7, 3.2))
    ax = fig.subplots()
    hi = float(max(generated.max(initial=0), reference.max(initial=0))) or 1.0
    bins = np.linspace(0, hi, 40)
    ax.hist(reference, bins=bins, alpha=0.6, density=True, label=ref_label)
    ax.hist(generated, bins=bins, alpha=0.6, density=True, label="generated samples")
    ax.set(xlabel="distance to the nearest training image (classifier features)",
           ylabel="density", title="how close samples are to the training set")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return figure_uri(fig)


def scatter(fake: np.ndarray, real: np.ndarray) -> str:
    fig = figure((5, 5))
    ax = fig.subplots()
    ax.scatter(real[:, 0], real[:, 1], s=3, alpha=0.3, label="real")
    ax.scatter(fake[:, 0], fake[:, 1], s=3, alpha=0.5, label="generated")
    ax.legend()
    fig.tight_layout()
    return figure_uri(fig)


def marginals(real: pd.DataFrame, fake: pd.DataFrame, max_columns: int = 16) -> str:
    """Each column, real vs generated: histograms for numbers, frequencies for categories."""
    import pandas as pd
    names = list(real.columns)[:max_columns]
    cols = min(len(names), 4)
    rows = (len(names) + cols - 1) // cols
    fig = figure((3.2 * cols, 2.5 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    for ax, name in zip(axes.flat, names):
        r, f = real[name].dropna(), fake[name].dropna()
        if pd.api.types.is_numeric_dtype(r) and r.nunique() > 10:
            lo, hi = float(min(r.min(), f.min())), float(max(r.max(), f.max()))
            bins = np.linspace(lo, hi if hi > lo else lo + 1, 30)
            ax.hist(r, bins=bins, alpha=0.6, density=True, label="real")
            ax.hist(f, bins=bins, alpha=0.6, density=True, label="generated")
        else:   # categories (or a number with few values): share of each, the 12 most common
            cats = r.astype(str).value_counts(normalize=True).index[:12]
            rp = r.astype(str).value_counts(normalize=True).reindex(cats, fill_value=0)
            fp = f.astype(str).value_counts(normalize=True).reindex(cats, fill_value=0)
            pos = np.arange(len(cats))
            ax.bar(pos - 0.2, rp.values, 0.4, label="real")
            ax.bar(pos + 0.2, fp.values, 0.4, label="generated")
            ax.set_xticks(pos, [str(c)[:8] for c in cats], rotation=60, fontsize=7)
        ax.set_title(str(name)[:30], fontsize=9)
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return figure_uri(fig)


def correlations(real: np.ndarray, fake: np.ndarray) -> str:
    """Correlation matrices [columns x columns] side by side, real vs generated."""
    fig = figure((9, 4))
    axes = fig.subplots(1, 2)
    for ax, x, title in zip(axes, (real, fake), ("real", "generated")):
        c = np.nan_to_num(np.corrcoef(x, rowvar=False))
        im = ax.imshow(c, vmin=-1, vmax=1, cmap="coolwarm")
        ax.set_title(f"correlations: {title}")
    fig.colorbar(im, ax=axes, shrink=0.8)
    return figure_uri(fig)
