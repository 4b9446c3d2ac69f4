"""Semi-supervised classification with a GAN (Salimans et al. 2016): few labels, many unlabeled
images, and a classifier that is the product.

D classifies K classes; a K+1-th "fake" class has its logit fixed at 0, so D's belief that an image
is real is Z / (Z + 1), Z = sum_k exp(l_k). Each step D minimises
  cross-entropy on a batch of labeled images
  + 1/2 [softplus(-lse(l(real))) + softplus(lse(l(fake)))]   (real vs fake on unlabeled images)
and G minimises the squared distance between the mean of D's last hidden features on real
images and on its own (feature matching). G does not need to draw good images: its samples show
D where the data is not, and D's classes must fit the gaps between the data's clusters.

Data: a named dataset with `--labels-per-class K` (the labeled images drawn per class from
`--seed`, every training image also used unlabeled), a `--labeled FILE` naming the labeled items,
a folder whose class folders hold the labeled images beside an `unlabeled/` folder, a .npz whose
`labels` are -1 where unknown, or (Python) samples and labels with -1. The labeled items are
recorded in the run's `labeled.json`, so resume and evaluation use the same ones.
"""
from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path
from typing import Any, Optional, Union

import torch

from ...config import RunConfig, require_options
from ...data.training import USER_DATA, dataset_name
from ...errors import ConfigError, DataError, GanKitWarning
from ...run import ProgressOption, Run, RunHooks
from ...train import callbacks as cb
from ...viz import from_uint8
from ..base import TaskFacade
from .data import SemiData, SemiSampler, load_semi_data, read_labeled
from .options import TASK, SemiOptions
from .task import SemiTask, build_nets


