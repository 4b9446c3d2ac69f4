"""GAN data augmentation: `gankit augment` writes balanced labeled images, the confidence filter
keeps exactly what it should, MixedDataset mixes at the asked ratio in the real items' format,
and every bad input is one line (CLI) or one GanKitError (Python)."""
from __future__ import annotations

import math
from types import SimpleNamespace

import helpers
import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

import gankit
from gankit.data import load_dataset
from gankit.errors import ConfigError, DataError
from gankit.tasks.gan import augment
from gankit.tasks.gan.augment import AugmentError, synthesize
from gankit.tasks.gan.mixed import MixedDataset

TINY = {"width": 8, "batch_size": 16, "log_every": 2, "sample_every": 10**6,
        "checkpoint_every": 10**6}


pytestmark = pytest.mark.usefixtures("one_thread")


def _train(out, dataset="digits", steps=4, **options):
    torch.set_num_threads(1)
    gan = gankit.GAN("dcgan", dataset, out=out, **TINY, **options)
    gan.fit(steps=steps, progress=False)   # the last step is checkpointed
    return out


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory):
    """A 4-step conditional DCGAN on digits (10 classes, 1x32x32): untrained, but a real run."""
    return _train(tmp_path_factory.mktemp("runs") / "cond", conditional=True)


@pytest.fixture(scope="module")
def cond_gan(cond_run):
    return gankit.load_run(cond_run, weights_only=True)


def run(capsys, *argv):
    code, _, err = helpers.run(capsys, *argv)
    return code, err


fail = helpers.one_error


# ---------------------------------------------------------------- a GAN and a classifier we control


class StubGAN:
    """A conditional 'GAN' of 1x4x4 images whose pixels spell the class asked for (0, 0) and the
    draw's serial number (0, 1..2), so a stub classifier can tell every sample apart."""

    def __init__(self, k: int = 3, dataset: str = "stub"):
        self.config = SimpleNamespace(model=SimpleNamespace(conditional=True), num_classes=k,
                                      data_shape=(1, 4, 4), data=SimpleNamespace(dataset=dataset))
        self.run_dir, self.serial, self.k = None, 0, k

    def balanced_labels(self, n):
        return torch.arange(n) % self.k

    def sample(self, n, seed=None, ema=True, labels=None):
        serial = torch.arange(self.serial, self.serial + n)
        self.serial += n
        x = torch.zeros(n, 1, 4, 4)
        x[:, 0, 0, 0], x[:, 0, 0, 1], x[:, 0, 0, 2] = labels, serial % 256, serial // 256
        return x / 127.5 - 1   # the generator's [-1, 1]; rounds back to these exact bytes


def spelled(images):
    """(class asked for, serial) of each uint8 stub image [n, 1, 4, 4]."""
    px = images[:, 0, 0].long()
    return px[:, 0], px[:, 1] + 256 * px[:, 2]


class StubClassifier:
    """Gives serial s the probability conf(class, s) for every class; records what it saw."""

    name = "stub-classifier"

    def __init__(self, conf):
        self.conf, self.seen = conf, []

    def predict_proba(self, images):
        assert images.dtype == torch.uint8   # it judges exactly the bytes that get written
        y, s = spelled(images)
        self.seen += list(zip(y.tolist(), s.tolist()))
        p = torch.tensor([self.conf(c, i) for c, i in zip(y.tolist(), s.tolist())])
        return p[:, None].expand(-1, 3)


def conf_table(c, s):
    """class 0 accepts all; class 1 three in four, with values exactly at P = 0.5 and just below;
    class 2 one in ten, so it needs several rounds."""
    if c == 0:
        return 1.0
    if c == 1:
        return (0.5, 0.75, 0.499999, 1.0)[s % 4]
    return 0.9 if s % 10 == 0 else 0.1


