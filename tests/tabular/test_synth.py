"""TableGAN: marginals of a small mixed table, categories and ranges, conditioning, save/load."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from gankit.errors import DataError, RunError
from gankit.tabular import TableGAN


# A short CPU training (1,000 steps, ~20 s) gets these (500 steps were at the edge: income KS 0.38 on
# an Intel Xeon); longer runs get tighter (see bench/tabular.py).
KS_BOUND, TV_BOUND = 0.3, 0.2


def _tv(a: pd.Series, b: pd.Series) -> float:
    """Total-variation distance between two categorical marginals."""
    p, q = a.value_counts(normalize=True), b.value_counts(normalize=True)
    return 0.5 * float(p.sub(q, fill_value=0).abs().sum())


@pytest.fixture(scope="module")
def fitted():
    from .conftest import mixed_table
    df = mixed_table(1000)
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        gan = TableGAN(epochs=200, batch_size=200, lr=5e-4, discrete=["kids"]).fit(df)
    finally:
        torch.set_num_threads(before)
    return df, gan


def test_marginals_categories_and_ranges(fitted):
    df, gan = fitted
    s = gan.sample(2000)
    assert list(s.columns) == list(df.columns)
    assert s.dtypes.to_dict() == df.dtypes.to_dict()
    for c in ["age", "income"]:
        assert ks_2samp(df[c], s[c]).statistic < KS_BOUND, c
        assert df[c].min() <= s[c].min() and s[c].max() <= df[c].max()
    for c in ["city", "member", "grade", "kids"]:
        assert _tv(df[c], s[c]) < TV_BOUND, c
        assert set(s[c].dropna()) <= set(df[c])


def test_condition_and_unknown_value(fitted):
    df, gan = fitted
    nice = gan.sample(200, condition={"city": "Nice"})
    assert (nice["city"] == "Nice").all()
    with pytest.raises(DataError, match="no value 'Oslo'"):
        gan.sample(5, condition={"city": "Oslo"})
    with pytest.raises(DataError, match="no such column"):
        gan.sample(5, condition={"town": "Nice"})
    with pytest.raises(DataError, match="numeric column"):
        gan.sample(5, condition={"income": 3})


def test_save_load_round_trip(fitted, tmp_path):
    _, gan = fitted
    gan.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "metrics.jsonl", "model.safetensors", "table.json"]
    back = TableGAN.load(tmp_path / "m")
    pd.testing.assert_frame_equal(back.sample(50, seed=4), gan.sample(50, seed=4))
    (tmp_path / "m" / "table.json").write_text("{")
    with pytest.raises(RunError, match="not a saved TableGAN"):
        TableGAN.load(tmp_path / "m")


def test_all_numeric_table_and_missing_cells():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=100), "b": rng.integers(0, 9, 100)})
    df.loc[:9, "a"] = np.nan
    s = TableGAN(epochs=3, batch_size=50).fit(df).sample(30)
    assert s.dtypes.to_dict() == df.dtypes.to_dict() and len(s) == 30


def test_trains_on_the_shared_trainer_for_the_default_length(fitted):
    df, gan = fitted
    # explicit epochs: 200 passes of 5 batches of 200 rows; the trainer logs every 50 steps
    assert gan.total_steps(len(df)) == 1000 and gan.losses[-1]["step"] == 1000
    assert {"wasserstein", "gp", "g_adv", "g_cond"} <= set(gan.losses[-1])
    small = TableGAN()                      # default: 300 epochs, but at least 1500 steps
    assert small.total_steps(300) == 1500 and small.total_steps(100_000) == 300 * 200


def test_same_seed_same_rows(mixed):
    df = mixed(200)
    a = TableGAN(epochs=4, batch_size=50, seed=5).fit(df).sample(40, seed=1)
    b = TableGAN(epochs=4, batch_size=50, seed=5).fit(df).sample(40, seed=1)
    c = TableGAN(epochs=4, batch_size=50, seed=6).fit(df).sample(40, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


@pytest.mark.parametrize("bad", [{"epochs": 0}, {"epochs": -5}, {"lr": 0.0}, {"pac": 0},
                                 {"no_such_option": 1}])
def test_bad_options_are_one_clear_error(bad):
    from gankit.errors import ConfigError
    from gankit.tabular import TableGAN
    with pytest.raises(ConfigError, match="TableGAN"):
        TableGAN(**bad)
