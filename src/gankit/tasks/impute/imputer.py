"""GAIN imputation (Yoon, Jordon & van der Schaar, 2018): a scikit-learn transformer
(`GAINImputer`, in memory) and a task (`--task impute`, `GAINRun`: a run directory with
checkpoints and exact resume), which train the same GAINTask the same way.

The generator G sees a row with its missing cells replaced by small noise, plus the mask, and
proposes every cell. The discriminator D sees the completed row plus a *hint* (the true mask for a
random `hint_rate` share of the cells, 0.5 for the rest) and guesses, per column, whether a cell
was observed. D is only scored on the cells the hint leaves
open, which is what makes the optimum G reproduce the data distribution (Theorem 2 of the paper).
G also reconstructs the observed cells (weighted by `alpha`), the term that makes GAIN work at all
on small tables.

Numeric columns are min-max scaled (sigmoid outputs); categorical columns of a DataFrame are one-hot
(softmax outputs, cross-entropy reconstruction). NumPy input must be numeric.
"""
from __future__ import annotations

import copy
import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Optional, Union

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from ..config import DEFAULT_STEPS, RunConfig, TaskOptions, option, require_options
from ..data.tabular import NUMERIC, TableEncoder
from ..data.training import USER_DATA, dataset_name
from ..errors import ConfigError, DataError, RunError
from ..run import Run, RunFacade, RunHooks
from ..tasks import new_config
from ..train import callbacks as cb
from ..train.state import load_task_state, task_state
from .synth import PREVIEW_ROWS, RowsPreview, read_table, reference_table
from ..train.trainer import Callback, Phase, Trainer


class ParameterError(ConfigError, ValueError):
    """A GAINImputer parameter is out of range (a ValueError too, as scikit-learn expects)."""


def _mlp(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, d_out))


