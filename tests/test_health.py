"""The health checks read the run's own numbers: each problem is found where it is, and only there."""
from __future__ import annotations

import math

import pytest
import torch

import gankit
from gankit import health
from gankit.errors import ConfigError
from gankit.train.callbacks import finite_state


def logs(n: int, **series) -> list[dict]:
    """n training records every 10 steps; keyword lists (or constants) give each key's values."""
    out = []
    for i in range(n):
        r = {"step": 10 * (i + 1), "elapsed": float(i), "nimg": 640 * (i + 1), "d_loss": 1.0,
             "g_loss": 1.0, "d_real": 0.7, "d_fake": 0.3, "diversity": 0.9}
        for k, v in series.items():
            r[k] = v[i] if isinstance(v, list) else v
        out.append(r)
    return out


def test_a_healthy_log_has_no_findings():
    assert health.check(logs(50, diversity=[min(0.05 * i, 0.95) for i in range(50)])) == []


def test_nonfinite_loss_is_divergence_at_its_step():
    recs = logs(20, g_loss=[1.0] * 12 + [math.nan] * 8)
    (f,) = health.check(recs)
    assert (f.kind, f.step) == ("divergence", 130) and "g_loss is nan" in f.message


def test_d_winning_outright_for_a_long_stretch_is_divergence():
    win = [0.5] * 5 + [0.999] * health.WIN_RECORDS
    (f,) = health.check(logs(15, d_real=win, d_fake=[1 - w for w in win]))
    assert (f.kind, f.step) == ("divergence", 60)
    short = [0.5] * 5 + [0.999] * (health.WIN_RECORDS - 1) + [0.5]   # a brief lead is normal
    assert health.check(logs(15, d_real=short, d_fake=[1 - w for w in short])) == []
    # a WGAN critic's outputs are not probabilities: no reading there
    assert health.check(logs(15, d_real=win, d_fake=[1 - w for w in win]), loss="wgan-gp") == []


def test_falling_diversity_is_collapse_but_a_slow_start_is_not():
    (f,) = health.check(logs(10, diversity=[0.9] * 5 + [0.2] * 5))
    assert (f.kind, f.step) == ("collapse", 60)
    assert health.check(logs(9, diversity=[0.9] * 7 + [0.2] * 2)) == []    # not yet 3 in a row
    assert health.check(logs(10, diversity=[0.01, 0.02, 0.05] + [0.9] * 7)) == []


def test_lost_classes_are_collapse_and_a_growing_dloss_gap_is_overfitting():
    evals = [{"step": 100 * i, "classes": c, "dloss_gap": g}
             for i, (c, g) in enumerate([(9, 0.0), (10, 0.1), (10, 0.3), (7, 0.9)], 1)]
    found = {f.kind: f for f in health.check(evals)}
    assert found["collapse"].step == 400 and "7 classes" in found["collapse"].message
    assert found["overfit"].step == 400 and "0.90" in found["overfit"].message
    assert health.check(evals[:3]) == []


def test_diversity_measures_spread_against_real_data():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(64, 1, 8, 8, generator=g)
    spread = health.spread(real)
    assert 0.8 < health.diversity(torch.randn(64, 1, 8, 8, generator=g), spread) < 1.2
    assert health.diversity(real[:1].repeat(64, 1, 1, 1), spread) == 0.0


def test_nan_weights_are_never_checkpointed():
    assert finite_state({"G": {"w": torch.ones(3)}, "rng": {"s": torch.zeros(2, dtype=torch.uint8)}})
    assert not finite_state({"G": {"w": torch.tensor([1.0, math.inf])}})


QUIET = dict(width=8, batch_size=16, log_every=2, sample_every=1000, checkpoint_every=1000)


def test_early_stop_patience_counts_evaluations_without_improvement(tmp_path):
    gan = gankit.GAN(dataset="digits", out=tmp_path / "run", eval_every=2, early_stop_patience=2,
                     **QUIET)
    scores = iter([10.0, 9.0, 9.5, 9.2, 8.0, 7.0])
    gan._scorer = lambda: (lambda: {"fid": next(scores)})
    gan.fit(steps=40, progress=False)
    # FID 10 (step 2), 9 (step 4, best), 9.5 (6), 9.2 (8): two evaluations without improvement
    assert gan.step == 8 and gan.stop_reason.startswith("early stop")
    assert (tmp_path / "run" / "checkpoints" / "best").read_text().strip() == "step-0000004"


def test_early_stop_patience_needs_eval_every(tmp_path):
    gan = gankit.GAN(dataset="digits", out=tmp_path / "run", early_stop_patience=2, **QUIET)
    with pytest.raises(ConfigError, match="--eval-every"):
        gan.fit(steps=4, progress=False)
    assert not (tmp_path / "run").exists()
