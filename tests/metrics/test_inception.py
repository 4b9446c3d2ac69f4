"""The FID Inception-v3 extractor: the architecture (size, key names, pooling quirks), its inputs, and how its
weights are found, verified and downloaded. No real weights here: files are made from seeded random weights."""

from __future__ import annotations

import hashlib
import importlib
import types

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from gankit.errors import GanKitError
from gankit.metrics import ExtractorError, WeightsChecksumError, load_extractor, protocol
from gankit.metrics.inception import (
    InceptionConfig,
    InceptionExtractor,
    InceptionV3FID,
    _avg_pool,
    default_path,
    load_inception,
)

inception = importlib.import_module("gankit.metrics.inception")
FAKE_SHA = "0" * 64


def random_net(num_classes: int | None = 1008) -> InceptionV3FID:
    """Seeded random weights (default init), without touching the global RNG."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return InceptionV3FID(InceptionConfig(num_classes)).eval()


@pytest.fixture(scope="module")
def net() -> InceptionV3FID:
    return random_net()


@pytest.fixture(scope="module")
def ext(net) -> InceptionExtractor:
    return InceptionExtractor(net, sha256=FAKE_SHA)


@pytest.fixture(scope="module")
def weights(net) -> bytes:
    """The random net as a safetensors file (fp32, with fc, ~95 MB), as a converted FID checkpoint would be."""
    return save_safetensors({k: v.contiguous() for k, v in net.state_dict().items()})


def images(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------- the architecture


def test_parameter_count_matches_the_reference_fid_inception():
    n_params = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    with_fc, without_fc = random_net(), random_net(None)
    # torchvision's inception_v3(num_classes=1008, aux_logits=False): 23,850,960 = 21,785,568 + 2048*1008 + 1008
    assert n_params(with_fc) == 23_850_960
    assert n_params(without_fc) == 21_785_568
    state = without_fc.state_dict()
    assert sum(k.endswith("conv.weight") for k in state) == 94
    assert len([k for k in state if not k.endswith("num_batches_tracked")]) == 94 * 5


def test_state_dict_uses_the_pytorch_fid_key_names(net):
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert shapes["Conv2d_1a_3x3.conv.weight"] == (32, 3, 3, 3)
    assert shapes["Conv2d_1a_3x3.bn.running_var"] == (32,)
    assert shapes["Mixed_5b.branch_pool.conv.weight"] == (32, 192, 1, 1)
    assert shapes["Mixed_6e.branch7x7dbl_5.conv.weight"] == (192, 192, 1, 7)
    assert shapes["Mixed_7a.branch7x7x3_4.conv.weight"] == (192, 192, 3, 3)
    assert shapes["Mixed_7c.branch3x3dbl_3b.conv.weight"] == (384, 384, 3, 1)
    assert shapes["fc.weight"] == (1008, 2048) and shapes["fc.bias"] == (1008,)
    assert not any(k.startswith("AuxLogits") for k in shapes)  # pytorch-fid builds it with aux_logits=False


def test_state_dict_round_trips_through_safetensors(net, weights, tmp_path):
    loaded = load_safetensors(weights)
    original = net.state_dict()
    assert {k: v.shape for k, v in loaded.items()} == {k: v.shape for k, v in original.items()}
    path = tmp_path / "mine.safetensors"
    path.write_bytes(weights)
    again = load_inception(path).net.state_dict()
    assert all(torch.equal(again[k], original[k]) for k in original)


def test_avg_pool_branches_ignore_padding_as_tensorflow_does():
    pooled = _avg_pool(torch.ones(1, 1, 5, 5))
    torch.testing.assert_close(pooled, torch.ones(1, 1, 5, 5))  # zero padding would make the borders 4/9, 6/9


def test_matches_torchvision_inception_with_the_fid_pooling(monkeypatch):
    """Independent check: torchvision's Inception3 (the layout pytorch-fid loads its weights into), with its
    avg-pools made TensorFlow-like and Mixed_7c's made a max-pool, gives the same pool3 features and logits."""
    tvi = pytest.importorskip("torchvision.models.inception")
    net = random_net()
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(0)
        for module in net.modules():  # He-scaled convs and BatchNorms that do something: every branch matters
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight)
            elif isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5), module.bias.uniform_(-0.2, 0.2)
                module.running_mean.uniform_(-0.2, 0.2), module.running_var.uniform_(0.5, 2.0)
    ref = tvi.Inception3(num_classes=1008, aux_logits=False, init_weights=False).eval()
    ref.load_state_dict(net.state_dict())

    def fid_pool(x, kernel_size, stride=None, padding=0, **_):
        if x.shape[1] == 2048:  # only Mixed_7c sees 2048 channels
            return F.max_pool2d(x, kernel_size, stride, padding)
        return F.avg_pool2d(x, kernel_size, stride, padding, count_include_pad=False)

    functional = types.SimpleNamespace(**{k: getattr(F, k) for k in dir(F) if not k.startswith("__")})
    functional.avg_pool2d = fid_pool
    monkeypatch.setattr(tvi, "F", functional)
    pool3 = {}
    ref.avgpool.register_forward_hook(lambda m, i, o: pool3.setdefault("x", o.flatten(1)))
    x = torch.rand(1, 3, 299, 299, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        logits = ref(x)
        feats = net(x)
        torch.testing.assert_close(feats, pool3["x"])
        torch.testing.assert_close(net.fc(feats), logits)


# ---------------------------------------------------------------- the extractor's inputs and outputs


@pytest.mark.parametrize("shape", [(2, 3, 299, 299), (2, 1, 28, 28)])
def test_features_are_2048_d_and_finite(ext, shape):
    feats = ext.features(images(shape))
    assert feats.shape == (2, 2048) and feats.dtype == torch.float32
    assert torch.isfinite(feats).all() and feats.abs().sum() > 0


def test_gray_is_repeated_to_rgb_and_uint8_equals_its_float_scaling(ext):
    gray = images((2, 1, 32, 32))
    feats = ext.features(gray)
    torch.testing.assert_close(ext.features(gray.expand(-1, 3, -1, -1)), feats)
    torch.testing.assert_close(ext.features(gray.float() / 127.5 - 1), feats)
    note = "gray repeated to 3 channels; 32x32 resized to 299x299 (bilinear, no antialiasing, as pytorch-fid)"
    assert ext.input_note((2, 1, 32, 32)) == note
    assert ext.input_note((2, 3, 299, 299)) is None


def test_features_do_not_depend_on_batching_or_leave_train_mode(ext):
    x = images((3, 3, 40, 40), seed=2)
    ext.net.train()  # features are computed in eval mode whatever the mode was
    together = ext.features(x, batch_size=3)
    assert ext.net.training
    ext.eval()
    torch.testing.assert_close(ext.features(x, batch_size=2), together, rtol=1e-4, atol=1e-5)


def test_predict_proba_is_the_1008_way_softmax(ext):
    probs = ext.predict_proba(images((2, 3, 64, 64)))
    assert probs.shape == (2, 1008) and ext.num_classes == 1008
    torch.testing.assert_close(probs.sum(1), torch.ones(2))


def test_weights_without_fc_have_no_class_probabilities(tmp_path):
    state = {k: v.half() for k, v in random_net(None).state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "no-fc.safetensors"
    path.write_bytes(save_safetensors(state))  # fp16, no fc, no num_batches_tracked: still loads
    ext = load_inception(path)
    assert ext.num_classes is None and ext.net.fc is None
    feats = ext.features(images((1, 1, 28, 28)))
    assert feats.shape == (1, 2048)
    with pytest.raises(ExtractorError, match="no fc layer"):
        ext.proba_from_features(feats)


# ---------------------------------------------------------------- finding and verifying the weights


def test_load_extractor_without_weights_is_a_clear_one_line_error():
    with pytest.raises(ExtractorError) as err:
        load_extractor("inception")
    message = str(err.value)
    assert "\n" not in message and isinstance(err.value, GanKitError)
    assert str(default_path()) in message and "safetensors" in message and "no download mirror" in message


def test_the_missing_file_error_names_the_expected_sha256(monkeypatch):
    monkeypatch.setattr(inception, "EXPECTED_SHA256", "ab" * 32)
    with pytest.raises(ExtractorError, match=f"SHA-256 {'ab' * 32}"):
        load_inception()


def test_weights_under_gankit_data_load_and_their_hash_is_recorded(weights):
    path = default_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(weights)
    ext = load_extractor("inception")
    sha = hashlib.sha256(weights).hexdigest()
    assert isinstance(ext, InceptionExtractor) and ext.name == "inception-v3-fid" and ext.sha256 == sha
    assert protocol("fid", ext, 10, 10)["extractor_sha256"] == sha
    assert load_extractor("inception-v3-fid").sha256 == sha


def test_a_file_that_does_not_match_expected_sha256_is_rejected(weights, monkeypatch):
    default_path().parent.mkdir(parents=True)
    default_path().write_bytes(weights)
    monkeypatch.setattr(inception, "EXPECTED_SHA256", "ab" * 32)
    with pytest.raises(WeightsChecksumError, match="expected abab"):
        load_inception()
    assert default_path().read_bytes() == weights  # a bad local copy is reported, never replaced


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda w: w[: len(w) // 2], "not a readable safetensors"),  # cut short
        (lambda w: b"\x80\x02not a safetensors file, a pickle", "not a readable safetensors"),
        (lambda w: save_safetensors({"weight": torch.zeros(3)}), "does not fit"),  # some other network
    ],
)
def test_corrupt_or_foreign_files_are_clear_errors(weights, tmp_path, make, match):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(make(weights))
    with pytest.raises(ExtractorError, match=match):
        load_inception(path)


def test_misshapen_tensors_are_named(net, tmp_path):
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    state["fc.weight"] = torch.zeros(1000, 2048)  # torchvision's ImageNet head, not the FID one
    state["fc.bias"] = torch.zeros(1000)
    path = tmp_path / "imagenet-head.safetensors"
    path.write_bytes(save_safetensors(state))
    with pytest.raises(ExtractorError, match=r"fc\.weight \(1000, 2048\)≠\(1008, 2048\)"):
        load_inception(path)


# ---------------------------------------------------------------- downloading them


def test_download_is_verified_and_cached(http_server, weights, monkeypatch):
    http_server.serve("/good/inception-v3-fid.safetensors", weights)
    mirrors = tuple(f"{http_server.url}/{d}/inception-v3-fid.safetensors" for d in ("gone", "good"))
    sha = hashlib.sha256(weights).hexdigest()
    monkeypatch.setattr(inception, "MIRRORS", mirrors)
    monkeypatch.setattr(inception, "EXPECTED_SHA256", sha)
    monkeypatch.delenv("GANKIT_OFFLINE")
    ext = load_extractor("inception")  # the first mirror answers 404, the second serves the file
    assert ext.sha256 == sha and default_path().read_bytes() == weights
    assert http_server.requests == ["/gone/inception-v3-fid.safetensors", "/good/inception-v3-fid.safetensors"]
    assert load_inception().sha256 == sha and len(http_server.requests) == 2  # from the cache now


def test_a_corrupted_download_is_rejected_and_nothing_is_cached(http_server, weights, monkeypatch):
    corrupt = bytearray(weights)
    corrupt[len(corrupt) // 2] ^= 0xFF  # still valid safetensors: only the hash can tell
    http_server.serve("/inception-v3-fid.safetensors", bytes(corrupt))
    monkeypatch.setattr(inception, "MIRRORS", (f"{http_server.url}/inception-v3-fid.safetensors",))
    monkeypatch.setattr(inception, "EXPECTED_SHA256", hashlib.sha256(weights).hexdigest())
    monkeypatch.delenv("GANKIT_OFFLINE")
    with pytest.raises(WeightsChecksumError, match="SHA-256 mismatch") as err:
        load_inception()
    assert "\n" not in str(err.value) and len(http_server.requests) == 1
    folder = default_path().parent
    assert not folder.exists() or list(folder.iterdir()) == []  # no file, no leftover .part


@pytest.mark.parametrize("expected, offline", [(None, "0"), ("ab" * 32, "1")])
def test_no_download_without_a_sum_to_check_or_when_offline(http_server, monkeypatch, expected, offline):
    monkeypatch.setattr(inception, "MIRRORS", (f"{http_server.url}/inception-v3-fid.safetensors",))
    monkeypatch.setattr(inception, "EXPECTED_SHA256", expected)
    monkeypatch.setenv("GANKIT_OFFLINE", offline)
    with pytest.raises(ExtractorError, match="no SHA-256 to verify|GANKIT_OFFLINE"):
        load_inception()
    assert http_server.requests == []
