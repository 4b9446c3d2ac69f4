"""The fast paths compute what the plain path computes: same losses, bf16 and compile usable on CPU."""
from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F

import gankit
from gankit.errors import ConfigError, GanKitWarning
from gankit.train import speed
from gankit.train.trainer import BatchSampler


def _quiet(**kw):
    return {"log_every": 1, "sample_every": 10**6, "checkpoint_every": 10**6, **kw}


def _digits(out, **kw):
    return gankit.GAN("dcgan", "digits", out=out, batch_size=16, width=8, ema_halflife=0,
                      **_quiet(**kw))


def _textbook_losses(steps: int, seed: int = 0) -> list[tuple[float, float]]:
    """The plain loop on the same nets, data order and noise: DataLoader-free but otherwise the
    beginner's step (G run twice, default Adam, per-step .item())."""
    gan = _digits(None, seed=seed)   # only for its freshly seeded nets and data
    G, D = gan.task.G, gan.task.D
    data = gan.run.data.float() / 127.5 - 1
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed * 2))
    noise = torch.Generator().manual_seed(seed * 2 + 1)
    lr = gan.config.train.lr
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    out = []
    for i in range(steps):
        real = data[perm[16 * i:16 * (i + 1)]]
        z = torch.randn(16, G.z_dim, generator=noise)
        opt_d.zero_grad()
        d_loss = F.softplus(-D(real)).mean() + F.softplus(D(G(z).detach())).mean()
        d_loss.backward()
        opt_d.step()
        opt_g.zero_grad()
        g_loss = F.softplus(-D(G(z))).mean()
        g_loss.backward()
        opt_g.step()
        out.append((d_loss.item(), g_loss.item()))
    return out


def test_fast_step_has_the_textbook_loss_trajectory():
    steps = 6
    fast = _digits("fast").fit(steps=steps, progress=False).history
    got = torch.tensor([(r["d_loss"], r["g_loss"]) for r in fast])
    want = torch.tensor(_textbook_losses(steps))
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(want[0], want[-1]), "the nets should have moved"


def test_bf16_on_cpu_trains_with_finite_fp32_losses():
    gan = _digits("bf16", precision="bf16").fit(steps=3, progress=False)
    losses = torch.tensor([(r["d_loss"], r["g_loss"]) for r in gan.history])
    assert losses.shape == (3, 2) and torch.isfinite(losses).all()
    with gan.run.trainer.autocast():   # the phases really ran in bf16 ...
        assert gan.task.G(torch.zeros(2, gan.task.z_dim)).dtype == torch.bfloat16
    assert all(p.dtype == torch.float32 for p in gan.task.G.parameters())   # ... weights did not


def test_bf16_with_gradient_penalty_is_finite():
    gan = _digits("gp", precision="bf16", loss="wgan-gp", d_norm="none").fit(steps=2, progress=False)
    assert all(torch.isfinite(torch.tensor(r["gp"])) for r in gan.history)


