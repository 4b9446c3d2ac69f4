"""Run configuration: survives config.json, rejects unknown fields, names what may not change on resume."""
from __future__ import annotations

import json
from dataclasses import fields

import pytest

from gankit.config import (
    SECTIONS,
    DataConfig,
    LossConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    resume_conflicts,
)
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


# --- configs per task ---------------------------------------------------------------------------

def _task_config(task, **options):
    from gankit.tasks import new_config
    return new_config(task, dataset="x", **options)


def test_config_json_holds_only_what_applies_to_the_task():
    from gankit.compat import V1_TASK_FIELDS
    text = _task_config("text").to_dict()
    shared = {k for s in SECTIONS for k in text[s]}
    assert set(text["options"]) == {"unit", "max_len", "vocab_size", "text_model", "tau_min",
                                    "tau_steps", "mle_steps", "mle_weight"}
    assert not shared & (V1_TASK_FIELDS | {"resolution", "conditional", "augment", "r1_gamma"})
    cyc = _task_config("cyclegan").to_dict()
    assert set(cyc["options"]) == {"domains", "cycle_weight", "identity_weight"}
    assert "l1_weight" not in cyc["loss"] and "z_dim" not in cyc["model"]
    gan = RunConfig().to_dict()   # the image GAN: every shared field, no options of its own
    assert "options" not in gan and {k for s in SECTIONS for k in gan[s]} == \
        {f.name for k in SECTIONS.values() for f in fields(k)}


@pytest.mark.parametrize("task, option", [("text", "cycle_weight"), ("image-gan", "max_len"),
                                          ("pix2pix", "domains"), ("text", "conditional"),
                                          ("audio", "augment"), ("semi-supervised", "r1_gamma")])
def test_an_option_that_does_not_apply_to_the_task_is_refused(task, option):
    value = {"conditional": True, "augment": "color", "domains": "1,2"}.get(option, 3)
    with pytest.raises(ConfigError, match=option.replace("_", "-") + "|" + option):
        _task_config(task, **{option: value})


def test_task_defaults_follow_the_user_s_choice_and_yield_to_what_is_given():
    mle, softmax = _task_config("text"), _task_config("text", text_model="softmax")
    assert (mle.loss.loss, mle.options.mle_weight, mle.train.lr) == ("rpgan", 1.0, 1e-4)
    assert (softmax.loss.loss, softmax.loss.n_critic, softmax.options.mle_weight) == \
        ("wgan-gp", 5, 0.0)
    assert _task_config("text", loss="hinge", lr=3e-4).loss.loss == "hinge"
    assert _task_config("cyclegan").loss.loss == "lsgan"
    assert _task_config("cyclegan").train.batch_size == 16
    assert _task_config("semi-supervised").train.batch_size == 100


def test_a_preset_is_an_image_gan_recipe():
    from gankit.tasks import new_config
    assert new_config("image-gan", "sngan").loss.loss == "hinge"
    with pytest.raises(ConfigError, match="preset"):
        new_config("text", "sngan", dataset="x")


def test_a_task_s_options_survive_json_and_name_their_resume_conflicts():
    from gankit.tasks import task_options
    cfg = _task_config("cyclegan", domains="3,4", cycle_weight=2.0)
    back = RunConfig.from_dict(json.loads(cfg.to_json()), task_options("cyclegan"))
    assert back == cfg
    conflicts = resume_conflicts(cfg, {"options": {"cycle_weight": 5.0, "domains": "3,4"}})
    assert len(conflicts) == 1 and "--cycle-weight" in conflicts[0]


def test_a_config_made_for_another_task_cannot_build_a_run():
    from gankit.tasks.text.options import TextOptions, check_config
    with pytest.raises(ConfigError, match="the text task needs its own options.*image-gan"):
        check_config(RunConfig())
    check_config(_task_config("text"))   # its own: no error
    assert isinstance(_task_config("text").options, TextOptions)
