"""GAIN imputation (Yoon, Jordon & van der Schaar, 2018) as a scikit-learn transformer.

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

from ..data.tabular import NUMERIC, TableEncoder


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
    """

    def __init__(self, iterations: int = 3000, batch_size: int = 128, hint_rate: float = 0.9,
                 alpha: float = 100.0, hidden: Optional[int] = None, learning_rate: float = 1e-3,
                 random_state: Optional[int] = None, verbose: bool = False):
        self.iterations = iterations
        self.batch_size = batch_size
        self.hint_rate = hint_rate
        self.alpha = alpha
        self.hidden = hidden
        self.learning_rate = learning_rate
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
        df = self._frame(X, fit=True)
        if not df.columns.empty and not self._pandas_in:
            df = self._keep_all_missing(df)
        self.encoder_ = TableEncoder.fit(df)
        self._layout = _Layout(self.encoder_)
        x = self.encoder_.encode(df)                                     # [N, D], NaN = missing
        m = ~self.encoder_.missing_mask(df)                              # [N, F] observed
        gen = torch.Generator().manual_seed(self._seed())
        hidden = self.hidden or max(self.encoder_.dim, 16)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self._seed())
            d_in = self.encoder_.dim + len(self.encoder_.columns)
            self.generator_ = _mlp(d_in, hidden, self.encoder_.dim)
            self.discriminator_ = _mlp(d_in, hidden, len(self.encoder_.columns))
        self.losses_ = self._train(torch.from_numpy(np.nan_to_num(x)).float(),
                                   torch.from_numpy(m).float(), gen)
        return self

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

    def _train(self, x: torch.Tensor, m: torch.Tensor, gen: torch.Generator) -> list[float]:
        """x [N, D] in [0, 1] with 0 at missing cells; m [N, F] 1 = observed."""
        lay = self._layout
        opt_g = torch.optim.Adam(self.generator_.parameters(), lr=self.learning_rate)
        opt_d = torch.optim.Adam(self.discriminator_.parameters(), lr=self.learning_rate)
        bce = nn.functional.binary_cross_entropy_with_logits
        n, b = x.shape[0], min(self.batch_size, x.shape[0])
        bar = _progress(self.iterations, self.verbose)
        losses = []
        for _ in range(self.iterations):
            idx = torch.randint(0, n, (b,), generator=gen)
            xb, mb = x[idx], m[idx]
            reveal = (torch.rand(mb.shape, generator=gen) < self.hint_rate).float()
            hint = reveal * mb + 0.5 * (1 - reveal)                      # [B, F]
            open_ = 1 - reveal                                           # cells D is scored on
            g, g_raw = self._complete(xb, mb, gen, grad=True)            # [B, D]
            d_logit = self.discriminator_(torch.cat([g.detach(), hint], 1))
            d_loss = (bce(d_logit, mb, reduction="none") * open_).sum() / open_.sum().clamp(min=1)
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            d_logit = self.discriminator_(torch.cat([g, hint], 1))
            fooled = (bce(d_logit, torch.ones_like(mb), reduction="none") * open_ * (1 - mb))
            adv = fooled.sum() / (open_ * (1 - mb)).sum().clamp(min=1)
            rec = (lay.recon(xb, g_raw) * mb).sum() / mb.sum().clamp(min=1)
            g_loss = adv + self.alpha * rec
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            losses.append(rec.item())
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        return losses

    def _complete(self, x: torch.Tensor, m: torch.Tensor, gen: torch.Generator,
                  grad: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(completed rows: observed cells kept, G's raw proposal), both [B, D]."""
        m_dim = m[:, self._layout.col_of_dim]                            # [B, D]
        z = torch.rand(x.shape, generator=gen) * 0.01
        x_tilde = m_dim * x + (1 - m_dim) * z
        with torch.set_grad_enabled(grad):
            g = self._layout.activate(self.generator_(torch.cat([x_tilde, m], 1)))
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
        with torch.no_grad():
            done, _ = self._complete(torch.from_numpy(np.nan_to_num(x)).float(),
                                     torch.from_numpy(m).float(), gen)
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


def _progress(total: int, verbose: bool) -> Any:
    if not verbose:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, unit="it", desc="GAIN", leave=False)
