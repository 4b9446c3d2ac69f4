"""Image-to-image translation with pix2pix (Isola et al. 2017), and colorization built on it.

- `--task pix2pix`: paired images, a folder with `A/` and `B/` whose file names match, or a folder
  of pix2pix's side-by-side `AB` images (A left, B right). G learns A -> B.
- `--task colorize`: any folder of color photographs. The pairs are made here: A is the lightness
  (Y of YCbCr), B the two color channels (Cb, Cr); the output picture keeps the input's lightness
  exactly and G only supplies color. Random crops (and flips) of the photos are the training
  examples, so a few dozen photos give thousands of them.

Both train G = U-Net, D = PatchGAN (nets/unet.py) on the shared trainer with the adversarial loss
of `--loss` (default: non-saturating, pix2pix's) + `--l1-weight` (default 100) x L1(G(A), B).
D judges (A, B) pairs, so it asks "is B a plausible output *for this A*".

Held-out data: `train/` and `test/` subfolders when present; else every 10th file (sorted) is held
out. The fixed preview grid shows held-out examples as rows of input | output | truth.
"""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch

from ...compat import LEGACY_TRANSLATION_WIDTH as LEGACY_WIDTH
from ...config import RunConfig, require_options
from ...errors import ConfigError, DataError, GanKitWarning
from ...nets.unet import PatchDiscriminator, UNetGenerator
from ...run import ProgressOption, Run, RunHooks
from ...train import callbacks as cb
from ...train.state import step_name
from ...train.trainer import Trainer
from ...viz import from_uint8
from .. import new_config
from ..base import TaskFacade
from . import color
from .data import CropSampler, Pictures, colorize_pair, load_pairs, load_photos
from .files import as_image_list
from .options import TranslationBase, prepare_config
from .task import Pix2PixTask


