"""The training loop, the same for every kind of GAN.

A task (see `gankit.tasks`) owns its named nets and optimizers and declares its phases; the trainer
walks the phases in order each step, keeps the counters, and tells callbacks what happened. It
knows nothing of files, plots or any particular GAN.
"""
from __future__ import annotations

import contextlib
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol

import torch
from torch import nn

from ..errors import RunError

# A phase's loss function gets the real batch (a tensor, or (samples, labels)) and returns
# (loss to minimise, stats to log).
LossFn = Callable[[Any], "tuple[torch.Tensor, dict[str, torch.Tensor]]"]


@dataclass
class Phase:
    """One update inside a step: `loss` is minimised with the optimizers of `nets`.

    `grad` names the nets that need gradients during this phase (default: `nets`); every other
    net is frozen, so no weight gradients are computed for it.
    """

    name: str
    nets: tuple[str, ...]
    loss: LossFn
    every: int = 1
    grad: Optional[tuple[str, ...]] = None


class Task(Protocol):
    nets: dict[str, nn.Module]                    # every net saved in a checkpoint
    optimizers: dict[str, torch.optim.Optimizer]  # keyed by the net they update
    phases: list[Phase]
    generators: dict[str, torch.Generator]        # every RNG the task draws from

    def end_step(self, step: int, nimg: int) -> None: ...
    # a checkpoint's contents: tensors per file (nets, optimizers, RNG states) and JSON values
    def state(self) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]: ...
    def load(self, tensors: dict[str, dict[str, torch.Tensor]], meta: dict[str, Any],
             weights_only: bool = False) -> None: ...


