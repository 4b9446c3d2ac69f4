"""A task from outside gankit: `gankit.tasks.register(...)` and nothing else, then every command
that opens a run works on it, with no edit to the core (docs/design.md, "How to add a task").

The toy task learns a 1-D distribution (a mixture of two Gaussians) with small MLPs; its previews
are CSV files of samples, its score the gap between the samples' and the held-out points' means.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pytest
import torch
from helpers import run
from torch import nn

import gankit
import gankit.cli
from gankit import tasks
from gankit.config import TaskOptions, option
from gankit.errors import DataError
from gankit.metrics import task_results
from gankit.run import Run, RunHooks
from gankit.tasks.base import TaskBase, TaskFacade, seeded_generators
from gankit.tasks.spec import TaskSpec
from gankit.train import callbacks as cb
from gankit.train.optim import adam_for
from gankit.train.state import atomic_write_text, step_name
from gankit.train.trainer import BatchSampler, Phase


@dataclasses.dataclass(frozen=True)
class ToyOptions(TaskOptions):
    UNUSED = frozenset({"resolution", "channels", "conditional", "cond", "augment", "d_norm"})
    hidden: int = option(16, "hidden units of G and D", low=1)


class ToyTask(TaskBase):
    def __init__(self, cfg: Any, device: torch.device):
        h, z = cfg.options.hidden, cfg.model.z_dim
        self.cfg, self.z_dim = cfg, z
        torch.manual_seed(cfg.train.seed)   # the initial weights come from the seed
        self.G = nn.Sequential(nn.Linear(z, h), nn.ReLU(), nn.Linear(h, 1)).to(device)
        self.D = nn.Sequential(nn.Linear(1, h), nn.LeakyReLU(0.2), nn.Linear(h, 1)).to(device)
        self.nets = {"G": self.G, "D": self.D}
        self.optimizers = adam_for(self.nets, cfg.train)
        self.generators = seeded_generators(cfg.train.seed, device, "noise")
        self.phases = [Phase("D", ("D",), self.d_loss), Phase("G", ("G",), self.g_loss)]

    def noise(self, n: int, gen: Optional[torch.Generator] = None) -> torch.Tensor:
        gen = gen or self.generators["noise"]
        return torch.randn(n, self.z_dim, generator=gen, device=gen.device)

    def d_loss(self, real: torch.Tensor) -> tuple[torch.Tensor, dict]:
        fake = self.G(self.noise(len(real))).detach()
        loss = nn.functional.softplus(-self.D(real)).mean() + \
            nn.functional.softplus(self.D(fake)).mean()
        return loss, {"d_loss": loss}

    def g_loss(self, real: torch.Tensor) -> tuple[torch.Tensor, dict]:
        loss = nn.functional.softplus(-self.D(self.G(self.noise(len(real))))).mean()
        return loss, {"g_loss": loss}


def toy_points(path: str, split: str) -> torch.Tensor:
    try:
        x = np.load(path)
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not a .npy of points ({e})") from None
    held = np.arange(len(x)) % 5 == 0
    return torch.as_tensor(x[held if split == "test" else ~held], dtype=torch.float32)[:, None]


class ToyGAN(TaskFacade):
    TASK = "toy"

    def _build(self, dataset: Any, config: Any, out: Any) -> None:
        x = toy_points(config.data.dataset, "train")
        cfg = config.replace(data_shape=(1,))
        self._attach(Run.for_task(cfg, lambda device: ToyTask(cfg, device), out=out))
        self.run.data = x

    def _attach(self, run: Run, **state: Any) -> None:
        self.run = run
        run.hooks = RunHooks(sampler=self._sampler, callbacks=self._callbacks)

    def _sampler(self) -> BatchSampler:
        gen = torch.Generator().manual_seed(self.config.train.seed * 2)
        return BatchSampler(self.run.data, self.config.train.batch_size, gen)

    def _callbacks(self, total: int, max_time: Optional[float], progress: Optional[bool]) -> list:
        return self.run.standard_callbacks(total, max_time, progress,
                                           ToyPreview(self, self.config.train.sample_every),
                                           lambda: {})

    @torch.no_grad()
    def sample(self, n: int, seed: Optional[int] = 0, ema: bool = True, labels: Any = None
               ) -> torch.Tensor:
        gen = torch.Generator().manual_seed(int(seed or 0))
        return self.task.G(self.task.noise(int(n), gen))

    def metric_results(self, num: int, seed: int = 0, split: str = "test", **_: Any) -> dict:
        real = toy_points(self.config.data.dataset, split)
        gap = float((self.sample(num, seed).mean() - real.mean()).abs())
        return task_results({"mean_gap": gap}, extractor="identity", n_real=len(real),
                            n_fake=num, seed=seed)


class ToyPreview(cb.Every):
    def __init__(self, gan: ToyGAN, every: int):
        super().__init__(every)
        self.gan = gan

    def act(self, trainer: Any) -> None:
        out = self.gan.run_dir / "samples"
        out.mkdir(exist_ok=True)
        values = self.gan.sample(8).flatten().tolist()
        atomic_write_text(out / f"{step_name(trainer.step)}.csv",
                          "x\n" + "".join(f"{v:.4f}\n" for v in values))


class ToySpec(TaskSpec):
    name = "toy"
    summary = "a 1-D mixture of two Gaussians (a test task)"
    previews = (".csv",)
    sample_output = "samples.npz"

    def options(self) -> type:
        return ToyOptions

    def new_run(self, cfg: Any, out: Optional[Path]) -> Any:
        return ToyGAN(config=cfg, out=out)

    def load_run(self, run_dir: Path, cfg: Any, *, device: str, weights_only: bool,
                 **given: Any) -> Any:
        gan = ToyGAN(run=Run.for_task(cfg, lambda dev: ToyTask(cfg, dev), run_dir=run_dir))

        def load_data() -> None:
            gan.run.data = toy_points(cfg.data.dataset, "train")
        gan.run.resume(weights_only, load_data)
        return gan


@pytest.fixture
def toy(tmp_path):
    tasks.register(ToySpec())
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(-2, 0.3, 300), rng.normal(2, 0.3, 300)])
    np.save(tmp_path / "points.npy", rng.permutation(points))
    yield tmp_path / "points.npy"
    tasks.unregister("toy")


def test_a_task_registered_from_outside_gets_every_command(toy, tmp_path, capsys):
    r = tmp_path / "run"
    flags = ["--batch-size", 32, "--hidden", 8, "--log-every", 1, "--sample-every", 2,
             "--checkpoint-every", 2]
    code, _, err = run(capsys, "train", "--task", "toy", "--dataset", toy, "--steps", 4,
                       "--out", r, *flags)
    assert code == 0, err
    assert f"samples/{step_name(4)}.csv" in err and "gankit sample" in err, err
    assert json.loads((r / "config.json").read_text())["options"] == {"hidden": 8}
    code, _, err = run(capsys, "train", "--resume", r, "--steps", 6)
    assert code == 0 and "resuming" in err, err
    code, out, err = run(capsys, "info", r, "--json")
    assert code == 0 and json.loads(out)["step"] == 6, err
    assert json.loads(out)["latest_samples"].endswith(f"{step_name(6)}.csv")
    code, out, err = run(capsys, "eval", r, "--num", 50, "--json")
    assert code == 0 and isinstance(json.loads(out)["mean_gap"]["value"], float), err
    code, _, err = run(capsys, "sample", r, "--num", 5, "--output", tmp_path / "s.npz")
    assert code == 0, err
    assert np.load(tmp_path / "s.npz")["samples"].shape == (5, 1)
    code, _, err = run(capsys, "sample", r, "--num", 5, "--label", 1, "--output",
                       tmp_path / "t.npz")   # a flag the image GAN's runs take, not this one's
    assert code == 2 and "--label is a `gankit sample` option of image-gan, audio and video " \
        "runs, and this is a toy run" in err, err
    code, _, err = run(capsys, "report", r, "--output", tmp_path / "r.html")
    assert code == 0 and "Traceback" not in err, err
    assert 'id="samples"' in (tmp_path / "r.html").read_text()
    with pytest.raises(SystemExit):
        gankit.cli.main(["train", "--help"])
    assert "toy: a 1-D mixture" in capsys.readouterr().out


def test_a_resumed_outside_task_ends_where_a_straight_run_does(toy, tmp_path):
    straight = ToyGAN(toy, out=tmp_path / "a", batch_size=32).fit(steps=6, progress=False)
    ToyGAN(toy, out=tmp_path / "b", batch_size=32).fit(steps=3, progress=False)
    resumed = gankit.load_run(tmp_path / "b")
    assert type(resumed) is ToyGAN and resumed.step == 3
    resumed.fit(until=6, progress=False)
    assert torch.equal(straight.sample(10, seed=1), resumed.sample(10, seed=1))


def test_a_name_taken_is_refused_and_unknown_tasks_are_listed(toy):
    with pytest.raises(gankit.ConfigError, match="registered already"):
        tasks.register(type("Other", (ToySpec,), {})())
    with pytest.raises(gankit.ConfigError, match="toy"):
        tasks.get("no-such-task")


def test_a_task_in_plugin_code_is_found_through_plugins(tmp_path, capsys):
    rng = np.random.default_rng(1)
    np.save(tmp_path / "points.npy", rng.normal(0, 1, 200))
    plugin = tmp_path / "toy_plugin.py"
    plugin.write_text("from gankit import tasks\nfrom test_register_task import ToySpec\n"
                      "tasks.register(ToySpec())\n")
    r = tmp_path / "run"
    try:
        code, _, err = run(capsys, "train", "--plugins", plugin, "--task", "toy", "--dataset",
                           tmp_path / "points.npy", "--steps", 2, "--batch-size", 16, "--out", r)
        assert code == 0, err
        tasks.unregister("toy")   # a later process, which has not imported the plugin
        for name in [m for m in sys.modules if m.startswith("gankit_plugin_")]:
            del sys.modules[name]
        code, _, err = run(capsys, "info", r)
        assert code == 2 and "unknown task 'toy'" in err and "--plugins" in err, err
        code, out, err = run(capsys, "info", r, "--plugins", plugin)
        assert code == 0 and "step 2" in out, err
    finally:
        if any(s.name == "toy" for s in tasks.specs()):
            tasks.unregister("toy")
