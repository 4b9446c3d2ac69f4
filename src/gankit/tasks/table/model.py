"""TableGAN: synthetic tables with a conditional WGAN-GP, after CTGAN (Xu et al., 2019).

Three ideas make a GAN work on tables:
- mode-specific normalization: each numeric value becomes (mode one-hot, offset in [-1, 1]) under a
  small Bayesian Gaussian mixture of its column, so multi-modal and skewed columns are easy for tanh;
- a conditional vector plus training-by-sampling: each step picks a discrete column and one of its
  values (log-frequency, so rare values are seen) and real rows holding it; G must produce it;
- a packed critic (`pac` rows judged together) with a gradient penalty, against mode collapse.

Encoded row layout, column by column: numeric -> [offset, modes..., (missing)], discrete ->
[categories..., (missing)]. A (missing) slot exists only if the column had missing cells.

A table run is a run like every task's (`gankit train --task table --dataset t.csv`, or
`TableGAN("t.csv").fit()`): config.json, `table.json` (the columns and the row layout: what
sampling needs beside G's weights), checkpoints with exact resume, metrics.jsonl, samples/ (a CSV
of rows every --sample-every steps). `TableModel` (here) is the layout and the nets;
`TableGANTask` (task.py) the phases the shared trainer walks; `TableGAN` (facade.py) the facade.
"""
from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

import numpy as np
import pandas as pd
import torch
from torch import nn

from ...config import RunConfig
from ...data.tabular import NUMERIC, TableEncoder, scaled
from ...errors import ConfigError, DataError


@dataclass
class _Block:
    """One column in the GAN's row layout: `alpha` offset dim (numeric only), then a one-hot."""
    start: int
    alpha: bool
    width: int            # one-hot width, including the missing slot
    missing: bool         # last one-hot slot means "missing"
    means: list = field(default_factory=list)
    stds: list = field(default_factory=list)
    unit: float = 1.0     # modes are fitted to values / unit (> 1 only for values near 1e308)

    @property
    def onehot(self) -> slice:
        first = self.start + int(self.alpha)
        return slice(first, first + self.width)

    @property
    def end(self) -> int:
        return self.start + int(self.alpha) + self.width


def _unit(v: np.ndarray) -> float:
    """1, or for values whose squares overflow (beyond about 1e150: a GMM's variances would be
    inf) the power of two near their largest magnitude, which scales them exactly."""
    top = float(np.abs(v).max()) if len(v) else 0.0
    return 1.0 if top <= 1e150 else float(2.0 ** np.floor(np.log2(top)))


def _fit_modes(v: np.ndarray, max_modes: int, seed: int) -> tuple[list, list]:
    """Means and stds of the modes a Bayesian GMM keeps for the values v [n] (weight > 0.5%)."""
    from sklearn.mixture import BayesianGaussianMixture
    k = min(max_modes, len(np.unique(v)))
    if k < 2:
        return [float(v.mean())], [max(float(v.std()), 1e-3)]
    sub = np.random.default_rng(seed).permutation(v)[:5000]   # BGM cost grows with n; 5000 suffices
    gm = BayesianGaussianMixture(n_components=k, weight_concentration_prior=1e-3, max_iter=200,
                                 random_state=seed).fit(sub[:, None])
    keep = gm.weights_ > 0.005
    stds = np.sqrt(gm.covariances_.reshape(-1))[keep]
    spread = max(float(v.std()), 1e-3)
    return gm.means_.reshape(-1)[keep].tolist(), np.maximum(stds, 1e-3 * spread).tolist()


class _Residual(nn.Module):
    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.fc, self.bn = nn.Linear(d_in, d_out), nn.BatchNorm1d(d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.relu(self.bn(self.fc(x))), x], 1)   # [B, d_out + d_in]


def _generator(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(_Residual(d_in, hidden), _Residual(d_in + hidden, hidden),
                         nn.Linear(d_in + 2 * hidden, d_out))


def _critic(d_in: int, hidden: int, pac: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in * pac, hidden), nn.LeakyReLU(0.2), nn.Dropout(0.5),
                         nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Dropout(0.5),
                         nn.Linear(hidden, 1))


