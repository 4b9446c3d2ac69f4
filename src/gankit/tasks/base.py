"""What every task's code shares, given once: the phase object's checkpoint contents and step
counter (`TaskBase`), and the facade's two ways of being made and the run's properties
(`TaskFacade`, on top of run.RunFacade). A task's package subclasses both; the core sees only
the facade (tasks/spec.py says what it asks of it)."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar, Optional

import torch

from ..errors import DataError
from ..run import Run, RunFacade


def seeded_generators(seed: int, device: torch.device, *names: str) -> dict[str, torch.Generator]:
    """One random generator per name, seeded seed*2+1, seed*2+2, ... in order (seed*2 is the
    data order's, on the CPU): the noise a task draws is the same on every device kind."""
    return {name: torch.Generator(device).manual_seed(seed * 2 + 1 + i)
            for i, name in enumerate(names)}


class TaskBase:
    """A task's trainable state as the trainer sees it (train/trainer.py, Task): subclasses set
    `nets`, `optimizers`, `generators` and `phases` in __init__. Its checkpoint holds every
    net, optimizer and generator; `step` is the last finished step."""

    nets: dict[str, torch.nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    generators: dict[str, torch.Generator]
    world = 1      # processes training together (set by the run under torchrun)
    _step = 0

    def end_step(self, step: int, nimg: int) -> None:
        self._step = step

    def state(self) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
        from ..train.state import task_state
        return task_state(self)

    def load(self, tensors: dict[str, dict[str, torch.Tensor]], meta: dict[str, Any],
             weights_only: bool = False) -> None:
        from ..train.state import load_task_state
        load_task_state(self, tensors, meta, weights_only)
        if not weights_only:
            self._step = int(meta.get("step", 0))


class GeneratorTask(TaskBase):
    """A task whose G draws from Gaussian noise [N, z_dim] (the "noise" generator), on batches
    that are samples or (samples, class labels), with a moving average G_ema (or None)."""

    z_dim: int
    conditional: bool
    G: torch.nn.Module
    G_ema: Optional[torch.nn.Module]

    def noise(self, n: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        gen = generator or self.generators["noise"]
        return torch.randn(n, self.z_dim, generator=gen, device=gen.device)

    def _split(self, batch: Any) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """(samples, labels or None) of a batch."""
        if isinstance(batch, (tuple, list)):
            return batch[0], (batch[1] if self.conditional else None)
        return batch, None

    @torch.no_grad()
    def follow(self, images: int, halflife: float, nimg: int) -> None:
        """Move G_ema toward G after a step of `images` samples. The half-life ramps up with
        training (StyleGAN2-ADA's rule: at most 5% of the samples seen so far), so short runs
        are not stuck at their start."""
        if self.G_ema is None:
            return
        beta = 0.5 ** (images / max(min(halflife, nimg * 0.05), 1e-8))
        torch._foreach_lerp_(list(self.G_ema.parameters()), list(self.G.parameters()), 1.0 - beta)
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)


class TaskFacade(RunFacade):
    """A task's user-facing class. Made two ways: `Facade(dataset, **options)` for a new run
    (a config from gankit.tasks.new_config, then `_build`), or `Facade(run=run, **state)` for a
    run its spec's load_run rebuilt (then `_attach`)."""

    TASK: ClassVar[str] = ""   # its registry name

    def __init__(self, dataset: Any = None, *, out: Any = None, config: Any = None,
                 run: Optional[Run] = None, **options: Any):
        if run is not None:
            self._attach(run, **options)
            return
        if config is None:
            from . import new_config
            config = new_config(self.TASK, **self._dataset_option(dataset), **options)
        self._build(dataset, config, out)

    # for a task that reads files only: the one line said when its data is not a path
    NEEDS_PATH: ClassVar[str] = ""

    @classmethod
    def _dataset_option(cls, dataset: Any) -> dict[str, Any]:
        """The `dataset` option a new config records for `dataset` (a path or a name)."""
        if cls.NEEDS_PATH:
            cls._data_path(dataset)
        return {"dataset": str(dataset)} if dataset is not None else {}

    @classmethod
    def _data_path(cls, dataset: Any) -> Path:
        """The data's absolute path (DataError NEEDS_PATH when it is not a path)."""
        if not isinstance(dataset, (str, Path)):
            raise DataError(cls.NEEDS_PATH or f"the {cls.TASK} task reads its data from a path")
        return Path(dataset).expanduser().resolve()

    def _on_path(self, config: Any, dataset: Any) -> Any:
        """`config` as this task's, naming the data by its absolute path."""
        return config.replace(task=self.TASK, data=dataclasses.replace(
            config.data, dataset=str(self._data_path(dataset))))

    def _build(self, dataset: Any, config: Any, out: Any) -> None:
        """A new run: read the data, resolve the config, make the run, attach."""
        raise NotImplementedError

    def _attach(self, run: Run, **state: Any) -> None:
        """Hold `run` (and what the task keeps beside it); set the run's hooks."""
        self.run = run


__all__ = ["GeneratorTask", "TaskBase", "TaskFacade", "seeded_generators"]
