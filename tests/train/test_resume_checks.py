"""A resume checks what it resumes: the same data, one process at a time, settings that may
change really change; a refused resume changes nothing on disk; counters go on across resumes;
a diverged run stops and the command it suggests works."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import one_error, run

import gankit
from gankit.errors import GanKitWarning
from gankit.rundir import RunLock
from gankit.train.callbacks import Evaluate

TINY = ["--model", "mlp", "--width", "16", "--batch-size", "16", "--log-every", "2",
        "--sample-every", "1000000", "--no-progress"]


def _snapshot(root: Path) -> dict[str, str]:
    """Every file under `root` with a hash of its bytes."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _points(n: int, seed: int) -> None:
    np.save("points.npy", np.random.default_rng(seed).integers(0, 256, (n, 8, 8), np.uint8))


@pytest.fixture
def trained(capsys):
    _points(64, 0)
    assert run(capsys, "train", "--dataset", "points.npy", "--out", "r", "--steps", "6", *TINY)[0] == 0
    return Path("r")


@pytest.mark.parametrize("argv, match", [
    (["--beta1", "0.9"], "--beta1"),                        # a setting that may not change
    (["--batch-size", "0"], "--batch-size"),
    (["--log-every", "0"], "--log-every must be at least 1"),
    (["--lr", "nan"], "--lr must be a finite number"),
    (["--preset", "classic"], "--preset"),
])
def test_a_refused_resume_changes_nothing_on_disk(trained, capsys, argv, match):
    with open(trained / "metrics.jsonl", "a") as f:   # rows past the checkpoint: evidence
        f.write(json.dumps({"step": 9, "d_loss": float("nan")}) + "\n")
    before = _snapshot(trained)
    one_error(capsys, "train", "--resume", trained, "--steps", "12", "--no-progress", *argv,
              match=match)
    assert _snapshot(trained) == before


def test_other_data_is_refused_unless_allowed(trained, capsys):
    _points(64, 1)   # same count and shape, other images
    before = _snapshot(trained)
    line = one_error(capsys, "train", "--resume", trained, "--steps", "8", "--no-progress")
    assert "other data" in line and "--allow-data-change" in line
    assert _snapshot(trained) == before
    code, _, err = run(capsys, "train", "--resume", trained, "--steps", "8", "--no-progress",
                       "--allow-data-change")
    assert code == 0 and "changed data" in err


def test_a_second_process_on_the_same_run_is_refused(trained, capsys):
    lock = RunLock(trained)
    lock.acquire()   # another process's flock: a separate open file, as a second gankit has
    try:
        line = one_error(capsys, "train", "--resume", trained, "--steps", "8", "--no-progress")
        assert "is being trained by process" in line
    finally:
        lock.release()
    assert run(capsys, "train", "--resume", trained, "--steps", "8", "--no-progress")[0] == 0


def test_a_new_learning_rate_on_resume_takes_effect(trained, capsys):
    assert run(capsys, "train", "--resume", trained, "--steps", "8", "--lr", "1e-5",
               "--no-progress")[0] == 0
    state = json.loads((trained / "checkpoints" / "step-0000008" / "state.json").read_text())
    assert {g["lr"] for g in state["opt_G"]["param_groups"]} == {1e-5}
    assert {g["lr"] for g in state["opt_D"]["param_groups"]} == {1e-5}
    assert json.loads((trained / "config.json").read_text())["train"]["lr"] == 1e-5


def test_early_stopping_counts_evaluations_across_a_resume(tmp_path):
    """The evaluations since the best one come back from the log and best.json."""
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "best.json").write_text(json.dumps({"step": 20, "fid": 5.0}))
    rows = [{"step": s, "fid": f} for s, f in ((10, 9.0), (20, 5.0), (30, 6.0), (40, 7.0))]
    rows += [{"step": s, "d_loss": 1.0} for s in (10, 20, 30, 40)]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ev = Evaluate(run_dir, 10, lambda: {"fid": 8.0}, patience=3)
    assert ev.best == 5.0 and ev.since_best == 2


def test_a_diverging_run_stops_by_default_and_the_suggested_resume_works(capsys):
    _points(256, 0)
    code, _, err = run(capsys, "train", "--dataset", "points.npy", "--out", "d", "--steps", "400",
                       "--lr", "50", "--checkpoint-every", "2", *TINY)
    assert code == 1, err
    assert "diverged" in err and "gankit train --resume d --lr" in err
    suggested = err.split("gankit train --resume d --lr ")[1].split()[0]
    stopped = gankit.load_run("d", weights_only=True).step
    assert stopped < 400
    code, _, err = run(capsys, "train", "--resume", "d", "--lr", suggested, "--steps",
                       str(stopped + 4), "--no-progress")
    assert code in (0, 1), err   # it may diverge again, but the command is accepted
    assert "error" not in err


def test_a_streak_of_d_winning_goes_on_counting_across_a_resume():
    from types import SimpleNamespace

    from gankit.health import WIN_RECORDS
    from gankit.train.callbacks import HealthGuard
    winning = {"d_loss": 0.01, "g_loss": 9.0, "d_real": 0.999, "d_fake": 0.001}
    past = [{"step": 10 * (i + 1), **winning} for i in range(WIN_RECORDS - 1)]
    guard = HealthGuard(None, None, "ns", stop_on_divergence=True, past=past)
    trainer = SimpleNamespace(stop_reason=None)
    with pytest.warns(GanKitWarning, match="diverged"):
        guard.on_log(trainer, {"step": 10 * WIN_RECORDS, **winning})
    assert (trainer.stop_reason or "").startswith("diverged")
    fresh = HealthGuard(None, None, "ns", stop_on_divergence=True)
    fresh.on_log(trainer := SimpleNamespace(stop_reason=None), {"step": 10, **winning})
    assert trainer.stop_reason is None


def test_settings_that_may_change_on_resume_take_effect(trained, capsys):
    assert run(capsys, "train", "--resume", trained, "--steps", "9", "--log-every", "1",
               "--no-progress")[0] == 0
    steps = [json.loads(line)["step"] for line in (trained / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6, 7, 8, 9]
