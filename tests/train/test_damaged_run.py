"""A damaged run directory: every command either works (falling back where it can) or says what is
wrong in one line; none shows a traceback, none resumes with something silently replaced."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import run
from safetensors.torch import save_file

TINY = ["--model", "mlp", "--width", "16", "--batch-size", "16", "--log-every", "2",
        "--sample-every", "3", "--checkpoint-every", "3", "--no-progress"]


def _state(run_dir: Path) -> Path:
    return run_dir / "checkpoints" / "step-0000006" / "state.json"


def _edit_state(run_dir: Path, change) -> None:
    doc = json.loads(_state(run_dir).read_text())
    change(doc)
    _state(run_dir).write_text(json.dumps(doc))


def _edit_config(run_dir: Path, section: str, **values) -> None:
    """config.json edited by hand."""
    doc = json.loads((run_dir / "config.json").read_text())
    doc[section].update(values)
    (run_dir / "config.json").write_text(json.dumps(doc))


def _small_rng(run_dir: Path) -> None:
    """An RNG state of the wrong size, its SHA-256 updated so that only the size is wrong."""
    import hashlib
    ckpt = _state(run_dir).parent
    path = ckpt / "rng.safetensors"
    from safetensors.torch import load_file
    states = {k: v[:10].clone() for k, v in load_file(str(path)).items()}
    save_file(states, str(path))
    _edit_state(run_dir, lambda d: d["files"].update(
        {"rng.safetensors": hashlib.sha256(path.read_bytes()).hexdigest()}))


DAMAGE = {
    "state-no-nimg": lambda r: _edit_state(r, lambda d: d.pop("nimg")),
    "state-step-text": lambda r: _edit_state(r, lambda d: d.update(step="abc")),
    "state-a-list": lambda r: _state(r).write_text("[]"),
    "best-not-json": lambda r: (r / "checkpoints" / "best.json").write_text("{"),
    "best-bad-step": lambda r: (r / "checkpoints" / "best.json").write_text('{"step": "x"}'),
    "rng-missing": lambda r: (_state(r).parent / "rng.safetensors").unlink(),
    "rng-wrong-size": _small_rng,
    "opt-missing": lambda r: (_state(r).parent / "opt_G.safetensors").unlink(),
    "stray-samples": lambda r: ((r / "samples" / "step-abc.png").write_bytes(b"x"),
                                (r / "samples" / "notes.txt").write_text("mine")),
    "latest-elsewhere": lambda r: (r / "checkpoints" / "latest").write_text("../../x\n"),
    "latest-empty": lambda r: (r / "checkpoints" / "latest").write_text(""),
    "metrics-garbage": lambda r: (r / "metrics.jsonl").write_text('[1, 2]\n"x"\n{"step": "a"}\n'),
    "config-truncated": lambda r: (r / "config.json").write_text(
        (r / "config.json").read_text()[:50]),
    "config-bad-value": lambda r: (r / "config.json").write_text(
        (r / "config.json").read_text().replace('"batch_size": 16', '"batch_size": -4')),
    "state-lr-text": lambda r: _edit_state(r, lambda d: d["opt_G"]["param_groups"][0].update(
        lr="0.0004")),
    "state-betas-short": lambda r: _edit_state(r, lambda d: d["opt_D"]["param_groups"][0].update(
        betas=[0.5])),
    "state-config-not-one": lambda r: _edit_state(r, lambda d: d.update(config=[1])),
    "state-pos-negative": lambda r: _edit_state(r, lambda d: d["sampler"].update(pos=-32)),
    "state-epoch-text": lambda r: _edit_state(r, lambda d: d["sampler"].update(epoch="1")),
    "config-lr-edited": lambda r: _edit_config(r, "train", lr=1e-4),
    "config-width-edited": lambda r: _edit_config(r, "model", width=32),
}

COMMANDS = {
    "info": ["info", "{run}"],
    "sample": ["sample", "{run}", "--num", "4", "--output", "s.npz", "--overwrite"],
    "compare": ["compare", "{run}", "{run}"],
    "report": ["report", "{run}", "--no-memorization", "--overwrite"],
    "resume": ["train", "--resume", "{run}", "--steps", "9", "--no-progress"],
}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    home = tmp_path_factory.mktemp("pristine")
    np.save(home / "points.npy", np.random.default_rng(0).integers(0, 256, (64, 8, 8), np.uint8))
    from gankit.cli import main
    assert main(["train", "--dataset", str(home / "points.npy"), "--out", str(home / "r"),
                 "--steps", "6", *TINY]) == 0
    (home / "r" / "checkpoints" / "best.json").write_text('{"step": 6, "dloss": 0.5}')
    return home / "r"


@pytest.mark.parametrize("damage", DAMAGE)
def test_every_command_works_or_says_what_is_wrong_in_one_line(pristine, capsys, damage):
    run_dir = Path("r")
    shutil.copytree(pristine, run_dir)
    DAMAGE[damage](run_dir)
    outcomes = {}
    for name, argv in COMMANDS.items():
        code, _, err = run(capsys, *[a.format(run=run_dir) for a in argv])
        assert "Traceback" not in err, (damage, name, err)
        errors = [ln for ln in err.splitlines() if ln.startswith("gankit: error:")]
        assert (code == 0 and not errors) or (code == 2 and len(errors) == 1), (damage, name, err)
        outcomes[name] = code
    wrong = {"state-lr-text": "setting lr", "state-betas-short": "setting betas",
             "state-config-not-one": "recorded config", "config-width-edited": "model.width",
             "state-pos-negative": "pos is -32", "state-epoch-text": "epoch is '1'"}
    if damage in wrong:   # refused, and said which value is wrong
        assert outcomes["resume"] == 2 and wrong[damage] in err, err
    if damage == "config-lr-edited":   # honoured as --lr would be, and said
        assert outcomes["resume"] == 0 and "train.lr 0.0004 -> 0.0001" in err, err
        ckpt = json.loads((run_dir / "checkpoints" / "step-0000009" / "state.json").read_text())
        assert {g["lr"] for g in ckpt["opt_G"]["param_groups"]} == {1e-4}
        assert ckpt["config"]["train"]["lr"] == 1e-4
    if damage in ("opt-missing", "rng-missing", "rng-wrong-size"):
        # never a resume with a fresh Adam or another data order: it falls back to step 3 or stops
        assert outcomes["resume"] == 2 or "resuming r at step 3" in err, err
