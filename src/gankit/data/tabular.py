"""Tables: CSV/DataFrame -> encoded numeric matrix [N, D] and back, exactly.

Numeric columns (float, int, nullable Int) are min-max scaled to [0, 1]; everything else (strings,
bools, pandas categoricals) is one-hot, one block of width = number of categories. A missing cell is
NaN in the matrix (a whole one-hot block for a categorical). `decode` inverts `encode`: names, order,
dtypes and values come back identical (floats are rounded to the decimals the column was seen with,
which undoes the rounding error of the scaling).

`read_csv_table` reads a CSV twice (typed, and as the original strings) and turns the ways a file
can be unusable into one-line `DataError`s.
"""
from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd

from ..errors import DataError

NUMERIC, CATEGORICAL = "numeric", "categorical"
_MAX_DECIMALS = 9
_FLOAT_MAX = float(np.finfo(np.float64).max)


@dataclass
class ColumnSpec:
    """How one column is encoded. `decimals`: round decoded floats to this (None: do not round)."""
    name: Hashable
    kind: str
    dtype: str
    lo: float = 0.0
    hi: float = 1.0
    decimals: Optional[int] = None
    categories: list = field(default_factory=list)

    @property
    def width(self) -> int:
        return 1 if self.kind == NUMERIC else len(self.categories)


def _plain(v: Any) -> Any:
    """NumPy scalars -> Python scalars (JSON-able, and equal to what pandas gives back)."""
    return v.item() if isinstance(v, np.generic) else v


def _decimals(values: np.ndarray) -> Optional[int]:
    """The fewest decimals that represent every value exactly, or None (e.g. random floats)."""
    with np.errstate(over="ignore"):   # rounding 1e300 to 1 decimal overflows: not that one
        for d in range(_MAX_DECIMALS + 1):
            if np.array_equal(np.round(values, d), values):
                return d
    return None


def _column_spec(name: Hashable, s: pd.Series, categorical: bool) -> ColumnSpec:
    dtype = s.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise DataError(f"column {name!r}: date/time columns are not supported; convert them to "
                        "numbers first")
    observed = s.dropna()
    if observed.empty:
        raise DataError(f"column {name!r} has no values at all (every cell is missing); drop it")
    numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    if numeric and not categorical:
        v = observed.to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(v)):
            raise DataError(f"column {name!r} holds infinite values")
        dec = 0 if pd.api.types.is_integer_dtype(dtype) else _decimals(v)
        return ColumnSpec(name, NUMERIC, str(dtype), float(v.min()), float(v.max()), dec)
    if isinstance(dtype, pd.CategoricalDtype):
        cats = list(dtype.categories)
    else:
        cats = sorted(observed.unique().tolist(), key=lambda c: (str(type(c)), c))
    return ColumnSpec(name, CATEGORICAL, str(dtype), categories=[_plain(c) for c in cats])


@dataclass
class TableEncoder:
    """DataFrame <-> float matrix [N, D] (NaN = missing). Fit once, then encode/decode any table
    with the same columns."""
    columns: list[ColumnSpec] = field(default_factory=list)

    @classmethod
    def fit(cls, df: pd.DataFrame, discrete: Sequence[Hashable] = ()) -> TableEncoder:
        """Learn column kinds, ranges and categories; `discrete` forces numeric columns to one-hot."""
        if df.shape[0] == 0 or df.shape[1] == 0:
            raise DataError("the table is empty (no rows or no columns)")
        unknown = [c for c in discrete if c not in df.columns]
        if unknown:
            raise DataError(f"discrete column(s) not in the table: {', '.join(map(str, unknown))}")
        return cls([_column_spec(c, df[c], c in set(discrete)) for c in df.columns])

    @property
    def dim(self) -> int:
        return sum(c.width for c in self.columns)

    @property
    def names(self) -> list[Hashable]:
        return [c.name for c in self.columns]

    def slices(self) -> list[slice]:
        """Where each column's block sits in the encoded matrix."""
        out, start = [], 0
        for c in self.columns:
            out.append(slice(start, start + c.width))
            start += c.width
        return out

    def check_columns(self, df: pd.DataFrame) -> None:
        if list(df.columns) != self.names:
            missing = [str(n) for n in self.names if n not in df.columns]
            extra = [str(n) for n in df.columns if n not in self.names]
            raise DataError("the table's columns differ from the fitted ones"
                            + (f"; missing: {', '.join(missing)}" if missing else "")
                            + (f"; unexpected: {', '.join(extra)}" if extra else ""))

    def encode(self, df: pd.DataFrame) -> np.ndarray:
        """[N, D] float64; numeric in [0, 1] (outside for values beyond the fitted range), one-hot
        blocks for categoricals, NaN for missing cells."""
        self.check_columns(df)
        out = np.full((len(df), self.dim), np.nan)
        for spec, sl in zip(self.columns, self.slices()):
            out[:, sl] = _encode_column(spec, df[spec.name])
        return out

    def decode(self, x: np.ndarray, index: Optional[pd.Index] = None) -> pd.DataFrame:
        """Inverse of `encode`. Categorical blocks may hold scores (argmax wins); NaN -> missing."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise DataError(f"expected an encoded matrix [N, {self.dim}], got {list(x.shape)}")
        cols = {spec.name: _decode_column(spec, x[:, sl], index)
                for spec, sl in zip(self.columns, self.slices())}
        return pd.DataFrame(cols, index=index)

    def missing_mask(self, df: pd.DataFrame) -> np.ndarray:
        """[N, n_columns] bool, True where a cell is missing."""
        return df[self.names].isna().to_numpy()

    def to_json(self) -> str:
        return json.dumps([asdict(c) for c in self.columns])

    @classmethod
    def from_json(cls, text: str) -> TableEncoder:
        return cls([ColumnSpec(**c) for c in json.loads(text)])


def _encode_column(spec: ColumnSpec, s: pd.Series) -> np.ndarray:
    missing = s.isna().to_numpy()
    if spec.kind == NUMERIC:
        try:
            v = s.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            raise DataError(f"column {spec.name!r} should be numeric but holds text") from None
        return scaled(spec, v)[:, None]
    index = {c: i for i, c in enumerate(spec.categories)}
    codes = np.full(len(s), -1)
    for row, (value, miss) in enumerate(zip(s.tolist(), missing)):
        if miss:
            continue
        code = index.get(_plain(value))
        if code is None:
            raise DataError(f"column {spec.name!r}: value {value!r} was not seen when fitting "
                            f"(known: {', '.join(map(str, spec.categories[:10]))})")
        codes[row] = code
    out = np.zeros((len(s), spec.width))
    out[np.arange(len(s))[~missing], codes[~missing]] = 1.0
    out[missing] = np.nan
    return out


def _scaling(spec: ColumnSpec) -> tuple[float, float, float]:
    """(k, scale, lo): min-max scaling of k * values, k = 1 except for a column that spans nearly
    all floats (-1e308 to 1e308, whose range overflows to inf): there k = 1/2, which is exact and
    keeps the range finite."""
    k = 1.0 if np.isfinite(spec.hi - spec.lo) else 0.5
    scale = spec.hi * k - spec.lo * k if spec.hi > spec.lo else 1.0
    return k, scale, spec.lo * k


def scaled(spec: ColumnSpec, v: np.ndarray) -> np.ndarray:
    """A numeric column's values [N] min-max scaled ([lo, hi] -> [0, 1])."""
    k, scale, lo = _scaling(spec)
    return (v * k - lo) / scale


