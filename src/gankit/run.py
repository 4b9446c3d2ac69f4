"""A run: one task's trainable state, its data, the trainer, the callbacks and the run directory.

Every user-facing class (`gankit.GAN`, `TextGAN`, `AudioGAN`, the translators, `SemiGAN`) holds a
`Run` and adds what its task does with the trained nets (sample, translate, classify). The run is
what they share: training for a number of steps, epochs or seconds, writing and locking the run
directory, checking that a resumed run's data is the data it trained on, and resuming from a
checkpoint. It knows no task: what differs comes in as `RunHooks`, small functions the facade gives:

    run = Run(cfg, task, env, RunHooks(sampler=..., callbacks=..., files=...), data=x, out=out)
    run.fit(steps=1000)      # writes run_dir/config.json, files(), metrics, samples, checkpoints

Data flows one way: the facade loads its data and builds its task (nets, optimizers, phases), the
run trains the task on batches from `hooks.sampler()`, and the callbacks write the run directory.
"""
from __future__ import annotations

import dataclasses
import math
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Union

import torch

from . import notebook
from .config import DEFAULT_STEPS, RunConfig, config_changes
from .errors import ConfigError, GanKitWarning, RunError
from .outputs import write_samples
from .rundir import (
    RunLock,
    check_same_data,
    create_run_dir,
    data_fingerprint,
    truncate_metrics,
    write_config,
)
from .train import callbacks as cb
from .train import distributed, speed
from .train.state import atomic_write_text, load_latest
from .train.trainer import Trainer

# fit's progress=: None (chosen for where it runs), True (a bar), False (none), "notebook"
ProgressOption = Union[bool, str, None]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}: use cpu, cuda, cuda:N or auto") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} asked for, but this machine has no usable CUDA GPU")
    return dev


@dataclass
class RunEnv:
    """Where a run's nets live: this process's device and its place in a torchrun job."""

    device: torch.device
    dist: distributed.Dist

    @classmethod
    def for_config(cls, cfg: RunConfig, one_process: Optional[str] = None) -> RunEnv:
        """The device and backends for `cfg`. `one_process`: what trains on one process only
        (named in the error a torchrun launch gets); None: the run may be distributed."""
        dist, device = distributed.setup(cfg.train.device)   # torchrun: this rank's device
        if one_process is not None and dist.enabled:
            raise ConfigError(f"{one_process} trains on one process; --distributed is for image "
                              f"GANs")
        dev = resolve_device(device)
        speed.tune_backends(dev)
        return cls(dev, dist)


@dataclass
class RunHooks:
    """What a task adds to its run.

    sampler:    () -> the trainer's batch source over the run's data (raise DataError if absent)
    callbacks:  (total, max_time, progress) -> the callbacks of one fit (see Run.standard_callbacks)
    files:      () -> {name: text}, written into a new run directory beside config.json
    epoch_steps: (epochs) -> the steps those passes over the data take (default: the
                sampler's items // batch size per pass)
    speedups:   whether --compile and torchrun apply (the image GAN's nets)
    """

    sampler: Callable[[], Any]
    callbacks: Callable[[int, Optional[float], ProgressOption], list]
    files: Callable[[], dict[str, str]] = dict
    epoch_steps: Optional[Callable[[float], int]] = None
    speedups: bool = False