class _Layout:
    """Where columns sit in the encoded matrix: numeric dims and categorical blocks."""

    def __init__(self, enc: TableEncoder):
        self.n_cols, self.dim = len(enc.columns), enc.dim
        col_of_dim = []
        self.cat: list[slice] = []
        for j, (spec, sl) in enumerate(zip(enc.columns, enc.slices())):
            col_of_dim += [j] * spec.width
            if spec.kind != NUMERIC:
                self.cat.append(sl)
        self.col_of_dim = torch.tensor(col_of_dim)                       # [D]
        self.num_cols = torch.tensor([j for j, s in enumerate(enc.columns) if s.kind == NUMERIC])
        self.num_dims = torch.tensor([sl.start for s, sl in zip(enc.columns, enc.slices())
                                      if s.kind == NUMERIC])

    def activate(self, logits: torch.Tensor) -> torch.Tensor:
        """[B, D] logits -> sigmoid for numeric dims, softmax within each categorical block."""
        out = torch.sigmoid(logits)
        if self.cat:
            out = out.clone()     # sigmoid's backward needs its own output intact
            for sl in self.cat:
                out[:, sl] = torch.softmax(logits[:, sl], dim=1)
        return out

    def recon(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Per-cell reconstruction error [B, n_cols]: squared error / cross-entropy."""
        err = x.new_zeros(x.shape[0], self.n_cols)
        if len(self.num_cols):
            err[:, self.num_cols] = (x[:, self.num_dims] - g[:, self.num_dims]) ** 2
        for sl in self.cat:
            j = int(self.col_of_dim[sl.start])
            err[:, j] = -(x[:, sl] * torch.log(g[:, sl] + 1e-8)).sum(1)
        return err


class GAINImputer(TransformerMixin, BaseEstimator):
    """Impute missing cells with GAIN. NaN (or pandas NA) marks a missing cell.

    fit(X) trains G and D on X's observed cells; transform(X) fills X's missing cells and leaves
    every observed cell as it was. X: ndarray [N, F] (numeric) or DataFrame (categoricals too);
    transform returns the same kind. Deterministic for a fixed `random_state`.

    Beyond the paper (each can be switched off; docs/tables.md shows what each is worth):
    - `hide_rate`: each batch hides that share of its observed cells from G's input too, so the
      reconstruction term is scored on cells G had to predict, not copy (0 = the paper's GAIN);
    - `validation_fraction`: that share of observed cells is held out of training; every
      `eval_every` iterations G's error on them is measured, the best G is kept, and training
      stops after `patience` iterations without improvement (0 = train all `iterations`).

    Defaults (hidden 128, hide_rate 0.2, validation_fraction 0.1) were picked by one sweep over
    breast_cancer, wine, diabetes and iris at 20% and 50% MCAR, not per table (see docs/tables.md).
    """

    def __init__(self, iterations: int = 3000, batch_size: int = 128, hint_rate: float = 0.9,
                 alpha: float = 100.0, hidden: Optional[int] = None, learning_rate: float = 1e-3,
                 hide_rate: float = 0.2, validation_fraction: float = 0.1, patience: int = 1000,
                 eval_every: int = 50, weight_decay: float = 0.0,
                 random_state: Optional[int] = None, verbose: bool = False):
        self.iterations = iterations
        self.batch_size = batch_size
        self.hint_rate = hint_rate
        self.alpha = alpha
        self.hidden = hidden
        self.learning_rate = learning_rate
        self.hide_rate = hide_rate
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.eval_every = eval_every
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.verbose = verbose
    # -- input handling ------------------------------------------------------------------------

    def _frame(self, X: Any, fit: bool) -> pd.DataFrame:
        """Validate X and return it as a DataFrame (NumPy input: columns 0..F-1, floats)."""
        if isinstance(X, pd.DataFrame):
            if fit:
                self.n_features_in_ = X.shape[1]
                self.feature_names_in_ = np.asarray(X.columns, dtype=object)
                self._pandas_in = True
            elif X.shape[1] != self.n_features_in_:
                raise ValueError(f"X has {X.shape[1]} features, but GAINImputer is expecting "
                                 f"{self.n_features_in_} features as input")
            return X
        arr = validate_data(self, X, reset=fit, dtype=np.float64, ensure_all_finite="allow-nan")
        if fit:
            self._pandas_in = False
        return pd.DataFrame(arr)

    def __sklearn_tags__(self):  # noqa: ANN204
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # -- training -------------------------------------------------------------------------------

    def fit(self, X: Any, y: Any = None) -> "GAINImputer":
        """Train on X [N, F]; y is ignored."""
        x, _, m, held, gen = self.prepare(X)
        self.losses_, self.validation_scores_ = self._train(x, m, held, gen)
        return self

    def prepare(self, X: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor,
                                       torch.Generator]:
        """Fit the encoder to X, build G and D from the seed and draw the validation cells:
        (x [N, D] in [0, 1], observed [N, F], observed and trained on [N, F], held out [N, F],
        the generator training goes on with)."""
        self._check_params()
        df = self._frame(X, fit=True)
        if not df.columns.empty and not self._pandas_in:
            df = self._keep_all_missing(df)
        self.encoder_ = TableEncoder.fit(df)
        x, m = self.encode(df)
        gen = torch.Generator().manual_seed(self._seed())
        self.build_nets()
        held = self._held_out(m, gen)                                    # [N, F] validation cells
        return x, m, m * (1 - held), held, gen

    def encode(self, df: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
        """(cells [N, D] in [0, 1] with 0 where missing, observed [N, F]) under the encoder."""
        x = torch.from_numpy(np.nan_to_num(self.encoder_.encode(df))).float()
        return x, torch.from_numpy(~self.encoder_.missing_mask(df)).float()

    def build_nets(self) -> None:
        """The layout and fresh G and D for the fitted encoder, drawn from the seed (torch's own
        stream is left as it was)."""
        self.layout_ = _Layout(self.encoder_)
        hidden = self.hidden or max(self.encoder_.dim, 128)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self._seed())
            d_in = self.encoder_.dim + len(self.encoder_.columns)
            self.generator_ = _mlp(d_in, hidden, self.encoder_.dim)
            self.discriminator_ = _mlp(d_in, hidden, len(self.encoder_.columns))

    def _check_params(self) -> None:
        rates = {"hint_rate": self.hint_rate, "hide_rate": self.hide_rate,
                 "validation_fraction": self.validation_fraction}
        for name, v in rates.items():
            if not 0 <= v < 1 and not (name == "hint_rate" and v == 1):
                raise ParameterError(f"{name} must be in [0, 1), got {v!r}")
        counts = {"iterations": self.iterations, "batch_size": self.batch_size,
                  "eval_every": self.eval_every}
        for name, v in counts.items():
            if int(v) != v or v < 1:
                raise ParameterError(f"{name} must be a positive integer, got {v!r}")

    def _held_out(self, m: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """[N, F] 1 for the observed cells kept out of training to score G (none if disabled)."""
        if not self.validation_fraction:
            return torch.zeros_like(m)
        held = (torch.rand(m.shape, generator=gen) < self.validation_fraction).float() * m
        # never hold out a row's last observed cell: G would then see nothing of that row
        return held * ((m - held).sum(1, keepdim=True) > 0).float()

    def _keep_all_missing(self, df: pd.DataFrame) -> pd.DataFrame:
        """NumPy columns with no observed value get a 0 placeholder so fit does not fail (like
        sklearn's imputers with keep_empty_features, they are then imputed with 0)."""
        empty = df.columns[df.isna().all()]
        self._empty_cols = list(empty)
        return df.fillna({c: 0.0 for c in empty}) if len(empty) else df

    def _seed(self) -> int:
        rs = self.random_state
        if isinstance(rs, np.random.RandomState):
            return int(rs.randint(2**31 - 1))
        return 0 if rs is None else int(rs)

    def _train(self, x: torch.Tensor, m: torch.Tensor, held: torch.Tensor, gen: torch.Generator
               ) -> tuple[list[float], list[tuple[int, float]]]:
        """x [N, D] in [0, 1]; m [N, F] 1 = observed and trained on; held [N, F] validation cells.
        The shared trainer walks GAINTask's two phases for `iterations` steps.

        Returns the reconstruction loss per iteration and (iteration, validation error) pairs; G
        ends as the best validated G when there are validation cells."""
        task = GAINTask(self, x, m, held, gen)
        callbacks: list[Callback] = [task.keep] if task.keep is not None else []
        if self.verbose:
            from ..train.callbacks import Progress
            callbacks.append(Progress(self.iterations, None))
        Trainer(task, task.rows(), callbacks, log_every=self.iterations).fit(self.iterations)
        keep = task.keep
        if keep is not None and keep.found:
            self.generator_.load_state_dict(keep.best_net.state_dict())
            self.best_iteration_ = keep.best_it
        return task.losses, keep.scores if keep is not None else []

    @torch.no_grad()
    def validate(self, x: torch.Tensor, m: torch.Tensor, held: torch.Tensor,
                  gen: torch.Generator) -> float:
        """G's mean error (squared error / cross-entropy) on the held-out cells, seen as missing."""
        g = self.complete(x, m, gen)[1]
        return float((self.layout_.recon(x, g) * held).sum() / held.sum())

    def complete(self, x: torch.Tensor, m: torch.Tensor, gen: torch.Generator,
                  grad: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(completed rows: observed cells kept, G's raw proposal), both [B, D]."""
        m_dim = m[:, self.layout_.col_of_dim]                            # [B, D]
        z = torch.rand(x.shape, generator=gen) * 0.01
        x_tilde = m_dim * x + (1 - m_dim) * z
        with torch.set_grad_enabled(grad):
            g = self.layout_.activate(self.generator_(torch.cat([x_tilde, m], 1)))
        return m_dim * x + (1 - m_dim) * g, g

    # -- imputation ----------------------------------------------------------------------------

    def transform(self, X: Any) -> Any:
        """Fill X's missing cells; observed cells are returned unchanged. Same kind as X."""
        check_is_fitted(self, "encoder_")
        as_frame = isinstance(X, pd.DataFrame) and self._pandas_in
        if as_frame:
            df = self._frame(X, fit=False)
        else:   # fitted on an array: any input is read as a numeric array
            df = pd.DataFrame(validate_data(self, X, reset=False, dtype=np.float64,
                                            ensure_all_finite="allow-nan"))
            df = df.fillna({c: 0.0 for c in self._empty_cols})
        x = self.encoder_.encode(df)
        m = ~self.encoder_.missing_mask(df)
        gen = torch.Generator().manual_seed(self._seed() + 1)
        x, m = torch.from_numpy(np.nan_to_num(x)).float(), torch.from_numpy(m).float()
        with torch.no_grad():
            m_dim = m[:, self.layout_.col_of_dim]
            done = m_dim * x + (1 - m_dim) * self.complete(x, m, gen)[1]  # [N, D]
        filled = self.encoder_.decode(done.double().numpy(), index=df.index)
        missing = df.isna()
        if not missing.to_numpy().any():
            return df.copy() if as_frame else df.to_numpy(dtype=np.float64)
        out = df.copy()
        for name in df.columns[missing.any().to_numpy()]:
            # only the missing cells change; the column's dtype stays (filled may widen ints)
            out[name] = df[name].where(~missing[name], filled[name])
        return out if as_frame else out.to_numpy(dtype=np.float64)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "encoder_")
        if hasattr(self, "feature_names_in_"):
            return np.asarray(self.feature_names_in_, dtype=object)
        return np.asarray([f"x{i}" for i in range(self.n_features_in_)], dtype=object)


# --- the task the shared trainer walks ------------------------------------------------------------

class RowIndices:
    """The trainer's batches: `batch_size` row indices drawn uniformly, with replacement, from
    the imputer's generator (the stream the rest of a step draws from too)."""

    world = 1

    def __init__(self, n: int, batch_size: int, gen: torch.Generator):
        self.n, self.batch_size, self.gen = n, batch_size, gen

    def __len__(self) -> int:
        return self.n

    def next(self) -> torch.Tensor:
        return torch.randint(0, self.n, (self.batch_size,), generator=self.gen)

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return {}, {}   # its generator is the task's

    def load(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        pass


class GAINTask:
    """GAIN's G and D and their two phases on a batch of rows: D learns which cells were
    observed (scored on the cells the hint leaves open); then G, on the same completed rows,
    learns to fool D on the cells it filled and to reconstruct every observed cell.

    With validation cells (`held`), `keep` (a KeepBestG, one of the fit's callbacks) keeps the
    best G so far as the net "G_best"; it and its scores are part of the task's state, so a
    resumed run keeps the same best G and patience."""

    def __init__(self, imp: GAINImputer, x: torch.Tensor, m: torch.Tensor, held: torch.Tensor,
                 gen: torch.Generator, validated: Optional[bool] = None):
        self.imp, self.x, self.m = imp, x, m
        self.nets: dict[str, nn.Module] = {"G": imp.generator_, "D": imp.discriminator_}
        self.optimizers = {name: torch.optim.Adam(net.parameters(), lr=imp.learning_rate,
                                                  weight_decay=imp.weight_decay)
                           for name, net in self.nets.items()}
        if validated is None:   # G is scored when there are cells to score it on
            validated = bool(held.sum() > 0)
        self.keep = KeepBestG(imp, x, m, held, gen) if validated else None
        if self.keep is not None:
            self.nets["G_best"] = self.keep.best_net
        self.generators = {"gain": gen}
        # D's phase also runs G (with gradients), whose output G's phase then scores
        self.phases = [Phase("D", ("D",), self.d_loss, grad=("D", "G")),
                       Phase("G", ("G",), self.g_loss)]
        self.losses: list[float] = []   # the reconstruction loss of each step
        self._batch: Any = None

    def d_loss(self, idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        imp, gen = self.imp, self.generators["gain"]
        xb, mb = self.x[idx], self.m[idx]
        shown = mb * (torch.rand(mb.shape, generator=gen) >= imp.hide_rate).float()   # G's input
        reveal = (torch.rand(mb.shape, generator=gen) < imp.hint_rate).float()
        hint = reveal * shown + 0.5 * (1 - reveal)                       # [B, F]
        open_ = 1 - reveal                                               # cells D is scored on
        g, g_raw = imp.complete(xb, shown, gen, grad=True)               # [B, D]
        self._batch = (xb, mb, shown, hint, open_, g, g_raw)
        d_logit = imp.discriminator_(torch.cat([g.detach(), hint], 1))
        d_loss = (_BCE(d_logit, shown, reduction="none") * open_).sum() / open_.sum().clamp(min=1)
        # not named d_loss: D's hint game is not an image GAN's, and the health checks that read
        # d_loss (D winning outright) do not apply to it
        return d_loss, {"d_bce": d_loss.detach()}

    def g_loss(self, idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        imp = self.imp
        xb, mb, shown, hint, open_, g, g_raw = self._batch
        self._batch = None
        d_logit = imp.discriminator_(torch.cat([g, hint], 1))
        fooled = (_BCE(d_logit, torch.ones_like(mb), reduction="none") * open_ * (1 - shown))
        adv = fooled.sum() / (open_ * (1 - shown)).sum().clamp(min=1)
        # reconstruction over every observed cell, the hidden ones included
        rec = (imp.layout_.recon(xb, g_raw) * mb).sum() / mb.sum().clamp(min=1)
        self.losses.append(rec.item())
        return adv + imp.alpha * rec, {"g_adv": adv.detach(), "recon": rec.detach()}

    def end_step(self, step: int, nimg: int) -> None:
        pass

    def rows(self) -> "RowIndices":
        """The trainer's batch source: row indices from the task's generator."""
        return RowIndices(self.x.shape[0], min(self.imp.batch_size, self.x.shape[0]),
                          self.generators["gain"])

    def imputing_net(self) -> nn.Module:
        """The G that fills tables: the best validated G, else the latest."""
        keep = self.keep
        return keep.best_net if keep is not None and keep.found else self.imp.generator_

    def state(self) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
        tensors, meta = task_state(self)
        if self.keep is not None:
            meta["keep_best"] = self.keep.state()
        return tensors, meta

    def load(self, tensors: dict, meta: dict, weights_only: bool = False) -> None:
        load_task_state(self, tensors, meta, weights_only)
        if self.keep is not None:
            self.keep.load(meta.get("keep_best"))


class KeepBestG(Callback):
    """Every `eval_every` steps (and at the last), G's error on the held-out cells: the best G is
    kept (in `best_net`), and training stops after `patience` steps without improvement."""

    def __init__(self, imp: GAINImputer, x: torch.Tensor, m: torch.Tensor, held: torch.Tensor,
                 gen: torch.Generator):
        self.imp, self.x, self.m, self.held, self.gen = imp, x, m, held, gen
        self.scores: list[tuple[int, float]] = []
        self.best = float("inf")
        self.best_net = copy.deepcopy(imp.generator_)
        self.best_it = self.last_best_it = 0   # first and latest step that scored `best`

    @property
    def found(self) -> bool:
        """Whether a validation has run (best_net then holds the best G)."""
        return self.best < float("inf")

    def state(self) -> dict[str, Any]:
        return {"best": self.best if self.found else None, "best_it": self.best_it,
                "last_best_it": self.last_best_it, "scores": [list(p) for p in self.scores]}

    def load(self, meta: Optional[dict[str, Any]]) -> None:
        if not isinstance(meta, dict):
            raise RunError("the checkpoint's state.json lacks GAIN's validation state "
                           "(keep_best): the run is incomplete or was damaged")
        self.best = float("inf") if meta["best"] is None else float(meta["best"])
        self.best_it, self.last_best_it = int(meta["best_it"]), int(meta["last_best_it"])
        self.scores = [(int(it), float(v)) for it, v in meta["scores"]]

    def on_step(self, trainer: Trainer) -> None:
        it, imp = trainer.step, self.imp
        if it % imp.eval_every and it != imp.iterations:
            return
        score = imp.validate(self.x, self.m, self.held, self.gen)
        self.scores.append((it, score))
        trainer.log_extra({"held_out_error": score})   # a run's metrics.jsonl and curves
        if score < self.best:
            self.best = score
            self.best_net.load_state_dict(imp.generator_.state_dict())
            self.best_it = self.last_best_it = it
            return
        if score == self.best:
            self.last_best_it = it
        if it - self.last_best_it >= imp.patience:
            trainer.stop_reason = f"no better validation error for {imp.patience} steps"


_BCE = nn.functional.binary_cross_entropy_with_logits


# --- the task: GAIN as a run --------------------------------------------------------------------

TASK = "impute"
NET = "gain"


@dataclass(frozen=True)
class ImputeOptions(TaskOptions):
    """The impute task's own options (`gankit train --task impute --help` lists them)."""

    # GAIN's own nets, losses and Adam (PyTorch's betas); its validation is its own (every
    # --validate-every steps, --patience in steps), not the shared --eval-every.
    UNUSED: ClassVar[frozenset[str]] = frozenset({
        "resolution", "channels", "z_dim", "d_norm", "conditional", "cond", "plugins", "loss",
        "n_critic", "gp_weight", "r1_gamma", "r2_gamma", "r1_every", "augment", "lr_d", "beta1",
        "beta2", "ema_halflife", "lr_decay", "eval_every", "eval_metrics", "eval_num",
        "early_stop_patience", "stop_on_divergence", "precision", "compile", "memory_format"})
    hint_rate: float = option(0.9, "share of cells whose observed/missing state D is told (the "
                              "hint); D is scored on the rest", low=0.0, high=1.0)
    alpha: float = option(100.0, "weight of G's reconstruction of the observed cells", low=0.0)
    hide_rate: float = option(0.2, "share of a batch's observed cells also hidden from G, so that "
                              "reconstruction scores cells G had to predict (0: the paper's GAIN)",
                              low=0.0, below=1.0)
    validation_fraction: float = option(0.1, "share of observed cells held out of training to "
                                        "score G; the best G is kept (0: none, train every step)",
                                        low=0.0, below=1.0)
    validate_every: int = option(50, "score G on the held-out cells every N steps", low=1)
    patience: int = option(1000, "stop after this many steps without a better held-out score",
                           low=1)
    weight_decay: float = option(0.0, "Adam weight decay of G and D", low=0.0)

    @classmethod
    def defaults(cls, given: dict[str, Any]) -> dict[str, Any]:
        """GAINImputer's defaults: 3,000 steps of 128 rows, Adam 1e-3, nets as wide as the
        encoded row but at least 128 (width None)."""
        return {"model": NET, "steps": DEFAULT_STEPS, "batch_size": 128, "lr": 1e-3}


OPTIONS = {TASK: ImputeOptions}


def imputer_for(cfg: RunConfig) -> GAINImputer:
    """The GAINImputer whose settings are the run's (its nets and training are the run's)."""
    o, t = cfg.options, cfg.train
    return GAINImputer(iterations=DEFAULT_STEPS if t.steps is None else t.steps,
                       batch_size=t.batch_size,
                       hint_rate=o.hint_rate, alpha=o.alpha, hidden=cfg.model.width,
                       learning_rate=t.lr, hide_rate=o.hide_rate,
                       validation_fraction=o.validation_fraction, patience=o.patience,
                       eval_every=o.validate_every, weight_decay=o.weight_decay,
                       random_state=t.seed)


class GAINRun(RunFacade):
    """GAIN imputation as a run:

        imp = GAINRun("people.csv").fit()          # a run directory under runs/
        filled = imp.transform(df)                   # missing cells filled, the rest unchanged
        gankit.load_run(imp.run_dir).transform(new_rows)

    `data`: a CSV file or a DataFrame with missing cells. Options are the config fields (`steps`,
    `batch_size`, `lr`, `width`, `seed`, `hint_rate`, `alpha`, `hide_rate`,
    `validation_fraction`, `validate_every`, `patience`, `weight_decay`); the defaults are
    GAINImputer's, and for a seed the imputations are the ones GAINImputer(random_state=seed)
    gives. (`run=`, `imputer=`: a run already built and its imputer, as load_run makes them.)"""

    def __init__(self, data: Any = None, *, out: Union[str, Path, None] = None,
                 config: Optional[RunConfig] = None, run: Optional[Run] = None,
                 imputer: Optional[GAINImputer] = None, **options: Any):
        if run is not None:
            self._attach(run, imputer)
            return
        df = read_table(data)
        if config is None:
            config = new_config(TASK, dataset=dataset_name(data), **options)
        require_impute(config)
        cfg = config.replace(task=TASK, data=dataclasses.replace(config.data,
                                                                 dataset=dataset_name(data)))
        imp = imputer_for(cfg)
        prepared = prepare_data(imp, df)
        cfg = cfg.replace(data_shape=(imp.encoder_.dim,), num_classes=0)
        self._attach(gain_run(cfg, imp, prepared, out=out), imp)
        self.table = df
        self.run.data, self.run.data_note = prepared[0], describe(df)
        print(self.run.data_note, file=sys.stderr)

    def _attach(self, run: Run, imputer: GAINImputer) -> None:
        self.run, self.imputer = run, imputer
        self.table: Optional[pd.DataFrame] = None   # the table it trains on, when loaded
        run.hooks = RunHooks(sampler=self._sampler, callbacks=self._callbacks,
                             files=lambda: {"table.json": layout_json(imputer, self.task)})

    def _sampler(self) -> RowIndices:
        if self.run.data is None:
            raise DataError(f"this run's table could not be loaded from "
                            f"{self.config.data.dataset}")
        return self.task.rows()

    def _callbacks(self, total: int, max_time: Optional[float], progress: Optional[bool]
                   ) -> list:
        self.imputer.iterations = total   # G is also scored at the fit's last step
        preview = RowsPreview(self.run_dir / "samples", self.config.train.sample_every,
                              self.preview_rows)
        guard = cb.HealthGuard(None, None, NET, stop_on_divergence=False,
                               past=cb.read_metrics(self.run_dir))
        out = self.run.standard_callbacks(total, max_time, progress, preview, dict, guard=guard,
                                          title=f"GAIN on {Path(self.config.data.dataset).name}")
        if self.task.keep is not None:   # scored before a checkpoint saves the step
            out.insert(out.index(preview), self.task.keep)
        return out

    def fit(self, steps: Optional[int] = None, epochs: Optional[float] = None,
            max_time: Optional[float] = None, *, until: Optional[int] = None,
            progress: Optional[bool] = None) -> "GAINRun":
        """Train for `steps` more steps, `epochs` more passes or `max_time` seconds (`until`: an
        absolute step); with none given, to the run's --steps (default 3,000)."""
        if steps is None and epochs is None and max_time is None and until is None:
            length = self.config.train.steps
            until = DEFAULT_STEPS if length is None else length
        self.run.fit(steps, epochs, max_time, until=until, progress=progress)
        return self

    # --- use -----------------------------------------------------------------------------------
    def transform(self, X: Any) -> Any:
        """X with its missing cells filled by the best validated G (else the latest); observed
        cells unchanged; the same kind as X (a DataFrame, or an array of a numeric table)."""
        return self.imputing().transform(X)

    def imputing(self) -> GAINImputer:
        """The imputer with the G that fills tables (see GAINTask.imputing_net)."""
        view = copy.copy(self.imputer)
        view.generator_ = self.task.imputing_net()
        return view

    def preview_rows(self) -> Optional[pd.DataFrame]:
        """The table's first PREVIEW_ROWS rows with missing cells, filled by the current G (what
        samples/step-*.csv show); None for a complete table or none loaded."""
        df = self.table
        rows = None if df is None else df[df.isna().any(axis=1).to_numpy()].head(PREVIEW_ROWS)
        return None if rows is None or rows.empty else self.imputer.transform(rows)

    def sample(self, *args: Any, **kwargs: Any) -> Any:
        raise ConfigError(f"an {TASK} run fills the missing cells of a table, it does not sample "
                          f"rows: use `gankit impute IN.csv --run {self.run_dir} --output "
                          f"OUT.csv` (or --task table for new rows)")

    def reference(self, data: Any = None) -> pd.DataFrame:
        """The table it trained on (or `data`, a CSV file or DataFrame with its columns)."""
        names = [str(c) for c in self.imputer.feature_names_in_]
        return reference_table(data, self.table, self.config.data.dataset, names,
                               self.run_dir)[0]

    def held_out(self, df: pd.DataFrame) -> tuple[GAINImputer, torch.Tensor, torch.Tensor,
                                                  torch.Tensor]:
        """(the imputer that fills tables, df's cells x [N, D], observed [N, F], the observed
        cells training never saw [N, F]: the validation cells, drawn again from the seed)."""
        imp = self.imputing()
        x, m = imp.encode(df)
        return imp, x, m, imp._held_out(m, torch.Generator().manual_seed(imp._seed()))

    def evaluate(self, data: Any = None) -> dict[str, float]:
        """G's error on the observed cells training never saw (see held_out): mean squared error
        of min-max-scaled numbers and cross-entropy of categories, per cell (lower is better);
        and how many cells."""
        imp, x, m, held = self.held_out(self.reference(data))
        if not held.sum():
            raise DataError("no observed cells were held out of training "
                            "(--validation-fraction 0, or a tiny table): nothing to score")
        score = imp.validate(x, m * (1 - held), held, torch.Generator().manual_seed(imp._seed()))
        return {"held_out_error": score, "held_out_cells": float(held.sum())}

    def column_errors(self, data: Any = None) -> list[tuple]:
        """Per column with held-out cells: (column, kind, held-out cells, GAIN's error, the
        error of filling with the column's mean or most frequent value), the errors in the
        column's own units: RMSE for numbers, the share of wrong categories otherwise. Both
        fill the held-out cells (hidden, with the table's missing ones) from the cells training
        saw."""
        df = self.reference(data)
        imp, _, _, held_cells = self.held_out(df)
        held = held_cells.bool().numpy()
        hidden = df.mask(held)
        filled = imp.transform(hidden)
        rows = []
        for j, spec in enumerate(imp.encoder_.columns):
            h = held[:, j]
            if not h.any():
                continue
            name = df.columns[j]
            truth, guess, seen = df[name][h], filled[name][h], hidden[name].dropna()
            if spec.kind == NUMERIC:
                t = truth.to_numpy(dtype=np.float64)
                err = float(np.sqrt(np.mean((t - guess.to_numpy(dtype=np.float64)) ** 2)))
                base = float(np.sqrt(np.mean((t - float(seen.astype(float).mean())) ** 2)))
                kind = "numeric (RMSE)"
            else:
                t = truth.astype(str).to_numpy()
                err = float(np.mean(t != guess.astype(str).to_numpy()))
                base = float(np.mean(t != str(seen.astype(str).mode().iloc[0])))
                kind = "categorical (error rate)"
            rows.append((str(name), kind, int(h.sum()), err, base))
        return rows

    def metric_results(self, num: int, seed: int = 0, split: str = "train", **_: Any) -> dict:
        """`evaluate` as MetricResults with their protocol (what `gankit eval RUN` prints)."""
        from ..metrics import task_results
        df = self.reference()   # read once, scored twice
        scores, cols = self.evaluate(df), self.column_errors(df)
        ratios = [err / base for *_, err, base in cols if base > 0]
        out = {"held_out_error": scores["held_out_error"]}
        extras = {"held_out_error": {"cells": scores["held_out_cells"]}}
        if ratios:   # below 1: GAIN fills better than each column's mean or most frequent value
            out["vs_mean_fill"] = float(np.mean(ratios))
            extras["vs_mean_fill"] = {"columns_better": sum(r < 1 for r in ratios),
                                      "columns": len(ratios)}
        cells = int(scores["held_out_cells"])
        return task_results(out, extras, extractor="held-out observed cells", n_real=cells,
                            n_fake=cells, reference=self.config.data.dataset,
                            reference_split="train", seed=self.config.train.seed)


def describe(df: pd.DataFrame) -> str:
    missing = int(df.isna().to_numpy().sum())
    return (f"{len(df):,} rows, {len(df.columns)} columns, {missing:,} missing cells "
            f"({missing / max(df.size, 1):.1%})")


def require_impute(cfg: RunConfig) -> None:
    require_options(cfg, ImputeOptions, TASK)
    if cfg.model.model != NET:
        raise ConfigError(f"--task {TASK} uses GAIN's own nets (--model {NET}), not "
                          f"{cfg.model.model}")
    if cfg.train.steps is not None and cfg.train.steps < 1:
        raise ConfigError(f"--steps (--iterations) must be at least 1, got {cfg.train.steps}")


def prepare_data(imp: GAINImputer, df: pd.DataFrame) -> tuple:
    """imp.prepare(df) for a run: ([x, observed] for the data fingerprint, x, trained-on,
    held-out, generator); a table with no rows or no observed cell is refused."""
    if not isinstance(df, pd.DataFrame) or df.empty:
        raise DataError("the table to impute has no rows")
    x, observed, m, held, gen = imp.prepare(df)
    if not observed.sum():
        raise DataError("the table has no observed cell to learn from")
    return torch.cat([x, observed], 1), x, m, held, gen


def layout_json(imp: GAINImputer, task: GAINTask) -> str:
    """table.json: the columns (what a loaded run encodes new rows with) and whether G was
    validated (a G_best net is then part of its checkpoints)."""
    import json
    return json.dumps({"format": 1, "columns": json.loads(imp.encoder_.to_json()),
                       "validated": task.keep is not None}, indent=1)


def gain_run(cfg: RunConfig, imp: GAINImputer, prepared: Optional[tuple], *,
             validated: Optional[bool] = None, out: Union[str, Path, None] = None,
             run_dir: Optional[Path] = None) -> Run:
    """The run of GAINTask on the prepared table (None: a run loaded with its weights alone)."""
    if prepared is None:
        d, f = imp.encoder_.dim, len(imp.encoder_.columns)
        x, m, held = torch.zeros(0, d), torch.zeros(0, f), torch.zeros(0, f)
        gen = torch.Generator().manual_seed(imp._seed())
    else:
        _, x, m, held, gen = prepared
    return Run.for_task(cfg, lambda device: GAINTask(imp, x, m, held, gen, validated),
                        one_process="GAIN", out=out, run_dir=run_dir)


def new_run(task: str, cfg: RunConfig, out: Optional[Path] = None) -> GAINRun:
    """A new impute run (the CLI's `gankit train --task impute`)."""
    return GAINRun(cfg.data.dataset, config=cfg, out=out)


def load_task_run(run_dir: Path, cfg: RunConfig, device: str, weights_only: bool,
                  dataset: Any = None) -> GAINRun:
    """Rebuild an impute run (see api.load_run): the columns from table.json, then G, D, the best
    G, optimizers, step, stream and validation state from the latest checkpoint; with the table
    (the CSV it recorded, or `dataset`) to go on training."""
    import json
    cfg = cfg.replace(train=dataclasses.replace(cfg.train, device=device))
    imp = imputer_for(cfg)
    try:
        meta = json.loads((Path(run_dir) / "table.json").read_text())
        imp.encoder_ = TableEncoder.from_json(json.dumps(meta["columns"]))
        validated = bool(meta["validated"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RunError(f"{run_dir}/table.json: missing or corrupt ({e})") from None
    imp.n_features_in_ = len(imp.encoder_.columns)
    imp.feature_names_in_ = np.asarray(imp.encoder_.names, dtype=object)
    imp._pandas_in, imp._empty_cols = True, []
    source = dataset if dataset is not None else cfg.data.dataset
    if weights_only or (isinstance(source, str) and source == USER_DATA):
        imp.build_nets()
        run = GAINRun(run=gain_run(cfg, imp, None, validated=validated, run_dir=run_dir),
                      imputer=imp)
        run.run.resume(True)
        return run
    df = read_table(source)
    prepared = prepare_data(imp, df)   # the encoder, nets and held-out cells, as at the start
    if imp.encoder_.dim != cfg.data_shape[0]:
        raise DataError(f"the table now encodes to rows of {imp.encoder_.dim} values, the run "
                        f"was trained on {cfg.data_shape[0]}")
    run = GAINRun(run=gain_run(cfg, imp, prepared, validated=validated, run_dir=run_dir),
                  imputer=imp)
    run.table = df

    def load_data() -> None:
        run.run.data = prepared[0]
    run.run.resume(False, load_data)
    return run
