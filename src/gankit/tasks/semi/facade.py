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
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...data.training import USER_DATA, dataset_name
from ...config import RunConfig, TaskOptions, option, require_options
from ...errors import ConfigError, DataError, GanKitWarning, RunError
from ...run import Run, RunFacade, RunHooks
from ...tasks import new_config
from ...nets.semi import DEFAULT_WIDTH, SemiClassifier, SemiGenerator, classifier_sizes, noise_layers
from ...train import callbacks as cb
from ...train.optim import adam_for
from ...train.state import atomic_write_text, load_task_state, task_state
from ...train.trainer import BatchSampler, Phase
from ...viz import from_uint8

TASK = "semi-supervised"
UNLABELED = -1
UNLABELED_FOLDER = "unlabeled"
MODELS = ("ssl-mlp",)


@dataclass(frozen=True)
class SemiOptions(TaskOptions):
    """The semi-supervised task's own options (`gankit train --task semi-supervised --help`)."""

    # D's loss is the task's own (labeled cross-entropy + real/fake), G's feature matching; G has
    # no moving average: the classifier is the product.
    UNUSED: ClassVar[frozenset[str]] = frozenset({
        "d_norm", "conditional", "cond", "n_critic", "gp_weight", "r1_gamma", "r2_gamma",
        "r1_every", "augment", "ema_halflife"})
    HELP: ClassVar[dict[str, str]] = {"width": "the classifier's first layer"}
    labels_per_class: Optional[int] = option(None, "keep the labels of N training images per "
                                             "class, drawn by --seed (recorded in the run's "
                                             "labeled.json); the rest train unlabeled", low=1)
    labeled: str = option("", "a file naming the training items that keep their labels "
                          "(indices, one per line); the rest train unlabeled")

    @classmethod
    def defaults(cls, given: dict[str, Any]) -> dict[str, Any]:
        """The paper's MNIST recipe (batch 100, Adam(3e-3, 0.5), z 100) at half its width (see
        nets/semi.py)."""
        return {"model": "ssl-mlp", "z_dim": 100, "batch_size": 100, "lr": 3e-3,
                "sample_every": 1000}


OPTIONS = {TASK: SemiOptions}


# ---------------------------------------------------------------- data


@dataclass
class SemiData:
    """Training samples [N, ...] (uint8 images or float vectors), labels [N] (-1: unknown), class
    names, and the test split (None when the data has none)."""

    x: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    test_x: Optional[torch.Tensor] = None
    test_labels: Optional[torch.Tensor] = None
    note: Optional[str] = None

    @property
    def labeled(self) -> torch.Tensor:
        return torch.nonzero(self.labels >= 0).flatten()


def choose_labeled(labels: torch.Tensor, per_class: int, classes: int, seed: int) -> torch.Tensor:
    """Indices of `per_class` labeled items of each class, drawn from `seed` (sorted)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for c in range(classes):
        idx = torch.nonzero(labels == c).flatten()
        if len(idx) < per_class:
            raise DataError(f"--labels-per-class {per_class}: class {c} has only {len(idx)} "
                            f"labeled image(s)")
        out.append(idx[torch.randperm(len(idx), generator=gen)[:per_class]])
    return torch.cat(out).sort().values


def read_labeled_file(path: Union[str, Path], n: int) -> torch.Tensor:
    """The item indices a --labeled file names: whole numbers, one per line (or a JSON list, or
    labeled.json's `indices`)."""
    path = Path(path).expanduser()
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"--labeled {path}: cannot read it ({e.__class__.__name__})") from None
    try:
        doc = json.loads(text)
        values = doc["indices"] if isinstance(doc, dict) else doc
    except (ValueError, KeyError, TypeError):
        values = text.split()
    try:
        idx = [int(str(v).strip().rstrip(",")) for v in values]
    except ValueError:
        raise DataError(f"--labeled {path}: expected item indices, whole numbers 0..{n - 1}, "
                        f"one per line") from None
    bad = [i for i in idx if not 0 <= i < n]
    if bad:
        raise DataError(f"--labeled {path}: index {bad[0]} is outside the training data "
                        f"(items 0..{n - 1})")
    if not idx:
        raise DataError(f"--labeled {path} names no items")
    return torch.tensor(sorted(set(idx)), dtype=torch.long)


