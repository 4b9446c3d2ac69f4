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


# ---- least squares, hinge and Wasserstein -----------------------------------------------------
NEW = ["lsgan", "hinge", "wgan-gp"]


def hand_new_d_loss(name: str, real, fake) -> float:
    if name == "lsgan":
        return 0.5 * mean((r - 1) ** 2 for r in real) + 0.5 * mean(f ** 2 for f in fake)
    if name == "hinge":
        return mean(max(0.0, 1 - r) for r in real) + mean(max(0.0, 1 + f) for f in fake)
    return mean(fake) - mean(real)


def hand_new_g_loss(name: str, fake) -> float:
    if name == "lsgan":
        return 0.5 * mean((f - 1) ** 2 for f in fake)
    return -mean(fake)


@pytest.mark.parametrize("name, d_expected, g_expected", [
    # lsgan: 0.5*((2-1)^2 + (-1-1)^2)/2 + 0.5*(0.5^2 + 3^2)/2 = 1.25 + 2.3125; G: 0.5*(0.25 + 16)/2
    ("lsgan", 3.5625, 4.0625),
    # hinge: (relu(-1) + relu(2))/2 + (relu(1.5) + relu(-2))/2 = 1 + 0.75; G: -(0.5 - 3)/2
    ("hinge", 1.75, 1.25),
    # wgan critic: mean(fake) - mean(real) = -1.25 - 0.5; G: -mean(fake)
    ("wgan-gp", -1.75, 1.25),
])
def test_new_losses_by_hand(name, d_expected, g_expected):
    obj = get_objective(name)
    d, g = obj.d_loss(t(REAL), t(FAKE)), obj.g_loss(t(FAKE))
    assert d.shape == () and g.shape == ()
    assert_close(d, torch.tensor(d_expected))
    assert_close(g, torch.tensor(g_expected))
    assert_close(d, torch.tensor(hand_new_d_loss(name, REAL, FAKE)))
    assert_close(g, torch.tensor(hand_new_g_loss(name, FAKE)))


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("real, fake", [([0.3, -2.5, 0.9], [0.1, 4.0]), ([-0.5], [-0.9, 0.7, 7.0])])
def test_new_losses_match_hand_formulas_elsewhere(name, real, fake):
    obj = get_objective(name)
    assert_close(obj.d_loss(t(real), t(fake)), torch.tensor(hand_new_d_loss(name, real, fake)))
    assert_close(obj.g_loss(t(fake)), torch.tensor(hand_new_g_loss(name, fake)))


@pytest.mark.parametrize("name", NEW)
def test_new_losses_are_batch_means(name):
    obj = get_objective(name)
    assert_close(obj.d_loss(t(REAL * 3), t(FAKE * 5)), obj.d_loss(t(REAL), t(FAKE)))
    assert_close(obj.g_loss(t(FAKE * 4)), obj.g_loss(t(FAKE)))


# Logits inside the region where every new loss still has something to gain: for D, reals below the
# lsgan/hinge target 1 and fakes above the lsgan target 0 (so above the hinge margin -1 too); for G,
# fakes below the lsgan target 1.
IN_REAL = [-3.0, -0.5, 0.0, 0.9]
IN_FAKE_D = [0.05, 0.3, 0.8, 2.5]
IN_FAKE_G = [-3.0, -0.9, 0.1, 0.8]


@pytest.mark.parametrize("name", NEW)
def test_new_gradient_directions(name):
    obj = get_objective(name)
    r, f = t(IN_REAL), t(IN_FAKE_D)
    obj.d_loss(r, f).backward()
    assert (r.grad < 0).all(), r.grad   # D's loss falls as real logits rise
    assert (f.grad > 0).all(), f.grad   # ... and as fake logits fall
    f = t(IN_FAKE_G)
    obj.g_loss(f).backward()
    assert (f.grad < 0).all(), f.grad   # G's loss falls as fake logits rise
    # and the same along sweeps of single logits
    below_one = torch.linspace(-4, 0.95, 20)
    above_zero = torch.linspace(0.05, 4, 20)
    g = torch.stack([obj.g_loss(x.reshape(1)) for x in below_one])
    assert (g[1:] < g[:-1]).all(), g
    d_real = torch.stack([obj.d_loss(x.reshape(1), torch.ones(1)) for x in below_one])
    d_fake = torch.stack([obj.d_loss(torch.zeros(1), x.reshape(1)) for x in above_zero])
    assert (d_real[1:] < d_real[:-1]).all(), d_real
    assert (d_fake[1:] > d_fake[:-1]).all(), d_fake