class Sampler(Protocol):
    batch_size: int    # examples per batch in this process
    world: int         # processes drawing batches side by side (1 outside torchrun)

    def next(self) -> Any: ...
    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]: ...
    def load(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None: ...


class BatchSampler:
    """Shuffled batches from a dataset held as one tensor (on the training device).

    Each epoch draws a permutation from its own generator; its state at the epoch's start and the
    position inside the epoch are all that a resume needs to replay the same data order.

    In a distributed run every rank draws the same permutation and takes its shard, every
    `world`-th entry from `rank` on, so one epoch shows each example once across all ranks.
    """

    def __init__(self, data: torch.Tensor, batch_size: int, generator: torch.Generator,
                 transform: Callable[[torch.Tensor], torch.Tensor] = lambda x: x,
                 labels: Optional[torch.Tensor] = None, rank: int = 0, world: int = 1):
        self.data, self.batch_size, self.gen, self.transform = data, batch_size, generator, transform
        self.labels = labels   # with labels, each batch is (samples, labels)
        self.rank, self.world = rank, world
        self.epoch, self.pos, self.perm = 0, 0, None
        self.epoch_state = generator.get_state()

    def __len__(self) -> int:
        """Examples in this rank's shard of an epoch."""
        return len(self.data) // self.world

    def _new_epoch(self) -> None:
        self.epoch_state = self.gen.get_state()
        perm = torch.randperm(len(self.data), generator=self.gen)
        self.perm = perm[self.rank:len(self) * self.world:self.world].to(self.data.device)
        self.epoch, self.pos = self.epoch + 1, 0

    def next(self) -> Any:
        if self.perm is None or self.pos + self.batch_size > len(self.perm):
            self._new_epoch()
        idx = self.perm[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        if self.labels is not None:
            return self.transform(self.data[idx]), self.labels[idx]
        return self.transform(self.data[idx])

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return {"sampler": self.epoch_state}, {"epoch": self.epoch, "pos": self.pos,
                                               "world": self.world}

    def load(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        # The first pos * world entries of the epoch's permutation were shown (by all ranks
        # together); with another world size the same permutation continues from there.
        epoch, pos, world = (_whole(meta, k, low) for k, low in
                             (("epoch", 0), ("pos", 0), ("world", 1)))
        if pos * world > len(self.data):
            raise ValueError(f"the data order's position {pos} is past the data's end")
        self.epoch = epoch
        self.pos = pos * world // self.world
        self.gen.set_state(tensors["sampler"])
        self.epoch_state = tensors["sampler"]
        if self.epoch > 0:   # replay the current epoch's permutation, leaving gen where it was
            self.epoch -= 1
            pos = self.pos
            self._new_epoch()
            self.pos = pos


def _whole(meta: dict[str, Any], key: str, low: int) -> int:
    """meta[key] as read back from a checkpoint's JSON: a whole number >= low, or ValueError."""
    value = meta.get(key, low if key == "world" else None)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{key} is {value!r}, not a whole number of at least {low}")
    return value


INTERRUPTED = "interrupted"   # the start of the stop reason after SIGINT or SIGTERM


class StopSignals:
    """SIGINT (Ctrl-C) and SIGTERM (what schedulers send) ask for a stop at the next step boundary.

    The first signal only sets `received`; the trainer finishes the step in progress, and the
    callbacks save it as a whole step. A second signal raises KeyboardInterrupt at once: nothing
    more is saved. Outside the main thread Python delivers no signals to us, and nothing is
    installed.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: Optional[str] = None
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is not None:
            raise KeyboardInterrupt   # the second one: stop now, save nothing more
        self.received = signal.Signals(signum).name

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)
        self._saved = {}


class Callback:
    """Hooks the trainer calls; override what you need. Set `trainer.stop_reason` to stop."""

    def on_start(self, trainer: Trainer) -> None: ...
    def on_step(self, trainer: Trainer) -> None: ...
    def on_log(self, trainer: Trainer, record: dict[str, float]) -> None: ...
    def on_end(self, trainer: Trainer) -> None: ...


@dataclass
class Trainer:
    task: Task
    sampler: Sampler
    callbacks: list[Callback] = field(default_factory=list)
    log_every: int = 50
    step: int = 0               # steps completed
    nimg: int = 0               # real images shown so far
    elapsed: float = 0.0        # training seconds over all sessions of the run
    stop_reason: Optional[str] = None
    _sums: dict[str, list] = field(default_factory=dict)   # name -> [device sum, count]
    # Speed and multi-process hooks (see train/speed.py, train/distributed.py); defaults: none.
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext   # around each phase's loss
    grad_sync: Optional[Callable[[list[nn.Module]], None]] = None     # average grads over ranks
    stop_sync: Optional[Callable[[bool], bool]] = None                # any rank stops -> all stop
    step_begin: Optional[Callable[[], None]] = None                   # e.g. CUDA-graph step marker
    state_extra: Optional[Callable[[], dict]] = None    # more JSON for each checkpoint (the config)
    sync_every: int = 10        # steps between stop agreements of a distributed run
    _signals: StopSignals = field(default_factory=StopSignals)

    def fit(self, total_steps: int, max_time: Optional[float] = None) -> str:
        """Train until `total_steps` steps are done or `max_time` seconds pass; says why it stopped."""
        self.stop_reason = None
        start, t0 = time.monotonic(), self.elapsed
        # A KeyboardInterrupt that gets through (a second Ctrl-C, or one while no handler could
        # be installed) may land inside a step: that state is torn, so it is not saved (on_end
        # is skipped) and the interrupt goes on up.
        with StopSignals() as self._signals:
            self._emit("on_start")
            while True:
                reason = self._stop_now(total_steps, max_time, start)
                if reason is not None:
                    self.stop_reason = reason
                    break
                self.train_step()
                self.elapsed = t0 + time.monotonic() - start
                if self.step % self.log_every == 0:
                    self.flush_log()
                self._emit("on_step")
            self.elapsed = t0 + time.monotonic() - start
            self.flush_log()
            self._emit("on_end")
        return self.stop_reason

    @property
    def interrupted(self) -> bool:
        """Whether this fit stops because of SIGINT or SIGTERM."""
        return (self.stop_reason or "").startswith(INTERRUPTED)

    def _stop_now(self, total_steps: int, max_time: Optional[float], start: float
                  ) -> Optional[str]:
        """Why to stop before the next step, or None. Step counts agree on every rank by
        themselves; time limits and callbacks' reasons are agreed on every `sync_every` steps."""
        if self.step >= total_steps:
            return f"reached {total_steps} steps"
        reason = self.stop_reason
        if reason is None and self._signals.received is not None:
            reason = f"{INTERRUPTED} ({self._signals.received})"
        if reason is None and max_time is not None and time.monotonic() - start >= max_time:
            reason = f"reached --max-time {max_time:g} s"
        if self.stop_sync is None:
            return reason
        if self.step % self.sync_every:
            return None
        return (reason or "another process stopped") if self.stop_sync(reason is not None) else None

    def train_step(self) -> None:
        """One step of every phase due, with no callbacks and no stop check (fit's inner step;
        what bench/speed.py times)."""
        if self.step_begin is not None:
            self.step_begin()
        real = self.sampler.next()
        for phase in self.task.phases:
            if self.step % phase.every:
                continue
            needs_grad = phase.grad or phase.nets
            for name, net in self.task.nets.items():
                if name in self.task.optimizers:
                    net.requires_grad_(name in needs_grad)
            for name in phase.nets:
                self.task.optimizers[name].zero_grad(set_to_none=True)
            with self.autocast():
                loss, stats = phase.loss(real)
            loss.backward()
            if self.grad_sync is not None:
                self.grad_sync([self.task.nets[name] for name in phase.nets])
            for name in phase.nets:
                self.task.optimizers[name].step()
            self._accumulate(stats)
        self.step += 1
        self.nimg += self.sampler.batch_size * self.sampler.world   # over all processes
        self.task.end_step(self.step, self.nimg)

    def _accumulate(self, stats: dict[str, torch.Tensor]) -> None:
        # Summed on the device; read back only when a log line is written (no sync per step).
        for k, v in stats.items():
            v = v.detach().float()
            if k in self._sums:
                self._sums[k][0] += v
                self._sums[k][1] += 1
            else:
                self._sums[k] = [v.clone(), 1]

    def flush_log(self) -> None:
        if not self._sums:
            return
        record = {"step": self.step, "elapsed": round(self.elapsed, 3), "nimg": self.nimg}
        record.update({k: s.item() / n for k, (s, n) in self._sums.items()})
        self._sums = {}
        self._emit("on_log", record)

    def log_extra(self, values: dict[str, float]) -> None:
        """Log values measured outside the step (evaluations) as a record of their own."""
        self._emit("on_log", {"step": self.step, "elapsed": round(self.elapsed, 3),
                              "nimg": self.nimg, **values})

    def state(self) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
        """Everything a resume needs: the task's nets/optimizers/RNGs, data order, counters."""
        tensors, meta = self.task.state()
        s_tensors, s_meta = self.sampler.state()
        tensors["rng"] = {**tensors.get("rng", {}), **s_tensors}
        meta.update(sampler=s_meta, nimg=self.nimg, elapsed=self.elapsed)
        if self.state_extra is not None:
            meta.update(self.state_extra())
        return tensors, meta

    def load_state(self, tensors: dict[str, dict[str, torch.Tensor]], meta: dict[str, Any]) -> None:
        self.task.load(tensors, meta)
        try:
            self.sampler.load(tensors["rng"], meta["sampler"])
            step, nimg, elapsed = int(meta["step"]), int(meta["nimg"]), float(meta["elapsed"])
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise RunError(f"the checkpoint of step {meta.get('step')} is damaged: its training "
                           f"state does not read back ({type(e).__name__}: {e})") from None
        self.step, self.nimg, self.elapsed = step, nimg, elapsed

    def _emit(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)
