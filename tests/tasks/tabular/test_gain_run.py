"""GAIN as a run (--task impute, GAINRun): the imputations GAINImputer gives, a run directory with
exact resume, the held-out scores, and the CLI (gankit impute --save / --run, train, eval,
report)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import one_error, run
from sklearn.datasets import load_wine

import gankit
from gankit.errors import ConfigError, GanKitError, GanKitWarning
from gankit.tasks.impute import GAINImputer, GAINRun

from .conftest import knock_out


@pytest.fixture(scope="module")
def wine_csv(tmp_path_factory):
    frame = load_wine(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "a", 1: "b", 2: "c"})
    holed, _ = knock_out(frame, 0.2)
    path = tmp_path_factory.mktemp("wine") / "wine.csv"
    holed.to_csv(path, index=False)
    return path


def test_a_run_imputes_as_gain_imputer_does_early_stop_included(mixed, tmp_path):
    df, _ = knock_out(mixed(300), 0.15, seed=1)
    kw = dict(eval_every=10, patience=50, random_state=2)
    imp = GAINImputer(iterations=400, **kw).fit(df)
    gain = GAINRun(df, out=tmp_path / "r", steps=400, validate_every=10, patience=50,
                   seed=2).fit(progress=False)
    assert gain.stop_reason.startswith("no better validation error")   # it stopped early,
    assert gain.step < 400 and gain.task.keep.best_it == imp.best_iteration_   # as imp did
    pd.testing.assert_frame_equal(gain.transform(df), imp.transform(df))
    scores = [r["held_out_error"] for r in gain.history if "held_out_error" in r]
    assert scores == [v for _, v in imp.validation_scores_]


def test_it_fills_better_than_the_column_means_where_columns_depend_on_each_other(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=600)
    df = pd.DataFrame({"x": x, "y": 2 * x + 0.1 * rng.normal(size=600),
                       "z": -x + 0.1 * rng.normal(size=600)})
    holed, _ = knock_out(df, 0.2)
    gain = GAINRun(holed, out=tmp_path / "r", steps=1500).fit(progress=False)
    rows = gain.column_errors()
    assert [r[0] for r in rows] == ["x", "y", "z"]
    for name, _, cells, err, mean_fill in rows:   # the mean's RMSE is the column's spread
        assert cells > 0 and err < 0.5 * mean_fill, (name, err, mean_fill)
    assert gain.evaluate()["held_out_error"] < 0.01


def test_cli_impute_save_then_run_train_eval_report(capsys, wine_csv, tmp_path):
    code, _, err = run(capsys, "impute", wine_csv, "--output", tmp_path / "a.csv",
                       "--iterations", 120, "--save", tmp_path / "kept", "--no-progress")
    assert code == 0 and "the run is in" in err, err
    code, _, err = run(capsys, "impute", wine_csv, "--output", tmp_path / "b.csv",
                       "--run", tmp_path / "kept")
    assert code == 0, err
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    filled = pd.read_csv(tmp_path / "a.csv")
    assert not filled.isna().to_numpy().any()
    one_error(capsys, "impute", wine_csv, "--output", tmp_path / "c.csv", "--run",
              tmp_path / "kept", "--iterations", 5, match="--run")
    one_error(capsys, "sample", tmp_path / "kept", "--output", tmp_path / "s.csv",
              match="gankit impute")
    code, out, err = run(capsys, "eval", tmp_path / "kept")
    assert code == 0 and "held_out_error" in out and "vs_mean_fill" in out, err
    code, _, err = run(capsys, "report", tmp_path / "kept", "--output", tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert code == 0 and 'id="columns"' in page and "proline" in page, err
    code, _, err = run(capsys, "train", "--task", "impute", "--dataset", wine_csv, "--steps", 20,
                       "--validate-every", 10, "--out", tmp_path / "t", "--no-progress")
    assert code == 0 and "gankit impute IN.csv --run" in err, err
    code, _, err = run(capsys, "train", "--resume", tmp_path / "t", "--steps", 30,
                       "--no-progress")
    assert code == 0 and gankit.load_run(tmp_path / "t", weights_only=True).step == 30, err
    one_error(capsys, "train", "--resume", tmp_path / "t", "--alpha", 5, match="--alpha")


def test_the_table_note_is_a_warning_not_a_print(tmp_path, capsys):
    df = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [np.nan, 2.0, 1.0]})
    with pytest.warns(GanKitWarning, match=r"^3 rows, 2 columns, 2 missing cells \(33\.3%\)$"):
        GAINRun(df, out=tmp_path / "r")
    assert capsys.readouterr().err == ""


def test_bad_options_and_tables_are_one_clear_error(tmp_path):
    df = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [np.nan, 2.0, 1.0]})
    for bad, match in [({"hint_rate": 1.5}, "--hint-rate"), ({"steps": 0}, "--steps"),
                       ({"pac": 10}, "pac"), ({"validation_fraction": 1.0}, "--validation")]:
        with pytest.raises(ConfigError, match=match):
            GAINRun(df, out=tmp_path / "r", **bad)
    with pytest.raises(GanKitError, match="no values at all"):
        GAINRun(pd.DataFrame({"a": [np.nan, np.nan]}), out=tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_show_gives_rows_with_missing_cells_filled(mixed, tmp_path):
    df, _ = knock_out(mixed(60), 0.2, seed=3)
    gain = GAINRun(df, out=tmp_path / "r", batch_size=16, width=16)
    page = gain.show(4)._repr_html_()
    assert page.count("<tr") == 5 and "NaN" not in page and "<NA>" not in page
    full = GAINRun(mixed(60), out=tmp_path / "full", batch_size=16, width=16)
    with pytest.raises(ConfigError, match="nothing to show"):
        full.show(4)