def test_compile_failure_falls_back_to_eager_with_one_warning(monkeypatch):
    def broken(net, mode=None):
        def call(*a, **k):
            raise RuntimeError("no C++ compiler here\nsecond line")
        return call
    monkeypatch.setattr(torch, "compile", broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fell_back = _digits("compiled", compile="auto").fit(steps=4, progress=False).history
    notes = [w for w in caught if issubclass(w.category, GanKitWarning)]
    assert len(notes) == 2 and all("no C++ compiler" in str(w.message) for w in notes)   # G and D
    eager = _digits("eager").fit(steps=4, progress=False).history
    assert [r["d_loss"] for r in fell_back] == [r["d_loss"] for r in eager]


def test_compile_on_cpu_runs_mlp(ring):
    pytest.importorskip("torch._inductor")
    x, _ = ring(256)
    gan = gankit.GAN("mlp", x, out="mlp-compiled", batch_size=32, width=16, compile="auto",
                     **_quiet()).fit(steps=3, progress=False)
    assert torch.isfinite(torch.tensor([r["d_loss"] for r in gan.history])).all()
    assert gankit.load_run(gan.run_dir).step == 3   # checkpoints hold the plain modules


@pytest.mark.parametrize("option, value, match", [("precision", "fp16", "--precision"),
                                                  ("compile", "fastest", "--compile")])
def test_bad_speed_options_are_config_errors(option, value, match):
    with pytest.raises(ConfigError, match=match):
        _digits(None, **{option: value})


def test_compile_modes_resolve_per_device():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert speed.resolve_compile_mode("none", cpu) is None
    assert speed.resolve_compile_mode("auto", cpu) == "default"
    assert speed.resolve_compile_mode("auto", cuda) == "reduce-overhead"
    assert speed.step_begin_for("reduce-overhead") is not None
    assert speed.step_begin_for("default") is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_bf16_compiled_on_cuda():
    gan = _digits("cuda", device="cuda", precision="bf16", compile="auto")
    gan.fit(steps=5, progress=False)
    assert torch.isfinite(torch.tensor([r["d_loss"] for r in gan.history])).all()


# ---- sharded device-resident sampling ------------------------------------------------------

@pytest.mark.parametrize("n, bs, world", [(12, 3, 2), (24, 4, 3), (13, 3, 2)])
def test_shards_cover_each_example_once_per_epoch(n, bs, world):
    samplers = [BatchSampler(torch.arange(n), bs, torch.Generator().manual_seed(5), rank=r,
                             world=world) for r in range(world)]
    per_rank = (n // world) // bs
    for _ in range(2):   # two epochs
        seen = torch.cat([s.next() for s in samplers for _ in range(per_rank)]).tolist()
        assert len(seen) == len(set(seen)), "an example repeats within an epoch"
        if (n // world) % bs == 0 and n % world == 0:
            assert sorted(seen) == list(range(n))


def test_sampler_continues_the_epoch_on_another_world_size():
    two = [BatchSampler(torch.arange(12), 3, torch.Generator().manual_seed(5), rank=r, world=2)
           for r in range(2)]
    shown = torch.cat([s.next() for s in two]).tolist()          # 6 of 12 shown
    tensors, meta = two[0].state()
    one = BatchSampler(torch.arange(12), 3, torch.Generator().manual_seed(99))
    one.load(tensors, meta)
    rest = torch.cat([one.next(), one.next()]).tolist()
    assert sorted(shown + rest) == list(range(12))


def test_speed_flags_parse():
    from gankit.cli import build_parser
    args = vars(build_parser().parse_args(["train", "--compile", "--precision", "bf16"]))
    assert args["train.compile"] == "auto" and args["train.precision"] == "bf16"
    args = vars(build_parser().parse_args(["train", "--compile", "max-autotune"]))
    assert args["train.compile"] == "max-autotune" and "train.memory_format" not in args


def test_a_busy_machine_trains_on_one_thread_and_says_so_once(monkeypatch):
    monkeypatch.delenv("GANKIT_THREADS")
    before = torch.get_num_threads()
    monkeypatch.setattr(speed, "busy_cores", lambda: 9.0)
    gan = _digits("busy")
    seen = []
    gan.task.phases[0].loss = (lambda inner: lambda real: (seen.append(torch.get_num_threads()),
                                                            inner(real))[1])(gan.task.phases[0].loss)
    with pytest.warns(GanKitWarning, match="machine is busy"):
        gan.fit(steps=2, progress=False)
    assert set(seen) == {1} and torch.get_num_threads() == before   # restored after fit
    monkeypatch.setattr(speed, "busy_cores", lambda: 0.0)
    assert speed.fit_threads(torch.device("cpu")) is None
    monkeypatch.setenv("GANKIT_THREADS", "x")
    with pytest.raises(ConfigError):
        speed.fit_threads(torch.device("cpu"))