def test_filter_keeps_exactly_the_samples_at_or_above_p():
    gan, clf = StubGAN(), StubClassifier(conf_table)
    images, labels, report = synthesize(gan, 20, min_confidence=0.5, classifier=clf)
    assert images.shape == (60, 1, 4, 4) and images.dtype == torch.uint8
    assert labels.tolist() == [0, 1, 2] * 20
    asked, serial = spelled(images)
    assert torch.equal(asked, labels)
    # expected: in draw order, the first 20 of each class whose confidence is >= 0.5
    for c in range(3):
        drawn = [s for y, s in clf.seen if y == c]
        passed = [s for s in drawn if conf_table(c, s) >= 0.5]
        assert serial[labels == c].tolist() == passed[:20]
        assert report["drawn"][c] == len(drawn)
        assert report["rejected"][c] == len(drawn) - len(passed)
    assert report["rejected"][0] == 0 and report["drawn"][2] >= 200   # 1 in 10: 200+ drawn
    assert len(clf.seen) == len(set(clf.seen)) == gan.serial   # every draw judged once
    line = augment.describe(report)
    assert "\n" not in line and f"2:{report['drawn'][2]}/{report['rejected'][2]}" in line


def test_filter_gives_up_with_the_class_and_its_acceptance():
    clf = StubClassifier(lambda c, s: 0.0 if c == 1 else 1.0)
    with pytest.raises(AugmentError, match=r"class 1 kept 0 of 250 \(acceptance 0.0%\)") as e:
        synthesize(StubGAN(), 5, min_confidence=0.9, classifier=clf)
    assert "class 0" not in str(e.value) and "class 2" not in str(e.value)
    assert isinstance(e.value, gankit.GanKitError)


def test_without_filter_it_is_the_balanced_sample(cond_gan):
    images, labels, report = synthesize(cond_gan, 3, seed=5)
    expected = cond_gan.sample_uint8(30, seed=5)   # [30, H, W, C]
    assert torch.equal(images.permute(0, 2, 3, 1), torch.from_numpy(expected))
    assert labels.tolist() == list(range(10)) * 3
    assert report["drawn"] == [3] * 10 and report["rejected"] == [0] * 10


def test_python_errors(cond_run, tmp_path):
    gan = StubGAN()
    with pytest.raises(ConfigError, match="per-class"):
        synthesize(gan, 0)
    for p in (0, -0.1, 1.5, float("nan")):
        with pytest.raises(ConfigError, match=r"\(0, 1\]"):
            synthesize(gan, 2, min_confidence=p)
    with pytest.raises(ConfigError, match="ships none for the run's dataset 'stub'"):
        synthesize(gan, 2, min_confidence=0.5)
    gan.config.model.conditional = False
    with pytest.raises(ConfigError, match="not conditional"):
        synthesize(gan, 2)


# ---------------------------------------------------------------- the command


def test_cli_writes_balanced_labels_like_sample(capsys, cond_run, tmp_path):
    code, err = run(capsys, "augment", cond_run, "--per-class", 3, "--output", tmp_path / "a.npz",
                    "--seed", 5)
    assert code == 0 and "30 images, 3 of each of 10 classes" in err, err
    with np.load(tmp_path / "a.npz") as z:
        assert sorted(z.files) == ["images", "labels"]
        images, labels = z["images"], z["labels"]
    assert images.shape == (30, 32, 32, 1) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and np.bincount(labels).tolist() == [3] * 10
    # the same file `gankit sample` writes for as many images and the same seed
    assert run(capsys, "sample", cond_run, "--num", 30, "--seed", 5, "--output",
               tmp_path / "s.npz")[0] == 0
    with np.load(tmp_path / "s.npz") as z:
        assert (z["images"] == images).all() and (z["labels"] == labels).all()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temporary left


def test_cli_filter_with_a_classifier_we_control(capsys, cond_run, tmp_path, monkeypatch):
    seen = []

    class ByPixelSum:   # confidence (sum of bytes mod 4) / 3: 0, 1/3, 2/3 or 1, for every class
        name = "by-pixel-sum"

        def predict_proba(self, images):
            conf = (images.long().sum((1, 2, 3)) % 4).float() / 3
            seen.append(conf)
            return conf[:, None].expand(-1, 10)

    monkeypatch.setattr(augment, "domain_classifier", lambda dataset: ByPixelSum())
    out = tmp_path / "f.npz"
    code, err = run(capsys, "augment", cond_run, "--per-class", 4, "--output", out,
                    "--min-confidence", 0.5)
    assert code == 0, err
    line = [ln for ln in err.splitlines() if ln.startswith("wrote")]
    assert len(line) == 1 and "by-pixel-sum" in line[0]
    with np.load(out) as z:
        images, labels = z["images"], z["labels"]
    assert np.bincount(labels).tolist() == [4] * 10
    assert ((images.astype(np.int64).sum((1, 2, 3)) % 4) >= 2).all()   # only conf >= 0.5 kept
    pairs = line[0].split("drawn/rejected per class ")[1].split(" (")[0].split()
    drawn, rejected = zip(*(map(int, p.split(":")[1].split("/")) for p in pairs))
    assert all(d - r >= 4 for d, r in zip(drawn, rejected))
    everything = torch.cat(seen)
    assert sum(drawn) == len(everything) and sum(rejected) == int((everything < 0.5).sum())