def test_gradients_by_hand():
    """lsgan: d/dr = (r-1)/N, d/df = f/N, G: (f-1)/N. hinge: -1/N inside the margin, 0 beyond it.
    wgan: -1/N for reals, +1/N for fakes, G: -1/N."""
    real, fake = [2.0, 0.5, -1.0, 1.0], [-2.0, -0.5, 3.0, -1.0]
    n = 4
    expected = {
        "lsgan": ([(x - 1) / n for x in real], [x / n for x in fake], [(x - 1) / n for x in fake]),
        # at exactly the margin (real 1, fake -1) relu's subgradient is 0
        "hinge": ([0, -1 / n, -1 / n, 0], [0, 1 / n, 1 / n, 0], [-1 / n] * n),
        "wgan-gp": ([-1 / n] * n, [1 / n] * n, [-1 / n] * n),
    }
    for name, (dr, df, dg) in expected.items():
        obj = get_objective(name)
        r, f = t(real), t(fake)
        obj.d_loss(r, f).backward()
        assert_close(r.grad, torch.tensor(dr), msg=name)
        assert_close(f.grad, torch.tensor(df), msg=name)
        f = t(fake)
        obj.g_loss(f).backward()
        assert_close(f.grad, torch.tensor(dg), msg=name)


def test_hinge_is_flat_beyond_the_margin_and_lsgan_pulls_back_past_its_targets():
    r, f = t([1.5, 4.0]), t([-1.5, -4.0])
    get_objective("hinge").d_loss(r, f).backward()
    assert (r.grad == 0).all() and (f.grad == 0).all()
    r, f = t([1.5, 4.0]), t([-1.5, 4.0])
    get_objective("lsgan").d_loss(r, f).backward()
    assert (r.grad > 0).all()               # a real scored above 1 is pulled back down to 1
    assert f.grad[0] < 0 < f.grad[1]        # fakes are pulled toward 0 from either side
    assert get_objective("lsgan").d_loss(t([1.0]), t([0.0])) == 0


def test_wgan_critic_on_known_logits():
    d = get_objective("wgan-gp").d_loss
    assert_close(d(t([1.0, 2.0, 3.0]), t([-1.0, 0.0])), torch.tensor(-0.5 - 2.0))
    assert_close(d(t([5.0]), t([5.0])), torch.tensor(0.0))
    # unbounded: shifting both sets by the same constant changes nothing, separating them more pays
    assert_close(d(t([101.0, 102.0, 103.0]), t([99.0, 100.0])), torch.tensor(-2.5))
    assert d(t([10.0]), t([-10.0])) == -20.0


def test_needs_penalty_field():
    assert get_objective("wgan-gp").needs_penalty == "gp"
    for name in ("ns", "minimax", "lsgan", "hinge"):
        assert get_objective(name).needs_penalty is None
    # positional construction of the original two fields still works
    obj = objectives.Objective(objectives.bce_d_loss, objectives.ns_g_loss)
    assert obj.needs_penalty is None and not obj.relativistic
    assert obj == (objectives.bce_d_loss, objectives.ns_g_loss, None, False)
    d_loss, g_loss, _, _ = obj


def test_wgan_alias_and_registered_names():
    assert get_objective("wgan") is get_objective("wgan-gp")
    assert {"ns", "minimax", "lsgan", "hinge", "wgan-gp"} <= set(objectives.OBJECTIVES)
    with pytest.raises(ConfigError) as err:
        get_objective("lsgann")
    assert "lsgan" in str(err.value) and "wgan-gp" in str(err.value)


def test_register_objective_with_penalty(monkeypatch):
    monkeypatch.setattr(objectives, "OBJECTIVES", dict(objectives.OBJECTIVES))
    objectives.register_objective("wgan2", objectives.wgan_d_loss, objectives.wgan_g_loss, "gp")
    assert get_objective("wgan2").needs_penalty == "gp"
    objectives.register_objective("plain", objectives.wgan_d_loss, objectives.wgan_g_loss)
    assert get_objective("plain").needs_penalty is None


@pytest.mark.parametrize("name", NEW)
def test_new_losses_finite_at_huge_logits(name):
    obj = get_objective(name)
    for big in (100.0, 1e4):
        r, f = t([big, -big]), t([-big, big])
        d = obj.d_loss(r, f)
        d.backward()
        assert torch.isfinite(d) and torch.isfinite(r.grad).all() and torch.isfinite(f.grad).all()


def test_relativistic_pairing_by_hand():
    """rpgan pairs real_i with fake_i: D loss mean -log s(r_i - f_i), G loss mean -log s(f_i - r_i)."""
    rp = get_objective("rpgan", pairs=True)
    assert rp.relativistic and get_objective("relativistic", pairs=True) is rp
    # REAL - FAKE = (1.5, 2.0); -log s(1.5) = 0.201413, -log s(2) = 0.126928
    assert_close(rp.d_loss(t(REAL), t(FAKE)), torch.tensor((0.201413 + 0.126928) / 2),
                 rtol=0, atol=2e-6)
    # -log s(-1.5) = 1.701413, -log s(-2) = 2.126928
    assert_close(rp.g_loss(t(FAKE), t(REAL)), torch.tensor((1.701413 + 2.126928) / 2),
                 rtol=0, atol=2e-6)
    # only the differences count: shifting every logit changes nothing (unlike ns)
    assert_close(rp.d_loss(t(REAL) + 5, t(FAKE) + 5), rp.d_loss(t(REAL), t(FAKE)))
    # a pair D cannot tell apart costs log 2 to both sides
    assert_close(rp.d_loss(t([0.3]), t([0.3])), torch.tensor(math.log(2)))


def test_relativistic_loss_is_refused_where_fakes_have_no_real_partner():
    with pytest.raises(ConfigError, match="real partner"):
        get_objective("rpgan")
