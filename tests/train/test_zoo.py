"""Every objective with every architecture and stabilizer trains a few steps with finite losses,
and the extra randomness (augmentation, penalties) still resumes bit-exactly."""
from __future__ import annotations

import math

import pytest
import torch

import gankit
from gankit.train.state import list_checkpoints

OBJECTIVES = ["ns", "minimax", "lsgan", "hinge", "wgan-gp"]
QUIET = {"log_every": 2, "sample_every": 10**6, "checkpoint_every": 10**6}


@pytest.mark.parametrize("model", ["mlp", "dcgan", "resnet"])
@pytest.mark.parametrize("loss", OBJECTIVES)
def test_objective_by_architecture_trains_with_finite_losses(loss, model):
    images = (torch.rand(64, 1, 16, 16) * 255).to(torch.uint8)
    gan = gankit.GAN(model, images, loss=loss, width=8, batch_size=16, n_critic=2, **QUIET)
    gan.fit(steps=4, progress=False)
    rows = [r for r in gan.history if "d_loss" in r]
    assert rows and all(math.isfinite(r["d_loss"]) and math.isfinite(r.get("g_loss", 0.0))
                        for r in rows)
    if loss == "wgan-gp":
        assert all(r["gp"] >= 0 for r in rows)


def test_stabilizers_run_and_are_logged():
    gan = gankit.GAN("dcgan", "digits", width=8, batch_size=16, r1_gamma=1.0, r1_every=2,
                     augment="color,translation,cutout", lr_d=4e-4, d_norm="spectral", **QUIET)
    gan.fit(steps=4, progress=False)
    assert any("r1" in r for r in gan.history)
    assert gan.task.optimizers["D"].param_groups[0]["lr"] == 4e-4
    assert gan.task.optimizers["G"].param_groups[0]["lr"] == 4e-4   # the default


def test_n_critic_updates_g_once_per_n_steps():
    gan = gankit.GAN("mlp", torch.randn(256, 2), n_critic=3, batch_size=32, **QUIET)
    g_before = [p.clone() for p in gan.task.G.parameters()]
    gan.fit(steps=1, progress=False)              # step 0: D and G
    g_after_1 = [p.clone() for p in gan.task.G.parameters()]
    gan.fit(steps=2, progress=False)              # steps 1, 2: D only
    assert any(not torch.equal(a, b) for a, b in zip(g_before, g_after_1))
    assert all(torch.equal(a, b) for a, b in zip(g_after_1, gan.task.G.parameters()))


def test_resume_with_augment_penalties_and_n_critic_is_bit_identical():
    kw = dict(loss="wgan-gp", n_critic=2, r1_gamma=0.5, r1_every=3, augment="translation,cutout",
              width=8, batch_size=16, **QUIET)
    straight = gankit.GAN("dcgan", "digits", out="s", **kw).fit(steps=10, progress=False)
    half = gankit.GAN("dcgan", "digits", out="h", **kw).fit(steps=5, progress=False)
    resumed = gankit.load_run(half.run_dir).fit(steps=5, progress=False)
    from safetensors.torch import load_file
    for f in ("G", "D", "G_ema", "opt_D", "rng"):
        a = load_file(str(list_checkpoints(straight.run_dir)[-1] / f"{f}.safetensors"))
        b = load_file(str(list_checkpoints(resumed.run_dir)[-1] / f"{f}.safetensors"))
        assert all(torch.equal(a[k], b[k]) for k in a), f


def test_augment_on_vectors_is_refused_up_front():
    with pytest.raises(gankit.ConfigError, match="--augment works on images"):
        gankit.GAN("mlp", torch.randn(64, 2), augment="translation")
