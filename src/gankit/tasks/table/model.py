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
of rows every --sample-every steps). `TableModel` is the layout and the nets; `TableGANTask` the
phases the shared trainer walks; `TableGAN` the facade.
"""
from __future__ import annotations

import dataclasses
import io
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Hashable, Mapping, Optional, Union

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..config import RunConfig, TaskOptions, option, require_options
from ..data.tabular import NUMERIC, TableEncoder, read_csv_table
from ..data.training import USER_DATA, dataset_name
from ..errors import ConfigError, DataError, RunError
from ..penalties import gradient_penalty
from ..run import Run, RunFacade, RunHooks
from ..tasks import new_config
from ..train import callbacks as cb
from ..train.callbacks import read_metrics
from ..train.state import atomic_write_text, load_task_state, task_state
from ..train.trainer import Phase, Trainer

TASK = "table"
NET = "ctgan"
DEFAULT_EPOCHS = 300
PREVIEW_ROWS = 100   # rows in each samples/step-*.csv


@dataclass(frozen=True)
class TableOptions(TaskOptions):
    """The table task's own options (`gankit train --task table --help` lists them)."""

    # WGAN-GP with one critic step per G step and CTGAN's nets; no images, classes or moving
    # average; the run's length comes from the table when none is given (LENGTH_FROM_DATA).
    UNUSED: ClassVar[frozenset[str]] = frozenset({
        "resolution", "channels", "d_norm", "conditional", "cond", "n_critic", "r1_gamma",
        "r2_gamma", "r1_every", "augment", "ema_halflife", "eval_every", "eval_metrics",
        "eval_num", "early_stop_patience", "compile", "memory_format"})
    LENGTH_FROM_DATA: ClassVar[bool] = True
    discrete: str = option("", "numeric columns to treat as categories: a,b (text columns "
                           "always are)")
    pac: int = option(10, "rows the critic judges together (PacGAN), against mode collapse",
                      low=1)
    max_modes: int = option(10, "Gaussian modes per numeric column, at most", low=1)
    min_steps: int = option(1500, "without --steps, --epochs or --max-time: 300 epochs, but at "
                            "least this many steps (a small table's 300 epochs are too few)",
                            low=0)

    @classmethod
    def defaults(cls, given: dict[str, Any]) -> dict[str, Any]:
        """CTGAN's recipe scaled down for a CPU: nets of 128 units, batches of 500 rows, Adam
        (2e-4, 0.5, 0.9), WGAN-GP (penalty 10), noise of 64."""
        return {"model": NET, "loss": "wgan-gp", "width": 128, "batch_size": 500, "lr": 2e-4,
                "beta1": 0.5, "beta2": 0.9, "gp_weight": 10.0, "z_dim": 64}


OPTIONS = {TASK: TableOptions}


@dataclass
class _Block:
    """One column in the GAN's row layout: `alpha` offset dim (numeric only), then a one-hot."""
    start: int
    alpha: bool
    width: int            # one-hot width, including the missing slot
    missing: bool         # last one-hot slot means "missing"
    means: list = field(default_factory=list)
    stds: list = field(default_factory=list)

    @property
    def onehot(self) -> slice:
        first = self.start + int(self.alpha)
        return slice(first, first + self.width)

    @property
    def end(self) -> int:
        return self.start + int(self.alpha) + self.width


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
                means, stds = _fit_modes(v, self.cfg.options.max_modes,
                                         self.cfg.train.seed + j)
                b = _Block(start, True, len(means) + miss, miss, means, stds)
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
        v = s.to_numpy(dtype=np.float64, na_value=np.nan)[:, None]       # [N, 1]
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
                v = x[:, b.start] * 4 * np.array(b.stds)[k] + np.array(b.means)[k]
                scale = spec.hi - spec.lo if spec.hi > spec.lo else 1.0
                out[:, sl.start] = np.clip((v - spec.lo) / scale, 0.0, 1.0)
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

    def cond_tables_from(self, other: "TableModel") -> None:
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


