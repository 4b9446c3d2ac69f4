"""The Python API: `GAN(...).fit(...)`, `.sample(n)`, and `load_run(dir)`.

    gan = gankit.GAN(model="dcgan", dataset="mnist")
    gan.fit(max_time=60)            # writes a run directory under runs/
    images = gan.sample(16)         # [16, 1, 28, 28] floats in [-1, 1]
    gan = gankit.load_run(gan.run_dir)

    cgan = gankit.GAN(dataset="fashion-mnist", conditional=True, preset="fast-cpu")
    cgan.fit(max_time=600)
    sevens = cgan.sample(16, labels=7)
"""
from __future__ import annotations

import dataclasses
import inspect
import math
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np
import torch
from torch import nn

from .config import DEFAULT_STEPS, RunConfig, with_options
from .data.training import USER_DATA, dataset_name, load_training_data
from .errors import ConfigError, DataError, GanKitWarning, RunError
from .nets import build_nets, resolve_model
from .plugins import check_plugins, load_plugins, normalize_plugins
from .presets import apply_preset
from .rundir import (RunLock, check_same_data, create_run_dir, data_fingerprint, read_config,
                     truncate_metrics, write_config)
from .tasks import APP_TASKS, app_module
from .tasks.gan import GANTask
from .train import callbacks as cb
from .train import distributed, speed
from .train.state import load_latest
from .train.trainer import BatchSampler, Trainer
from .viz import from_uint8

PREVIEW = 64   # samples in each preview grid


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


