"""The FID Inception-v3 through torch-fidelity (the `inception` extra): weights read from a local file, safely;
2048-d features, deterministic; FID near zero on the same images and growing with corruption.

Random weights stand in for the real ones (gankit neither ships nor downloads them): torchvision's Inception3
with torch-fidelity's layout, He-initialised so every layer passes signal on. Without torch-fidelity only the
missing-extra error is tested.
"""

from __future__ import annotations

import hashlib
import sys

import pytest
import torch
from safetensors.torch import save_file

from gankit.errors import GanKitError
from gankit.metrics import ExtractorError, fid, load_extractor, protocol
from gankit.metrics.inception import InceptionExtractor, default_paths, load_inception

pytestmark = pytest.mark.usefixtures("one_thread")  # a 299x299 net on a shared 2-core machine: no spinning
N = 6  # images per set: each costs ~0.5 s on a CPU core at 299x299


@pytest.fixture(scope="module")
def state() -> dict[str, torch.Tensor]:
    """A seeded random state dict with the keys and shapes of the FID Inception-v3 (fc included)."""
    pytest.importorskip("torch_fidelity", reason="the inception extra is not installed")
    models = pytest.importorskip("torchvision.models")
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(0)
        net = models.inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=1008)
        for module in net.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            elif isinstance(module, torch.nn.BatchNorm2d):
                module.bias.uniform_(-0.1, 0.1)
    return {k: v.clone() for k, v in net.state_dict().items()}


@pytest.fixture(scope="module")
def weights(state, tmp_path_factory):
    """The random weights as a torch .pth file, as torch-fidelity's own download is."""
    path = tmp_path_factory.mktemp("weights") / "weights-inception-random.pth"
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def ext(weights) -> InceptionExtractor:
    return load_inception(weights)


def images(n: int, channels: int = 3, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Smooth random pictures uint8 [n, channels, size, size] (low-frequency noise, upsampled)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, channels, 4, 4, generator=g)
    x = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    return (x * 255).round().to(torch.uint8)


def test_without_torch_fidelity_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)  # import torch_fidelity now raises ImportError
    with pytest.raises(ExtractorError) as err:
        load_extractor("inception")
    message = str(err.value)
    assert isinstance(err.value, GanKitError) and "\n" not in message
    assert "pip install 'gankit[inception]'" in message


def test_features_are_2048_d_deterministic_and_independent_of_batching(ext):
    x = images(2)
    feats = ext.features(x, batch_size=2)
    assert feats.shape == (2, 2048) and feats.dtype == torch.float32
    assert torch.isfinite(feats).all() and feats.std() > 0
    assert torch.equal(ext.features(x, batch_size=2), feats)  # the same images, the same features
    torch.testing.assert_close(ext.features(x, batch_size=1), feats, rtol=1e-4, atol=1e-5)


def test_gray_and_float_images_are_the_same_uint8_rgb(ext):
    gray = images(1, channels=1, size=28, seed=1)
    feats = ext.features(gray)
    assert feats.shape == (1, 2048)
    torch.testing.assert_close(ext.features(gray.expand(-1, 3, -1, -1)), feats)
    torch.testing.assert_close(ext.features(gray.float() / 127.5 - 1), feats)
    note = "gray repeated to 3 channels; 28x28 resized to 299x299 (torch-fidelity: TensorFlow 1's bilinear)"
    assert ext.input_note((2, 1, 28, 28)) == note and ext.input_note((2, 3, 299, 299)) is None


def test_fid_is_near_zero_for_the_same_images_and_grows_with_corruption(ext):
    real = images(N, seed=2)
    noise = torch.randn(real.shape, generator=torch.Generator().manual_seed(3))
    x = real.float() / 127.5 - 1
    f_real = ext.features(real)
    distances = [fid(f_real, f_real.flip(0))]  # the same set, in another order
    for sigma in (0.1, 0.4):
        distances.append(fid(f_real, ext.features((x + sigma * noise).clamp(-1, 1))))
    scale = float(f_real.var(0).sum())  # the features' total variance: what an FID is large against
    assert abs(distances[0]) < 1e-6 * scale, distances
    assert distances[0] < distances[1] < distances[2], distances


def test_predict_proba_is_the_1008_way_softmax(ext):
    probs = ext.predict_proba(images(2, seed=4))
    assert probs.shape == (2, 1008) and ext.num_classes == 1008
    torch.testing.assert_close(probs.sum(1), torch.ones(2))


def test_default_location_safetensors_and_the_recorded_hash(state, weights, ext):
    """data_root()/inception-v3-fid.safetensors (or .pth) is what `load_extractor("inception")` reads."""
    target = default_paths()[0]
    target.parent.mkdir(parents=True)
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()
            if not k.endswith("num_batches_tracked")}  # fp16, no num_batches_tracked: still loads
    save_file({k: v.contiguous() for k, v in half.items()}, target)
    loaded = load_extractor("inception-v3-fid")
    sha = hashlib.sha256(target.read_bytes()).hexdigest()
    assert isinstance(loaded, InceptionExtractor) and loaded.name == "inception-v3-fid" and loaded.sha256 == sha
    assert protocol("fid", loaded, 10, 10)["extractor_sha256"] == sha
    x = images(1, seed=5)
    expected = ext.features(x)  # the same weights in fp16: the same features to fp16's precision
    torch.testing.assert_close(loaded.features(x), expected, rtol=1e-2, atol=1e-2 * float(expected.abs().max()))
    target.unlink()
    default_paths()[1].write_bytes(weights.read_bytes())
    assert load_extractor("inception").sha256 == ext.sha256 == hashlib.sha256(weights.read_bytes()).hexdigest()


def test_no_weights_file_is_a_one_line_error_naming_where_to_put_it(state):
    with pytest.raises(ExtractorError) as err:
        load_extractor("inception")
    message = str(err.value)
    assert "\n" not in message and str(default_paths()[0]) in message and "downloads none" in message
    with pytest.raises(ExtractorError, match="no weights file at"):
        load_inception("missing.pth")


def test_weights_without_fc_have_no_class_probabilities(state, tmp_path):
    path = tmp_path / "no-fc.pth"
    torch.save({k: v for k, v in state.items() if not k.startswith("fc.")}, path)
    ext = load_inception(path)
    assert ext.num_classes is None
    feats = ext.features(images(1, seed=6))
    assert feats.shape == (1, 2048)
    with pytest.raises(ExtractorError, match="no fc layer"):
        ext.proba_from_features(feats)


class Payload:
    """Unpickling this runs code: torch.load(weights_only=True) must refuse it before that happens."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


def test_a_pickle_that_runs_code_is_refused_not_run(state, tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    torch.save({**state, "extra": Payload(marker)}, path)
    with pytest.raises(ExtractorError, match="weights_only=True"):
        load_inception(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda s, p: p.write_bytes(b"\x80\x02not a weights file"), "neither safetensors nor"),
        (lambda s, p: save_file({"weight": torch.zeros(3)}, p), "does not fit"),  # some other network
        (lambda s, p: torch.save({**s, "fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000)}, p),
         r"fc\.weight.*1000, 2048"),  # torchvision's ImageNet head, not the FID one
        (lambda s, p: torch.save([1, 2], p), "not a state dict"),
    ],
)
def test_corrupt_or_foreign_files_are_clear_errors(state, tmp_path, make, match):
    path = tmp_path / "bad.pth"
    make(state, path)
    with pytest.raises(ExtractorError, match=match) as err:
        load_inception(path)
    assert "\n" not in str(err.value)
