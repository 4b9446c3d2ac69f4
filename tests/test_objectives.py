"""The adversarial losses against numbers worked out by hand, at ordinary and at extreme logits."""
from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

import gankit.objectives as objectives
from gankit.errors import ConfigError
from gankit.objectives import get_objective

REAL = [2.0, -1.0]
FAKE = [0.5, -3.0]


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs)


def t(xs) -> torch.Tensor:
    return torch.tensor(xs, dtype=torch.float32, requires_grad=True)


# The textbook formulas, written the naive way (sigmoid then log) for moderate logits.
def hand_d_loss(real, fake) -> float:
    return mean(-math.log(sigmoid(r)) for r in real) + mean(-math.log(1 - sigmoid(f)) for f in fake)


def hand_g_loss(name: str, fake) -> float:
    if name == "ns":
        return mean(-math.log(sigmoid(f)) for f in fake)
    return mean(math.log(1 - sigmoid(f)) for f in fake)


@pytest.mark.parametrize("name", ["ns", "minimax"])
def test_d_loss_is_binary_cross_entropy(name):
    got = get_objective(name).d_loss(t(REAL), t(FAKE))
    # -log s(2) = 0.126928, -log s(-1) = 1.313262, -log(1-s(0.5)) = 0.974077, -log(1-s(-3)) = 0.048587
    expected = (0.126928 + 1.313262) / 2 + (0.974077 + 0.048587) / 2
    assert got.shape == ()
    assert_close(got, torch.tensor(hand_d_loss(REAL, FAKE)))
    assert_close(got, torch.tensor(expected), rtol=0, atol=2e-6)


@pytest.mark.parametrize("name, expected", [("ns", (0.474077 + 3.048587) / 2),
                                            ("minimax", -(0.974077 + 0.048587) / 2)])
def test_g_loss_by_hand(name, expected):
    got = get_objective(name).g_loss(t(FAKE))
    assert got.shape == ()
    assert_close(got, torch.tensor(hand_g_loss(name, FAKE)))
    assert_close(got, torch.tensor(expected), rtol=0, atol=2e-6)


@pytest.mark.parametrize("name", ["ns", "minimax"])
def test_losses_are_batch_means(name):
    """Repeating the batch does not change the loss (mean, not sum)."""
    obj = get_objective(name)
    assert_close(obj.d_loss(t(REAL * 3), t(FAKE * 5)), obj.d_loss(t(REAL), t(FAKE)))
    assert_close(obj.g_loss(t(FAKE * 4)), obj.g_loss(t(FAKE)))


def test_d_loss_gradients_by_hand():
    """d/dr -log s(r) = s(r) - 1 and d/df -log(1 - s(f)) = s(f), each over its batch size."""
    real, fake = t(REAL), t(FAKE)
    get_objective("ns").d_loss(real, fake).backward()
    assert_close(real.grad, torch.tensor([(sigmoid(r) - 1) / 2 for r in REAL]))
    assert_close(fake.grad, torch.tensor([sigmoid(f) / 2 for f in FAKE]))


@pytest.mark.parametrize("big", [100.0, 1e4])
@pytest.mark.parametrize("name", ["ns", "minimax"])
def test_huge_logits_give_finite_exact_losses_and_gradients(name, big):
    obj = get_objective(name)
    # D perfectly right: loss 0. D perfectly wrong: -log(e^-big) = big per term.
    for real, fake, expected in (([big, big], [-big, -big], 0.0),
                                 ([-big, -big], [big, big], 2 * big),
                                 ([big, -big], [big, -big], big)):
        r, f = t(real), t(fake)
        d = obj.d_loss(r, f)
        d.backward()
        assert_close(d, torch.tensor(expected), rtol=1e-6, atol=1e-6)
        assert torch.isfinite(r.grad).all() and torch.isfinite(f.grad).all()
    for fake in ([big, big], [-big, -big], [big, -big]):
        f = t(fake)
        g = obj.g_loss(f)
        g.backward()
        assert torch.isfinite(g) and torch.isfinite(f.grad).all(), (fake, g, f.grad)
    # fakes rejected with certainty: ns pays `big`, minimax has (almost) nothing left to lose
    expected = big if name == "ns" else 0.0
    assert_close(obj.g_loss(t([-big])), torch.tensor(expected), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["ns", "minimax"])
def test_generator_loss_falls_as_fakes_look_more_real(name):
    g_loss = get_objective(name).g_loss
    logits = torch.linspace(-8, 8, 33)
    losses = torch.stack([g_loss(x.reshape(1)) for x in logits])
    assert (losses[1:] < losses[:-1]).all(), losses
    f = t(FAKE + [-10.0, 10.0])
    g_loss(f).backward()
    assert (f.grad < 0).all(), f.grad   # gradient descent on the loss raises every fake logit


def test_discriminator_loss_falls_as_it_separates_better():
    d_loss = get_objective("ns").d_loss
    assert d_loss(t([3.0]), t([-3.0])) < d_loss(t([1.0]), t([-1.0])) < d_loss(t([-1.0]), t([1.0]))


def test_non_saturating_gradient_survives_confident_rejection():
    """At fake logit -10 minimax's gradient is s(-10) ~ 4.5e-5, ns's is s(10) ~ 1."""
    grads = {}
    for name in ("ns", "minimax"):
        f = t([-10.0])
        get_objective(name).g_loss(f).backward()
        grads[name] = f.grad
    assert_close(grads["ns"], torch.tensor([-sigmoid(10.0)]))
    assert_close(grads["minimax"], torch.tensor([-sigmoid(-10.0)]))
    assert grads["ns"].abs() > 1000 * grads["minimax"].abs()


def test_unknown_loss_names_the_choices():
    with pytest.raises(ConfigError) as err:
        get_objective("wasserstein-ish")
    msg = str(err.value)
    assert "wasserstein-ish" in msg and "ns" in msg and "minimax" in msg


@pytest.mark.parametrize("alias", ["non-saturating", "nonsaturating", "bce", "standard"])
def test_aliases_resolve_to_non_saturating(alias):
    assert get_objective(alias) == get_objective("ns")
    assert get_objective(alias) != get_objective("minimax")


def test_register_objective_makes_a_name_usable(monkeypatch):
    monkeypatch.setattr(objectives, "OBJECTIVES", dict(objectives.OBJECTIVES))

    def hinge_d(real, fake):
        return torch.relu(1 - real).mean() + torch.relu(1 + fake).mean()

    def hinge_g(fake):
        return -fake.mean()

    objectives.register_objective("hinge", hinge_d, hinge_g)
    obj = get_objective("hinge")
    assert_close(obj.d_loss(t(REAL), t(FAKE)), torch.tensor((0 + 2) / 2 + (1.5 + 0) / 2))
    assert_close(obj.g_loss(t(FAKE)), torch.tensor(1.25))
