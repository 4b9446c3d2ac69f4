"""Progress output: a live bar on a terminal, plain lines elsewhere; TensorBoard when installed."""
from __future__ import annotations

import io

import pytest
import torch

import gankit
from gankit.train.callbacks import Progress


def _fit(ring, callbacks_hook, steps=20, **kw):
    x, _ = ring(256)
    gan = gankit.GAN("mlp", x, out="p", batch_size=32, log_every=10, sample_every=10**6,
                     checkpoint_every=10**6, **kw)
    trainer = gan._get_trainer()
    gan._start_run_dir()
    trainer.callbacks = callbacks_hook(gan)
    trainer.fit(steps)
    return gan


def test_plain_lines_when_not_a_terminal(ring):
    out = io.StringIO()
    _fit(ring, lambda g: [Progress(20, None, stream=out)])
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("step 10/20") and "d_loss=" in lines[0]


def test_a_live_bar_with_losses_and_eta_on_a_terminal(ring):
    out = io.StringIO()
    _fit(ring, lambda g: [Progress(20, None, stream=out, bar=True)])
    text = out.getvalue()
    assert "20/20" in text and "g_loss=" in text and "<" in text   # tqdm's "elapsed<remaining"


def test_tensorboard_events_when_installed(ring):
    pytest.importorskip("tensorboard")
    gan = _fit(ring, lambda g: g._callbacks(20, None, False))
    assert list((gan.run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert torch.isfinite(torch.tensor(gan.history[-1]["d_loss"]))