# --- the task the shared trainer walks ----------------------------------------------------------
# The trainer walks two phases per step: the packed critic D learns to tell conditioned real rows
# from G's rows (WGAN-GP), then G learns to fool D and to produce the value its condition asks for.
# The batch source is RowSampler, CTGAN's training-by-sampling: each batch row carries a condition
# (one value of one discrete column, drawn by log-frequency) and a real row that holds that value.

class RowSampler:
    """Batches [B, dim + cond_dim] = real rows next to the condition each one satisfies."""

    world = 1   # one process

    def __init__(self, gan: TableModel, x: torch.Tensor, batch_size: int,
                 rng: np.random.Generator):
        self.gan, self.x, self.batch_size, self.rng = gan, x, batch_size, rng

    def next(self) -> torch.Tensor:
        cond, cols, vals = self.gan.sample_cond(self.batch_size, self.rng, training=True)
        rows = self.x[torch.from_numpy(self.gan.real_rows(cols, vals, self.rng))]
        return torch.cat([rows, torch.from_numpy(cond)], 1)

    def __len__(self) -> int:
        return len(self.x)

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return {}, {"rng": self.rng.bit_generator.state}

    def load(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self.rng.bit_generator.state = meta["rng"]


class TableGANTask:
    """Named nets {"G", "D"}, Adam optimizers (CTGAN's betas) and the D, G phases."""

    def __init__(self, gan: TableModel, rng: np.random.Generator):
        t = gan.cfg.train
        self.gan, self.rng, self.gp_weight = gan, rng, gan.cfg.loss.gp_weight
        self.nets: dict[str, nn.Module] = {"G": gan.generator, "D": gan.critic}
        betas = (t.beta1, t.beta2)
        self.optimizers = {
            "G": torch.optim.Adam(gan.generator.parameters(), t.lr, betas=betas,
                                  weight_decay=1e-6),
            "D": torch.optim.Adam(gan.critic.parameters(), t.lr_d or t.lr, betas=betas)}
        # the critic's dropout draws from torch's global generator: saved with the run's
        # generators, so that a resumed run goes on exactly
        self.generators = {"noise": torch.Generator().manual_seed(t.seed),
                           "dropout": torch.default_generator}
        self.phases = [Phase("D", ("D",), self.d_loss), Phase("G", ("G",), self.g_loss)]

    def fake(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(G's rows after activation [B, dim], its logits [B, dim]) for conditions [B, cond]."""
        gen = self.generators["noise"]
        z = torch.randn(cond.shape[0], self.gan.noise_dim, generator=gen)
        logits = self.gan.generator(torch.cat([z, cond], 1))
        return self.gan.activate(logits, gen), logits

    def d_loss(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Wasserstein critic loss on packs of rows + gradient penalty on packed mixtures."""
        gan = self.gan
        real, cond = batch[:, :gan.dim], batch[:, gan.dim:]
        with torch.no_grad():
            fake, _ = self.fake(cond)
        real_p, fake_p = gan.pack(real, cond), gan.pack(fake, cond)
        gp = gradient_penalty(gan.critic, real_p, fake_p, self.generators["noise"])
        w = gan.critic(real_p).mean() - gan.critic(fake_p).mean()
        return -w + self.gp_weight * gp, {"wasserstein": w.detach(), "gp": gp.detach()}

    def g_loss(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Fool the critic, and produce the asked value (cross-entropy) for fresh conditions."""
        gan = self.gan
        cond, cols, vals = gan.sample_cond(batch.shape[0], self.rng, training=True)
        c = torch.from_numpy(cond)
        fake, logits = self.fake(c)
        adv = -gan.critic(gan.pack(fake, c)).mean()
        cond_loss = gan.cond_loss(logits, cols, vals)
        return adv + cond_loss, {"g_adv": adv.detach(), "g_cond": cond_loss.detach()}

    def end_step(self, step: int, nimg: int) -> None:
        pass

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return task_state(self)

    def load(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any],
             weights_only: bool = False) -> None:
        load_task_state(self, tensors, meta, weights_only)


# --- the facade ---------------------------------------------------------------------------------

class TableGAN(RunFacade):
    """Synthetic rows like a real table's:

        gan = TableGAN("people.csv", discrete=["kids"]).fit()   # a run directory under runs/
        gan.sample(1000, condition={"city": "Lyon"})             # a DataFrame
        gankit.load_run(gan.run_dir).sample(10)

    `data`: a CSV file or a DataFrame (numeric and text columns, missing cells allowed). Options
    are the config fields (`epochs`, `batch_size`, `lr`, `width`, `z_dim`, `pac`, `seed`, ...).
    `fit()` with no length trains 300 epochs, but at least `min_steps` steps. (`run=` and
    `model=`: a run already built and its TableModel, as load_run makes them.)"""

    def __init__(self, data: Any = None, *, out: Union[str, Path, None] = None,
                 config: Optional[RunConfig] = None, run: Optional[Run] = None,
                 model: Optional[TableModel] = None, **options: Any):
        if run is not None:
            self._attach(run, model)
            return
        if isinstance(options.get("discrete"), (list, tuple)):
            options["discrete"] = ",".join(map(str, options["discrete"]))
        df = read_table(data)
        if config is None:
            config = new_config(TASK, dataset=dataset_name(data), **options)
        require_options(config, TableOptions, TASK)
        cfg = config.replace(task=TASK, data=dataclasses.replace(config.data,
                                                                 dataset=dataset_name(data)))
        check_config(cfg)
        model = TableModel(cfg)
        x, rng = model.prepare(df)
        cfg = cfg.replace(data_shape=(model.dim,), num_classes=0)
        model.cfg = cfg
        self._attach(table_run(cfg, model, rng, out=out), model)
        self.table = df
        self.run.data, self.run.data_note = x, (f"{len(df):,} rows, {len(df.columns)} columns "
                                                f"({len(model.discrete_columns)} categorical)")
        print(self.run.data_note, file=sys.stderr)

    def _attach(self, run: Run, model: TableModel) -> None:
        self.run, self.model = run, model
        self.table: Optional[pd.DataFrame] = None   # the DataFrame it was made with, if any
        run.hooks = RunHooks(sampler=self._sampler, callbacks=self._callbacks,
                             files=lambda: {"table.json": model.to_json()},
                             epoch_steps=self._epoch_steps)

    def _sampler(self) -> RowSampler:
        if self.run.data is None:
            raise DataError(f"this run's table could not be loaded from "
                            f"{self.config.data.dataset}")
        return RowSampler(self.model, self.run.data, self.batch_rows(len(self.run.data)),
                          self.task.rng)

    def _callbacks(self, total: int, max_time: Optional[float], progress: Optional[bool]
                   ) -> list:
        seed = self.config.train.seed + 7   # the same rows' draw at every preview
        preview = RowsPreview(self.run_dir / "samples", self.config.train.sample_every,
                              lambda: self.sample(PREVIEW_ROWS, seed=seed))
        return self.run.standard_callbacks(total, max_time, progress, preview, dict,
                                           title=f"TableGAN on "
                                                 f"{Path(self.config.data.dataset).name}")

    # --- length --------------------------------------------------------------------------------
    def batch_rows(self, n_rows: int) -> int:
        """Rows per batch: batch_size (at most the table), rounded down to whole packs of `pac`."""
        pac, b = self.config.options.pac, self.config.train.batch_size
        return max(pac, min(b, n_rows) // pac * pac)

    def steps_per_epoch(self, n_rows: Optional[int] = None) -> int:
        """Batches in one pass over a table of n_rows (default: the run's), at least one."""
        n = self.model.n_rows if n_rows is None else n_rows
        return max(n // self.batch_rows(n), 1)

    def _epoch_steps(self, epochs: float) -> int:
        return int(round(epochs * self.steps_per_epoch()))

    def total_steps(self, n_rows: Optional[int] = None) -> int:
        """The steps of a whole run: --epochs passes over the table; by default 300 epochs but at
        least --min-steps (on a table of a few hundred rows an epoch is one step; ML efficacy
        needed ~1500, see docs/tables.md)."""
        per_epoch = self.steps_per_epoch(n_rows)
        t = self.config.train
        if t.epochs is not None:
            return int(round(t.epochs * per_epoch))
        return max(DEFAULT_EPOCHS * per_epoch, self.config.options.min_steps)

    def fit(self, steps: Optional[int] = None, epochs: Optional[float] = None,
            max_time: Optional[float] = None, *, until: Optional[int] = None,
            progress: Optional[bool] = None) -> "TableGAN":
        """Train for `steps` more steps, `epochs` more passes or `max_time` seconds (`until`: an
        absolute step); with none given, to the run's whole length (total_steps)."""
        if steps is None and epochs is None and max_time is None and until is None:
            until = self.total_steps()
        self.run.fit(steps, epochs, max_time, until=until, progress=progress)
        return self

    @property
    def losses(self) -> list[dict]:
        """The logged records (losses averaged over --log-every steps)."""
        return self.history

    @property
    def discrete_columns(self) -> list[int]:
        return self.model.discrete_columns

    @property
    def encoder(self) -> TableEncoder:
        return self.model.encoder

    # --- use -----------------------------------------------------------------------------------
    def sample(self, n: int, condition: Optional[Mapping[Hashable, Any]] = None,
               seed: Optional[int] = None, **_: Any) -> pd.DataFrame:
        """n new rows as a DataFrame. `condition={column: value}` asks for rows holding that value
        of a discrete column (the column is set to it; the other columns follow it)."""
        return self.model.sample(int(n), condition, seed)

    def reference(self, data: Any = None) -> tuple[pd.DataFrame, str]:
        """(the real table, what it is): `data` (a CSV file or a DataFrame), else the table the
        run was trained on (its CSV, or the DataFrame this TableGAN was made with); DataError if
        none is there or its columns are not the run's."""
        return reference_table(data, self.table, self.config.data.dataset,
                               [str(c.name) for c in self.encoder.columns], self.run_dir)

    def evaluate(self, num: Optional[int] = None, seed: int = 0, data: Any = None
                 ) -> dict[str, float]:
        """How close `num` sampled rows (default: as many as the real table has) are to the real
        table (see tabular.fidelity.fidelity_scores; lower is closer)."""
        from .fidelity import fidelity_scores
        real, _ = self.reference(data)
        fake = self.sample(num or len(real), seed=seed)
        return fidelity_scores(real, fake, [str(real.columns[j]) for j in self.discrete_columns])

    def metric_results(self, num: int, seed: int = 0, split: str = "train", **_: Any) -> dict:
        """`evaluate` as MetricResults with their protocol (what `gankit eval RUN` prints); the
        reference is the table it trained on (a table run keeps no held-out rows)."""
        from ..metrics import task_results
        real, source = self.reference()
        return task_results(self.evaluate(num, seed, real), extractor="column marginals and "
                            "correlations", n_real=len(real), n_fake=num or len(real),
                            reference=source, reference_split="train", seed=seed)

    def save(self, rows: pd.DataFrame, path: Union[str, Path], overwrite: bool = False,
             labels: Any = None) -> Path:
        """Rows as a CSV file (what `gankit sample` writes for a table run)."""
        from ..outputs import refuse_overwrite
        path = Path(path)
        if path.suffix.lower() != ".csv":
            raise ConfigError(f"--output for a table run is a .csv file, got {path}")
        refuse_overwrite(path, overwrite)
        write_rows(rows, path)
        return path


class RowsPreview(cb.Every):
    """samples/step-NNNNNNN.csv: the rows `rows()` gives at that step (None: nothing to show)."""

    def __init__(self, out_dir: Path, every: int, rows: Callable[[], Optional[pd.DataFrame]]):
        super().__init__(every)
        self.out_dir, self.rows = Path(out_dir), rows
        self.out_dir.mkdir(parents=True, exist_ok=True)

    def act(self, trainer: Trainer) -> None:
        rows = self.rows()
        if rows is not None:
            write_rows(rows, self.out_dir / f"step-{trainer.step:07d}.csv")


def write_rows(rows: pd.DataFrame, path: Path) -> None:
    """Rows as a CSV file (header, no index, \\n line ends), written atomically."""
    buf = io.StringIO()
    rows.to_csv(buf, index=False, lineterminator="\n")
    try:
        atomic_write_text(Path(path), buf.getvalue())
    except OSError as e:
        raise DataError(f"{path}: cannot write ({e.strerror})") from None


def reference_table(data: Any, made_with: Optional[pd.DataFrame], recorded: str,
                    trained_on: list[str], run_dir: Any) -> tuple[pd.DataFrame, str]:
    """(the real table a table or impute run is compared with, what it is): `data` (a CSV file
    or a DataFrame), else the DataFrame the run was made with in this process, else the CSV it
    recorded; DataError if none is there or its columns are not `trained_on`."""
    if data is None:
        data = made_with
    source = data if data is not None else (recorded if recorded != USER_DATA else None)
    if source is None:
        raise DataError(f"{run_dir} was trained on a DataFrame passed from Python: pass the real "
                        f"table (--data IN.csv, or data= in Python) to compare with")
    if isinstance(source, pd.DataFrame):
        real, source = source, "a DataFrame"
    else:
        real = read_table(source)
    if list(map(str, real.columns)) != trained_on:
        raise DataError(f"{source} has columns {list(real.columns)}, the run was trained on "
                        f"{trained_on}")
    return real, str(source)


def read_table(data: Any) -> pd.DataFrame:
    """The table a run learns from: a CSV file or a DataFrame."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, (str, Path)):
        return read_csv_table(Path(data))[0]
    raise DataError(f"a TableGAN learns from a CSV file or a pandas DataFrame, got "
                    f"{type(data).__name__}")


def check_config(cfg: RunConfig) -> None:
    if cfg.model.model not in (NET, "dcgan"):
        raise ConfigError(f"--task {TASK} uses its own nets (--model {NET}), not "
                          f"{cfg.model.model}")
    if cfg.loss.loss != "wgan-gp":
        raise ConfigError(f"--task {TASK} trains with WGAN-GP (CTGAN's loss), not "
                          f"--loss {cfg.loss.loss}")
    if cfg.model.width is None:
        raise ConfigError("--width: the table nets need a width")


def table_run(cfg: RunConfig, model: TableModel, rng: np.random.Generator, *,
              out: Union[str, Path, None] = None, run_dir: Optional[Path] = None) -> Run:
    """The table GAN's run: its task on the CPU device the config names, one process."""
    return Run.for_task(cfg, lambda device: TableGANTask(model, rng), one_process="TableGAN",
                        out=out, run_dir=run_dir)


def new_run(task: str, cfg: RunConfig, out: Optional[Path] = None) -> TableGAN:
    """A new table run (the CLI's `gankit train --task table`)."""
    return TableGAN(cfg.data.dataset, config=cfg, out=out)


def load_task_run(run_dir: Path, cfg: RunConfig, device: str, weights_only: bool,
                  dataset: Any = None) -> TableGAN:
    """Rebuild a table run (see api.load_run): its layout from table.json, then the nets,
    optimizers, step and sampling stream from the latest checkpoint; with the table (the CSV it
    recorded, or `dataset`) to go on training."""
    cfg = cfg.replace(train=dataclasses.replace(cfg.train, device=device))
    model = TableModel(cfg)
    try:
        model.load_json((Path(run_dir) / "table.json").read_text())
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RunError(f"{run_dir}/table.json: missing or corrupt ({e})") from None
    rng = np.random.default_rng(cfg.train.seed)
    gan = TableGAN(run=table_run(cfg, model, rng, run_dir=run_dir), model=model)
    source = dataset if dataset is not None else cfg.data.dataset
    if weights_only or (isinstance(source, str) and source == USER_DATA):
        gan.run.resume(True)
        return gan

    def load_data() -> None:
        df = read_table(source)
        fresh = TableModel(cfg)
        x, fresh_rng = fresh.prepare(df)   # the layout, encoding and cond tables, as at the start
        if fresh.dim != model.dim:
            raise DataError(f"the table now encodes to rows of {fresh.dim} values, the run was "
                            f"trained on {model.dim}")
        model.cond_tables_from(fresh)
        gan.task.rng.bit_generator.state = fresh_rng.bit_generator.state
        gan.run.data = x
    gan.run.resume(False, load_data)
    return gan


__all__ = ["OPTIONS", "TableGAN", "TableGANTask", "TableModel", "TableOptions", "load_task_run", "new_run", "reference_table", "write_rows"]