def check_labels(labels: torch.Tensor, classes: list[str]) -> None:
    """Labels are class numbers 0..K-1 or -1 (unknown), every class has a labeled example."""
    k = len(classes)
    if k < 2 or not (labels >= 0).any():
        raise DataError(f"a classifier needs labeled examples of at least 2 classes; this data "
                        f"has {int((labels >= 0).sum())} labeled item(s) of {k} class(es)")
    bad = labels[(labels < UNLABELED) | (labels >= k)]
    if bad.numel():
        raise DataError(f"label {int(bad[0])} is outside the class range: labels are 0..{k - 1}, "
                        f"or -1 for an unlabeled image")
    counts = torch.bincount(labels[labels >= 0], minlength=k)
    empty = [classes[c] for c in range(k) if counts[c] == 0]
    if empty:
        raise DataError(f"class {empty[0]!r} has no labeled example; a semi-supervised "
                        f"classifier needs at least one of each class")
    if int((labels == UNLABELED).sum()) == 0:
        warnings.warn("every training image is labeled: nothing unlabeled to learn from, so this "
                      "is plain supervised training (the GAN part adds only its regularization)",
                      GanKitWarning, stacklevel=3)


def _split(source: Any, split: str, data_cfg: Any) -> tuple[torch.Tensor, Optional[torch.Tensor],
                                                              Optional[list[str]], Optional[str]]:
    """(samples, labels with -1 allowed, classes, note) of a file, folder or named dataset."""
    from ...data import load_dataset
    d = load_dataset(str(source), split=split, resolution=data_cfg.resolution,
                     channels=data_cfg.channels, unlabeled=True)
    labels, classes = d.labels, d.classes
    if classes is not None and UNLABELED_FOLDER in classes:   # the folder of unlabeled images
        u = classes.index(UNLABELED_FOLDER)
        classes = [c for c in classes if c != UNLABELED_FOLDER]
        labels = torch.where(labels == u, UNLABELED, labels - (labels > u).long())
    return d.images, labels, classes, d.note


def load_semi_data(source: Any, data_cfg: Any, seed: int, labels: Any = None,
                   labeled_idx: Optional[torch.Tensor] = None,
                   options: Optional[SemiOptions] = None) -> SemiData:
    """The run's data, its labels -1 where unknown: `labels_per_class` drawn from `seed`, or the
    items of `labeled_idx` (a --labeled file, or a resumed run's labeled.json), or the data's own
    labels (-1 or an `unlabeled/` folder marks the unknown)."""
    test_x = test_y = None
    if isinstance(source, (str, Path)) and labels is not None:
        raise DataError(f"labels= goes with samples passed from Python; {source} brings its own "
                        f"(class folders beside unlabeled/, or a .npz's labels with -1)")
    if isinstance(source, (str, Path)):
        x, y, classes, note = _split(source, "train", data_cfg)
        try:
            test_x, test_y, _, _ = _split(source, "test", data_cfg)
        except DataError:
            pass   # a folder or file without a test split
    else:
        from ...data.user import user_samples
        if labels is not None:
            if isinstance(source, tuple):
                raise DataError("give the labels once: (samples, labels) or labels=")
            source = (source, labels)
        x, y = user_samples(source, unlabeled=True)
        classes, note = None, None
    if y is None:
        raise DataError(f"{source if isinstance(source, (str, Path)) else 'the data'} has no "
                        f"class labels: a semi-supervised classifier needs some (class folders "
                        f"beside an unlabeled/ folder, or labels with -1 where unknown)")
    if classes is None:
        classes = [str(c) for c in range(int(y.max()) + 1)]
    if test_y is not None and (test_y < 0).any():
        test_x, test_y = test_x[test_y >= 0], test_y[test_y >= 0]
    options = options or SemiOptions()
    k = options.labels_per_class
    if labeled_idx is None and options.labeled:
        labeled_idx = read_labeled_file(options.labeled, len(x))
    if labeled_idx is not None:
        keep = torch.zeros(len(y), dtype=torch.bool)
        keep[labeled_idx] = True
        if (y[labeled_idx] < 0).any():
            raise DataError("a labeled item has no label in the data (-1)")
        y = torch.where(keep, y, UNLABELED)
    elif k is not None:
        y = torch.full_like(y, UNLABELED).scatter_(
            0, (idx := choose_labeled(y, k, len(classes), seed)), y[idx])
    check_labels(y, classes)
    return SemiData(x, y, classes, test_x, test_y, note)


