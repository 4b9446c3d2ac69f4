"""GAINImputer: learns on a real table, leaves observed cells alone, behaves as a sklearn transformer."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from gankit.errors import GanKitError
from gankit.tasks.impute import GAINImputer

from .conftest import knock_out


def _rmse(filled: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    """RMSE over the removed cells, on min-max normalized values (the GAIN paper's measure)."""
    lo, hi = truth.min(0), truth.max(0)
    return float(np.sqrt(np.mean((((filled - truth) / (hi - lo))[mask]) ** 2)))


def test_beats_mean_imputation_on_breast_cancer():
    x = load_breast_cancer().data                                   # [569, 30], real
    mask = np.random.default_rng(0).random(x.shape) < 0.2           # 20% MCAR
    holed = np.where(mask, np.nan, x)
    # 1000 iterations keep the test short; the held-out score was still improving at ~950
    filled = GAINImputer(iterations=1000, random_state=0).fit_transform(holed)
    gain = _rmse(filled, x, mask)
    mean = _rmse(SimpleImputer().fit_transform(holed), x, mask)
    assert gain < 0.6 * mean, (gain, mean)                          # 0.066 vs 0.151
    np.testing.assert_array_equal(filled[~mask], x[~mask])          # observed cells untouched


def test_sklearn_estimator_checks():
    # every check applies and passes; none needs skipping (NaN input is allowed by the tags)
    results = check_estimator(GAINImputer(iterations=20, hidden=8), on_fail=None)
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert not failed


def test_pipeline_and_cross_validation():
    data = load_breast_cancer()
    x = np.where(np.random.default_rng(1).random(data.data.shape) < 0.1, np.nan, data.data)
    pipe = make_pipeline(GAINImputer(iterations=200, hidden=32, random_state=0), StandardScaler(),
                         LogisticRegression(max_iter=500))
    scores = cross_val_score(pipe, x, data.target, cv=3)
    assert scores.mean() > 0.9
    pipe.set_params(gainimputer__hint_rate=0.8)
    assert pipe.get_params()["gainimputer__hint_rate"] == 0.8


def test_dataframes_with_categoricals_fit_one_table_transform_another(mixed):
    train, test = mixed(400, seed=0), mixed(100, seed=1)
    holed, mask = knock_out(test, 0.2, seed=2)
    imp = GAINImputer(iterations=300, random_state=0).fit(knock_out(train, 0.2, seed=3)[0])
    out = imp.transform(holed)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list(test.columns)
    assert not out.isna().to_numpy().any()
    assert out["city"].isin(["Lyon", "Paris", "Nice"]).all()
    assert set(out["grade"].cat.categories) == {"a", "b", "c"}
    assert (out["age"] == out["age"].round()).all()                 # ints impute as whole numbers
    kept = holed.notna()
    for c in test.columns:
        assert (out[c][kept[c]].astype(object) == holed[c][kept[c]].astype(object)).all()
    assert list(imp.get_feature_names_out()) == list(test.columns)


def test_deterministic_with_random_state():
    x = np.where(np.random.default_rng(0).random((120, 5)) < 0.2, np.nan,
                 np.random.default_rng(1).normal(size=(120, 5)))
    a = GAINImputer(iterations=100, random_state=7).fit_transform(x)
    b = GAINImputer(iterations=100, random_state=7).fit_transform(x)
    c = GAINImputer(iterations=100, random_state=8).fit_transform(x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_numpy_fit_rejects_text():
    with pytest.raises(ValueError):
        GAINImputer(iterations=5).fit(np.array([["a", "1"], ["b", "2"]], dtype=object))


def test_early_stopping_keeps_the_best_validated_generator():
    # independent noise columns: nothing to learn, so the held-out error stops improving early
    x = np.random.default_rng(0).random((150, 4))
    x[np.random.default_rng(1).random(x.shape) < 0.2] = np.nan
    imp = GAINImputer(iterations=3000, eval_every=25, patience=100, random_state=0).fit(x)
    its, scores = zip(*imp.validation_scores_)
    assert imp.best_iteration_ == its[int(np.argmin(scores))]
    assert len(imp.losses_) == its[-1] < 3000                       # stopped early...
    assert its[-1] - imp.best_iteration_ >= 100                     # ...after `patience` in vain
    later = [s for i, s in imp.validation_scores_ if i > imp.best_iteration_]
    assert later and min(later) >= min(scores)


def test_paper_setting_trains_every_iteration():
    x = np.where(np.random.default_rng(0).random((60, 3)) < 0.2, np.nan, 1.0)
    imp = GAINImputer(iterations=40, hide_rate=0, validation_fraction=0, random_state=0).fit(x)
    assert len(imp.losses_) == 40 and imp.validation_scores_ == []
    assert not hasattr(imp, "best_iteration_")


@pytest.mark.parametrize("params, message", [
    ({"hint_rate": 1.5}, "hint_rate"), ({"hide_rate": 1.0}, "hide_rate"),
    ({"validation_fraction": -0.1}, "validation_fraction"), ({"iterations": 0}, "iterations"),
])
def test_bad_parameters_are_user_errors(params, message):
    with pytest.raises(GanKitError, match=message):
        GAINImputer(**params).fit(np.array([[1.0, np.nan], [2.0, 3.0]]))