def test_cli_bad_inputs_are_one_line(capsys, cond_run, tmp_path):
    plain = _train(tmp_path / "plain", steps=2)
    out = tmp_path / "x.npz"
    fail(capsys, "augment", plain, "--per-class", 2, "--output", out, match="not conditional")
    fail(capsys, "augment", cond_run, "--per-class", 0, "--output", out, match="at least 1")
    for p in ("0", "1.01", "-1", "nan"):
        fail(capsys, "augment", cond_run, "--per-class", 2, "--output", out, "--min-confidence",
             p, match="(0, 1]")
    fail(capsys, "augment", cond_run, "--per-class", 2, "--output", tmp_path / "x.png",
         match=".npz")
    fail(capsys, "augment", cond_run, "--per-class", 2, "--output", tmp_path / "no" / "x.npz",
         match="does not exist")
    out.write_bytes(b"keep me")
    fail(capsys, "augment", cond_run, "--per-class", 2, "--output", out, match="--overwrite")
    assert out.read_bytes() == b"keep me"
    code, _ = run(capsys, "augment", cond_run, "--per-class", 1, "--output", out, "--overwrite")
    assert code == 0
    # a conditional run on the user's own file: no shipped classifier knows its classes
    digits = load_dataset("digits", resolution=32)
    np.savez(tmp_path / "mine.npz", images=digits.images.numpy(), labels=digits.labels.numpy())
    mine = _train(tmp_path / "mine", dataset=str(tmp_path / "mine.npz"), steps=2, conditional=True)
    fail(capsys, "augment", mine, "--per-class", 2, "--output", tmp_path / "m.npz",
         "--min-confidence", 0.5, match="ships none")
    code, _ = run(capsys, "augment", mine, "--per-class", 2, "--output", tmp_path / "m.npz")
    assert code == 0   # without the filter it needs no classifier


# ---------------------------------------------------------------- MixedDataset


@pytest.fixture(scope="module")
def real():
    """100 real digits, 1x32x32 uint8 (the conditional run's size), 10 of each class."""
    d = load_dataset("digits", resolution=32)
    index = torch.cat([torch.nonzero(d.labels == c)[:10, 0] for c in range(10)])
    return d.images[index], d.labels[index]


def test_mixed_ratio_balance_and_dataloader(real, cond_gan):
    ds = MixedDataset(real, cond_gan, synthetic_ratio=0.5, seed=0)
    assert len(ds) == 200 and sum(ds.is_synthetic(i) for i in range(len(ds))) == 100
    synthetic = [ds[i] for i in range(100, 200)]
    assert np.bincount([int(y) for _, y in synthetic]).tolist() == [10] * 10
    x, y = ds[150]
    assert x.shape == (1, 32, 32) and x.dtype == torch.uint8 and y.dtype == torch.int64
    assert torch.equal(ds[3][0], real[0][3]) and ds[3][1] == real[1][3]   # real items untouched
    seen = [yb for _, yb in DataLoader(ds, batch_size=32, shuffle=True,
                                       generator=torch.Generator().manual_seed(0))]
    assert np.bincount(torch.cat(seen).numpy()).tolist() == [20] * 10   # 10 real + 10 synthetic
    quarter = MixedDataset((real[0][:90], real[1][:90]), cond_gan, synthetic_ratio=0.25)
    assert (quarter.num_real, quarter.num_synthetic) == (90, 30)


def test_mixed_is_deterministic_and_fresh_per_epoch(real, cond_gan):
    def synthetic(ds):
        return torch.stack([ds[i][0] for i in range(ds.num_real, len(ds))])

    a, b = (MixedDataset(real, cond_gan, 0.5, seed=1) for _ in range(2))
    other = MixedDataset(real, cond_gan, 0.5, seed=2)
    first = synthetic(a)
    assert torch.equal(first, synthetic(b)) and not torch.equal(first, synthetic(other))
    a.set_epoch(1)
    assert not torch.equal(first, synthetic(a))
    a.set_epoch(0)
    assert torch.equal(first, synthetic(a))


