"""Class-conditional GANs: the class asked for is the class drawn (2-D toy, both D heads), labels
flow through sampling, files and the CLI, and wrong labels fail with one clear error."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import gankit
from gankit.cli import main
from gankit.errors import ConfigError, DataError
from gankit.nets import ConditionalDiscriminator, ConditionalGenerator

QUIET = {"log_every": 50, "sample_every": 10**6, "checkpoint_every": 10**6}


def labelled_ring(n: int, modes: int = 8, seed: int = 0):
    """8 Gaussians on a circle, each its own class: points [n, 2], labels [n], centres [8, 2]."""
    g = torch.Generator().manual_seed(seed)
    angles = torch.arange(modes) * (2 * torch.pi / modes)
    centres = 2.0 * torch.stack([angles.cos(), angles.sin()], 1)
    y = torch.randint(0, modes, (n,), generator=g)
    return centres[y] + 0.05 * torch.randn(n, 2, generator=g), y, centres


@pytest.mark.parametrize("cond", ["projection", "acgan"])
def test_samples_of_class_k_land_on_mode_k(cond):
    x, y, centres = labelled_ring(8000)
    gan = gankit.GAN("mlp", (x, y), conditional=True, cond=cond, width=64, z_dim=2,
                     batch_size=128, lr=5e-4, out=f"ring-{cond}", **QUIET)
    gan.fit(steps=2500, progress=False)
    for k in range(8):
        pts = gan.sample(400, seed=k, labels=k)
        nearest = torch.cdist(pts, centres).argmin(1)
        share = (nearest == k).float().mean().item()
        assert share > 0.9, f"class {k}: only {share:.0%} of its samples near mode {k}"


def test_conditional_nets_take_a_class_and_share_d_features():
    gan = gankit.GAN("dcgan", "digits", conditional=True, width=8, batch_size=16, **QUIET)
    G, D = gan.task.G, gan.task.D
    assert isinstance(G, ConditionalGenerator) and isinstance(D, ConditionalDiscriminator)
    z = torch.randn(4, G.z_dim)
    a, b = G(z, torch.tensor([0, 0, 0, 0])), G(z, torch.tensor([1, 1, 1, 1]))
    assert a.shape == (4, 1, 32, 32) and not torch.allclose(a, b), "the class must change G's output"
    D.eval()
    assert not torch.allclose(D(a, torch.zeros(4, dtype=torch.long)),
                              D(a, torch.ones(4, dtype=torch.long))), "projection uses the class"


def test_acgan_d_returns_class_logits_and_both_losses_are_logged():
    gan = gankit.GAN("dcgan", "digits", conditional=True, cond="acgan", width=8, batch_size=16,
                     log_every=2, sample_every=10**6, checkpoint_every=10**6)
    out = gan.task.D(torch.zeros(3, 1, 32, 32), torch.tensor([1, 2, 3]))
    assert isinstance(out, tuple) and out[1].shape == (3, 10)
    gan.fit(steps=4, progress=False)
    rows = [r for r in gan.history if "d_cls" in r]
    assert rows and all(np.isfinite(r["d_cls"]) and np.isfinite(r["g_cls"]) for r in rows)


def test_sample_labels_balanced_by_default_and_validated():
    gan = gankit.GAN("mlp", (torch.randn(64, 2), torch.arange(64) % 3), conditional=True,
                     batch_size=16, **QUIET)
    assert gan.balanced_labels(7).tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert torch.equal(gan.sample(6, seed=1), gan.sample(6, seed=1, labels=[0, 1, 2, 0, 1, 2]))
    assert not torch.equal(gan.sample(6, seed=1, labels=0), gan.sample(6, seed=1, labels=1))
    with pytest.raises(ConfigError, match="out of range"):
        gan.sample(2, labels=3)
    with pytest.raises(ConfigError, match="2 labels for 3"):
        gan.sample(3, labels=[0, 1])
    with pytest.raises(ConfigError, match="whole class numbers"):
        gan.sample(2, labels=[0.5, 1.0])
    plain = gankit.GAN("mlp", torch.randn(64, 2), batch_size=16, **QUIET)
    with pytest.raises(ConfigError, match="not conditional"):
        plain.sample(2, labels=1)


def test_conditional_needs_labels():
    with pytest.raises(DataError, match="needs class labels"):
        gankit.GAN("mlp", torch.randn(64, 2), conditional=True)
    with pytest.raises(ConfigError, match="unknown --cond"):
        gankit.GAN("mlp", (torch.randn(64, 2), torch.arange(64) % 2), conditional=True,
                   cond="magic")


def test_conditional_resume_is_bit_identical():
    opts = dict(conditional=True, cond="acgan", width=8, batch_size=16, seed=3, log_every=1,
                sample_every=10**6, checkpoint_every=3)
    a = gankit.GAN("dcgan", "digits", out="full", **opts).fit(steps=6, progress=False)
    b = gankit.GAN("dcgan", "digits", out="half", **opts).fit(steps=3, progress=False)
    b = gankit.load_run("half").fit(steps=3, progress=False)
    assert torch.equal(a.sample(8, seed=0), b.sample(8, seed=0))
    assert [r["d_loss"] for r in a.history] == [r["d_loss"] for r in b.history]


def test_cli_conditional_train_and_sample_with_labels(capsys):
    assert main(["train", "--dataset", "digits", "--conditional", "--width", "8", "--steps", "3",
                 "--batch-size", "16", "--out", "crun", "--no-progress"]) == 0
    assert main(["sample", "crun", "--num", "25", "--output", "all.npz"]) == 0
    with np.load("all.npz") as z:
        assert z["images"].shape == (25, 32, 32, 1)
        assert np.bincount(z["labels"]).tolist() == [3, 3, 3, 3, 3, 2, 2, 2, 2, 2]
    assert main(["sample", "crun", "--num", "5", "--label", "7", "--output", "sevens.npz"]) == 0
    with np.load("sevens.npz") as z:
        assert z["labels"].tolist() == [7] * 5
    assert main(["sample", "crun", "--num", "2", "--label", "7", "--output", "dir"]) == 0
    assert sorted(p.name for p in __import__("pathlib").Path("dir").iterdir()) == \
        ["000000-class7.png", "000001-class7.png"]
    capsys.readouterr()
    assert main(["sample", "crun", "--num", "2", "--label", "12", "--output", "x.npz"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gankit: error: label 12 is out of range") and "\n" not in err


def test_cli_label_on_an_unconditional_run_is_one_line(capsys):
    assert main(["train", "--dataset", "digits", "--width", "8", "--steps", "2", "--batch-size",
                 "16", "--out", "plain", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["sample", "plain", "--num", "2", "--label", "1", "--output", "x.npz"]) == 2
    assert "not conditional" in capsys.readouterr().err


def test_eval_of_a_conditional_run_reports_label_accuracy_and_d_loss(capsys):
    import json
    assert main(["train", "--dataset", "digits", "--conditional", "--width", "8", "--steps", "3",
                 "--batch-size", "16", "--out", "crun", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["eval", "crun", "--metrics", "classes,dloss", "--num", "200", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    acc = out["label_accuracy"]
    assert 0.0 <= acc["value"] <= 1.0 and len(acc["extra"]["per_class"]) == 10
    assert acc["extra"]["worst_class"] <= acc["value"]
    assert acc["protocol"]["extractor"].startswith("mnist")
    assert out["dloss"]["extra"]["real_held_out"] > 0


def test_conditional_generator_keeps_using_the_noise():
    """Samples of one class must still differ with z (no collapse to one image per class): after
    a short run on digits their spread over z is a sizeable share of the unconditional model's."""
    spreads = {}
    for cond in (False, True):
        gan = gankit.GAN("dcgan", "digits", conditional=cond, d_norm="none", **QUIET)
        gan.fit(steps=300, progress=False)
        z = gan.task.noise(64, torch.Generator().manual_seed(1))
        x = gan.task.generate(z, ema=False, labels=torch.full((64,), 3) if cond else None)
        spreads[cond] = x.std(0).mean().item()
    assert spreads[True] > 0.3 * spreads[False], spreads
