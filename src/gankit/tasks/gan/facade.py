"""The image GAN's facade: `GAN(...).fit(...)`, `.sample(n)`, and `load_image_run(dir)`, which
`gankit.load_run` calls for an image-gan run.

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

import torch
from torch import nn

from ...config import RunConfig
from ...data.training import USER_DATA, dataset_name, load_training_data
from ...errors import ConfigError, DataError, RunError
from ...nets import resolve_model
from ...plugins import load_plugins, normalize_plugins
from ...run import ProgressOption, Run, RunHooks
from ...train import callbacks as cb
from ...train.trainer import BatchSampler
from ...viz import from_uint8
from .. import new_config
from ..base import TaskFacade
from .build import image_run
from .sampling import Sampling

PREVIEW = 64   # samples in each preview grid


class GAN(Sampling, TaskFacade):
    """A GAN, its data and its run directory. Options are the fields of the config dataclasses
    (`z_dim`, `width`, `resolution`, `channels`, `batch_size`, `lr`, `seed`, `device`,
    `conditional`, …); `preset` names a documented combination of them (see gankit.presets),
    and options given beside it win. (`run=`: a Run already built, as load_run makes.)"""

    TASK = "image-gan"

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
            config = new_config(self.TASK, preset, dataset=name, **named, **options)
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
        if generator is not None:   # the user's own nets: one pass first, one line per mistake
            from .check import preflight
            preflight(generator, discriminator, x, labels, cfg)
        self._attach(image_run(cfg, generator, discriminator, out=out))
        self.run.data, self.run.data_note, self._labels = x, note, labels

    def _attach(self, run: Run, **state: Any) -> None:
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
                   progress: ProgressOption) -> list[cb.Callback]:
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
        from ...evaluation import evaluate_run, parse_metrics
        metrics = metrics if metrics is not None else parse_metrics("fid,kid,pr,classes")
        return evaluate_run(self, num, metrics, split, extractor, seed)

    def _scorer(self) -> Callable[[], dict[str, float]]:
        """The numbers --eval-every logs: each metric's value (precision/recall/... separately)."""
        from ...evaluation import default_extractor, evaluate_run, parse_metrics
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
