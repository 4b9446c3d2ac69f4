"""Run configuration: survives config.json, rejects unknown fields, names what may not change on resume."""
from __future__ import annotations

import json
from dataclasses import fields

import pytest

from gankit.config import (SECTIONS, DataConfig, LossConfig, ModelConfig, RunConfig, TrainConfig,
                           resume_conflicts)
from gankit.errors import ConfigError


def _custom() -> RunConfig:
    return RunConfig(
        data=DataConfig(dataset="/data/faces", resolution=64, channels=3),
        model=ModelConfig(model="mlp", z_dim=7, width=32),
        loss=LossConfig(loss="minimax"),
        train=TrainConfig(steps=123, epochs=2.5, max_time=60.0, batch_size=16, lr=1e-3, beta1=0.0,
                          ema_halflife=0.0, seed=42, log_every=3, device="cpu"),
        data_shape=(3, 64, 64), num_classes=10, task="cond-gan")


@pytest.mark.parametrize("cfg", [RunConfig(), _custom()], ids=["defaults", "custom"])
def test_round_trip_through_json(cfg):
    text = cfg.to_json()
    back = RunConfig.from_dict(json.loads(text))
    assert back == cfg
    assert isinstance(back.data_shape, tuple)   # JSON turned it into a list; it comes back a tuple
    assert back.to_json() == text


def test_missing_sections_take_the_defaults():
    cfg = RunConfig.from_dict({"model": {"z_dim": 3}})
    assert cfg.model == ModelConfig(z_dim=3)
    assert cfg.train == TrainConfig() and cfg.data == DataConfig()


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        RunConfig().model.z_dim = 3


@pytest.mark.parametrize("section, bad", [("model", "zdim"), ("train", "learning_rate"),
                                          ("data", "resolutoin"), ("loss", "kind")])
def test_unknown_field_is_a_config_error_naming_it(section, bad):
    d = RunConfig().to_dict()
    d[section][bad] = 1
    with pytest.raises(ConfigError, match=bad):
        RunConfig.from_dict(d)


def test_malformed_section_is_a_config_error():
    with pytest.raises(ConfigError):
        RunConfig.from_dict({"model": ["mlp"]})


def test_changed_non_resumable_fields_are_named():
    saved = _custom()
    given = {"model": {"z_dim": 128, "model": "mlp"},            # z_dim changed, model did not
             "train": {"beta1": 0.9, "lr": 2e-4, "steps": 10_000, "max_time": 5.0,
                       "log_every": 1, "batch_size": 16}}   # only beta1 is a real change
    conflicts = resume_conflicts(saved, given)
    assert len(conflicts) == 2, conflicts
    text = " ".join(conflicts)
    assert "z-dim" in text and "128" in text and "7" in text
    assert "--beta1 " in text
    for ok in ("steps", "max-time", "log-every", "batch-size", "--model ", "--lr "):
        assert ok not in text


def test_same_values_are_no_conflict():
    saved = _custom()
    given = {s: {f.name: getattr(getattr(saved, s), f.name) for f in fields(k)}
             for s, k in SECTIONS.items()}
    assert resume_conflicts(saved, given) == []


@pytest.mark.parametrize("section, name", [(s, f.name) for s, k in SECTIONS.items()
                                           for f in fields(k) if f.metadata.get("resumable")])
def test_resumable_fields_may_change(section, name):
    assert name in {"steps", "epochs", "max_time", "log_every", "sample_every", "checkpoint_every",
                    "keep_checkpoints", "device", "eval_every", "eval_metrics", "eval_num",
                    "precision", "compile", "memory_format", "early_stop_patience",
                    "stop_on_divergence", "checkpoint_minutes", "lr", "lr_d", "lr_decay", "plugins"}
    saved = RunConfig()
    current = getattr(saved.train if section == "train" else getattr(saved, section), name)
    new = "cpu" if isinstance(current, str) else 987654
    assert resume_conflicts(saved, {section: {name: new}}) == []


@pytest.mark.parametrize("section, name, value", [("data", "dataset", "fashion-mnist"),
                                                  ("data", "resolution", 32),
                                                  ("model", "model", "dcgan"),
                                                  ("model", "width", 64),
                                                  ("loss", "loss", "ns"),
                                                  ("train", "batch_size", 128),
                                                  ("train", "seed", 1),
                                                  ("train", "beta1", 0.5)])
def test_each_non_resumable_field_is_a_conflict(section, name, value):
    conflicts = resume_conflicts(_custom(), {section: {name: value}})
    assert len(conflicts) == 1 and name.replace("_", "-") in conflicts[0]