# ---------------------------------------------------------------- training


class SemiSampler:
    """Each batch: (unlabeled images [B, ...], labeled images [b, ...], their labels [b]). The
    unlabeled stream shuffles every training image (labeled ones too, as in the paper); the labeled
    stream cycles through the few labeled ones with b = min(B, their number)."""

    world = 1

    def __init__(self, x: torch.Tensor, labeled: torch.Tensor, labels: torch.Tensor,
                 batch_size: int, seed: int, transform: Any):
        self.batch_size = batch_size
        self.all = BatchSampler(x, batch_size, torch.Generator().manual_seed(seed * 2),
                                transform=transform)
        self.few = BatchSampler(x[labeled], min(batch_size, len(labeled)),
                                torch.Generator().manual_seed(seed * 2 + 3), transform=transform,
                                labels=labels[labeled])

    def __len__(self) -> int:
        return len(self.all)

    def next(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        xl, yl = self.few.next()
        return self.all.next(), xl, yl

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        (ta, ma), (tf, mf) = self.all.state(), self.few.state()
        return ({"sampler": ta["sampler"], "labeled_sampler": tf["sampler"]},
                {**ma, "labeled": mf})

    def load(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self.all.load(tensors, meta)
        self.few.load({"sampler": tensors["labeled_sampler"]}, meta["labeled"])


def unlabeled_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """D's real-vs-fake loss with the fake class's logit fixed at 0: -log D(real) - log(1 -
    D(fake)), D = Z / (Z + 1), halved as in the paper."""
    lse_real, lse_fake = torch.logsumexp(real_logits, 1), torch.logsumexp(fake_logits, 1)
    return 0.5 * (F.softplus(-lse_real).mean() + F.softplus(lse_fake).mean())


def feature_matching(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """Mean squared distance between the batch means of D's features on real and fake images."""
    return (real_features.detach().mean(0) - fake_features.mean(0)).pow(2).mean()


class SemiTask:
    """Named nets {"G", "D"}, one Adam each, phases D (classify + real vs fake) and G (feature
    matching, against D as the D phase left it). D's phase draws its fake batch without G's
    graph; G's phase draws a fresh one."""

    def __init__(self, G: nn.Module, D: nn.Module, cfg: RunConfig, device: torch.device):
        t = cfg.train
        self.cfg, self.device = cfg, device
        self.G, self.D = G.to(device), D.to(device)
        self.nets: dict[str, nn.Module] = {"G": self.G, "D": self.D}
        self.optimizers = adam_for(self.nets, t)
        self.generators = {"noise": torch.Generator(device).manual_seed(t.seed * 2 + 1),
                           "aux": torch.Generator(device).manual_seed(t.seed * 2 + 2)}
        for layer in noise_layers(self.D):   # D's Gaussian noise comes from a saved generator
            layer.generator = self.generators["aux"]
        self.phases = [Phase("D", ("D",), self.d_loss, grad=("D",)),
                       Phase("G", ("G",), self.g_loss)]
        self.world = 1

    def noise(self, n: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        gen = generator or self.generators["noise"]
        return torch.randn(n, self.cfg.model.z_dim, generator=gen, device=gen.device)

    def d_loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        xu, xl, yl = batch
        with torch.no_grad():
            fake = self.G(self.noise(len(xu)))
        lab_logits = self.D(xl).float()
        sup = F.cross_entropy(lab_logits, yl)
        real_logits, fake_logits = self.D(xu).float(), self.D(fake).float()
        unl = unlabeled_loss(real_logits, fake_logits)
        stats = {"d_sup": sup, "d_unsup": unl,
                 "train_acc": (lab_logits.argmax(1) == yl).float().mean(),
                 # D's belief that an image is real (not named d_real/d_fake: here D winning is
                 # the point, and the divergence guard must not read it as G losing the game)
                 "p_real": torch.sigmoid(torch.logsumexp(real_logits, 1)).mean(),
                 "p_fake": torch.sigmoid(torch.logsumexp(fake_logits, 1)).mean()}
        return sup + unl, stats

    def g_loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        xu = batch[0]
        fake = self.G(self.noise(len(xu)))
        _, real_f = self.D.features(xu)
        _, fake_f = self.D.features(fake)
        loss = feature_matching(real_f.float(), fake_f.float())
        return loss, {"g_loss": loss}

    def end_step(self, step: int, nimg: int) -> None:
        pass

    def critic(self, x: torch.Tensor, y: Optional[torch.Tensor] = None,
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(D's real-vs-fake logit [N] = lse of its class logits, the class logits [N, K]): what
        the report's held-out D loss reads, as it reads an image GAN's D."""
        logits = self.D(x).float()
        return torch.logsumexp(logits, 1), logits

    @torch.no_grad()
    def generate(self, z: torch.Tensor, ema: bool = True, batch: int = 500,
                 labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """G's samples for noise z [N, z_dim] -> [N, *data_shape] on the CPU, in eval mode (G has
        no moving average and draws no classes: `ema` and `labels` are there for the callers of
        an image GAN's generate)."""
        was = self.G.training
        self.G.eval()
        try:
            out = [self.G(z[i:i + batch].to(self.device)).float().cpu()
                   for i in range(0, len(z), batch)]
        finally:
            self.G.train(was)
        return torch.cat(out) if out else torch.empty(0, *self.cfg.data_shape)

    @torch.no_grad()
    def logits(self, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
        """D's class logits [N, K] for samples x [N, *data_shape] in [-1, 1], in eval mode (no
        noise)."""
        was = self.D.training
        self.D.eval()
        try:
            out = [self.D(x[i:i + batch].to(self.device).float()).float().cpu()
                   for i in range(0, len(x), batch)]
        finally:
            self.D.train(was)
        return torch.cat(out) if out else torch.empty(0, self.cfg.num_classes)

    def state(self) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
        return task_state(self)

    def load(self, tensors: dict, meta: dict, weights_only: bool = False) -> None:
        load_task_state(self, tensors, meta, weights_only)


def build_nets(cfg: RunConfig) -> tuple[nn.Module, nn.Module]:
    m = cfg.model
    if m.model not in MODELS:
        raise ConfigError(f"--task {TASK} has the model(s) {', '.join(MODELS)}, not {m.model!r}")
    torch.manual_seed(cfg.train.seed)   # the nets' initial weights come from the seed
    w = m.width or DEFAULT_WIDTH   # D: w, w/2, w/4, w/4, w/4
    G = SemiGenerator(cfg.data_shape, m.z_dim, max(w // 2, 1))
    D = SemiClassifier(cfg.data_shape, cfg.num_classes, classifier_sizes(w))
    return G, D



# ---------------------------------------------------------------- the run


class SemiGAN(RunFacade):
    """A semi-supervised GAN classifier:

        clf = SemiGAN("fashion-mnist", labels_per_class=10).fit(max_time=300)
        clf.predict(images)         # class numbers [N]
        clf.predict_proba(images)   # probabilities [N, K], rows sum to 1
        clf.evaluate()              # {"accuracy": ..., "n": ...} on the test split

    `dataset`: a name, folder or .npz (see the module's docstring), or samples with `labels=`
    (-1 where unknown). Options are the config fields, as for GAN."""

    def __init__(self, dataset: Any = None, *, labels: Any = None,
                 out: Union[str, Path, None] = None, config: Optional[RunConfig] = None,
                 run: Optional[Run] = None, labeled: Optional[dict] = None, **options: Any):
        self._semi: Optional[SemiData] = None
        self._labels: Optional[torch.Tensor] = None
        if run is not None:   # a loaded run: `labeled` is its labeled.json, `dataset` its data
            source = run.config.data.dataset if dataset is None else dataset
            self._attach(run, labeled["classes"], torch.tensor(labeled["indices"]), source)
            return
        if config is None:
            config = new_config(TASK, **options)
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
        print(f"{TASK}: {n_lab:,} labeled and {len(data.x) - n_lab:,} unlabeled training "
              f"items, {len(data.classes)} classes", file=sys.stderr)

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
                   progress: Optional[bool]) -> list[cb.Callback]:
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


def read_labeled(run_dir: Path) -> dict:
    path = Path(run_dir) / "labeled.json"
    try:
        doc = json.loads(path.read_text())
        classes, idx = list(doc["classes"]), [int(i) for i in doc["indices"]]
        if not all(isinstance(c, str) for c in classes) or not idx:
            raise ValueError("bad classes or no indices")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RunError(f"{path}: missing or corrupt ({e}); the run does not know which items "
                       f"were labeled") from None
    return {"classes": classes, "indices": idx}


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


# ---------------------------------------------------------------- gankit classify


def _read_items(clf: SemiGAN, src: Path) -> tuple[list[str], torch.Tensor]:
    """(names, the net's inputs [n, *data_shape]) of one input: an image file (resized to the run's
    size and channels), a folder of them, or a .npy/.npz (its `images`, `x` or only array; one item
    per row, in any layout `predict` takes)."""
    from ...data.arrays import read_arrays
    from ...data.images import ImageData, image_files, conform
    from ...data.images import read_image
    shape = clf.config.data_shape
    if src.is_dir():
        files = image_files(src)
        parts = [_read_items(clf, f) for f in files]
        return ([f.relative_to(src).as_posix() for f in files],
                torch.cat([x for _, x in parts]) if parts else torch.empty(0, *shape))
    if src.suffix.lower() in (".npy", ".npz"):
        arrays = read_arrays(src)
        key = next((k for k in ("images", "x", "x_test") if k in arrays),
                   next(iter(arrays)) if len(arrays) == 1 else None)
        if key is None:
            raise DataError(f"{src}: which array? it has {', '.join(sorted(arrays))} (name one "
                            f"`images` or `x`)")
        return [f"{src.name}[{i}]" for i in range(len(arrays[key]))], clf._inputs(arrays[key])
    if not src.is_file():
        raise DataError(f"{src}: no such file or folder")
    if len(shape) != 3:
        raise DataError(f"{src}: this classifier takes vectors of shape {list(shape)}, not images")
    img = read_image(src)   # uint8 [C, H, W], or None
    if img is None:
        raise DataError(f"{src}: not a readable image")
    img = conform(ImageData(img[None], None, str(src), None), shape[-1], shape[0]).images
    return [src.name], clf._inputs(img)


def classify_items(clf: SemiGAN, inputs: list[Path]) -> tuple[list[str], torch.Tensor]:
    """(item names, class probabilities [N, K]) of image files, folders and arrays."""
    parts = [_read_items(clf, Path(src)) for src in inputs]
    names = [name for part, _ in parts for name in part]
    if not names:
        raise DataError("no images to classify")
    return names, torch.softmax(clf.task.logits(torch.cat([x for _, x in parts])), 1)


def write_predictions(names: list[str], probs: torch.Tensor, classes: list[str],
                      output: Optional[Path], overwrite: bool = False) -> None:
    """CSV (file, label, class, p_<class>...) to `output` or stdout, or a .npz with `labels`
    (int64 [N]), `probs` (float32 [N, K]), `names` and `classes`."""
    from ...outputs import refuse_overwrite
    labels = probs.argmax(1)
    if output is not None:
        if output.suffix.lower() not in (".csv", ".npz"):
            raise ConfigError(f"--output {output}: write .csv or .npz")
        refuse_overwrite(output, overwrite)
    if output is not None and output.suffix.lower() == ".npz":
        tmp = output.with_name(f".{output.name}.tmp.npz")
        np.savez_compressed(tmp, labels=labels.numpy(), probs=probs.numpy().astype(np.float32),
                            names=np.array(names), classes=np.array(classes))
        os.replace(tmp, output)
        return
    import csv
    import io
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["item", "label", "class", *(f"p_{c}" for c in classes)])
    for name, y, p in zip(names, labels.tolist(), probs.tolist()):
        w.writerow([name, y, classes[y], *(f"{v:.4f}" for v in p)])
    if output is None:
        sys.stdout.write(buf.getvalue())
    else:
        atomic_write_text(output, buf.getvalue())


__all__ = ["OPTIONS", "SemiGAN", "SemiOptions", "classify_items", "write_predictions", "choose_labeled", "feature_matching", "load_semi_data", "load_task_run",
           "new_run", "unlabeled_loss"]
