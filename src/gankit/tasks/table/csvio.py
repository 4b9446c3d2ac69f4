"""Tables in and out, for the table and impute tasks alike: reading the table a run learns from
(a CSV file or a DataFrame), the real table a run is compared with, writing rows as CSV (a
sample, an imputed table: atomically), and the samples/step-*.csv previews of a run."""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Callable, Optional

import pandas as pd

from ...data.tabular import read_csv_table
from ...data.training import USER_DATA
from ...errors import DataError
from ...train import callbacks as cb
from ...train.state import atomic_write_text, step_name
from ...train.trainer import Trainer

PREVIEW_ROWS = 100   # rows in each samples/step-*.csv


class RowsPreview(cb.Every):
    """samples/step-NNNNNNN.csv: the rows `rows()` gives at that step (None: nothing to show)."""

    def __init__(self, out_dir: Path, every: int, rows: Callable[[], Optional[pd.DataFrame]]):
        super().__init__(every)
        self.out_dir, self.rows = Path(out_dir), rows
        self.out_dir.mkdir(parents=True, exist_ok=True)

    def act(self, trainer: Trainer) -> None:
        rows = self.rows()
        if rows is not None:
            write_rows(rows, self.out_dir / f"{step_name(trainer.step)}.csv")


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



def write_csv(table: pd.DataFrame, path: Path, line_end: str = "\n") -> None:
    """A table of texts as a CSV file with the given line ends (what `gankit impute` writes:
    cells as they are, no quoting beyond the csv module's), written atomically."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=line_end)
    w.writerow([str(c) for c in table.columns])
    w.writerows(table.itertuples(index=False, name=None))
    try:
        atomic_write_text(path, buf.getvalue())
    except OSError as e:
        raise DataError(f"{path}: cannot write ({e.strerror})") from None


def line_end(path: Path) -> str:
    """The line ends of a CSV file: \\r\\n if its start holds one, else \\n."""
    with open(path, "rb") as f:
        return "\r\n" if b"\r\n" in f.read(65536) else "\n"


__all__ = ["PREVIEW_ROWS", "RowsPreview", "line_end", "read_table", "reference_table",
           "write_csv", "write_rows"]