class TableModel:
    """A table's row layout (its encoder, each column's block, the conditional vector) and the
    nets G and D over it. `prepare(df)` fits the layout to a table and encodes it; `to_json` and
    `load_json` carry the layout (table.json) so that a loaded run samples without the table."""

    def __init__(self, cfg: RunConfig):
        self.cfg = cfg
        self.pac = cfg.options.pac
        self.noise_dim = cfg.model.z_dim
        self.encoder: Optional[TableEncoder] = None
        self.blocks: list[_Block] = []
        self.dim = 0
        self.generator: Optional[nn.Module] = None
        self.critic: Optional[nn.Module] = None
        self.n_rows = 0

    def prepare(self, df: pd.DataFrame) -> tuple[torch.Tensor, np.random.Generator]:
        """Fit the layout to df, encode its rows (drawing each value's mode from the seed's
        stream), build the nets from the seed: (rows [N, dim], the stream training goes on
        with)."""
        cfg = self.cfg
        if len(df) < 2:
            raise DataError(f"the table needs at least 2 rows to learn from, got {len(df)}")
        self.build_layout(df)
        rng = np.random.default_rng(cfg.train.seed)
        x, codes = self.encode(df, rng)
        self.n_rows = len(x)
        self.cond_tables(codes)
        self.build_nets()
        return torch.from_numpy(x), rng

    def build_nets(self) -> None:
        torch.manual_seed(self.cfg.train.seed)
        hidden = self.cfg.model.width
        self.generator = _generator(self.noise_dim + self.cond_dim, hidden, self.dim)
        self.critic = _critic(self.dim + self.cond_dim, hidden, self.pac)

    # -- layout ---------------------------------------------------------------------------------

    def build_layout(self, df: pd.DataFrame) -> None:
        start = 0
        self.encoder = TableEncoder.fit(df, discrete=discrete_columns(self.cfg.options.discrete,
                                                                      df.columns))
        self.blocks = []
        for j, spec in enumerate(self.encoder.columns):
            miss = bool(df[spec.name].isna().any())
            if spec.kind == NUMERIC:
                v = df[spec.name].dropna().to_numpy(dtype=np.float64)
                unit = _unit(v)
                means, stds = _fit_modes(v / unit, self.cfg.options.max_modes,
                                         self.cfg.train.seed + j)
                b = _Block(start, True, len(means) + miss, miss, means, stds, unit)
            else:
                b = _Block(start, False, len(spec.categories) + miss, miss)
            self.blocks.append(b)
            start = b.end
        self.dim = start

    @property
    def discrete_columns(self) -> list[int]:
        """Indices of the columns the conditional vector covers."""
        return [j for j, b in enumerate(self.blocks) if not b.alpha]

    @property
    def cond_dim(self) -> int:
        return sum(self.blocks[j].width for j in self.discrete_columns)

    def encode(self, df: pd.DataFrame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Rows [N, dim] in the GAN layout, and each column's one-hot code [N, n_columns]."""
        x = np.zeros((len(df), self.dim), dtype=np.float32)
        codes = np.zeros((len(df), len(self.blocks)), dtype=np.int64)
        enc = self.encoder.encode(df)
        for j, (b, sl) in enumerate(zip(self.blocks, self.encoder.slices())):
            block = enc[:, sl]
            miss = np.isnan(block).any(1)
            if b.alpha:
                code, alpha = self.pick_modes(b, df[self.encoder.columns[j].name], rng)
                x[:, b.start] = np.where(miss, 0.0, alpha)
            else:
                code = np.argmax(np.nan_to_num(block), 1)
            code = np.where(miss, b.width - 1, code)
            x[np.arange(len(df)), b.onehot.start + code] = 1.0
            codes[:, j] = code
        return x, codes

    @staticmethod
    def pick_modes(b: _Block, s: pd.Series, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Sample each value's mode from its posterior (as CTGAN) and its offset in [-1, 1]."""
        v = s.to_numpy(dtype=np.float64, na_value=np.nan)[:, None] / b.unit   # [N, 1]
        mu, sd = np.array(b.means)[None], np.array(b.stds)[None]           # [1, K]
        logp = -0.5 * ((np.nan_to_num(v) - mu) / sd) ** 2 - np.log(sd)
        p = np.exp(logp - logp.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        code = (p.cumsum(1) < rng.random((len(v), 1))).sum(1).clip(max=len(b.means) - 1)
        alpha = (v[:, 0] - mu[0, code]) / (4 * sd[0, code])
        return code, np.clip(np.nan_to_num(alpha), -0.99, 0.99)

    def decode(self, x: np.ndarray) -> pd.DataFrame:
        """GAN-layout rows [N, dim] -> DataFrame via the min-max encoder (dtypes, rounding)."""
        out = np.zeros((len(x), self.encoder.dim))
        for spec, b, sl in zip(self.encoder.columns, self.blocks, self.encoder.slices()):
            code = np.argmax(x[:, b.onehot], 1)
            miss = b.missing & (code == b.width - 1)
            if b.alpha:
                k = np.minimum(code, len(b.means) - 1)
                v = (x[:, b.start] * 4 * np.array(b.stds)[k] + np.array(b.means)[k]) * b.unit
                with np.errstate(over="ignore"):   # past +-1e308: clipped to the column's range
                    out[:, sl.start] = np.clip(scaled(spec, v), 0.0, 1.0)
            else:
                out[:, sl] = 0.0
                out[np.arange(len(x)), sl.start + np.minimum(code, spec.width - 1)] = 1.0
            out[miss, sl] = np.nan
        return self.encoder.decode(out)

    # -- training ---------------------------------------------------------------------------------

    def activate(self, logits: torch.Tensor, gen: Optional[torch.Generator]) -> torch.Tensor:
        """[B, dim] logits -> tanh offsets and Gumbel-softmax (tau 0.2) one-hots, as CTGAN."""
        parts = []
        for b in self.blocks:
            if b.alpha:
                parts.append(torch.tanh(logits[:, b.start:b.start + 1]))
            u = torch.rand(logits[:, b.onehot].shape, generator=gen).clamp(1e-10, 1 - 1e-10)
            parts.append(torch.softmax((logits[:, b.onehot] - torch.log(-torch.log(u))) / 0.2, 1))
        return torch.cat(parts, 1)

    def cond_tables(self, codes: np.ndarray) -> None:
        """Training-by-sampling tables: per discrete column, rows sorted by value, log-frequencies."""
        self._order, self._starts, self._counts, self._logp, self._freq = [], [], [], [], []
        for j in self.discrete_columns:
            w = self.blocks[j].width
            counts = np.bincount(codes[:, j], minlength=w)
            self._order.append(np.argsort(codes[:, j], kind="stable"))
            self._starts.append(np.concatenate([[0], counts.cumsum()[:-1]]))
            self._counts.append(counts)
            logf = np.log1p(counts)
            self._logp.append(logf / logf.sum())
            self._freq.append(counts / counts.sum())
        widths = [self.blocks[j].width for j in self.discrete_columns]
        self._offsets = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(int)

    def sample_cond(self, n: int, rng: np.random.Generator, training: bool
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(cond one-hots [n, cond_dim], chosen column [n], chosen value [n]) for n rows."""
        if not self.discrete_columns:       # all numeric: no condition, rows drawn uniformly
            return np.zeros((n, 0), np.float32), np.full(n, -1), np.zeros(n, np.int64)
        cols = rng.integers(0, len(self.discrete_columns), n)
        vals = np.empty(n, dtype=np.int64)
        for i in np.unique(cols):
            p = self._logp[i] if training else self._freq[i]
            vals[cols == i] = rng.choice(len(p), size=(cols == i).sum(), p=p)
        cond = np.zeros((n, self.cond_dim), dtype=np.float32)
        cond[np.arange(n), self._offsets[cols] + vals] = 1.0
        return cond, cols, vals

    def real_rows(self, cols: np.ndarray, vals: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Indices of real rows holding value vals[i] in discrete column cols[i]."""
        rows = rng.integers(0, len(self._order[0]) if self._order else self.n_rows, len(cols))
        for i in np.unique(cols[cols >= 0]):
            sel = cols == i
            pick = self._starts[i][vals[sel]] + (rng.random(sel.sum()) *
                                                 self._counts[i][vals[sel]]).astype(np.int64)
            rows[sel] = self._order[i][pick]
        return rows

    def cond_loss(self, logits: torch.Tensor, cols: np.ndarray, vals: np.ndarray) -> torch.Tensor:
        """Cross-entropy of G's logits for the conditioned column against the asked value."""
        loss = logits.new_zeros(())
        for i, j in enumerate(self.discrete_columns):
            sel = torch.from_numpy(cols == i)
            if sel.any():
                block = logits[sel][:, self.blocks[j].onehot]
                target = torch.from_numpy(vals[cols == i])
                loss = loss + nn.functional.cross_entropy(block, target, reduction="sum")
        return loss / len(cols)

    def pack(self, rows: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """[B, dim] rows + [B, cond] -> [B / pac, pac * (dim + cond)] packs for the critic."""
        return torch.cat([rows, cond], 1).reshape(-1, self.pac * (self.dim + self.cond_dim))

    # -- sampling ---------------------------------------------------------------------------------

    def sample(self, n: int, condition: Optional[Mapping[Hashable, Any]] = None,
               seed: Optional[int] = None) -> pd.DataFrame:
        """n new rows as a DataFrame. `condition={column: value}` asks for rows holding that value
        of a discrete column (the column is set to it; the other columns follow it)."""
        if n < 1:
            raise DataError(f"the number of rows must be at least 1, got {n}")
        rng = np.random.default_rng(self.cfg.train.seed + 1 if seed is None else seed)
        gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
        cond, fixed = self.sample_cond(n, rng, training=False)[0], None
        if condition:
            cond, fixed = self.condition(condition, n)
        was_training = self.generator.training
        self.generator.eval()
        with torch.no_grad():
            z = torch.randn(n, self.noise_dim, generator=gen)
            rows = self.activate(self.generator(torch.cat([z, torch.from_numpy(cond)], 1)), gen)
        self.generator.train(was_training)
        rows = rows.numpy()
        if fixed is not None:
            j, code = fixed
            rows[:, self.blocks[j].onehot] = 0.0
            rows[:, self.blocks[j].onehot.start + code] = 1.0
        return self.decode(rows)

    def condition(self, condition: Mapping[Hashable, Any], n: int
                   ) -> tuple[np.ndarray, tuple[int, int]]:
        if len(condition) != 1:
            raise DataError("condition on exactly one column, e.g. {'city': 'Lyon'}")
        (name, value), = condition.items()
        names = self.encoder.names
        if name not in names:
            raise DataError(f"cannot condition on {name!r}: no such column")
        j = names.index(name)
        if j not in self.discrete_columns:
            raise DataError(f"cannot condition on numeric column {name!r}; only on discrete ones "
                            "(list it under discrete when fitting)")
        spec = self.encoder.columns[j]
        matches = [k for k, c in enumerate(spec.categories) if c == value or str(c) == str(value)]
        if not matches:
            known = ", ".join(map(str, spec.categories[:20]))
            raise DataError(f"column {name!r} has no value {value!r} (known: {known})")
        i = self.discrete_columns.index(j)
        cond = np.zeros((n, self.cond_dim), dtype=np.float32)
        cond[:, self._offsets[i] + matches[0]] = 1.0
        return cond, (j, matches[0])

    def cond_tables_from(self, other: TableModel) -> None:
        """The training tables (rows by value, log-frequencies) of `other`, a model prepared on
        the same table (a resumed run's)."""
        for name in ("_order", "_starts", "_counts", "_logp", "_freq", "_offsets"):
            setattr(self, name, getattr(other, name))
        self.n_rows = other.n_rows

    # -- table.json -------------------------------------------------------------------------------

    def to_json(self) -> str:
        """The layout a loaded run samples with: columns, blocks, the discrete values' shares."""
        return json.dumps({"format": 2, "columns": json.loads(self.encoder.to_json()),
                           "blocks": [asdict(b) for b in self.blocks],
                           "freq": [f.tolist() for f in self._freq], "n_rows": self.n_rows},
                          indent=1)

    def load_json(self, text: str) -> None:
        """The layout of table.json, and nets of its shapes (their weights come from a
        checkpoint)."""
        meta = json.loads(text)
        self.encoder = TableEncoder.from_json(json.dumps(meta["columns"]))
        self.blocks = [_Block(**b) for b in meta["blocks"]]
        self.dim = self.blocks[-1].end
        self.n_rows = int(meta.get("n_rows") or 0)
        self._freq = [np.asarray(f) for f in meta["freq"]]
        widths = [self.blocks[j].width for j in self.discrete_columns]
        self._offsets = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(int)
        self.build_nets()


def discrete_columns(text: str, columns: pd.Index) -> list[str]:
    """The --discrete names, each a column of the table."""
    names = [c.strip() for c in (text or "").split(",") if c.strip()]
    unknown = [c for c in names if c not in columns]
    if unknown:
        raise ConfigError(f"--discrete names unknown column(s): {', '.join(unknown)} "
                          f"(columns: {', '.join(map(str, columns))})")
    return names


__all__ = ["TableModel", "discrete_columns"]
