"""Presets set documented options (explicit options win); a user's own net and loss, registered in
a plain .py file, are usable by name from the CLI and again when the run is sampled elsewhere."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

import gankit
from gankit.cli import main
from gankit.errors import ConfigError
from gankit.presets import PRESETS

QUIET = {"log_every": 50, "sample_every": 10**6, "checkpoint_every": 10**6}

PLUGIN = '''
import torch
from torch import nn
from gankit.nets import register_net
from gankit.objectives import register_objective

class TinyG(nn.Module):
    def __init__(self, shape, z_dim):
        super().__init__()
        self.z_dim, self.shape = z_dim, shape
        self.fc = nn.Linear(z_dim, int(torch.tensor(shape).prod()))
    def forward(self, z):
        return torch.tanh(self.fc(z)).view(len(z), *self.shape)

class TinyD(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.fc = nn.Linear(int(torch.tensor(shape).prod()), 1)
    def forward(self, x):
        return self.fc(x.flatten(1)).squeeze(1)

@register_net("tiny-linear")
def build(shape, cfg):
    return TinyG(shape, cfg.z_dim), TinyD(shape)

register_objective("squared-margin", lambda r, f: (1 - r).clamp(min=0).square().mean()
                   + (1 + f).clamp(min=0).square().mean(), lambda f: -f.mean())
'''


def test_every_preset_builds_a_valid_config():
    for name in PRESETS:
        gan = gankit.GAN(dataset="digits", preset=name, width=8, batch_size=16, **QUIET)
        for key, value in PRESETS[name].options.items():
            section = next(s for s in ("model", "loss", "train")
                           if hasattr(getattr(gan.config, s), key))
            assert getattr(getattr(gan.config, section), key) == value, (name, key)


def test_the_default_preset_is_the_plain_defaults():
    from gankit.config import RunConfig
    from gankit.presets import DEFAULT_PRESET, apply_preset
    assert apply_preset(RunConfig(), DEFAULT_PRESET) == RunConfig()
    assert apply_preset(RunConfig(), "classic").train.lr == 2e-4


def test_options_beside_a_preset_win():
    gan = gankit.GAN("mlp", torch.randn(64, 2), preset="wgan-gp", n_critic=2, batch_size=16)
    assert gan.config.loss.loss == "wgan-gp" and gan.config.loss.n_critic == 2
    assert gan.config.train.lr == PRESETS["wgan-gp"].options["lr"]


def test_unknown_preset_names_the_choices(capsys):
    with pytest.raises(ConfigError, match="fast-cpu"):
        gankit.GAN("mlp", torch.randn(64, 2), preset="turbo")
    assert main(["train", "--preset", "turbo", "--dataset", "digits"]) == 2
    assert "unknown preset 'turbo'" in capsys.readouterr().err


def test_cli_preset_is_recorded_and_cannot_change_on_resume(capsys):
    assert main(["train", "--preset", "sngan", "--dataset", "digits", "--width", "8",
                 "--batch-size", "16", "--steps", "2", "--out", "run", "--no-progress"]) == 0
    cfg = gankit.load_run("run", weights_only=True).config
    assert (cfg.loss.loss, cfg.model.d_norm) == ("hinge", "spectral")
    capsys.readouterr()
    assert main(["train", "--resume", "run", "--preset", "classic", "--steps", "4"]) == 2
    assert "--preset" in capsys.readouterr().err


def test_plugin_file_registers_a_net_and_a_loss_usable_from_the_cli(tmp_path, capsys):
    plugin = Path("my_parts.py")
    plugin.write_text(PLUGIN)
    np.save("points.npy", np.random.default_rng(0).integers(0, 256, (256, 8, 8), dtype=np.uint8))
    assert main(["train", "--plugins", "my_parts.py", "--model", "tiny-linear", "--loss",
                 "squared-margin", "--dataset", "points.npy", "--steps", "5", "--batch-size",
                 "32", "--out", "prun", "--no-progress"]) == 0
    cfg = gankit.load_run("prun", weights_only=True).config
    assert cfg.model.plugins == str(plugin.resolve())   # recorded absolutely
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = Path("prun").resolve()
    os.chdir(elsewhere)   # sampling from another directory imports the plugin again
    assert main(["sample", str(run), "--num", "8", "--output", "s.npz"]) == 0
    with np.load("s.npz") as z:
        assert z["images"].shape == (8, 8, 8, 1)
    # resume keeps training with the same parts
    assert main(["train", "--resume", str(run), "--steps", "8", "--no-progress"]) == 0


def test_bad_plugins_are_one_line_errors(capsys):
    Path("broken.py").write_text("import nonexistent_module_xyz\n")
    for flag, expect in (("missing.py", "no such file"), ("broken.py", "failed to import"),
                         ("no_such_module_abc", "failed to import")):
        capsys.readouterr()
        assert main(["train", "--plugins", flag, "--dataset", "digits", "--steps", "1"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("gankit: error: plugin") and expect in err and "\n" not in err
