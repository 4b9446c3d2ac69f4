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

from typing import Any, Optional

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from ...data.tabular import NUMERIC, TableEncoder
from ...errors import ConfigError
from ...train.trainer import Callback, Trainer
from .task import GAINTask


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

    def fit(self, X: Any, y: Any = None) -> GAINImputer:
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
            from ...train.callbacks import Progress
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


__all__ = ["GAINImputer", "ParameterError"]