class SemiGAN(TaskFacade):
    """A semi-supervised GAN classifier:

        clf = SemiGAN("fashion-mnist", labels_per_class=10).fit(max_time=300)
        clf.predict(images)         # class numbers [N]
        clf.predict_proba(images)   # probabilities [N, K], rows sum to 1
        clf.evaluate()              # {"accuracy": ..., "n": ...} on the test split

    `dataset`: a name, folder or .npz (see the module's docstring), or samples with `labels=`
    (-1 where unknown). Options are the config fields, as for GAN."""

    TASK = TASK

    def __init__(self, dataset: Any = None, *, labels: Any = None,
                 out: Union[str, Path, None] = None, config: Optional[RunConfig] = None,
                 run: Optional[Run] = None, labeled: Optional[dict] = None, **options: Any):
        self._semi: Optional[SemiData] = None
        self._labels: Optional[torch.Tensor] = None
        if run is not None:   # a loaded run: `labeled` is its labeled.json, `dataset` its data
            source = run.config.data.dataset if dataset is None else dataset
            super().__init__(run=run, classes=labeled["classes"],
                             labeled=torch.tensor(labeled["indices"]), source=source)
            return
        super().__init__((dataset, labels), out=out, config=config, **options)

    @staticmethod
    def _dataset_option(dataset: Any) -> dict[str, Any]:
        return {}   # the config names the data once it is read (dataset_name)

    def _build(self, given: tuple[Any, Any], config: RunConfig,
               out: Union[str, Path, None]) -> None:
        dataset, labels = given   # the data, and its labels when passed from Python
        require_options(config, SemiOptions, TASK)
        cfg = config.replace(task=TASK, data=dataclasses.replace(
            config.data, dataset=dataset_name(dataset)))
        data = load_semi_data(dataset, cfg.data, cfg.train.seed, labels, options=cfg.options)
        data_cfg = cfg.data
        if data.x.dim() == 4 and data_cfg.resolution is None:   # recorded: the size it trained at
            data_cfg = dataclasses.replace(data_cfg, resolution=int(data.x.shape[-1]))
        cfg = cfg.replace(data=data_cfg, data_shape=tuple(data.x.shape[1:]),
                          num_classes=len(data.classes))
        self._attach(semi_run(cfg, out=out), data.classes, data.labeled, dataset)
        self._use(data)
        n_lab = len(data.labeled)
        warnings.warn(f"{TASK}: {n_lab:,} labeled and {len(data.x) - n_lab:,} unlabeled training "
                      f"items, {len(data.classes)} classes", GanKitWarning)

    def _attach(self, run: Run, classes: list[str], labeled: torch.Tensor, source: Any) -> None:
        self.run, self._classes, self._labeled_idx, self._source = run, classes, labeled, source
        run.hooks = RunHooks(sampler=self._sampler, callbacks=self._callbacks,
                             files=self._labeled_file)

    def _use(self, semi: SemiData) -> None:
        self._semi, self._labels = semi, semi.labels
        self.run.data, self.run.data_note = semi.x, semi.note

    def _labeled_file(self) -> dict[str, str]:
        """labeled.json: the classes, and which items were labeled with what."""
        idx = self.semi.labeled
        doc = {"classes": self.classes, "indices": idx.tolist(),
               "labels": self._labels[idx].tolist()}
        return {"labeled.json": json.dumps(doc)}

    @property
    def classes(self) -> list[str]:
        return self._classes

    @property
    def semi(self) -> SemiData:
        """The run's data with its labeled items; a loaded run reads it when first needed (to
        train on, or to score), not to classify."""
        if self._semi is None:
            self._load_data()
        return self._semi

    def _load_data(self) -> None:
        """A loaded run's data (load_task_run): its labeled items are labeled.json's."""
        cfg, source = self.config, self._source
        if isinstance(source, str) and source == USER_DATA:
            raise DataError("this run was trained on data passed from Python; pass it again, "
                            "labels included: gankit.load_run(DIR, dataset=(x, labels))")
        semi = load_semi_data(source, cfg.data, cfg.train.seed, labeled_idx=self._labeled_idx)
        if tuple(semi.x.shape[1:]) != tuple(cfg.data_shape) or semi.classes != self._classes:
            raise DataError(f"the data now has items of shape {list(semi.x.shape[1:])} and "
                            f"classes {semi.classes}; the run was trained on "
                            f"{list(cfg.data_shape)} and {self._classes}")
        self._use(semi)

    # --- training ----------------------------------------------------------------------------
    def _sampler(self) -> SemiSampler:
        t = self.config.train
        semi = self.semi
        if len(semi.x) < t.batch_size:
            raise ConfigError(f"--batch-size {t.batch_size} is larger than the data "
                              f"({len(semi.x)} items)")
        return SemiSampler(semi.x.to(self.device), semi.labeled.to(self.device),
                           self._labels.to(self.device), t.batch_size, t.seed, from_uint8)

    def _callbacks(self, total: int, max_time: Optional[float],
                   progress: ProgressOption) -> list[cb.Callback]:
        t = self.config.train
        z = self.task.noise(64, torch.Generator(self.device).manual_seed(t.seed + 7))
        preview = cb.SampleGrid(self.run_dir / "samples", t.sample_every,
                                lambda: self.task.generate(z))
        return self.run.standard_callbacks(
            total, max_time, progress, preview,
            lambda: {"test_error": 1.0 - self.evaluate()["accuracy"]}, key="test_error",
            title=f"{TASK} classifier on {Path(self.config.data.dataset).name}")

    # --- the classifier ----------------------------------------------------------------------
    def _inputs(self, x: Any) -> torch.Tensor:
        """Images or vectors as the user has them -> [N, *data_shape] in [-1, 1]."""
        from ...data.user import user_samples
        if isinstance(x, torch.Tensor) and x.dim() == len(self.config.data_shape):
            x = x[None]   # one item
        samples, _ = user_samples(x)
        if tuple(samples.shape[1:]) != tuple(self.config.data_shape):
            raise DataError(f"items of shape {list(samples.shape[1:])}; this classifier takes "
                            f"{list(self.config.data_shape)}")
        return from_uint8(samples)

    def predict_proba(self, x: Any) -> torch.Tensor:
        """Class probabilities [N, K] (each row sums to 1) of images (uint8, or floats in [0, 1];
        [N, H, W], [N, H, W, C] or [N, C, H, W]) or vectors [N, D]."""
        return torch.softmax(self.task.logits(self._inputs(x)), 1)

    def predict(self, x: Any) -> torch.Tensor:
        """Class numbers [N] (int64) of the items (see predict_proba)."""
        return self.task.logits(self._inputs(x)).argmax(1)

    def evaluate(self, split: str = "test") -> dict[str, float]:
        """Accuracy of the classifier on the data's test split (or "train": every training item
        whose label the data has; the labeled ones were seen)."""
        x, y = self.reference(split)
        pred = self.task.logits(from_uint8(x)).argmax(1)
        return {"accuracy": float((pred == y).float().mean()), "n": len(y)}

    def reference(self, split: str = "test") -> tuple[torch.Tensor, torch.Tensor]:
        """(samples, labels) of the split a score is measured on."""
        semi = self.semi
        if split == "test":
            if semi.test_x is None or not len(semi.test_x):
                raise DataError(f"{self.config.data.dataset} has no labeled test split to "
                                f"measure accuracy on (a folder needs train/ and test/)")
            return semi.test_x, semi.test_labels
        full = load_semi_data(self.config.data.dataset, self.config.data, 0) \
            if self.config.data.dataset != USER_DATA else semi
        keep = full.labels >= 0
        return full.x[keep], full.labels[keep]

    def metric_results(self, num: int, seed: int = 0, split: str = "test", **_: Any) -> dict:
        """Test accuracy as a MetricResult with its protocol (what `gankit eval RUN` prints)."""
        from ...metrics import task_results
        scores = self.evaluate(split)
        return task_results({"accuracy": scores["accuracy"]}, extractor="the run's classifier",
                            n_real=scores["n"], n_fake=0, seed=seed,
                            reference=self.config.data.dataset, reference_split=split,
                            labeled=len(self.semi.labeled))

    def sample(self, n: int, seed: Optional[int] = None, ema: bool = True,
               labels: Any = None) -> torch.Tensor:
        """n of G's samples [n, *data_shape] in [-1, 1] (unconditional: G draws no classes)."""
        if labels is not None:
            raise ConfigError("a semi-supervised GAN's generator draws no classes")
        gen = torch.Generator(self.device)
        gen.manual_seed(int(seed)) if seed is not None else gen.seed()
        return self.task.generate(self.task.noise(int(n), gen))


