"""Gradient penalty and R1 against input gradients taken by central differences (no autograd),
and against closed forms for a linear discriminator."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from gankit.penalties import gradient_penalty, r1_penalty

SHAPES = [(5, 3), (4, 2, 3, 3)]   # vectors [N, D] and images [N, C, H, W]


class TinyMLP(nn.Module):
    """A smooth per-sample D in float64: logits [N] (or [N, 1] with keepdim)."""

    def __init__(self, features: int, keepdim: bool = False, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w1 = nn.Parameter(torch.randn(features, 6, generator=g, dtype=torch.float64))
        self.b1 = nn.Parameter(torch.randn(6, generator=g, dtype=torch.float64))
        self.w2 = nn.Parameter(torch.randn(6, generator=g, dtype=torch.float64))
        self.keepdim = keepdim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(x.flatten(1) @ self.w1 + self.b1)    # [N, 6]
        out = h @ self.w2 + (x.flatten(1) ** 2).sum(1) * 0.1  # [N]
        return out[:, None] if self.keepdim else out


class Linear(nn.Module):
    def __init__(self, w: torch.Tensor, b: float = 0.3):
        super().__init__()
        self.w = nn.Parameter(w.clone())
        self.b = nn.Parameter(torch.tensor(b, dtype=w.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.w + self.b                 # [N]


def fd_input_grad(D, x: torch.Tensor, h: float = 1e-6) -> torch.Tensor:
    """Central differences of each sample's logit w.r.t. its own input, no autograd. [N, ...]"""
    x = x.detach().clone()
    flat = x.view(x.shape[0], -1)
    grad = torch.zeros_like(flat)
    with torch.no_grad():
        for j in range(flat.shape[1]):
            old = flat[:, j].clone()
            flat[:, j] = old + h
            up = D(x).reshape(-1)
            flat[:, j] = old - h
            down = D(x).reshape(-1)
            flat[:, j] = old
            grad[:, j] = (up - down) / (2 * h)
    return grad.view_as(x)


def batch(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64)


def features(shape) -> int:
    return math.prod(shape[1:])


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_r1_matches_finite_differences(shape, keepdim):
    D = TinyMLP(features(shape), keepdim)
    real = batch(shape, 1)
    grad = fd_input_grad(D, real)
    expected = sum(float(grad[i].square().sum()) for i in range(shape[0])) / shape[0]
    got = r1_penalty(D, real)
    assert got.shape == () and expected > 0
    assert_close(got, torch.tensor(expected, dtype=torch.float64), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_gradient_penalty_matches_finite_differences(shape, keepdim):
    D = TinyMLP(features(shape), keepdim)
    real, fake = batch(shape, 1), batch(shape, 2) * 2 + 1
    got = gradient_penalty(D, real, fake, torch.Generator().manual_seed(7))
    # The documented draw: one U[0, 1) number per sample, torch.rand from the given generator.
    eps = torch.rand(shape[0], generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    assert ((eps > 0) & (eps < 1)).all()
    eps = eps.view((-1,) + (1,) * (len(shape) - 1))          # [N, 1] or [N, 1, 1, 1]
    x = eps * real + (1 - eps) * fake
    grad = fd_input_grad(D, x)
    norms = [math.sqrt(float(grad[i].square().sum())) for i in range(shape[0])]
    expected = sum((n - 1) ** 2 for n in norms) / shape[0]
    assert got.shape == ()
    assert_close(got, torch.tensor(expected, dtype=torch.float64), rtol=1e-7, atol=1e-9)


def test_gradient_penalty_is_reproducible_from_the_generator():
    shape = SHAPES[1]
    D = TinyMLP(features(shape))
    real, fake = batch(shape, 1), batch(shape, 2)
    a = gradient_penalty(D, real, fake, torch.Generator().manual_seed(3))
    b = gradient_penalty(D, real, fake, torch.Generator().manual_seed(3))
    c = gradient_penalty(D, real, fake, torch.Generator().manual_seed(4))
    assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)
    torch.manual_seed(0)
    assert torch.isfinite(gradient_penalty(D, real, fake))   # no generator: global RNG


@pytest.mark.parametrize("shape", SHAPES)
def test_linear_d_closed_forms(shape):
    """D(x) = <w, x> + b has input gradient w everywhere: GP = (|w| - 1)^2 and R1 = |w|^2 exactly,
    whatever the interpolation weights."""
    w = batch((features(shape),), 5)
    D = Linear(w)
    real, fake = batch(shape, 1), batch(shape, 2)
    norm = float(w.norm())
    assert_close(gradient_penalty(D, real, fake, torch.Generator().manual_seed(0)),
                 torch.tensor((norm - 1) ** 2, dtype=torch.float64))
    assert_close(r1_penalty(D, real), torch.tensor(norm ** 2, dtype=torch.float64))
    # a unit-norm critic pays no gradient penalty
    unit = Linear(w / w.norm())
    assert_close(gradient_penalty(unit, real, fake), torch.tensor(0.0, dtype=torch.float64))


@pytest.mark.parametrize("shape", SHAPES)
def test_linear_d_parameter_gradients_by_hand(shape):
    """d/dw (|w| - 1)^2 = 2 (|w| - 1) w / |w| and d/dw |w|^2 = 2 w; neither depends on b."""
    w = batch((features(shape),), 5)
    real, fake = batch(shape, 1), batch(shape, 2)
    D = Linear(w)
    gradient_penalty(D, real, fake, torch.Generator().manual_seed(0)).backward()
    assert_close(D.w.grad, 2 * (w.norm() - 1) * w / w.norm())
    assert D.b.grad is None or D.b.grad == 0
    D = Linear(w)
    r1_penalty(D, real).backward()
    assert_close(D.w.grad, 2 * w)


@pytest.mark.parametrize("penalty", ["gp", "r1"])
@pytest.mark.parametrize("shape", SHAPES)
def test_penalties_train_d_and_leave_inputs_alone(shape, penalty):
    D = TinyMLP(features(shape))
    real = batch(shape, 1).requires_grad_(True)
    fake = batch(shape, 2).requires_grad_(True)
    value = (gradient_penalty(D, real, fake, torch.Generator().manual_seed(0)) if penalty == "gp"
             else r1_penalty(D, real))
    value.backward()
    for name, p in D.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert any(p.grad.abs().sum() > 0 for p in D.parameters())
    assert D.w1.grad.abs().sum() > 0            # reaches through the input gradient
    assert real.grad is None and fake.grad is None


def test_r1_parameter_gradient_matches_finite_differences():
    """create_graph=True really differentiates the penalty: compare dR1/dw2 with central
    differences of the penalty itself."""
    shape = SHAPES[0]
    D = TinyMLP(features(shape))
    real = batch(shape, 1)
    r1_penalty(D, real).backward()
    got = D.w2.grad.clone()
    h = 1e-6
    expected = torch.zeros_like(got)
    for k in range(got.numel()):
        with torch.no_grad():
            old = D.w2[k].item()
            D.w2[k] = old + h
        up = r1_penalty(D, real).item()
        with torch.no_grad():
            D.w2[k] = old - h
        down = r1_penalty(D, real).item()
        with torch.no_grad():
            D.w2[k] = old
        expected[k] = (up - down) / (2 * h)
    assert_close(got, expected, rtol=1e-6, atol=1e-8)


def test_float32_images_work():
    D = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.SiLU(), nn.Flatten(),  # smooth: all
                      # weights reach the input gradient (with LeakyReLU the conv bias would not)
                      nn.Linear(4 * 8 * 8, 1))
    torch.manual_seed(0)
    real, fake = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    gp = gradient_penalty(lambda x: D(x).squeeze(1), real, fake, torch.Generator().manual_seed(0))
    r1 = r1_penalty(lambda x: D(x).squeeze(1), real)
    (gp + r1).backward()
    assert gp.dtype == torch.float32 and torch.isfinite(gp) and torch.isfinite(r1) and r1 > 0
    # the last bias does not touch the input gradient, so it gets no gradient; everything else does
    for name, p in D.named_parameters():
        if name != "3.bias":
            assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