class ImageTranslation(TaskFacade):
    """What every image-to-image facade shares: its pictures, the preview grids of examples and
    their translations, the held-out score under --eval-every, and no sampling from noise.
    Subclasses name their tasks (TASKS_HERE) and give load_pictures, shapes, make_run, the
    sampler, the epoch length and triptych()."""

    TASKS_HERE: tuple[str, ...] = ()
    SCORED = "translations against their truth"   # what evaluate() compares (eval's protocol)

    def __init__(self, dataset: Union[str, Path, None] = None, task: Optional[str] = None, *,
                 out: Union[str, Path, None] = None, config: Optional[RunConfig] = None,
                 run: Optional[Run] = None, **options: Any):
        self._pictures: Optional[Any] = None
        if run is None:   # (a loaded run: its pictures are read when first needed)
            task = task or self.TASKS_HERE[0]
            if task not in self.TASKS_HERE:
                raise ConfigError(f"unknown task {task!r} for {type(self).__name__}: choose "
                                  f"{' or '.join(self.TASKS_HERE)}")
            if not isinstance(dataset, (str, Path)):
                raise DataError("translation needs a folder: A/ and B/ (pix2pix) or photos "
                                "(colorize)")
            if config is None:
                config = new_config(task, dataset=str(dataset), **options)
            require_options(config, TranslationBase, task)
            config = config.replace(task=task)
        super().__init__(dataset, out=out, config=config, run=run)

    def _build(self, dataset: Union[str, Path], config: RunConfig,
               out: Union[str, Path, None]) -> None:
        name = str(dataset) if config.options.named_dataset() else str(Path(dataset).resolve())
        cfg = prepare_config(config.replace(data=dataclasses.replace(config.data, dataset=name)))
        pictures = self.load_pictures(cfg)
        cfg = cfg.replace(data_shape=self.shapes(cfg, pictures))
        self._attach(self.make_run(cfg, out=out))
        self._use(pictures)

    def _attach(self, run: Run) -> None:
        self.run = run
        run.hooks = RunHooks(sampler=self._sampler, callbacks=self._callbacks,
                             epoch_steps=self._epoch_steps)

    def _use(self, pictures: Any) -> None:
        self._pictures = pictures
        self.run.data, self.run.data_note = pictures.train, pictures.note

    @property
    def pictures(self) -> Any:
        """The run's pictures (train and held out); a loaded run reads them when first asked."""
        if self._pictures is None:
            self._use(self.load_pictures(self.config))
        return self._pictures

    # --- what each translation task gives --------------------------------------------------------
    @staticmethod
    def load_pictures(cfg: RunConfig) -> Any:
        raise NotImplementedError

    @staticmethod
    def shapes(cfg: RunConfig, pictures: Any) -> tuple[int, ...]:
        """data_shape: (C_in, C_out, size), what the nets are built from."""
        raise NotImplementedError

    @classmethod
    def make_run(cls, cfg: RunConfig, *, out: Union[str, Path, None] = None,
                 run_dir: Optional[Path] = None) -> Run:
        raise NotImplementedError

    def _sampler(self) -> Any:
        raise NotImplementedError

    def _epoch_steps(self, epochs: float) -> int:
        raise NotImplementedError

    def triptych(self) -> torch.Tensor:
        """The preview: rows of three pictures [3 * rows, C, H, W] in [-1, 1]."""
        raise NotImplementedError

    # --- shared ---------------------------------------------------------------------------------
    def _callbacks(self, total: int, max_time: Optional[float],
                   progress: ProgressOption) -> list[cb.Callback]:
        return self.run.standard_callbacks(total, max_time, progress,
                                           Triptychs(self.config.train.sample_every, self),
                                           lambda: self.evaluate(), key="l1")

    def evaluate(self, pictures: Optional[Any] = None) -> dict[str, float]:
        raise NotImplementedError

    # --- its report -------------------------------------------------------------------------
    report_images = False
    preview_caption = "The same held-out inputs (input | output | truth)"

    def report_sections(self, facts: Any) -> list:
        """Held-out scores, and the held-out examples translated now."""
        from ...errors import GanKitError
        from ...report.page import array_uri
        from ...report.run import section
        from ...viz import make_grid, to_uint8
        try:
            self.pictures   # read now: a loaded run reads its pictures when first asked
        except GanKitError as e:
            return [section("translations", {"error": str(e)})]
        scores = self.evaluate()
        grid = make_grid(to_uint8(self.triptych()), nrow=3)
        return [section("translations", {
            "which": "held-out" if self.pictures.held else "training (nothing is held out)",
            "scores": ", ".join(f"{k} {v:.4g}" for k, v in scores.items()),
            "uri": array_uri(grid, 2)})]

    def metric_results(self, num: int, seed: int = 0, split: str = "test", **_: Any) -> dict:
        """`evaluate` on the held-out pictures (the training ones when none are held out) as
        MetricResults with their protocol (what `gankit eval RUN` prints). `num` and `seed` do
        not apply: every held-out picture is translated, with no noise."""
        from ...metrics import task_results
        held = self.pictures.held
        n = sum(len(side) for side in held) if isinstance(held, tuple) else len(held or [])
        return task_results(self.evaluate(), extractor=self.SCORED, n_real=n, n_fake=n,
                            reference=self.config.data.dataset,
                            reference_split="held-out" if n else "train", seed=0)

    def show(self, n: int = 16, seed: Optional[int] = None, **_: Any) -> Any:
        """The preview's examples translated now, as its grids show them (rows of three
        pictures, at most `n` rows; put on a notebook's page, and returned)."""
        from ...notebook import Image, show
        from ...viz import make_grid, to_uint8
        rows = self.triptych()[:3 * max(int(n), 1)]
        return show(Image.from_array(make_grid(to_uint8(rows), nrow=3), 2,
                                     f"{len(rows) // 3} examples"))

    def sample(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        raise ConfigError(f"a {self.config.task} run translates images, it does not sample from "
                          f"noise: use `gankit translate RUN INPUT... --output DIR`")


class Triptychs(cb.Every):
    """samples/step-NNNNNNN.png: the translator's triptych() grid, three pictures a row."""

    def __init__(self, every: int, translator: ImageTranslation):
        super().__init__(every)
        self.translator = translator

    def act(self, trainer: Trainer) -> None:
        from ...viz import make_grid, save_png, to_uint8
        out = self.translator.run_dir / "samples"
        out.mkdir(exist_ok=True)
        grid = make_grid(to_uint8(self.translator.triptych()), nrow=3)
        save_png(grid, out / f"{step_name(trainer.step)}.png", scale=2)


class Translator(ImageTranslation):
    """pix2pix or colorization: `Translator("photos/", task="colorize").fit(steps=2000)`, then
    `translate(images)`. Options are the config fields, as for GAN (`resolution` = crop size,
    `width`, `batch_size`, `lr`, `l1_weight`, `loss`, ...)."""

    TASKS_HERE = ("pix2pix", "colorize")

    @staticmethod
    def load_pictures(cfg: RunConfig) -> Pictures:
        size = cfg.data.resolution
        if cfg.task == "colorize":
            pics = load_photos(Path(cfg.data.dataset), short=2 * size)
        else:
            pics = load_pairs(Path(cfg.data.dataset), size)
        if pics.note:
            warnings.warn(pics.note, GanKitWarning)
        return pics

    @staticmethod
    def shapes(cfg: RunConfig, pictures: Pictures) -> tuple[int, ...]:
        s = cfg.data.resolution
        if cfg.task == "colorize":
            return (1, 2, s)
        a, b = pictures.train[0]
        return (a.shape[0], b.shape[0], s)

    @classmethod
    def make_run(cls, cfg: RunConfig, *, out: Union[str, Path, None] = None,
                 run_dir: Optional[Path] = None) -> Run:
        """U-Net G and PatchGAN D (70 / 34 px patches) from the seed, task, device."""
        c_in, c_out, size = cfg.data_shape
        width = cfg.model.width or LEGACY_WIDTH
        torch.manual_seed(cfg.train.seed)
        G = UNetGenerator(c_in, c_out, size, width)
        D = PatchDiscriminator(c_in + c_out, width, n_layers=3 if size >= 32 else 2)
        return Run.for_task(cfg, lambda device: Pix2PixTask(G, D, cfg, device),
                            one_process="translation", out=out, run_dir=run_dir)

    def _sampler(self) -> CropSampler:
        t = self.config.train
        gen = torch.Generator().manual_seed(t.seed * 2)
        return CropSampler(self.pictures.train, self.config.task, self.config.data_shape[2],
                           t.batch_size, gen, self.device)

    def _epoch_steps(self, epochs: float) -> int:
        """An epoch: as many crops as there are training pictures."""
        n = len(self.pictures.train)
        return max(int(np.ceil(epochs * n / self.config.train.batch_size)), 1)

    def _preview(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Fixed examples for the grids: centre crops of (up to 8) held-out pictures, or of
        training pictures when nothing is held out."""
        pics = self.pictures.held or self.pictures.train
        s = self.config.data_shape[2]
        a_list, b_list = [], []
        for item in pics[:8]:
            a, b = item if self.config.task == "pix2pix" else (item, None)
            h, w = a.shape[1:]
            top, left = (h - s) // 2, (w - s) // 2
            a_list.append(a[:, top:top + s, left:left + s])
            if b is not None:
                b_list.append(b[:, top:top + s, left:left + s])
        a = from_uint8(torch.stack(a_list))
        if self.config.task == "colorize":
            return colorize_pair(a)
        return a, from_uint8(torch.stack(b_list))

    def as_pictures(self, a: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """G's input and raw output -> the picture a person sees, [N, C, H, W] in [-1, 1]."""
        if self.config.task == "colorize":
            return color.ycbcr_to_rgb(torch.cat([a.cpu(), out], 1))
        return out

    def triptych(self) -> torch.Tensor:
        """Rows of input | output | truth for the preview examples."""
        a, b = self._preview()
        out = self.as_pictures(a, self.task.translate(a))
        truth = self.as_pictures(a, b)
        shown_in = color.gray_rgb(a) if self.config.task == "colorize" else a
        c = max(shown_in.shape[1], out.shape[1])
        parts = [x.expand(-1, c, -1, -1) for x in (shown_in, out, truth)]
        return torch.stack(parts, 1).reshape(-1, c, *a.shape[-2:])

    # --- using it ---------------------------------------------------------------------------
    def translate(self, images: Any) -> np.ndarray:
        """Images (uint8 [N, H, W, C] array or [N, C, H, W] tensor, or a list of uint8 [H, W, C]
        arrays of any sizes) -> translated uint8 [H, W, C] arrays (one array if all inputs share
        a size). Colorize takes color or gray inputs (only their lightness is used)."""
        from ...viz import to_uint8
        items = as_image_list(images)
        outs = []
        for img in items:   # [C, H, W] uint8
            x = from_uint8(img[None])
            if self.config.task == "colorize":
                x = color.rgb_to_ycbcr(x.expand(-1, 3, -1, -1))[:, :1] if x.shape[1] in (1, 3) \
                    else _bad_channels(x.shape[1], "1 or 3")
            else:
                want = self.config.data_shape[0]
                if x.shape[1] != want:
                    x = x.expand(-1, want, -1, -1) if x.shape[1] == 1 else \
                        _bad_channels(x.shape[1], str(want))
            size = self.config.data_shape[2]
            if min(x.shape[-2:]) < size:
                raise DataError(f"an input image of {x.shape[-1]}x{x.shape[-2]} px is smaller than "
                                f"the model's {size} px crops; upscale it first")
            outs.append(to_uint8(self.as_pictures(x, self.task.translate(x)))[0])
        same = len({o.shape for o in outs}) == 1
        return np.stack(outs) if same else outs

    def evaluate(self, pictures: Optional[list] = None) -> dict[str, float]:
        """Held-out scores on whole pictures: L1 and PSNR/SSIM of the picture vs the truth, and
        for colorize the colorfulness of the output over the truth's (1 = as colorful)."""
        pics = pictures if pictures is not None else (self.pictures.held or self.pictures.train)
        scores: dict[str, list] = {"l1": [], "psnr": [], "ssim": [], "colorfulness_ratio": []}
        m = 2 ** self.task.G.depth
        for item in pics:
            a, b = item if self.config.task == "pix2pix" else (item, None)
            h, w = (a.shape[1] // m) * m, (a.shape[2] // m) * m   # whole windows of the net
            a = from_uint8(a[None, :, :h, :w])
            if self.config.task == "colorize":
                truth = a
                y, _ = colorize_pair(a)
                out = self.as_pictures(y, self.task.translate(y))
            else:
                truth = from_uint8(b[None, :, :h, :w])
                out = self.task.translate(a)
            scores["l1"].append(float((out - truth).abs().mean()))
            scores["psnr"].append(float(color.psnr(out, truth)[0]))
            scores["ssim"].append(float(color.ssim(out, truth)[0]))
            if out.shape[1] == 3:
                scores["colorfulness_ratio"].append(
                    float(color.colorfulness(out)[0] / color.colorfulness(truth)[0].clamp_min(1e-6)))
        return {k: float(np.mean(v)) for k, v in scores.items() if v}


def _bad_channels(c: int, want: str) -> torch.Tensor:
    raise DataError(f"an input image has {c} channels; this model takes {want}")


def new_run(task: str, cfg: RunConfig, out: Optional[Path] = None) -> Translator:
    """A new translation run (the CLI's `gankit train --task ...`)."""
    return Translator(cfg.data.dataset, task, config=cfg, out=out)


def load_translation_run(cls: type, run_dir: Path, cfg: RunConfig, device: str,
                         weights_only: bool) -> ImageTranslation:
    """Rebuild a translation run of facade `cls` (see api.load_run): nets, optimizers, step,
    data order; a weights-only run reads its pictures when first asked."""
    cfg = cfg.replace(train=dataclasses.replace(cfg.train, device=device))
    tr = cls(run=cls.make_run(cfg, run_dir=run_dir))
    tr.run.resume(weights_only, lambda: tr.pictures)
    return tr


def load_task_run(run_dir: Path, cfg: RunConfig, device: str, weights_only: bool) -> Translator:
    """Rebuild a pix2pix or colorize run (see api.load_run)."""
    return load_translation_run(Translator, run_dir, cfg, device, weights_only)


__all__ = ["ImageTranslation", "Translator", "load_task_run", "load_translation_run", "new_run"]
