"""Ctrl-C and SIGTERM stop a run at a step boundary: what is saved resumes bit-exactly."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from helpers import digits_gan as _digits_gan
from helpers import last_checkpoint_files as _files

import gankit
from gankit.train.state import list_checkpoints


def _signal_inside_step(gan, at_step, *signals):
    """Send `signals` to this process from inside the D update of step `at_step` (0-based)."""
    trainer = gan.run.trainer
    phase = gan.task.phases[0]
    inner = phase.loss

    def loss(real):
        out = inner(real)
        if trainer.step == at_step:
            for sig in signals:
                os.kill(os.getpid(), sig)
        return out
    phase.loss = loss


def _same_files(a, b):
    assert a.keys() == b.keys()
    for stem in a:
        for k in a[stem]:
            assert torch.equal(a[stem][k], b[stem][k]), f"{stem}.{k} differs"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_inside_a_step_saves_that_whole_step_and_resumes_exactly(sig):
    straight = _digits_gan("straight").fit(steps=12, progress=False)
    gan = _digits_gan("stopped")
    _signal_inside_step(gan, 5, sig)
    before = signal.getsignal(sig)
    gan.fit(steps=12, progress=False)
    assert gan.stop_reason == f"interrupted ({signal.Signals(sig).name})"
    assert gan.step == 6 and list_checkpoints(gan.run_dir)[-1].name == "step-0000006"
    assert signal.getsignal(sig) is before   # the handler in place before fit is back
    resumed = gankit.load_run(gan.run_dir).fit(until=12, progress=False)
    assert resumed.step == 12
    _same_files(_files(straight.run_dir), _files(resumed.run_dir))


def test_a_second_ctrl_c_stops_at_once_and_saves_nothing_more():
    gan = _digits_gan("twice", checkpoint_every=4)
    _signal_inside_step(gan, 5, signal.SIGINT, signal.SIGINT)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        gan.fit(steps=12, progress=False)
    assert [p.name for p in list_checkpoints(gan.run_dir)] == ["step-0000004"]
    assert gankit.load_run(gan.run_dir).step == 4
    assert signal.getsignal(signal.SIGINT) is before


def test_sigterm_to_gankit_train_saves_says_so_and_resumes_exactly(tmp_path):
    """What a scheduler does: SIGTERM to the process, then the same command with --resume."""
    common = ["--dataset", "digits", "--width", "8", "--batch-size", "16", "--log-every", "1",
              "--sample-every", "1000000", "--no-progress"]
    cmd = [sys.executable, "-m", "gankit", "train"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(cmd + common + ["--out", "straight", "--steps", "200"], check=True, env=env,
                   capture_output=True)
    proc = subprocess.Popen(cmd + common + ["--out", "run", "--steps", "100000"], env=env,
                            stderr=subprocess.PIPE, text=True)
    log = tmp_path / "run" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while not (log.exists() and log.stat().st_size > 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "terminated at the end of step" in err and "checkpoint saved" in err
    assert "Traceback" not in err
    stopped = gankit.load_run("run", weights_only=True).step
    assert 0 < stopped < 200, stopped
    subprocess.run(cmd + ["--resume", "run", "--steps", "200", "--no-progress"], check=True,
                   env=env, capture_output=True)
    _same_files(_files(tmp_path / "straight"), _files(tmp_path / "run"))
