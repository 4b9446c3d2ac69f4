"""Runs written by gankit 0.1 (config.json version 1: every task's fields in the shared sections)
still load: the converter moves each task's own fields into its options and drops the rest, and
a loaded run does exactly what it did. tests/fixtures/v1-runs was made by gankit 0.1 (commit
36ba627) with tests/fixtures/make_v1_runs.py; the runs with checkpoints keep their nets' weights
(optimizer states left out) and `expected.npz`, what the run gave then."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import gankit
from gankit.compat import V1_TASK_FIELDS
from gankit.config import CONFIG_VERSION
from gankit.rundir import read_config, write_config

V1 = Path(__file__).parent / "fixtures" / "v1-runs"
RUNS = sorted(p.name for p in V1.iterdir())
WITH_WEIGHTS = sorted(p.parent.name for p in V1.glob("*/expected.npz"))

# what the converted configs must hold: each task's own options, as version 1 recorded them
OWN = {"cyclegan": {"domains": "0,1", "cycle_weight": 5.0, "identity_weight": 0.5},
       "pix2pix": {"l1_weight": 50.0},
       "colorize": {"l1_weight": 100.0},
       "text": {"text_model": "softmax", "tau_min": 0.5, "unit": "char", "max_len": 8},
       "text-mle": {"text_model": "mle-gan", "mle_steps": 1, "mle_weight": 1.0},
       "audio": {"audio_length": 2048},
       "semi-supervised": {"labels_per_class": 3, "labeled": ""},
       "image-gan": {}}


def test_the_fixtures_are_version_1_runs_of_every_task():
    assert {json.loads((V1 / r / "config.json").read_text())["task"] for r in RUNS} == \
        {"image-gan", "text", "audio", "pix2pix", "colorize", "cyclegan", "semi-supervised"}
    for r in RUNS:
        assert "config_version" not in json.loads((V1 / r / "config.json").read_text())


@pytest.mark.parametrize("name", RUNS)
def test_a_version_1_config_converts_to_the_task_s_own_options(name, tmp_path):
    old = json.loads((V1 / name / "config.json").read_text())
    cfg = read_config(V1 / name)
    assert cfg.task == old["task"]
    for key, value in OWN[name].items():
        assert getattr(cfg.options, key) == value, key
    doc = cfg.to_dict()
    assert doc["config_version"] == CONFIG_VERSION
    shared = {k for s in ("data", "model", "loss", "train") for k in doc[s]}
    assert not shared & V1_TASK_FIELDS   # no task's own field left in the shared sections
    assert not shared & type(cfg.options).UNUSED
    for section in ("data", "model", "loss", "train"):   # the shared values it ran with, unchanged
        for key, value in doc[section].items():
            assert old[section][key] == value, (section, key)
    # written back as version 2, it reads the same
    run = tmp_path / name
    run.mkdir()
    write_config(run, cfg)
    assert json.loads((run / "config.json").read_text())["config_version"] == CONFIG_VERSION
    assert read_config(run) == cfg


@pytest.mark.parametrize("name", WITH_WEIGHTS)
def test_a_version_1_run_loads_and_gives_what_it_gave(name, tmp_path):
    run = shutil.copytree(V1 / name, tmp_path / name)
    expected = np.load(run / "expected.npz")
    gan = gankit.load_run(run, weights_only=True, device="cpu")
    if name == "pix2pix":
        got = gan.translate(expected["input"])
    elif name == "semi-supervised":
        got = gan.predict_proba(expected["input"])
    else:
        got = gan.sample(6, seed=1)
    got = got.numpy() if isinstance(got, torch.Tensor) else np.asarray(got)
    want = expected["output"]
    if want.dtype.kind == "f":
        # The fixtures were written on an Intel CPU; another CPU's float kernels (an AMD EPYC's)
        # differ in the last bits (up to 1e-5 of the output's scale for audio). Weights or
        # options read wrongly move outputs by their whole scale.
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * float(np.abs(want).max()))
    else:
        assert np.array_equal(got, want)


def test_info_describes_a_version_1_run(capsys):
    from gankit.cli import main
    assert main(["info", str(V1 / "pix2pix"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["config"]["options"] == {"l1_weight": 50.0}
    assert "cycle_weight" not in json.dumps(info["config"])


def test_a_version_1_run_resumes_and_is_rewritten_as_version_2(capsys, tmp_path):
    from helpers import run
    path = shutil.copytree(V1 / "semi-supervised", tmp_path / "semi")   # its data ships: digits
    code, _, err = run(capsys, "train", "--resume", path, "--steps", 3, "--no-progress")
    assert code == 0, err
    doc = json.loads((path / "config.json").read_text())
    assert doc["config_version"] == CONFIG_VERSION and doc["options"]["labels_per_class"] == 3
    assert (path / "checkpoints" / "step-0000003").is_dir()