class Quadratic(torch.nn.Module):
    """D(x) = 0.5 * s * ||x||^2 per sample, s = 1: its input gradient is x itself."""

    def __init__(self):
        super().__init__()
        self.s = torch.nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * self.s * x.flatten(1).square().sum(1)


class Constant(torch.nn.Module):
    """G(z) = c for every z."""

    def __init__(self, c: torch.Tensor):
        super().__init__()
        self.z_dim, self.c = 3, torch.nn.Parameter(c.clone())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.c.expand(len(z), -1)


@pytest.mark.parametrize("r1, r2", [(0.0, 2.0), (1.0, 0.0), (1.0, 2.0)])
def test_r2_penalises_d_on_generated_samples_by_hand(r1, r2):
    """With D(x) = ||x||^2 / 2 the input gradient is x, so R1 = mean ||real||^2 and R2 = ||c||^2
    for a G that always makes c; the lazy phase returns (r1/2 R1 + r2/2 R2) x its interval."""
    from gankit.config import LossConfig, RunConfig, TrainConfig
    from gankit.tasks.gan.task import GANTask
    cfg = RunConfig(loss=LossConfig(r1_gamma=r1, r2_gamma=r2, r1_every=4),
                    train=TrainConfig(ema_halflife=0), data_shape=(2,))
    c = torch.tensor([3.0, -4.0])                      # ||c||^2 = 25
    task = GANTask(Constant(c), Quadratic(), cfg, torch.device("cpu"))
    assert [p.name for p in task.phases][-1] == "R1"
    real = torch.tensor([[1.0, 2.0], [0.0, -2.0]])     # mean ||real||^2 = (5 + 4) / 2
    loss, stats = task.r1_loss(real)
    expected = (r1 / 2 * 4.5 + r2 / 2 * 25.0) * 4
    torch.testing.assert_close(loss, torch.tensor(expected))
    assert ("r2" in stats) == (r2 > 0) and ("r1" in stats) == (r1 > 0)
    if r2:
        torch.testing.assert_close(stats["r2"], torch.tensor(25.0))
