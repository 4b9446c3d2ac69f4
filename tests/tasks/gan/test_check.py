"""The pre-flight check of a user's own nets: each mistake the beginner articles teach is one
line with its fix; errors where training cannot work, warnings where it can but badly; a
correct pair passes silently, and the user's nets are left as they were."""
from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import gankit
from gankit.errors import ConfigError, GanKitWarning
from gankit.tasks.gan.check import check

Z = 16


class Flatten(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


def generator(last: nn.Module = None, out: tuple = (1, 8, 8), z_dim: int = Z) -> nn.Module:
    n = 1
    for s in out:
        n *= s
    G = nn.Sequential(nn.Linear(z_dim, 32), nn.ReLU(), nn.Linear(32, n),
                      last if last is not None else nn.Tanh(), nn.Unflatten(1, out))
    G.z_dim = z_dim
    return G


def critic(*tail: nn.Module, outputs: int = 1, norm: bool = False) -> nn.Module:
    layers = [Flatten(), nn.Linear(64, 32)] + ([nn.BatchNorm1d(32)] if norm else [])
    return nn.Sequential(*layers, nn.LeakyReLU(0.2), nn.Linear(32, outputs), *tail)


@pytest.fixture(scope="module")
def digits():
    return gankit.load_dataset("digits").images[:64]   # uint8 [64, 1, 8, 8]


def _messages(findings, level):
    return [f.message for f in findings if f.level == level]


def test_a_correct_pair_passes(digits):
    assert check(generator(), critic(), digits) == []


def test_a_sigmoid_at_the_end_of_d_is_a_warning_with_its_fix(digits):
    (msg,) = _messages(check(generator(), critic(nn.Sigmoid()), digits), "warning")
    assert "sigmoid" in msg and "remove D's final nn.Sigmoid()" in msg


def test_flat_outputs_for_images_are_an_error_that_says_how_to_reshape(digits):
    G = nn.Sequential(nn.Linear(Z, 64), nn.Tanh())
    G.z_dim = Z
    (msg,) = _messages(check(G, critic(), digits), "error")
    assert "shape [64], the data has [1, 8, 8]" in msg and "x.view(-1, 1, 8, 8)" in msg


def test_other_channel_counts_are_an_error(digits):
    (msg,) = _messages(check(generator(out=(3, 8, 8)), critic(), digits), "error")
    assert "[3, 8, 8]" in msg and "change G's last layer" in msg


@pytest.mark.parametrize("last, said", [(nn.Identity(), "end G with nn.Tanh()"),
                                        (nn.Sigmoid(), "not a sigmoid")])
def test_outputs_outside_the_data_range_are_a_warning(digits, last, said):
    G = generator(last)
    with torch.no_grad():
        G[2].weight.mul_(20)   # wide enough to leave [-1, 1] without a tanh
    (msg,) = _messages(check(G, critic(), digits), "warning")
    assert said in msg


def test_more_than_one_score_per_item_is_an_error(digits):
    (msg,) = _messages(check(generator(), critic(outputs=10), digits), "error")
    assert "one score per item" in msg and "[16, 10]" in msg


def test_a_missing_z_dim_is_an_error(digits):
    G = generator()
    del G.z_dim
    (msg,) = _messages(check(G, critic(), digits), "error")
    assert "G.z_dim" in msg
    assert check(G, critic(), digits, z_dim=Z) == []


def test_parameters_without_gradient_are_named(digits):
    class Critic(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.unused = critic(), nn.Linear(5, 5)   # defined, never called

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.body(x)
    (msg,) = _messages(check(generator(), Critic(), digits), "warning")
    assert "D's parameters unused.weight, unused.bias get no gradient" in msg


def test_a_critic_that_already_separates_real_from_fake_is_said(digits):
    class Brightness(nn.Module):   # digits are mostly dark; an untrained tanh G is grey
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return -200 * (x.flatten(1).mean(1) + 0.15)
    (msg,) = _messages(check(generator(), Brightness(), digits), "warning")
    assert "already tells real from fake" in msg


def test_batchnorm_in_d_with_the_gradient_penalty_is_said(digits):
    findings = check(generator(), critic(norm=True), digits, loss="wgan-gp")
    assert any("BatchNorm" in m for m in _messages(findings, "warning"))
    assert check(generator(), critic(norm=True), digits, loss="ns") == []


def test_the_users_nets_are_left_as_they_were(digits):
    G, D = generator(), critic(norm=True)
    before = [p.clone() for p in [*G.parameters(), *D.parameters(), *D.buffers()]]
    check(G, D, digits)
    after = [*G.parameters(), *D.parameters(), *D.buffers()]
    assert all(torch.equal(a, b) for a, b in zip(before, after))
    assert all(p.grad is None for p in [*G.parameters(), *D.parameters()])


def test_gan_runs_the_check_before_making_a_run(digits, tmp_path):
    with pytest.raises(ConfigError, match="one score per item"):
        gankit.GAN(generator=generator(), discriminator=critic(outputs=10), dataset=digits,
                   out=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
    with pytest.warns(GanKitWarning, match="sigmoid"):
        gankit.GAN(generator=generator(), discriminator=critic(nn.Sigmoid()), dataset=digits,
                   out=tmp_path / "warned", batch_size=16)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GanKitWarning)
        gankit.GAN(generator=generator(), discriminator=critic(), dataset=digits,
                   out=tmp_path / "fine", batch_size=16)


PLUGIN = """
from torch import nn
from gankit.nets import register_net


class G(nn.Module):   # the articles' habit: flat vectors out, a sigmoid at D's end
    def __init__(self, z_dim):
        super().__init__()
        self.z_dim, self.net = z_dim, nn.Sequential(nn.Linear(z_dim, 64), nn.Tanh())

    def forward(self, z):
        return self.net(z)


@register_net("article")
def _article(shape, cfg):
    return G(cfg.z_dim), nn.Sequential(nn.Flatten(), nn.Linear(64, 1), nn.Sigmoid())
"""


def test_the_cli_checks_a_plugins_nets(tmp_path, capsys):
    from helpers import run
    (tmp_path / "article.py").write_text(PLUGIN)
    code, _, err = run(capsys, "check", "--model", "article", "--plugins",
                       tmp_path / "article.py", "--dataset", "digits")
    assert code == 2 and "G makes samples of shape [64], the data has [1, 32, 32]" in err, err
    code, _, err = run(capsys, "check", "--model", "mlp", "--dataset", "digits")
    assert code == 0 and "no problems found" in err, err
