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
    trainer = gan.run.trainer
    gan.run.start_run_dir()
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


def test_linear_lr_decay_to_zero_at_the_run_end(ring):
    """--lr-decay linear: each rate times 1 - progress; progress by absolute step (a resumed run
    goes on where it was) or by this invocation's share of --max-time, whichever is further."""
    from types import SimpleNamespace

    from gankit.config import TrainConfig
    from gankit.errors import ConfigError
    from gankit.train.callbacks import LRDecay
    w = torch.nn.Parameter(torch.zeros(1))
    opts = {"G": torch.optim.Adam([w]), "D": torch.optim.Adam([w])}
    train = TrainConfig(lr=1e-3, lr_d=2e-3, lr_decay="linear")
    lrs = lambda: [opts[k].param_groups[0]["lr"] for k in ("G", "D")]   # noqa: E731
    by_step = LRDecay(opts, train, total=100)
    by_step.on_start(SimpleNamespace(step=25, elapsed=0.0))
    assert lrs() == pytest.approx([7.5e-4, 1.5e-3])
    by_step.on_step(SimpleNamespace(step=100, elapsed=0.0))
    assert lrs() == [0.0, 0.0]
    by_time = LRDecay(opts, train, total=2 ** 63, max_time=10.0)   # 2**63: no step limit
    by_time.on_start(SimpleNamespace(step=7, elapsed=50.0))
    by_time.on_step(SimpleNamespace(step=8, elapsed=52.0))
    assert lrs() == pytest.approx([8e-4, 1.6e-3])
    with pytest.raises(ConfigError, match="none or linear"):
        LRDecay(opts, TrainConfig(lr_decay="cosine"))
    gan = _fit(ring, lambda g: g._callbacks(20, None, False), lr_decay="linear")
    assert [o.param_groups[0]["lr"] for o in gan.task.optimizers.values()] == [0.0, 0.0]
