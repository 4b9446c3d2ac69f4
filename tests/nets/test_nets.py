"""Every net family honours the same contract, checked by one shared mixin.

G maps noise [N, z_dim] -> samples [N, *data_shape] (images in [-1, 1]); D maps samples -> logits [N];
the same seed builds the same weights; weights survive a safetensors round trip; G learns through D.
A family's test class only lists its configurations; the test bodies live once, in `NetContract`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

import gankit.nets as nets
from gankit.config import ModelConfig
from gankit.errors import ConfigError
from gankit.nets import build_nets, register_net

IMAGE_SHAPES = [(1, 28, 28), (3, 28, 28), (1, 32, 32), (3, 32, 32), (1, 64, 64), (3, 64, 64)]
BATCH = 4


@dataclass(frozen=True)
class Case:
    model: str
    shape: tuple[int, ...]
    z_dim: int
    width: Optional[int] = 8   # small nets keep the suite fast; the contract does not depend on size

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3

    def cfg(self, **kw) -> ModelConfig:
        return ModelConfig(**{"model": self.model, "z_dim": self.z_dim, "width": self.width, **kw})

    def build(self, seed: int = 0, **kw) -> tuple[nn.Module, nn.Module]:
        torch.manual_seed(seed)
        return build_nets(self.cfg(**kw), self.shape)

    def noise(self, n: int = BATCH, seed: int = 123) -> torch.Tensor:
        return torch.randn(n, self.z_dim, generator=torch.Generator().manual_seed(seed))

    def __str__(self) -> str:
        return f"{self.model}-{'x'.join(map(str, self.shape))}-z{self.z_dim}"


def _cases(model: str, shapes: list[tuple[int, ...]]) -> list[Case]:
    z_dims = (1, 16, 100)   # cycle through z sizes so each one meets several shapes
    return [Case(model, s, z_dims[i % len(z_dims)]) for i, s in enumerate(shapes)]


def pytest_generate_tests(metafunc):
    """Parametrize `case` from the test class's CASES: the mixin's tests run once per configuration."""
    if "case" in metafunc.fixturenames:
        metafunc.parametrize("case", metafunc.cls.CASES, ids=str)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


class NetContract:
    """Tests every net family must pass. Subclasses set CASES, DEFAULT_WIDTH and CAPACITY_SHAPE."""

    CASES: list[Case] = []
    DEFAULT_WIDTH: int
    CAPACITY_SHAPE: tuple[int, ...]
    MODEL: str

    def test_generator_maps_noise_to_samples_of_the_data_shape(self, case):
        G, _ = case.build()
        x = G(case.noise())
        assert x.shape == (BATCH, *case.shape)
        assert x.dtype == torch.float32 and torch.isfinite(x).all()

    def test_generator_output_range(self, case):
        """Images are squashed into [-1, 1] by tanh even when pre-activations are huge; vectors are
        linear outputs and may leave that range."""
        G, _ = case.build()
        with torch.no_grad():
            for p in G.parameters():
                p.mul_(30)   # blow up every pre-activation: only a final tanh can keep x in range
            x = G(5 * case.noise(16))
        assert torch.isfinite(x).all()
        if case.is_image:
            assert x.abs().max() <= 1.0
            assert x.abs().max() > 0.99, "expected saturated tanh outputs near +-1"
        else:
            assert x.abs().max() > 1.0, "vector data needs an unbounded (linear) output"

    def test_discriminator_gives_one_logit_per_sample(self, case):
        G, D = case.build()
        logits = D(G(case.noise()))
        assert logits.shape == (BATCH,)
        assert torch.isfinite(logits).all()

    @pytest.mark.parametrize("d_norm", ["none", "spectral", "batch"])
    def test_discriminator_judges_each_sample_on_its_own(self, case, d_norm):
        """Without batch statistics (or, with BatchNorm, in eval mode) a sample's logit does not
        depend on the rest of the batch; with BatchNorm in training mode it does. (mlp ignores
        d_norm.)"""
        if case.model == "resnet" and d_norm == "batch":   # SNGAN's D has no batch statistics
            with pytest.raises(ConfigError, match="spectral or none"):
                case.build(d_norm=d_norm)
            return
        _, D = case.build(d_norm=d_norm)
        x = torch.rand(BATCH, *case.shape, generator=torch.Generator().manual_seed(5)) * 2 - 1

        def per_sample_matches() -> bool:
            whole = D(x)
            alone = torch.cat([D(x[i:i + 1]) for i in range(BATCH)])
            return torch.allclose(whole, alone, rtol=1e-4, atol=1e-5)

        batch_norm = d_norm == "batch" and case.model == "dcgan"
        if d_norm != "spectral":   # spectral norm's power iteration moves on every training call
            assert per_sample_matches() != batch_norm
        D.eval()
        assert per_sample_matches()

    def test_same_seed_builds_identical_nets(self, case):
        (G1, D1), (G2, D2), (G3, _) = case.build(seed=7), case.build(seed=7), case.build(seed=8)
        for a, b in ((G1, G2), (D1, D2)):
            sa, sb = a.state_dict(), b.state_dict()
            assert sa.keys() == sb.keys()
            for k in sa:
                assert torch.equal(sa[k], sb[k]), k
        z = case.noise()
        assert torch.equal(G1(z), G2(z))
        assert torch.equal(D1(G1(z)), D2(G2(z)))
        assert not torch.equal(G1(z), G3(z)), "a different seed should give different weights"

    def test_safetensors_round_trip_restores_outputs(self, case, tmp_path):
        G, D = case.build(seed=0)
        G(case.noise(8, seed=1))   # a training-mode pass moves BatchNorm running stats off defaults
        fresh_G, fresh_D = case.build(seed=1)
        for name, net, fresh in (("G", G, fresh_G), ("D", D, fresh_D)):
            path = tmp_path / f"{name}.safetensors"
            save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
            fresh.load_state_dict(load_file(str(path)))
        G.eval()
        fresh_G.eval()   # eval mode uses the running stats, so buffers must have been saved too
        z = case.noise()
        assert torch.equal(G(z), fresh_G(z))
        assert torch.equal(D(G(z)), fresh_D(G(z)))

    def test_gradients_reach_every_generator_parameter_through_d(self, case):
        G, D = case.build()
        D(G(case.noise(8))).mean().backward()
        for name, p in G.named_parameters():
            assert p.grad is not None, f"G.{name} gets no gradient"
            assert torch.isfinite(p.grad).all(), name
            assert p.grad.abs().sum() > 0, f"G.{name} has an all-zero gradient"
        for name, p in D.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, f"D.{name}"

    def test_width_sets_capacity(self):
        counts = {}
        for width in (None, self.DEFAULT_WIDTH, 4, 8):
            case = Case(self.MODEL, self.CAPACITY_SHAPE, 16, width)
            G, D = case.build()
            counts[width] = (n_params(G), n_params(D))
        assert counts[None] == counts[self.DEFAULT_WIDTH], "width=None must mean the documented default"
        assert counts[8][0] > counts[4][0] and counts[8][1] > counts[4][1]
        assert counts[self.DEFAULT_WIDTH][0] > counts[8][0]


class TestMLP(NetContract):
    MODEL = "mlp"
    CASES = _cases("mlp", IMAGE_SHAPES + [(2,)]) + [Case("mlp", (2,), 2), Case("mlp", (5,), 3)]
    DEFAULT_WIDTH = 256
    CAPACITY_SHAPE = (2,)


class TestDCGAN(NetContract):
    MODEL = "dcgan"
    CASES = _cases("dcgan", IMAGE_SHAPES)
    DEFAULT_WIDTH = 32
    CAPACITY_SHAPE = (1, 28, 28)


class TestResNet(NetContract):
    MODEL = "resnet"
    CASES = _cases("resnet", IMAGE_SHAPES)
    DEFAULT_WIDTH = 32
    CAPACITY_SHAPE = (3, 32, 32)


class TestR3GAN(NetContract):
    MODEL = "r3gan"
    CASES = _cases("r3gan", IMAGE_SHAPES)
    DEFAULT_WIDTH = 32
    CAPACITY_SHAPE = (1, 28, 28)

    @pytest.mark.parametrize("d_norm", ["none", "spectral", "batch"])
    def test_discriminator_judges_each_sample_on_its_own(self, case, d_norm):
        """R3GAN's nets have no normalization layers: other norms are refused, and a sample's
        logit never depends on the rest of the batch."""
        if d_norm != "none":
            with pytest.raises(ConfigError, match="no normalization"):
                case.build(d_norm=d_norm)
            return
        _, D = case.build(d_norm=d_norm)
        x = torch.rand(BATCH, *case.shape, generator=torch.Generator().manual_seed(5)) * 2 - 1
        alone = torch.cat([D(x[i:i + 1]) for i in range(BATCH)])
        assert torch.allclose(D(x), alone, rtol=1e-4, atol=1e-5)

    def test_gradients_reach_every_generator_parameter_through_d(self, case):
        """Fix-up init: each residual branch ends in a zero conv, so at the start only that conv
        (and everything outside the branches) gets a gradient; once it has moved, all do."""
        G, D = case.build()
        D(G(case.noise(8))).mean().backward()
        branch = [n for n, _ in G.named_parameters() if ".widen." in n or ".mix." in n]
        assert branch and all(G.get_parameter(n).grad.abs().sum() == 0 for n in branch)
        with torch.no_grad():
            for net in (G, D):
                for m in net.modules():
                    if isinstance(m, nets.r3gan.Block):
                        m.narrow.weight.normal_(0, 0.02)
        _all_get_gradients(G, D, case)

    def test_blocks_start_as_the_identity(self, case):
        torch.manual_seed(0)
        block = nets.r3gan.Block(32, 4)
        x = torch.randn(2, 32, 7, 7)
        assert torch.equal(block(x), x)


def _all_get_gradients(G: nn.Module, D: nn.Module, case) -> None:
    for net in (G, D):
        net.zero_grad()
    D(G(case.noise(8))).mean().backward()
    for name, p in list(G.named_parameters()) + list(D.named_parameters()):
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{name} has an all-zero gradient"


def test_resnet_has_one_residual_block_per_doubling():
    """28 px grows from 7x7 in two up-blocks, 32 px from 4x4 in three; D mirrors that."""
    for shape, ups in (((1, 28, 28), 2), ((3, 32, 32), 3), ((3, 64, 64), 4)):
        G, D = build_nets(ModelConfig("resnet", 16, 8), shape)
        assert len(G.blocks) == ups
        assert sum(isinstance(m, nets.resnet.DownBlock) and m.down for m in D.modules()) == ups
        assert D.net[-1].in_features == 8


def test_resnet_discriminator_is_spectrally_normalized_by_default():
    torch.manual_seed(0)
    _, D = build_nets(ModelConfig("resnet", 8, 8), (3, 32, 32))
    x = torch.randn(4, 3, 32, 32)
    for _ in range(40):
        D(x)
    layers = [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(layers) == 1 + 3 * 3 + 2   # 3 down-blocks with a shortcut, 1 plain block, the head
    for m in layers:
        sigma = torch.linalg.matrix_norm(m.weight.detach().reshape(m.weight.shape[0], -1), ord=2)
        assert abs(float(sigma) - 1.0) < 0.05, float(sigma)


def test_mlp_image_capacity_grows_with_width():
    """The hidden sizes are multiples of width: doubling width roughly doubles the big layers."""
    small = n_params(build_nets(ModelConfig("mlp", 8, 4), (1, 28, 28))[0])
    big = n_params(build_nets(ModelConfig("mlp", 8, 8), (1, 28, 28))[0])
    assert 1.8 < big / small < 4.5


@pytest.mark.parametrize("shape", [(1, 30, 30), (3, 100, 100), (1, 4, 4), (1, 7, 7), (1, 32, 28),
                                   (3, 28, 32), (1, 64, 32)])
def test_dcgan_refuses_unsupported_image_sizes(shape):
    with pytest.raises(ConfigError):
        build_nets(ModelConfig("dcgan", 16, 8), shape)


@pytest.mark.parametrize("shape", [(2,), (2, 32, 32), (4, 32, 32), (32, 32)])
def test_dcgan_refuses_non_images(shape):
    with pytest.raises(ConfigError, match="mlp"):
        build_nets(ModelConfig("dcgan", 16, 8), shape)


@pytest.mark.parametrize("side", [16, 56, 128])
def test_dcgan_accepts_other_base_times_power_of_two_sizes(side):
    G, D = build_nets(ModelConfig("dcgan", 8, 4), (1, side, side))
    x = G(torch.randn(2, 8))
    assert x.shape == (2, 1, side, side) and D(x).shape == (2,)


def test_unknown_model_names_the_choices():
    with pytest.raises(ConfigError) as err:
        build_nets(ModelConfig(model="resnet9000"), (1, 28, 28))
    msg = str(err.value)
    assert "resnet9000" in msg and "mlp" in msg and "dcgan" in msg


def test_register_net_makes_a_new_name_buildable(monkeypatch):
    monkeypatch.setattr(nets, "NETS", dict(nets.NETS))   # leave the real registry untouched
    seen = {}

    @register_net("tiny")
    def _tiny(shape, cfg):
        seen["args"] = (shape, cfg)
        size = math.prod(shape)
        return (nn.Sequential(nn.Linear(cfg.z_dim, size), nn.Unflatten(1, shape)),
                nn.Sequential(nn.Flatten(), nn.Linear(size, 1), nn.Flatten(0)))

    cfg = ModelConfig(model="tiny", z_dim=3)
    G, D = build_nets(cfg, [2, 5])
    assert seen["args"] == ((2, 5), cfg)   # the shape arrives as a tuple
    assert D(G(torch.randn(4, 3))).shape == (4,)
    with pytest.raises(ConfigError, match="tiny"):   # and it is listed among the choices
        build_nets(ModelConfig(model="nope"), (2,))


def test_spectral_norm_bounds_every_layer_of_d():
    """After power iteration, each layer's weight (as used in forward) has largest singular value ~1."""
    torch.manual_seed(0)
    _, D = build_nets(ModelConfig("dcgan", 8, 16, d_norm="spectral"), (1, 28, 28))
    x = torch.randn(4, 1, 28, 28)
    for _ in range(30):   # each training-mode forward runs one power-iteration step
        D(x)
    layers = [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(layers) == 3
    for m in layers:
        sigma = torch.linalg.matrix_norm(m.weight.detach().reshape(m.weight.shape[0], -1), ord=2)
        assert abs(float(sigma) - 1.0) < 0.05, float(sigma)