def _as(kind, x, y):
    """The 100 real digits as another kind of data, and a check that an item has that kind."""
    if kind == "signed":
        return (x.float() / 127.5 - 1, y), \
            lambda v: v.dtype == torch.float32 and -1 <= v.min() < 0 and v.max() <= 1
    if kind == "unit":
        return (x.double() / 255, y), \
            lambda v: v.dtype == torch.float64 and 0 <= v.min() and v.max() <= 1
    if kind == "numpy-hwc":
        return (x.permute(0, 2, 3, 1).numpy(), y.numpy()), \
            lambda v: isinstance(v, np.ndarray) and v.shape == (32, 32, 1) and v.dtype == np.uint8
    return [(Image.fromarray(img[0].numpy()), int(c)) for img, c in zip(x, y)], \
        lambda v: isinstance(v, Image.Image) and v.mode == "L" and v.size == (32, 32)


@pytest.mark.parametrize("kind", ["signed", "unit", "numpy-hwc", "pil"])
def test_mixed_items_take_the_real_items_format(real, cond_gan, kind):
    data, check = _as(kind, *real)
    ds = MixedDataset(data, cond_gan, 0.5)
    real_x, real_y = ds[0]
    fake_x, fake_y = ds[len(ds) - 1]
    assert check(real_x) and check(fake_x), kind
    assert type(fake_y) is type(real_y)
    if kind == "signed":   # the generator's own [-1, 1] numbers, up to the uint8 rounding
        assert (fake_x - (ds.images[-1].float() / 127.5 - 1)).abs().max() < 1e-6
    if kind == "pil":      # one transform for real and synthetic alike
        ds = MixedDataset(data, cond_gan, 0.5, transform=lambda im: torch.from_numpy(np.array(im)))
        assert ds[0][0].shape == ds[len(ds) - 1][0].shape == (32, 32)


def test_mixed_from_an_npz(capsys, real, cond_run, tmp_path):
    code, _ = run(capsys, "augment", cond_run, "--per-class", 2, "--output", tmp_path / "a.npz")
    assert code == 0
    ds = MixedDataset(real, tmp_path / "a.npz", synthetic_ratio=0.5, seed=0)
    file_images = torch.from_numpy(np.load(tmp_path / "a.npz")["images"]).permute(0, 3, 1, 2)
    items = [ds[i] for i in range(100, 200)]
    assert np.bincount([int(y) for _, y in items]).tolist() == [10] * 10   # 2 per class, cycled
    assert all(any(torch.equal(x, f) for f in file_images) for x, _ in items[:20])
    again = MixedDataset(real, str(tmp_path / "a.npz"), synthetic_ratio=0.5, seed=0)
    assert all(torch.equal(ds[i][0], again[i][0]) for i in range(100, 200))


def test_mixed_bad_inputs(real, cond_gan, tmp_path):
    for r in (1.0, -0.1, 1.5):
        with pytest.raises(ConfigError, match=r"\[0, 1\)"):
            MixedDataset(real, cond_gan, synthetic_ratio=r)
    small = (torch.nn.functional.interpolate(real[0].float(), size=28).to(torch.uint8), real[1])
    with pytest.raises(DataError, match=r"\[1, 32, 32\] and the real ones \[1, 28, 28\]"):
        MixedDataset(small, cond_gan, 0.5)
    with pytest.raises(DataError, match="range over"):
        MixedDataset((real[0].float(), real[1]), cond_gan, 0.5)   # float 0..255
    with pytest.raises(DataError, match=".npz"):
        MixedDataset(real, tmp_path / "nothing.txt", 0.5)
    gan = StubGAN()
    gan.config.model.conditional = False
    with pytest.raises(ConfigError, match="not conditional"):
        MixedDataset(real, gan, 0.5)
    np.savez(tmp_path / "s.npz", images=np.zeros((4, 32, 32, 1), np.uint8), labels=np.arange(4))
    with pytest.raises(ConfigError, match="min_confidence"):
        MixedDataset(real, tmp_path / "s.npz", 0.5, min_confidence=0.5)
    assert math.isclose(MixedDataset(real, tmp_path / "s.npz", 0.0).num_synthetic, 0)
