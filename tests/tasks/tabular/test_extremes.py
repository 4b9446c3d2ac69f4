"""Numbers at the ends of the float range in a CSV: imputation and synthesis give finite values
inside each column's range, or one line; never an overflow traceback (issue 35)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import run

from gankit.tasks.impute import GAINRun
from gankit.tasks.table import TableGAN

BIG = float(np.finfo(np.float64).max)
EXTREMES = {
    "near-max": [1e308, -1e308, 5e307, -3e307],
    "max": [BIG, -BIG, 0.0, 1.0],
    "subnormal": [5e-324, 1e-310, 2e-320, 0.0],
    "huge-range": [1e300, -1e-300, 3.0, -2e299],
    "tiny-range": [1.0, 1.0 + 2.2e-16, 1.0, 1.0 + 4.4e-16],
}


def _table(path: Path, values: list[float], holes: bool) -> Path:
    n = 48
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": np.resize(values, n), "b": rng.normal(size=n),
                       "c": rng.choice(["x", "y"], n)})
    if holes:
        df.loc[::5, "a"] = np.nan
        df.loc[::7, "b"] = np.nan
    df.to_csv(path, index=False)
    return path


def _in_range(column: pd.Series, values: list[float]) -> None:
    v = column.dropna().to_numpy(dtype=np.float64)
    assert np.isfinite(v).all(), v
    assert (v >= min(values)).all() and (v <= max(values)).all(), (v.min(), v.max())


@pytest.mark.parametrize("holes", [False, True], ids=["full", "holes"])
@pytest.mark.parametrize("kind", EXTREMES)
def test_synthesis_and_imputation_stay_finite_and_in_range(tmp_path, kind, holes):
    values = EXTREMES[kind]
    csv = _table(tmp_path / "t.csv", values, holes)
    rows = TableGAN(csv, out=tmp_path / "table", batch_size=16).fit(
        steps=3, progress=False).sample(40, seed=0)
    _in_range(rows["a"], values)
    imp = GAINRun(csv, out=tmp_path / "gain", batch_size=16).fit(steps=3, progress=False)
    filled = imp.transform(pd.read_csv(csv))
    assert not filled.isna().any().any()
    _in_range(filled["a"], values)


def test_the_commands_on_a_column_near_the_float_limit(tmp_path, capsys):
    """The case as reported: +-1e308 with missing cells, through `gankit impute` and `synth`."""
    csv = _table(tmp_path / "t.csv", EXTREMES["near-max"], holes=True)
    code, _, err = run(capsys, "impute", csv, "--output", tmp_path / "f.csv", "--iterations", 20)
    assert code == 0 and "Traceback" not in err, err
    filled = pd.read_csv(tmp_path / "f.csv")
    _in_range(filled["a"], EXTREMES["near-max"])
    text = (tmp_path / "f.csv").read_text()
    assert len(max(text.split(), key=len)) < 60   # no 309-digit integers for the filled cells
    code, _, err = run(capsys, "synth", csv, "--num", 30, "--output", tmp_path / "s.csv",
                       "--epochs", 1)
    assert code == 0 and "Traceback" not in err, err
    _in_range(pd.read_csv(tmp_path / "s.csv")["a"], EXTREMES["near-max"])


@pytest.mark.parametrize("cell", ["inf", "-inf", "1e999"])
def test_an_infinite_cell_is_one_line(tmp_path, capsys, cell):
    csv = tmp_path / "t.csv"
    csv.write_text("a,b\n1.5,x\n,y\n" + f"{cell},y\n" + "2.5,x\n" * 10)
    for argv in (["impute", csv, "--output", tmp_path / "f.csv"],
                 ["synth", csv, "--num", 5, "--output", tmp_path / "s.csv"]):
        code, _, err = run(capsys, *argv)
        assert code == 2 and "infinite" in err and "Traceback" not in err, err
