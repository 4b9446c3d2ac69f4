"""TableGAN: synthetic tables with a conditional WGAN-GP, after CTGAN (Xu et al., 2019).

Three ideas make a GAN work on tables:
- mode-specific normalization: each numeric value becomes (mode one-hot, offset in [-1, 1]) under a
  small Bayesian Gaussian mixture of its column, so multi-modal and skewed columns are easy for tanh;
- a conditional vector plus training-by-sampling: each step picks a discrete column and one of its
  values (log-frequency, so rare values are seen) and real rows holding it; G must produce it;
- a packed critic (`pac` rows judged together) with a gradient penalty, against mode collapse.

Encoded row layout, column by column: numeric -> [offset, modes..., (missing)], discrete ->
[categories..., (missing)]. A (missing) slot exists only if the column had missing cells.
Saved as `model.safetensors` (generator weights) + `table.json` (config, columns, modes): no pickle.
Training runs on the shared trainer: the nets, optimizers and phases are `TableGANTask`, its
batches `RowSampler`'s.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Hashable, Mapping, Optional

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..data.tabular import NUMERIC, TableEncoder
from ..errors import ConfigError, DataError, RunError
from ..penalties import gradient_penalty
from ..train.state import atomic_write_text
from ..train.trainer import Callback, Phase, Trainer


@dataclass
class TableGANConfig:
    """Defaults follow CTGAN, scaled down for CPU (narrower nets)."""
    noise_dim: int = 64
    hidden: int = 128
    batch_size: int = 500
    epochs: Optional[int] = None      # None: 300 epochs, but at least `min_steps` steps
    pac: int = 10
    lr: float = 2e-4
    lr_d: Optional[float] = None      # critic learning rate (None: lr)
    min_steps: int = 1500             # small tables: 300 epochs are a few hundred steps, too few
    gp_weight: float = 10.0
    max_modes: int = 10
    discrete: list = field(default_factory=list)
    seed: int = 0


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


def _check_config(cfg: TableGANConfig) -> None:
    """Reject settings that cannot train, naming the option (`--epochs 0` is not a silent no-op)."""
    positive = {"noise_dim": cfg.noise_dim, "hidden": cfg.hidden, "batch_size": cfg.batch_size,
                "pac": cfg.pac, "max_modes": cfg.max_modes, "lr": cfg.lr}
    if cfg.epochs is not None:
        positive["epochs"] = cfg.epochs
    if cfg.lr_d is not None:
        positive["lr_d"] = cfg.lr_d
    bad = [f"{k}={v!r}" for k, v in positive.items() if not v > 0]
    bad += [f"{k}={v!r}" for k, v in (("min_steps", cfg.min_steps), ("gp_weight", cfg.gp_weight))
            if not v >= 0]
    if bad:
        raise ConfigError(f"TableGAN options must be positive: {', '.join(bad)}")


class TableGAN:
    """Fit on a DataFrame, sample new rows with the same columns, dtypes, categories and ranges.

    >>> gan = TableGAN(epochs=100).fit(df)
    >>> gan.sample(1000, condition={"city": "Lyon"})
    """

    def __init__(self, config: Optional[TableGANConfig] = None, **overrides: Any):
        unknown = set(overrides) - set(TableGANConfig.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown TableGAN option(s): {', '.join(sorted(unknown))}")
        self.config = TableGANConfig(**{**asdict(config or TableGANConfig()), **overrides})
        _check_config(self.config)
        self.encoder: Optional[TableEncoder] = None
        self.blocks: list[_Block] = []
        self.generator: Optional[nn.Module] = None

    # -- layout ---------------------------------------------------------------------------------

    def _build_layout(self, df: pd.DataFrame) -> None:
        cfg, start = self.config, 0
        self.encoder = TableEncoder.fit(df, discrete=cfg.discrete)
        self.blocks = []
        for j, spec in enumerate(self.encoder.columns):
            miss = bool(df[spec.name].isna().any())
            if spec.kind == NUMERIC:
                v = df[spec.name].dropna().to_numpy(dtype=np.float64)
                means, stds = _fit_modes(v, cfg.max_modes, cfg.seed + j)
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

    def _encode(self, df: pd.DataFrame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Rows [N, dim] in the GAN layout, and each column's one-hot code [N, n_columns]."""
        x = np.zeros((len(df), self.dim), dtype=np.float32)
        codes = np.zeros((len(df), len(self.blocks)), dtype=np.int64)
        enc = self.encoder.encode(df)
        for j, (b, sl) in enumerate(zip(self.blocks, self.encoder.slices())):
            block = enc[:, sl]
            miss = np.isnan(block).any(1)
            if b.alpha:
                code, alpha = self._pick_modes(b, df[self.encoder.columns[j].name], rng)
                x[:, b.start] = np.where(miss, 0.0, alpha)
            else:
                code = np.argmax(np.nan_to_num(block), 1)
            code = np.where(miss, b.width - 1, code)
            x[np.arange(len(df)), b.onehot.start + code] = 1.0
            codes[:, j] = code
        return x, codes

    @staticmethod
    def _pick_modes(b: _Block, s: pd.Series, rng: np.random.Generator
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

    def _decode(self, x: np.ndarray) -> pd.DataFrame:
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

    def _activate(self, logits: torch.Tensor, gen: Optional[torch.Generator]) -> torch.Tensor:
        """[B, dim] logits -> tanh offsets and Gumbel-softmax (tau 0.2) one-hots, as CTGAN."""
        parts = []
        for b in self.blocks:
            if b.alpha:
                parts.append(torch.tanh(logits[:, b.start:b.start + 1]))
            u = torch.rand(logits[:, b.onehot].shape, generator=gen).clamp(1e-10, 1 - 1e-10)
            parts.append(torch.softmax((logits[:, b.onehot] - torch.log(-torch.log(u))) / 0.2, 1))
        return torch.cat(parts, 1)

    def _cond_tables(self, codes: np.ndarray) -> None:
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

    def _sample_cond(self, n: int, rng: np.random.Generator, training: bool
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

    def _real_rows(self, cols: np.ndarray, vals: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Indices of real rows holding value vals[i] in discrete column cols[i]."""
        rows = rng.integers(0, len(self._order[0]) if self._order else self._n_rows, len(cols))
        for i in np.unique(cols[cols >= 0]):
            sel = cols == i
            pick = self._starts[i][vals[sel]] + (rng.random(sel.sum()) *
                                                 self._counts[i][vals[sel]]).astype(np.int64)
            rows[sel] = self._order[i][pick]
        return rows

    def _cond_loss(self, logits: torch.Tensor, cols: np.ndarray, vals: np.ndarray) -> torch.Tensor:
        """Cross-entropy of G's logits for the conditioned column against the asked value."""
        loss = logits.new_zeros(())
        for i, j in enumerate(self.discrete_columns):
            sel = torch.from_numpy(cols == i)
            if sel.any():
                block = logits[sel][:, self.blocks[j].onehot]
                target = torch.from_numpy(vals[cols == i])
                loss = loss + nn.functional.cross_entropy(block, target, reduction="sum")
        return loss / len(cols)

    def fit(self, df: pd.DataFrame, progress: bool = False) -> "TableGAN":
        """Train on the rows of df (numeric and categorical columns, missing cells allowed)."""
        cfg = self.config
        if len(df) < 2:
            raise DataError(f"the table needs at least 2 rows to learn from, got {len(df)}")
        self._build_layout(df)
        rng = np.random.default_rng(cfg.seed)
        x, codes = self._encode(df, rng)
        self._n_rows = len(x)
        self._cond_tables(codes)
        torch.manual_seed(cfg.seed)
        self.generator = _generator(cfg.noise_dim + self.cond_dim, cfg.hidden, self.dim)
        self.critic = _critic(self.dim + self.cond_dim, cfg.hidden, cfg.pac)
        self.losses = self._train(torch.from_numpy(x), rng, progress)
        return self

    def _train(self, x: torch.Tensor, rng: np.random.Generator, progress: bool) -> list:
        """Run the shared trainer on the TableGAN task; returns its log records."""
        b = self._batch_rows(len(x))
        log = _History()
        callbacks: list = [log]
        if progress:
            from ..train.callbacks import Progress
            callbacks.append(Progress(self.total_steps(len(x)), None))
        trainer = Trainer(TableGANTask(self, rng), RowSampler(self, x, b, rng), callbacks,
                          log_every=50)
        trainer.fit(self.total_steps(len(x)))
        self.generator.eval()
        return log.records

    def _batch_rows(self, n_rows: int) -> int:
        """Rows per batch: batch_size (at most the table), rounded down to whole packs of `pac`."""
        cfg = self.config
        return max(cfg.pac, min(cfg.batch_size, n_rows) // cfg.pac * cfg.pac)

    def total_steps(self, n_rows: int) -> int:
        """`epochs` passes over n_rows; by default 300 epochs but at least `min_steps` steps (on a
        table of a few hundred rows an epoch is one step; ML efficacy needed ~1500, see docs/tables.md)."""
        cfg = self.config
        per_epoch = max(n_rows // self._batch_rows(n_rows), 1)
        if cfg.epochs is not None:
            return cfg.epochs * per_epoch
        return max(300 * per_epoch, cfg.min_steps)

    def _pack(self, rows: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """[B, dim] rows + [B, cond] -> [B / pac, pac * (dim + cond)] packs for the critic."""
        return torch.cat([rows, cond], 1).reshape(-1, self.config.pac * (self.dim + self.cond_dim))

    # -- sampling ---------------------------------------------------------------------------------

    def sample(self, n: int, condition: Optional[Mapping[Hashable, Any]] = None,
               seed: Optional[int] = None) -> pd.DataFrame:
        """n new rows as a DataFrame. `condition={column: value}` asks for rows holding that value
        of a discrete column (the column is set to it; the other columns follow it)."""
        if self.generator is None:
            raise RunError("this TableGAN is not fitted; call fit(df) or TableGAN.load(path)")
        if n < 1:
            raise DataError(f"the number of rows must be at least 1, got {n}")
        rng = np.random.default_rng(self.config.seed + 1 if seed is None else seed)
        gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
        cond, fixed = self._sample_cond(n, rng, training=False)[0], None
        if condition:
            cond, fixed = self._condition(condition, n)
        with torch.no_grad():
            z = torch.randn(n, self.config.noise_dim, generator=gen)
            rows = self._activate(self.generator(torch.cat([z, torch.from_numpy(cond)], 1)), gen)
        rows = rows.numpy()
        if fixed is not None:
            j, code = fixed
            rows[:, self.blocks[j].onehot] = 0.0
            rows[:, self.blocks[j].onehot.start + code] = 1.0
        return self._decode(rows)

    def _condition(self, condition: Mapping[Hashable, Any], n: int
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

    # -- save / load ------------------------------------------------------------------------------

    def save(self, path: Path, source: Optional[Path] = None, overwrite: bool = False) -> Path:
        """Write `path/model.safetensors` + `path/table.json` (no pickle anywhere), and the
        training log as `path/metrics.jsonl`. `source`: the CSV it was trained on, recorded (as an
        absolute path) so that `gankit report` can compare with it. `path` must be new or empty,
        or (with `overwrite`) an earlier TableGAN save."""
        if self.generator is None:
            raise RunError("nothing to save: this TableGAN is not fitted")
        path = Path(path)
        check_save_dir(path, overwrite)
        path.mkdir(parents=True, exist_ok=True)
        tmp = path / ".model.safetensors.tmp"
        save_file({k: v.contiguous() for k, v in self.generator.state_dict().items()}, str(tmp))
        tmp.replace(path / "model.safetensors")
        meta = {"format": 1, "config": asdict(self.config), "columns": json.loads(
            self.encoder.to_json()), "blocks": [asdict(b) for b in self.blocks],
            "freq": [f.tolist() for f in self._freq],
            "source": str(Path(source).resolve()) if source is not None else None,
            "n_rows": getattr(self, "_n_rows", None)}
        if getattr(self, "losses", None):
            atomic_write_text(path / "metrics.jsonl",
                              "".join(json.dumps(r) + "\n" for r in self.losses))
        atomic_write_text(path / "table.json", json.dumps(meta, indent=1))
        return path

    @classmethod
    def load(cls, path: Path) -> "TableGAN":
        """Rebuild a saved TableGAN for sampling."""
        path = Path(path)
        try:
            meta = json.loads((path / "table.json").read_text())
            weights = load_file(str(path / "model.safetensors"))
        except (OSError, ValueError, RuntimeError) as e:
            raise RunError(f"{path}: not a saved TableGAN ({str(e).splitlines()[0]})") from None
        self = cls(TableGANConfig(**meta["config"]))
        self.encoder = TableEncoder.from_json(json.dumps(meta["columns"]))
        self.blocks = [_Block(**b) for b in meta["blocks"]]
        self.dim = self.blocks[-1].end
        self._freq = [np.asarray(f) for f in meta["freq"]]
        widths = [self.blocks[j].width for j in self.discrete_columns]
        self._offsets = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(int)
        cfg = self.config
        self.generator = _generator(cfg.noise_dim + self.cond_dim, cfg.hidden, self.dim)
        try:
            self.generator.load_state_dict(weights)
        except RuntimeError as e:
            raise RunError(f"{path}: weights do not fit the net ({str(e).splitlines()[0]})") from None
        self.generator.eval()
        return self


# --- the task the shared trainer walks ----------------------------------------------------------
# The trainer walks two phases per step: the packed critic D learns to tell conditioned real rows
# from G's rows (WGAN-GP), then G learns to fool D and to produce the value its condition asks for.
# The batch source is RowSampler, CTGAN's training-by-sampling: each batch row carries a condition
# (one value of one discrete column, drawn by log-frequency) and a real row that holds that value.

class RowSampler:
    """Batches [B, dim + cond_dim] = real rows next to the condition each one satisfies."""

    world = 1   # one process

    def __init__(self, gan: TableGAN, x: torch.Tensor, batch_size: int,
                 rng: np.random.Generator):
        self.gan, self.x, self.batch_size, self.rng = gan, x, batch_size, rng

    def next(self) -> torch.Tensor:
        cond, cols, vals = self.gan._sample_cond(self.batch_size, self.rng, training=True)
        rows = self.x[torch.from_numpy(self.gan._real_rows(cols, vals, self.rng))]
        return torch.cat([rows, torch.from_numpy(cond)], 1)

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return {}, {"rng": self.rng.bit_generator.state}

    def load(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self.rng.bit_generator.state = meta["rng"]


class TableGANTask:
    """Named nets {"G", "D"}, Adam optimizers (CTGAN's betas) and the D, G phases."""

    def __init__(self, gan: TableGAN, rng: np.random.Generator):
        cfg = gan.config
        self.gan, self.rng = gan, rng
        self.nets: dict[str, nn.Module] = {"G": gan.generator, "D": gan.critic}
        self.optimizers = {
            "G": torch.optim.Adam(gan.generator.parameters(), cfg.lr, betas=(0.5, 0.9),
                                  weight_decay=1e-6),
            "D": torch.optim.Adam(gan.critic.parameters(), cfg.lr_d or cfg.lr, betas=(0.5, 0.9))}
        self.generators = {"noise": torch.Generator().manual_seed(cfg.seed)}
        self.phases = [Phase("D", ("D",), self.d_loss), Phase("G", ("G",), self.g_loss)]

    def fake(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(G's rows after activation [B, dim], its logits [B, dim]) for conditions [B, cond]."""
        gen = self.generators["noise"]
        z = torch.randn(cond.shape[0], self.gan.config.noise_dim, generator=gen)
        logits = self.gan.generator(torch.cat([z, cond], 1))
        return self.gan._activate(logits, gen), logits

    def d_loss(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Wasserstein critic loss on packs of rows + gradient penalty on packed mixtures."""
        gan = self.gan
        real, cond = batch[:, :gan.dim], batch[:, gan.dim:]
        with torch.no_grad():
            fake, _ = self.fake(cond)
        real_p, fake_p = gan._pack(real, cond), gan._pack(fake, cond)
        gp = gradient_penalty(gan.critic, real_p, fake_p, self.generators["noise"])
        w = gan.critic(real_p).mean() - gan.critic(fake_p).mean()
        return -w + gan.config.gp_weight * gp, {"wasserstein": w.detach(), "gp": gp.detach()}

    def g_loss(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Fool the critic, and produce the asked value (cross-entropy) for fresh conditions."""
        gan = self.gan
        cond, cols, vals = gan._sample_cond(batch.shape[0], self.rng, training=True)
        c = torch.from_numpy(cond)
        fake, logits = self.fake(c)
        adv = -gan.critic(gan._pack(fake, c)).mean()
        cond_loss = gan._cond_loss(logits, cols, vals)
        return adv + cond_loss, {"g_adv": adv.detach(), "g_cond": cond_loss.detach()}

    def end_step(self, step: int, nimg: int) -> None:
        pass


class _History(Callback):
    """Trainer callback that keeps the log records (losses averaged over `log_every` steps)."""

    def __init__(self) -> None:
        self.records: list[dict[str, float]] = []

    def on_log(self, trainer: Any, record: dict[str, float]) -> None:
        self.records.append(record)


def check_save_dir(path: Path, overwrite: bool = False) -> None:
    """Where a TableGAN may be saved: a new or empty directory, or with `overwrite` one that holds
    an earlier TableGAN save; never a gankit run or any other folder of files."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--save {path} is a file, not a directory; refusing to touch it")
    if not path.is_dir() or not any(path.iterdir()):
        return
    if (path / "config.json").exists():
        raise ConfigError(f"--save {path} is a gankit run; save the TableGAN somewhere else")
    if not (path / "table.json").exists():
        raise ConfigError(f"--save {path} is not empty and holds no saved TableGAN; refusing to "
                          f"write into it")
    if not overwrite:
        raise ConfigError(f"--save {path} already holds a saved TableGAN; pass --overwrite to "
                          f"replace it")
