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
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np
import torch
from torch import nn

from .config import RunConfig
from .data.training import USER_DATA, dataset_name, load_training_data
from .errors import ConfigError, DataError, RunError
from .nets import build_nets, resolve_model
from .plugins import check_plugins, load_plugins, normalize_plugins
from .rundir import read_config
from .run import Run, RunEnv, RunFacade, RunHooks
from . import compat, tasks
from .tasks import new_config
from .tasks.gan.task import GANTask
from .train import callbacks as cb
from .train import distributed, speed
from .train.trainer import BatchSampler
from .viz import from_uint8

PREVIEW = 64   # samples in each preview grid


class Sampling:
    """Drawing from a run whose task is a GANTask (the image and audio GANs): noise from a seed,
    class labels checked against the run's classes."""

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


class GAN(Sampling, RunFacade):
    """A GAN, its data and its run directory. Options are the fields of the config dataclasses
    (`z_dim`, `width`, `resolution`, `channels`, `batch_size`, `lr`, `seed`, `device`,
    `conditional`, …); `preset` names a documented combination of them (see gankit.presets),
    and options given beside it win. (`run=`: a Run already built, as load_run makes.)"""

    def __init__(self, model: Optional[str] = None, dataset: Any = "mnist", *,
                 loss: Optional[str] = None, preset: Optional[str] = None,
                 generator: Optional[nn.Module] = None, discriminator: Optional[nn.Module] = None,
                 out: Union[str, Path, None] = None, config: Optional[RunConfig] = None,
                 run: Optional[Run] = None, **options: Any):
        self._labels: Optional[torch.Tensor] = None
        if run is not None:
            self._attach(run)
            return
        if (generator is None) != (discriminator is None):
            raise ConfigError("pass both generator= and discriminator=, or neither")
        name = dataset_name(dataset)
        if generator is not None:
            model = "custom"
        named = {k: v for k, v in (("model", model), ("loss", loss)) if v is not None}
        if config is None:
            config = new_config(None, preset, dataset=name, **named, **options)
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
        self._attach(image_run(cfg, generator, discriminator, out=out))
        self.run.data, self.run.data_note, self._labels = x, note, labels

    def _attach(self, run: Run) -> None:
        self.run = run
        run.hooks = RunHooks(sampler=self._sampler, callbacks=self._callbacks, speedups=True)

    # --- the image GAN's run: its batches and callbacks ----------------------------------------

    def _sampler(self) -> BatchSampler:
        run = self.run
        if run.data is None:
            raise DataError("this run was trained on data passed from Python; pass it again: "
                            "gankit.load_run(DIR, dataset=...)")
        t = self.config.train
        x = run.data.to(self.device)
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
        return sampler

    def _callbacks(self, total: int, max_time: Optional[float],
                   progress: Optional[bool]) -> list[cb.Callback]:
        t = self.config.train
        preview_z = self.task.noise(PREVIEW, torch.Generator(self.device).manual_seed(t.seed + 7))
        # conditional: one class per row of the 8-wide grid
        preview_y = torch.arange(PREVIEW) // 8 % max(self.config.num_classes, 1)
        data = self.run.data
        real = data[:2000] if self.config.data_shape == (2,) else None
        guard = cb.HealthGuard(lambda: self.task.generate(preview_z, ema=False, labels=preview_y),
                               self._real_preview(), self.config.loss.loss, t.stop_on_divergence,
                               past=cb.read_metrics(self.run_dir))
        preview = cb.SampleGrid(self.run_dir / "samples", t.sample_every,
                                lambda: self.task.generate(preview_z, labels=preview_y), real=real)
        score = self._scorer() if t.eval_every else dict   # built only when asked for
        return self.run.standard_callbacks(
            total, max_time, progress, preview, score, guard=guard, tensorboard=True,
            title=f"{self.config.model.model} on {self.config.data.dataset}")

    def _real_preview(self) -> torch.Tensor:
        """PREVIEW training samples spread over the data, as the generator outputs them."""
        data = self.run.data
        return from_uint8(data[:: max(len(data) // PREVIEW, 1)][:PREVIEW])

    def metric_results(self, num: int, seed: int = 0, split: str = "test", *,
                       metrics: Optional[list[str]] = None, extractor: Optional[str] = None
                       ) -> dict:
        """`gankit eval`'s scores of num samples against the `split` images (see
        gankit.evaluation.evaluate_run; metrics default to fid, kid, pr, classes)."""
        from .evaluation import evaluate_run, parse_metrics
        metrics = metrics if metrics is not None else parse_metrics("fid,kid,pr,classes")
        return evaluate_run(self, num, metrics, split, extractor, seed)

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


def load_run(run_dir: Union[str, Path], *, dataset: Any = None, device: str = "auto",
             generator: Optional[nn.Module] = None, discriminator: Optional[nn.Module] = None,
             weights_only: bool = False, plugins: Optional[str] = None,
             trust_plugins: bool = False, allow_data_change: bool = False) -> Any:
    """Rebuild a run from its directory: nets, EMA, optimizers, step, RNG and data order.

    `fit()` then continues exactly where the run stopped. Runs trained on data passed from Python
    need `dataset=` again to continue training; runs with a user's own nets need `generator=` and
    `discriminator=` (fresh instances of the same classes).

    Loading runs no code from the run directory. A run trained with plugins (`--plugins`) needs
    its nets and losses registered again: import them yourself, pass `plugins="my_parts.py"`, or,
    for a run you trust, `trust_plugins=True` (imports what its config.json names).
    """
    run_dir = Path(run_dir)
    old = compat.load_old_save(run_dir, weights_only)   # a save of gankit 0.1 that is no run
    if old is not None:
        return old
    cfg = read_config(run_dir)
    if plugins:
        load_plugins(normalize_plugins(plugins))
    elif trust_plugins:
        load_plugins(cfg.model.plugins)
    check_plugins(run_dir, cfg)
    spec = tasks.get(cfg.task)
    given = {k: v for k, v in (("dataset", dataset), ("generator", generator),
                               ("discriminator", discriminator)) if v is not None}
    for name in given:
        if name not in spec.load_options:
            what = ("its own nets" if name != "dataset" else
                    f"its data from {cfg.data.dataset}")
            raise ConfigError(f"a {cfg.task} run builds {what}; {name}= does not apply to it")
    gan = spec.load_run(run_dir, cfg, device=device, weights_only=weights_only, **given)
    gan.allow_data_change = allow_data_change
    return gan


def load_image_run(run_dir: Path, cfg: RunConfig, device: str, weights_only: bool, *,
                   dataset: Any = None, generator: Optional[nn.Module] = None,
                   discriminator: Optional[nn.Module] = None) -> GAN:
    """An image GAN's run from its directory (see load_run)."""
    cfg = cfg.replace(train=dataclasses.replace(cfg.train, device=device))
    if cfg.model.model == "custom" and generator is None:
        raise RunError(f"{run_dir} was trained with your own nets: pass generator= and "
                       f"discriminator= to load_run")
    gan = GAN(run=image_run(cfg, generator, discriminator, run_dir=run_dir))
    source = dataset if dataset is not None else cfg.data.dataset
    if weights_only or (isinstance(source, str) and source == USER_DATA):
        gan.run.resume(weights_only)
        return gan

    def load_data() -> None:
        data = cfg.data
        if data.resolution is None and len(cfg.data_shape) == 3:   # the size it trained at, even
            data = dataclasses.replace(data, resolution=cfg.data_shape[-1])   # if defaults change
        x, gan._labels, gan.run.data_note = load_training_data(source, data)
        if tuple(x.shape[1:]) != tuple(cfg.data_shape):
            raise DataError(f"the data now has samples of shape {list(x.shape[1:])}, the "
                            f"run was trained on {list(cfg.data_shape)}")
        gan.run.data = x
    gan.run.resume(False, load_data)
    return gan


def image_run(cfg: RunConfig, G: Optional[nn.Module], D: Optional[nn.Module], *,
              out: Union[str, Path, None] = None, run_dir: Optional[Path] = None) -> Run:
    """The image GAN's run for `cfg`: its nets (from the seed, or the user's G and D), task and
    device (a torchrun rank's, with the nets broadcast from rank 0)."""
    if G is None:
        torch.manual_seed(cfg.train.seed)   # the nets' initial weights come from the seed
        G, D = build_nets(cfg.model, cfg.data_shape, cfg.num_classes)
    env = RunEnv.for_config(cfg)
    speed.set_memory_format([G, D], cfg.train.memory_format, cfg.data_shape)
    speed.check_precision(cfg.train.precision)   # bad values fail now, not when fit starts
    speed.resolve_compile_mode(cfg.train.compile, env.device)
    task = GANTask(G, D, cfg, env.device)
    distributed.reseed_for_rank(task.generators, cfg.train.seed, env.dist.rank)
    task.world = env.dist.world
    if env.dist.enabled:
        distributed.broadcast_nets(task.nets.values())
    return Run(cfg, task, env, None, out=out, run_dir=run_dir)