def new_run(task: str, cfg: RunConfig, out: Optional[Path] = None) -> SemiGAN:
    """A new semi-supervised run (the CLI's `gankit train --task semi-supervised`)."""
    return SemiGAN(cfg.data.dataset, config=cfg, out=out)


def semi_run(cfg: RunConfig, *, out: Union[str, Path, None] = None,
             run_dir: Optional[Path] = None) -> Run:
    """The semi-supervised GAN's run for a resolved config: nets from the seed, task, device."""
    G, D = build_nets(cfg)
    return Run.for_task(cfg, lambda device: SemiTask(G, D, cfg, device),
                        one_process="the semi-supervised GAN", out=out, run_dir=run_dir)


def load_task_run(run_dir: Path, cfg: RunConfig, device: str, weights_only: bool,
                  dataset: Any = None) -> SemiGAN:
    """Rebuild a semi-supervised run (see api.load_run): its labeled items from labeled.json,
    nets, optimizers, step, data order."""
    cfg = cfg.replace(train=dataclasses.replace(cfg.train, device=device))
    labeled = read_labeled(run_dir)
    gan = SemiGAN(dataset, run=semi_run(cfg, run_dir=run_dir), labeled=labeled)
    if isinstance(gan._source, str) and gan._source == USER_DATA:
        weights_only = True   # no data to go on training with; fit() says to pass it again
    gan.run.resume(weights_only, gan._load_data)
    return gan


__all__ = ["SemiGAN", "load_task_run", "new_run", "semi_run"]
