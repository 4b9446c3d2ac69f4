"""Encoding tables: exact round-trips, dtypes, missing cells, and how bad CSV files are reported."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gankit.data.tabular import TableEncoder, read_csv_table
from gankit.errors import DataError, GanKitError


def test_mixed_table_round_trips_exactly(mixed):
    df = mixed(300)
    df.loc[[3, 7], "income"] = np.nan
    df.loc[[4], "city"] = np.nan
    df.loc[[5], "grade"] = np.nan
    df.loc[[6], "kids"] = pd.NA
    enc = TableEncoder.fit(df)
    x = enc.encode(df)                                       # [N, D]
    assert x.shape == (300, enc.dim)
    assert np.nanmin(x) >= 0 and np.nanmax(x) <= 1
    assert np.isnan(x[3]).sum() == 1 and np.isnan(x[4]).sum() == 3
    back = enc.decode(x)
    pd.testing.assert_frame_equal(back, df, check_exact=True)
    again = TableEncoder.from_json(enc.to_json()).decode(x)  # the JSON form loses nothing
    pd.testing.assert_frame_equal(again, df, check_exact=True)


def test_discrete_numeric_columns_become_one_hot(mixed):
    df = mixed(50)
    enc = TableEncoder.fit(df, discrete=["kids"])
    kids = enc.columns[list(df.columns).index("kids")]
    assert kids.kind == "categorical" and kids.categories == sorted(df["kids"].unique().tolist())
    pd.testing.assert_frame_equal(enc.decode(enc.encode(df)), df, check_exact=True)
    with pytest.raises(DataError, match="not in the table"):
        TableEncoder.fit(df, discrete=["nope"])


def test_unseen_category_and_empty_column_are_user_errors(mixed):
    df = mixed(50)
    enc = TableEncoder.fit(df)
    other = df.copy()
    other.loc[0, "city"] = "Oslo"
    with pytest.raises(DataError, match="'Oslo' was not seen"):
        enc.encode(other)
    df["empty"] = np.nan
    with pytest.raises(DataError, match="no values at all"):
        TableEncoder.fit(df)


@pytest.mark.parametrize("content, message", [
    (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "not a CSV file"),
    (b"", "empty"),
    (b"a,b,c\n", "empty"),
    (b"a,b\n1,\n2,\n", "no values at all: b"),
    (b"a,b\n1,2\n3,x7\n4,5\n", "column 'b' is numeric but line 3 holds 'x7'"),
    (b'a,b\n1,"2\n', "not a readable CSV"),
])
def test_bad_csv_files_raise_one_line(tmp_path, content, message):
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(GanKitError, match=message) as e:
        read_csv_table(path)
    assert "\n" not in str(e.value)


def test_text_columns_stay_categorical(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("zip,n\n69001,1\nParis,2\nNice,3\n")
    typed, raw = read_csv_table(path)
    assert raw["zip"].tolist() == ["69001", "Paris", "Nice"]
    assert typed["n"].dtype == np.int64