class GAN:
    """A GAN, its data and its run directory. Options are the fields of the config dataclasses
    (`z_dim`, `width`, `resolution`, `channels`, `batch_size`, `lr`, `seed`, `device`,
    `conditional`, …); `preset` names a documented combination of them (see gankit.presets),
    and options given beside it win."""

    def __init__(self, model: Optional[str] = None, dataset: Any = "mnist", *,
                 loss: Optional[str] = None, preset: Optional[str] = None,
                 generator: Optional[nn.Module] = None, discriminator: Optional[nn.Module] = None,
                 out: Union[str, Path, None] = None, config: Optional[RunConfig] = None,
                 **options: Any):
        if (generator is None) != (discriminator is None):
            raise ConfigError("pass both generator= and discriminator=, or neither")
        name = dataset_name(dataset)
        if generator is not None:
            model = "custom"
        named = {k: v for k, v in (("model", model), ("loss", loss)) if v is not None}
        if config is None:
            config = with_options(apply_preset(RunConfig(), preset), dataset=name, **named,
                                  **options)
        elif preset is not None:
            raise ConfigError("pass preset= or config=, not both")
        cfg = config.replace(model=resolve_model(dataclasses.replace(
            config.model, plugins=normalize_plugins(config.model.plugins))),
            data=dataclasses.replace(config.data, dataset=name))
        load_plugins(cfg.model.plugins)   # named by the user for this new run
        x, labels, note = load_training_data(dataset, cfg.data)
        cfg = cfg.replace(data_shape=tuple(x.shape[1:]),
                          num_classes=int(labels.max()) + 1 if labels is not None else 0)
        if cfg.model.conditional and labels is None:
            raise DataError(f"--conditional needs class labels, and {name} has none (an image "
                            f"folder gets them from its class subfolders; a .npz from a "
                            f"`labels` or `y_train` array)")
        self._setup(cfg, generator, discriminator)
        self._data, self._labels, self.data_note = x, labels, note
        self.run_dir: Optional[Path] = None
        self._out = Path(out) if out is not None else None

    def _setup(self, cfg: RunConfig, G: Optional[nn.Module], D: Optional[nn.Module]) -> None:
        if G is None:
            torch.manual_seed(cfg.train.seed)   # the nets' initial weights come from the seed
            G, D = build_nets(cfg.model, cfg.data_shape, cfg.num_classes)
        self.config = cfg
        self.dist, device = distributed.setup(cfg.train.device)   # torchrun: this rank's device
        self.device = resolve_device(device)
        speed.tune_backends(self.device)
        speed.set_memory_format([G, D], cfg.train.memory_format, cfg.data_shape)
        speed.check_precision(cfg.train.precision)   # bad values fail now, not when fit starts
        speed.resolve_compile_mode(cfg.train.compile, self.device)
        self.task = GANTask(G, D, cfg, self.device)
        distributed.reseed_for_rank(self.task.generators, cfg.train.seed, self.dist.rank)
        self.task.world = self.dist.world
        if self.dist.enabled:
            distributed.broadcast_nets(self.task.nets.values())
        self._trainer: Optional[Trainer] = None
        self._data: Optional[torch.Tensor] = None

    def _one_process_setup(self, cfg: RunConfig, what: str) -> None:
        """Config, device and backends of an app's run, which trains on one process."""
        self.config = cfg
        self.dist, device = distributed.setup(cfg.train.device)
        if self.dist.enabled:
            raise ConfigError(f"{what} trains on one process; --distributed is for image GANs")
        self.device = resolve_device(device)
        speed.tune_backends(self.device)
        self._trainer = None
        self._data = None

    def _one_process_trainer(self, sampler: Any) -> Trainer:
        """The trainer of an app's run over `sampler`: logging interval and --precision."""
        t = self.config.train
        self._trainer = Trainer(self.task, sampler, log_every=t.log_every)
        self._trainer.autocast = speed.autocast_for(t.precision, self.device)
        return self._trainer

    def _one_process_callbacks(self, total: int, max_time: Optional[float],
                               progress: Optional[bool], preview: cb.Callback,
                               score: Callable[[], dict[str, float]], key: str,
                               title: Optional[str] = None) -> list[cb.Callback]:
        """The callbacks of an app's run: health warnings, the metrics log, progress, its own
        `preview` (samples/step-*), `score` under --eval-every (the best checkpoint by `key`,
        lowest first) and checkpoints (`title`: what the checkpoints' notes call the run)."""
        t, run = self.config.train, self.run_dir
        out: list[cb.Callback] = [
            cb.HealthGuard(None, None, self.config.loss.loss, t.stop_on_divergence,
                           past=cb.read_metrics(run)),
            cb.MetricsLog(run / "metrics.jsonl")]
        if progress is not False:
            out.append(cb.Progress(total, max_time, bar=progress))
        if t.lr_decay != "none":
            out.append(cb.LRDecay(self.task.optimizers, t, total, max_time))
        out.append(preview)
        if t.eval_every:
            out.append(cb.Evaluate(run, t.eval_every, score, key=key,
                                   patience=t.early_stop_patience))
        title = title or f"{self.config.task} on {Path(self.config.data.dataset).name}"
        out.append(cb.Checkpointer(run, t.checkpoint_every, t.keep_checkpoints, title,
                                   minutes=t.checkpoint_minutes))
        return out

    def _resume_one_process(self, run_dir: Path, weights_only: bool,
                            load_data: Callable[[], None]) -> "GAN":
        """An app's run rebuilt from its latest checkpoint (see load_run): the weights alone, or
        with `load_data()` (which sets the training data) the trainer at its step, data order
        and RNG states (metrics.jsonl is cut back to that step when training goes on)."""
        _, tensors, meta = load_latest(run_dir)
        self._loaded_step = meta["step"]
        if weights_only:
            self.task.load(tensors, meta, weights_only=True)
            return self
        load_data()
        trainer = self._get_trainer()
        trainer.load_state(tensors, meta)
        return self

    @staticmethod
    def _task_options(options: dict[str, Any], defaults: dict[str, dict[str, Any]],
                      ) -> dict[str, Any]:
        """`options` with a task's own defaults (section -> {field: value}) where not given."""
        for section in defaults.values():
            for key, value in section.items():
                options.setdefault(key, value)
        return options

    # --- training ---------------------------------------------------------------------
    def steps_for_epochs(self, epochs: float) -> int:
        """The step at which `epochs` passes over the training data are complete."""
        n = len(self._get_trainer().sampler)   # this process's share of an epoch
        return math.ceil(epochs * max(n // self.config.train.batch_size, 1))

    def fit(self, steps: Optional[int] = None, epochs: Optional[float] = None,
            max_time: Optional[float] = None, *, until: Optional[int] = None,
            progress: Optional[bool] = None) -> "GAN":
        """Train for `steps` more steps, `epochs` more passes or `max_time` seconds, whichever
        ends first (`until` = an absolute step). With none given: 3,000 steps."""
        trainer = self._get_trainer()
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
        if self.config.train.early_stop_patience and not self.config.train.eval_every:
            raise ConfigError("--early-stop-patience needs --eval-every N (it counts evaluations)")
        if self.config.train.lr_decay != "none" and self.dist.enabled:
            raise ConfigError("--lr-decay is for one process (the ranks of a torchrun would "
                              "each decay on their own clocks); use --lr-decay none")
        if self.dist.is_main:   # only rank 0 writes the run directory
            self._start_run_dir()
            trainer.callbacks = self._callbacks(total, max_time, progress)
        threads = torch.get_num_threads()
        hint = speed.fit_threads(self.device)
        if hint is not None:
            warnings.warn(hint, GanKitWarning)
        try:
            self.stop_reason = trainer.fit(total, max_time)
        finally:
            self.release_run()
            torch.set_num_threads(threads)
        return self

    def _get_trainer(self) -> Trainer:
        if self._trainer is not None:
            return self._trainer
        if self._data is None:
            raise DataError("this run was trained on data passed from Python; pass it again: "
                            "gankit.load_run(DIR, dataset=...)")
        t = self.config.train
        x = self._data.to(self.device)
        if len(x) < t.batch_size:
            raise ConfigError(f"--batch-size {t.batch_size} is larger than the data "
                              f"({len(x)} samples)")
        scale = from_uint8 if x.dtype == torch.uint8 else (lambda b: b)
        gen = torch.Generator().manual_seed(t.seed * 2)   # data order: CPU generator, any device
        labels = None
        if self.config.model.conditional:
            labels = self._labels.to(device=self.device, dtype=torch.long)
        sampler = BatchSampler(x, t.batch_size, gen, transform=scale, labels=labels,
                               rank=self.dist.rank, world=self.dist.world)
        if len(sampler) < t.batch_size:
            raise ConfigError(f"--batch-size {t.batch_size} is larger than each process's share "
                              f"of the data ({len(sampler)} samples)")
        self._trainer = Trainer(self.task, sampler, log_every=t.log_every)
        self._speed_up(self._trainer)
        return self._trainer

    def _speed_up(self, trainer: Trainer) -> None:
        """Precision, compile and multi-process hooks of the trainer (see train/speed.py)."""
        t = self.config.train
        trainer.autocast = speed.autocast_for(t.precision, self.device)
        mode = speed.resolve_compile_mode(t.compile, self.device)
        if mode is not None:
            speed.compile_task_nets(self.task, mode)
            trainer.step_begin = speed.step_begin_for(mode)
        if self.dist.enabled:
            world = self.dist.world
            trainer.grad_sync = lambda nets: distributed.average_gradients(nets, world)
            trainer.stop_sync = lambda stop: distributed.agree_to_stop(stop, self.device)

    def _start_run_dir(self) -> None:
        if self.run_dir is None:
            self.run_dir = create_run_dir(self._out, self.config)
            extra = {"data_note": self.data_note}
            if self._data is not None:
                extra["data_fingerprint"] = data_fingerprint(self._data)
            write_config(self.run_dir, self.config, extra)
            self.claim_run()
        else:   # a resumed run: log rows past its checkpoint go, now that training goes on
            self.check_data()
            self.claim_run()
            truncate_metrics(self.run_dir, self.step)

    def check_data(self) -> None:
        """A resumed run's data must be the data it trained on (see rundir.check_same_data)."""
        check_same_data(self.run_dir, self._data, getattr(self, "allow_data_change", False))

    def claim_run(self) -> None:
        """Hold the run directory's lock until this fit ends; RunError if another process
        trains it."""
        if getattr(self, "_lock", None) is None:
            self._lock = RunLock(self.run_dir)
        self._lock.acquire()

    def release_run(self) -> None:
        if getattr(self, "_lock", None) is not None:
            self._lock.release()

    def _callbacks(self, total: int, max_time: Optional[float],
                   progress: Optional[bool]) -> list[cb.Callback]:
        t, run = self.config.train, self.run_dir
        preview_z = self.task.noise(PREVIEW, torch.Generator(self.device).manual_seed(t.seed + 7))
        # conditional: one class per row of the 8-wide grid
        preview_y = torch.arange(PREVIEW) // 8 % max(self.config.num_classes, 1)
        real = self._data[:2000] if self.config.data_shape == (2,) else None
        title = f"{self.config.model.model} on {self.config.data.dataset}"
        # The guard adds `diversity` to each record, so it comes before the log writer.
        guard = cb.HealthGuard(lambda: self.task.generate(preview_z, ema=False, labels=preview_y),
                               self._real_preview(), self.config.loss.loss, t.stop_on_divergence,
                               past=cb.read_metrics(run))
        out: list[cb.Callback] = [guard, cb.MetricsLog(run / "metrics.jsonl")]
        if progress is not False:
            out.append(cb.Progress(total, max_time, bar=progress))
        if t.lr_decay != "none":
            out.append(cb.LRDecay(self.task.optimizers, t, total, max_time))
        out += [cb.TensorBoard(run / "tensorboard"),
                cb.SampleGrid(run / "samples", t.sample_every,
                              lambda: self.task.generate(preview_z, labels=preview_y), real=real),
                ]
        if t.eval_every:
            out.append(cb.Evaluate(run, t.eval_every, self._scorer(),
                                   patience=t.early_stop_patience))
        out.append(cb.Checkpointer(run, t.checkpoint_every, t.keep_checkpoints, title,
                                   hold=guard.suspect if t.stop_on_divergence else None,
                                   minutes=t.checkpoint_minutes))
        return out

    def _real_preview(self) -> torch.Tensor:
        """PREVIEW training samples spread over the data, as the generator outputs them."""
        x = self._data[:: max(len(self._data) // PREVIEW, 1)][:PREVIEW]
        return from_uint8(x)

    def _scorer(self) -> Callable[[], dict[str, float]]:
        """The numbers --eval-every logs: each metric's value (precision/recall/... separately)."""
        from .evaluation import default_extractor, evaluate_run, parse_metrics
        t = self.config.train
        metrics = parse_metrics(t.eval_metrics)
        default_extractor(self.config.data.dataset)   # fail now, not after the first N steps
        split = ["test"]

        def score() -> dict[str, float]:
            try:
                results = evaluate_run(self, t.eval_num, metrics, split=split[0])
            except DataError as e:
                if split[0] != "test" or "test split" not in str(e):
                    raise
                split[0] = "train"   # a folder without a test split: compare with the training set
                results = evaluate_run(self, t.eval_num, metrics, split="train")
            values = {k: r.value for k, r in results.items()}
            if "dloss" in results:   # the train/held-out gap is what shows an overfitting D
                values["dloss_gap"] = results["dloss"].extra["train_held_out_gap"]
            return values
        return score

    # --- using the generator ------------------------------------------------------------
    @property
    def step(self) -> int:
        return self._trainer.step if self._trainer else getattr(self, "_loaded_step", 0)

    def sample(self, n: int, seed: Optional[int] = None, ema: bool = True,
               labels: Any = None) -> torch.Tensor:
        """n samples [n, *data_shape] on the CPU; images are floats in [-1, 1].

        With a seed the same samples come back every time; `ema=False` uses the raw generator.
        A conditional GAN draws the classes in `labels` (one int for all, or n of them); without
        them, every class equally often (`balanced_labels(n)`).
        """
        n = int(n)
        y = self.labels_for(labels, n)
        gen = torch.Generator(self.device)
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(int(seed))
        return self.task.generate(self.task.noise(n, gen), ema=ema, labels=y)

    def balanced_labels(self, n: int) -> torch.Tensor:
        """The class labels a conditional sample of n uses by default: 0, 1, …, K-1, 0, 1, …"""
        return self.task.balanced_labels(int(n))

    def labels_for(self, labels: Any, n: int) -> Optional[torch.Tensor]:
        """The class labels [n] that `sample(n, labels=labels)` draws (None: unconditional)."""
        if labels is None:
            return self.balanced_labels(n) if self.config.model.conditional else None
        if not self.config.model.conditional:
            raise ConfigError("this GAN is not conditional: it was trained without --conditional, "
                              "so it cannot draw a given class")
        try:
            y = torch.as_tensor(labels)
        except (TypeError, ValueError, RuntimeError):
            raise ConfigError(f"labels must be class numbers, got {labels!r}") from None
        if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
            raise ConfigError(f"labels must be whole class numbers, got {y.dtype}")
        y = y.long().reshape(-1)
        if y.numel() == 1:
            y = y.expand(n)
        if y.numel() != n:
            raise ConfigError(f"got {y.numel()} labels for {n} samples")
        k = self.config.num_classes
        bad = y[(y < 0) | (y >= k)]
        if bad.numel():
            raise ConfigError(f"label {int(bad[0])} is out of range: this GAN has classes 0 to "
                              f"{k - 1}")
        return y.clone()

    def sample_uint8(self, n: int, seed: Optional[int] = None, labels: Any = None) -> np.ndarray:
        """n images as uint8 [n, H, W, C], the format of image files and .npz."""
        from .viz import to_uint8
        return to_uint8(self.sample(n, seed, labels=labels))

    @property
    def history(self) -> list[dict]:
        """The logged records of metrics.jsonl."""
        return cb.read_metrics(self.run_dir) if self.run_dir else []


def load_run(run_dir: Union[str, Path], *, dataset: Any = None, device: str = "auto",
             generator: Optional[nn.Module] = None, discriminator: Optional[nn.Module] = None,
             weights_only: bool = False, plugins: Optional[str] = None,
             trust_plugins: bool = False, allow_data_change: bool = False) -> GAN:
    """Rebuild a run from its directory: nets, EMA, optimizers, step, RNG and data order.

    `fit()` then continues exactly where the run stopped. Runs trained on data passed from Python
    need `dataset=` again to continue training; runs with a user's own nets need `generator=` and
    `discriminator=` (fresh instances of the same classes).

    Loading runs no code from the run directory. A run trained with plugins (`--plugins`) needs
    its nets and losses registered again: import them yourself, pass `plugins="my_parts.py"`, or,
    for a run you trust, `trust_plugins=True` (imports what its config.json names).
    """
    run_dir = Path(run_dir)
    cfg = read_config(run_dir)
    if plugins:
        load_plugins(normalize_plugins(plugins))
    elif trust_plugins:
        load_plugins(cfg.model.plugins)
    check_plugins(run_dir, cfg)
    if cfg.task in APP_TASKS:
        # a task that can train on data passed from Python takes it again as `dataset`
        load_task_run = app_module(cfg.task).load_task_run
        more = {"dataset": dataset} if dataset is not None else {}
        if more and "dataset" not in inspect.signature(load_task_run).parameters:
            raise ConfigError(f"a {cfg.task} run reads its data from {cfg.data.dataset}; "
                              f"dataset= is for runs trained on data passed from Python")
        gan = load_task_run(run_dir, cfg, device, weights_only, **more)
        gan.allow_data_change = allow_data_change
        return gan
    cfg = cfg.replace(train=dataclasses.replace(cfg.train, device=device))
    if cfg.model.model == "custom" and generator is None:
        raise RunError(f"{run_dir} was trained with your own nets: pass generator= and "
                       f"discriminator= to load_run")
    gan = GAN.__new__(GAN)
    gan._setup(cfg, generator, discriminator)
    gan.run_dir, gan._out, gan.data_note = run_dir, run_dir, None
    gan.allow_data_change = allow_data_change
    gan._labels = None
    _, tensors, meta = load_latest(run_dir)
    gan._loaded_step = meta["step"]
    if weights_only:
        gan.task.load(tensors, meta, weights_only=True)
        return gan
    source = dataset if dataset is not None else cfg.data.dataset
    if not (isinstance(source, str) and source == USER_DATA):
        data = cfg.data
        if data.resolution is None and len(cfg.data_shape) == 3:   # the size it trained at, even
            data = dataclasses.replace(data, resolution=cfg.data_shape[-1])   # if defaults change
        gan._data, gan._labels, gan.data_note = load_training_data(source, data)
        if tuple(gan._data.shape[1:]) != tuple(cfg.data_shape):
            raise DataError(f"the data now has samples of shape {list(gan._data.shape[1:])}, the "
                            f"run was trained on {list(cfg.data_shape)}")
        trainer = gan._get_trainer()
        trainer.load_state(tensors, meta)
        speed.match_layouts(gan.task.optimizers)
        distributed.reseed_for_rank(gan.task.generators, cfg.train.seed, gan.dist.rank, trainer.step)
    else:
        gan.task.load(tensors, meta)
    return gan