class Run:
    """A task being trained: config, task (nets, optimizers, phases), device, data, trainer and
    run directory. `data` is what identifies the training set on resume (data_fingerprint).
    `hooks` may be set after the run is made (a facade made from a run attaches its own)."""

    def __init__(self, config: RunConfig, task: Any, env: RunEnv, hooks: Optional[RunHooks], *,
                 data: Any = None, data_note: Optional[str] = None,
                 out: Union[str, Path, None] = None, run_dir: Optional[Path] = None):
        self.config, self.task, self.hooks = config, task, hooks
        self.device, self.dist = env.device, env.dist
        self.data, self.data_note = data, data_note
        self.out = Path(out) if out is not None else None
        self.run_dir: Optional[Path] = Path(run_dir) if run_dir is not None else None
        self.loaded_step = 0
        self.allow_data_change = False
        self.stop_reason: Optional[str] = None
        self.live_cell: Optional[int] = None
        self._trainer: Optional[Trainer] = None
        self._lock: Optional[RunLock] = None

    @classmethod
    def for_task(cls, config: RunConfig, make_task: Callable[[torch.device], Any], *,
                 one_process: Optional[str] = None, out: Union[str, Path, None] = None,
                 run_dir: Optional[Path] = None) -> Run:
        """A run of the task `make_task(device)` builds, on the device `config` asks for
        (`one_process`: what refuses torchrun, see RunEnv.for_config); hooks come later."""
        env = RunEnv.for_config(config, one_process)
        return cls(config, make_task(env.device), env, None, out=out, run_dir=run_dir)

    def reconfigure(self, config: RunConfig) -> None:
        """A resumed run's new settings (the flags a resume may change): the run, its task and
        the optimizers' learning rates all follow the one config."""
        from .train.optim import set_learning_rates
        old, self.config = self.config, config
        if hasattr(self.task, "cfg"):
            self.task.cfg = config
        t, was = config.train, old.train
        if (t.lr, t.lr_d) != (was.lr, was.lr_d) and getattr(self.task, "optimizers", None):
            set_learning_rates(self.task.optimizers, t)

    # --- the trainer ---------------------------------------------------------------------------
    @property
    def trainer(self) -> Trainer:
        """The trainer over the run's data, built when first needed."""
        if self._trainer is None:
            t = self.config.train
            trainer = Trainer(self.task, self.hooks.sampler(), log_every=t.log_every)
            # each checkpoint records the config it was trained with (see check_config_edits)
            trainer.state_extra = lambda: {"config": self.config.to_dict()}
            trainer.autocast = speed.autocast_for(t.precision, self.device)
            if self.hooks.speedups:
                self._speed_up(trainer)
            self._trainer = trainer
        return self._trainer

    def _speed_up(self, trainer: Trainer) -> None:
        """Compile and multi-process hooks of the trainer (see train/speed.py)."""
        mode = speed.resolve_compile_mode(self.config.train.compile, self.device)
        if mode is not None:
            speed.compile_task_nets(self.task, mode)
            trainer.step_begin = speed.step_begin_for(mode)
        if self.dist.enabled:
            world, device = self.dist.world, self.device
            trainer.grad_sync = lambda nets: distributed.average_gradients(nets, world)
            trainer.stop_sync = lambda stop: distributed.agree_to_stop(stop, device)

    @property
    def step(self) -> int:
        return self._trainer.step if self._trainer else self.loaded_step

    @property
    def history(self) -> list[dict]:
        """The logged records of metrics.jsonl."""
        return cb.read_metrics(self.run_dir) if self.run_dir else []

    def steps_for_epochs(self, epochs: float) -> int:
        """The step at which `epochs` passes over the training data are complete."""
        if self.hooks.epoch_steps is not None:
            return self.hooks.epoch_steps(epochs)
        n = len(self.trainer.sampler)   # this process's share of an epoch
        return math.ceil(epochs * max(n // self.config.train.batch_size, 1))

    # --- training ------------------------------------------------------------------------------
    def fit(self, steps: Optional[int] = None, epochs: Optional[float] = None,
            max_time: Optional[float] = None, *, until: Optional[int] = None,
            progress: ProgressOption = None) -> Optional[str]:
        """Train for `steps` more steps, `epochs` more passes or `max_time` seconds, whichever
        ends first (`until` = an absolute step); with none given, DEFAULT_STEPS. Returns why it
        stopped. `progress`: see RunFacade.fit."""
        notebook.check_progress(progress)
        trainer = self.trainer
        # Settings a resume may change take effect now, not only when the trainer was built.
        trainer.log_every = self.config.train.log_every
        trainer.autocast = speed.autocast_for(self.config.train.precision, self.device)
        ends = [until] if until is not None else []
        if steps is not None:
            ends.append(trainer.step + int(steps))
        if epochs is not None:
            ends.append(trainer.step + self.steps_for_epochs(epochs))
        if not ends:
            ends.append(sys.maxsize if max_time is not None else trainer.step + DEFAULT_STEPS)
        total = min(ends)
        t = self.config.train
        if t.early_stop_patience and not t.eval_every:
            raise ConfigError("--early-stop-patience needs --eval-every N (it counts evaluations)")
        if t.lr_decay != "none" and self.dist.enabled:
            raise ConfigError("--lr-decay is for one process (the ranks of a torchrun would "
                              "each decay on their own clocks); use --lr-decay none")
        if self.dist.is_main:   # only rank 0 writes the run directory
            self.start_run_dir()
            trainer.callbacks = self.hooks.callbacks(total, max_time, progress)
        threads = torch.get_num_threads()
        hint = speed.fit_threads(self.device)
        if hint is not None:
            warnings.warn(hint, GanKitWarning)
        try:
            self.stop_reason = trainer.fit(total, max_time)
            # the notebook cell whose live view shows this fit (see RunFacade._ipython_display_)
            self.live_cell = notebook.this_cell() if any(
                isinstance(c, cb.LiveView) for c in trainer.callbacks) else None
        finally:
            self.release()
            torch.set_num_threads(threads)
        return self.stop_reason

    # --- the run directory ---------------------------------------------------------------------
    def start_run_dir(self) -> None:
        """A new run: its directory, config.json and the task's files. A resumed run: checks that
        its data is unchanged, then drops log rows past its checkpoint, since training goes on."""
        if self.run_dir is None:
            self.run_dir = create_run_dir(self.out, self.config)
            extra: dict[str, Any] = {"data_note": self.data_note}
            if self.data is not None:
                extra["data_fingerprint"] = data_fingerprint(self.data)
            write_config(self.run_dir, self.config, extra)
            self.claim()
            for name, text in self.hooks.files().items():
                atomic_write_text(self.run_dir / name, text)
        else:
            self.check_data()
            self.claim()
            truncate_metrics(self.run_dir, self.step)

    def check_data(self) -> None:
        """A resumed run's data must be the data it trained on (see rundir.check_same_data)."""
        check_same_data(self.run_dir, self.data, self.allow_data_change)

    def claim(self) -> None:
        """Hold the run directory's lock until this fit ends; RunError if another process
        trains it."""
        if self._lock is None:
            self._lock = RunLock(self.run_dir)
        self._lock.acquire()

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()

    # --- resuming ------------------------------------------------------------------------------
    def resume(self, weights_only: bool, load_data: Optional[Callable[[], None]] = None) -> Run:
        """Rebuild the run at its latest checkpoint: the weights alone, or (with `load_data`, which
        sets the run's data) also the trainer at its step, data order and RNG states."""
        _, tensors, meta = load_latest(self.run_dir)
        self.loaded_step = meta["step"]
        if weights_only or load_data is None:   # sampling: the weights must fit, nothing more
            self.task.load(tensors, meta, weights_only=weights_only)
            return self
        then = self.check_config_edits(meta.get("config"), meta["step"])
        load_data()
        trainer = self.trainer
        trainer.load_state(tensors, meta)
        self._follow_config_edits(then, meta["step"])
        if self.hooks.speedups:
            speed.match_layouts(self.task.optimizers)
            distributed.reseed_for_rank(self.task.generators, self.config.train.seed,
                                        self.dist.rank, trainer.step)
        return self

    def check_config_edits(self, saved: Any, step: int) -> Optional[RunConfig]:
        """config.json changed by hand since the checkpoint, which records the config it was
        trained with: that config (None for a checkpoint from before gankit recorded it).
        Settings a resume may change (the learning rates, logging, ...) and the dataset's path
        may differ: `fit` then goes on with config.json's, as with the same flags on --resume.
        Any other change is refused in one line, since the checkpoint's nets, optimizers and
        data order were made with the old values."""
        if saved is None:
            return None
        try:
            then = RunConfig.from_dict(saved, type(self.config.options))
        except ConfigError as e:
            raise RunError(f"the checkpoint of step {step} is damaged: its recorded config does "
                           f"not read back ({e})") from None
        then = then.replace(train=dataclasses.replace(then.train, device=self.config.train.device))
        fixed = [c for c in config_changes(then, self.config)
                 if not c[3] and c[0] != "data.dataset"]
        if fixed:
            raise RunError(f"{self.run_dir}/config.json was changed since the checkpoint of step "
                           f"{step}: {_said(fixed)}; these settings made the checkpoint and "
                           f"cannot change on resume: undo the edit (flags on --resume change "
                           f"the settings that can)")
        return then

    def _follow_config_edits(self, then: Optional[RunConfig], step: int) -> None:
        """Train on with config.json's settings where they differ from the checkpoint's."""
        changes = config_changes(then, self.config) if then is not None else []
        if not changes:
            return
        warnings.warn(f"config.json was changed since the checkpoint of step {step} "
                      f"({_said(changes)}); training goes on with config.json's settings",
                      GanKitWarning)
        current, self.config = self.config, then
        self.reconfigure(current)

    # --- callbacks -----------------------------------------------------------------------------
    def standard_callbacks(self, total: int, max_time: Optional[float],
                           progress: ProgressOption, preview: cb.Callback,
                           score: Callable[[], dict[str, float]], *, key: Optional[str] = None,
                           title: Optional[str] = None,
                           guard: Optional[cb.HealthGuard] = None,
                           tensorboard: bool = False) -> list[cb.Callback]:
        """The callbacks of one fit, in order: health warnings (`guard`, default one that reads
        only the losses), the metrics log, progress, the learning-rate decay, TensorBoard, the
        task's `preview` (samples/step-*), `score` under --eval-every (the best checkpoint by
        `key`, lowest first) and checkpoints (`title`: what the checkpoints' notes call the
        run; with a guard and --stop-on-divergence, held back while the guard suspects a
        divergence). In a notebook (see notebook.live_wanted) the progress is a live view
        instead, placed last, so that a step's redraw shows the preview written at that step."""
        t, run = self.config.train, self.run_dir
        live = notebook.live_wanted(progress)
        hold = guard.suspect if guard is not None and t.stop_on_divergence else None
        if guard is None:
            guard = cb.HealthGuard(None, None, self.config.loss.loss, t.stop_on_divergence,
                                   past=cb.read_metrics(run))
        # The guard adds `diversity` to each record, so it comes before the log writer.
        out: list[cb.Callback] = [guard, cb.MetricsLog(run / "metrics.jsonl")]
        if progress is not False and not live:
            out.append(cb.Progress(total, max_time, bar=progress))
        if t.lr_decay != "none":
            out.append(cb.LRDecay(self.task.optimizers, t, total, max_time))
        if tensorboard:
            out.append(cb.TensorBoard(run / "tensorboard"))
        out.append(preview)
        if t.eval_every:
            more = {"key": key} if key is not None else {}
            out.append(cb.Evaluate(run, t.eval_every, score, patience=t.early_stop_patience,
                                   **more))
        title = title or f"{self.config.task} on {Path(self.config.data.dataset).name}"
        out.append(cb.Checkpointer(run, t.checkpoint_every, t.keep_checkpoints, title, hold=hold,
                                   minutes=t.checkpoint_minutes))
        if live:
            out.append(cb.LiveView(run, total, max_time, t.sample_every, title=title))
        return out


def _forward(name: str) -> property:
    """A read-only property that is the run's attribute of the same name."""
    return property(lambda self: getattr(self.run, name), doc=f"the run's {name}")


def _said(changes: list) -> str:
    return "; ".join(f"{name} {old!r} -> {new!r}" for name, old, new, _ in changes)


class RunFacade:
    """What every user-facing class offers through its `run`: fit, step, config, task, device,
    run_dir, history, data_note, stop_reason. Subclasses set `self.run` in their __init__."""

    run: Run

    @property
    def config(self) -> RunConfig:
        return self.run.config

    @config.setter
    def config(self, cfg: RunConfig) -> None:   # a resume with changed flags (gankit train)
        self.run.reconfigure(cfg)

    task = _forward("task")
    device = _forward("device")
    dist = _forward("dist")
    run_dir = _forward("run_dir")
    step = _forward("step")
    history = _forward("history")
    data_note = _forward("data_note")
    stop_reason = _forward("stop_reason")

    @property
    def allow_data_change(self) -> bool:
        return self.run.allow_data_change

    @allow_data_change.setter
    def allow_data_change(self, value: bool) -> None:
        self.run.allow_data_change = bool(value)

    def fit(self, steps: Optional[int] = None, epochs: Optional[float] = None,
            max_time: Optional[float] = None, *, until: Optional[int] = None,
            progress: ProgressOption = None) -> RunFacade:
        """Train for `steps` more steps, `epochs` more passes or `max_time` seconds, whichever
        ends first (`until` = an absolute step). With none given: 3,000 steps. `progress`: None
        shows a live view in a notebook (progress, curve, newest preview, redrawn in place), a
        bar on a terminal and lines elsewhere; True a bar, False nothing, "notebook" the live
        view anywhere (GANKIT_NOTEBOOK=1 or 0 also decides what None means)."""
        self.run.fit(steps, epochs, max_time, until=until, progress=progress)
        return self

    def steps_for_epochs(self, epochs: float) -> int:
        """The step at which `epochs` passes over the training data are complete."""
        return self.run.steps_for_epochs(epochs)

    def save(self, samples: Any, output: Union[str, Path], overwrite: bool = False,
             labels: Optional[torch.Tensor] = None) -> Path:
        """Write what `sample` drew (what `gankit sample --output` does): images as FILE.npz, a
        grid FILE.png or a folder of PNGs; a text run's items as FILE.txt (see
        outputs.write_samples). Tasks with other samples (audio clips, table rows) override it."""
        return write_samples(samples, Path(output), overwrite=overwrite, labels=labels)

    def labels_for(self, labels: Any, n: int) -> Optional[torch.Tensor]:
        """The class labels [n] that `sample(n, labels=labels)` draws: none, for a run whose
        samples have no class (conditional GANs override this)."""
        if labels is not None:
            raise ConfigError(f"a {self.config.task} run draws no classes, so it cannot draw a "
                              f"given one")
        return None

    # --- in a notebook ---------------------------------------------------------------------------
    def show(self, n: int = 16, seed: Optional[int] = None, **options: Any) -> notebook.Shown:
        """`n` samples drawn now, as a notebook shows them (see `view`): put on the page in a
        notebook, and returned either way (`_repr_png_` or `_repr_html_`). `options` go to
        `sample` (labels=, ...)."""
        return notebook.show(self.view(self.sample(n, seed=seed, **options)))

    def view(self, samples: Any) -> notebook.Shown:
        """How `show` displays what `sample` returned: images [N, C, H, W] as a grid, 2-D
        points as a scatter plot (notebook.samples_view). Tasks whose samples are something
        else (strings, clips, rows) override it."""
        return notebook.samples_view(samples, self.config.task)

    def _repr_html_(self) -> str:
        """A notebook's card of the run: task, data, steps, last losses, run directory, newest
        preview."""
        return notebook.card_html(self)

    def _ipython_display_(self) -> None:
        """The card, except as the value of the cell whose fit() the live view shows already
        (`gan.fit(steps=2000)` on a cell's last line: one output, not the card again)."""
        notebook.display_once(lambda: {"text/html": self._repr_html_(), "text/plain": repr(self)},
                              self.run.live_cell)

    # --- what `gankit report` shows -----------------------------------------------------------
    preview_caption = "The same fixed noise"   # what each samples/step-* grid holds

    @property
    def report_images(self) -> bool:
        """Whether its samples are images like its training set's (the report then checks
        memorization and D's held-out loss)."""
        return len(self.config.data_shape) == 3

    def report_sections(self, facts: Any) -> list:
        """The report's sections on what the generator does now (report/run.py, Section)."""
        return facts.image_sections()

    def metric_results(self, num: int, seed: int = 0, split: str = "test", **options: Any
                       ) -> dict:
        """What `gankit eval` prints: {name: MetricResult} of `num` samples against `split`
        (`options`: the metrics and extractor asked for, for tasks that offer several)."""
        raise ConfigError(f"a {self.config.task} run has no scores for gankit eval")

    def check_data(self) -> None:
        self.run.check_data()

    def claim_run(self) -> None:
        self.run.claim()

    def release_run(self) -> None:
        self.run.release()


__all__ = ["ProgressOption", "Run", "RunEnv", "RunFacade", "RunHooks", "resolve_device"]