def _decode_column(spec: ColumnSpec, block: np.ndarray, index: Optional[pd.Index]) -> pd.Series:
    missing = np.isnan(block).any(axis=1)
    dtype = pd.api.types.pandas_dtype(spec.dtype) if spec.dtype != "category" else None
    if missing.any() and dtype is not None and dtype.kind in "biu":
        # a plain int/bool column cannot hold missing cells: the nullable/object equivalent can
        dtype = np.dtype(object) if dtype.kind == "b" else pd.Int64Dtype()
    if spec.kind == NUMERIC:
        k, scale, lo = _scaling(spec)
        # a value far outside [0, 1] (a generator's) must not overflow to inf
        v = np.clip((block[:, 0] * scale + lo) / k, -_FLOAT_MAX, _FLOAT_MAX)
        if spec.decimals is not None:
            v = np.round(v, spec.decimals)
        return pd.Series(v, index=index).astype(dtype)
    codes = np.where(missing, 0, np.argmax(np.nan_to_num(block, nan=-np.inf), axis=1))
    values = [np.nan if m else spec.categories[c] for c, m in zip(codes, missing)]
    if dtype is None:
        return pd.Series(pd.Categorical(values, categories=spec.categories), index=index)
    if dtype.kind in "iu" and missing.any():
        dtype = np.dtype(np.float64)
    return pd.Series(values, index=index, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# CSV files


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _check_numeric_text(typed: pd.DataFrame) -> None:
    """A text column whose filled cells are mostly numbers holds a typo, not categories."""
    for name in typed.columns:
        s = typed[name].reset_index(drop=True)   # row positions (pandas may index by a column)
        if not (s.dtype == object or pd.api.types.is_string_dtype(s.dtype)):
            continue
        filled = s.dropna().astype(str)
        numeric = filled.map(_is_number)
        if len(filled) and numeric.mean() >= 0.5 and not numeric.all():
            row = filled.index[~numeric.to_numpy()][0]
            raise DataError(f"column {name!r} is numeric but line {row + 2} holds "
                            f"{filled[row]!r}; fix that cell or leave it empty to mark it missing")


def read_csv_table(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a CSV as (typed frame, the same cells as their original strings). Bad file -> DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    with open(path, "rb") as f:
        head = f.read(4096)
    if b"\0" in head:
        raise DataError(f"{path}: not a CSV file (it is binary)")
    try:
        typed = pd.read_csv(path)
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the table is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"{path}: not a readable CSV file ({first})") from None
    if typed.shape[0] == 0 or typed.shape[1] == 0:
        raise DataError(f"{path}: the table is empty (a header but no rows)")
    empty = [str(c) for c in typed.columns if typed[c].isna().all()]
    if empty:
        raise DataError(f"{path}: column(s) with no values at all: {', '.join(empty)}; "
                        "drop them or fill some cells")
    _check_numeric_text(typed)
    return typed, raw
