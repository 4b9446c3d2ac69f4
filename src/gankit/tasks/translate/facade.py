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
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...config import RunConfig, TaskOptions, option, require_options
from ...data.images import fit_short_side, image_files, median_short_side, read_image
from ...errors import ConfigError, DataError, GanKitWarning
from ...nets.unet import PatchDiscriminator, SeededDropout, UNetGenerator, unet_depth
from ...objectives import get_objective
from ...run import Run, RunFacade, RunHooks
from ...tasks import new_config
from ...train import callbacks as cb
from ...train.optim import adam_for
from ...train.state import load_task_state, task_state
from ...train.trainer import Phase, Trainer
from . import color
from ...viz import from_uint8

TASKS = ("pix2pix", "colorize", "cyclegan")
# Data- and device-sized defaults (see prepare_config and default_size): the crop is the data's own
# size, never upscaled, at most MAX_SIZE px; the nets are narrower on a CPU.
MAX_SIZE = {"cpu": 64, "cuda": 256}
CPU_WIDTH = {"pix2pix": 16, "colorize": 32, "cyclegan": 16}   # measured: bench/edges.py, cyclegan.py
GPU_WIDTH = 64
from ...compat import LEGACY_TRANSLATION_WIDTH as LEGACY_WIDTH
PEEK = 32           # files looked at to size the defaults
HOLD_EVERY = 10   # without train/ and test/ subfolders, every 10th file is held out


# --- data --------------------------------------------------------------------------------------

@dataclasses.dataclass
class Pictures:
    """Training and held-out examples: for pix2pix, lists of (A, B) uint8 [C, H, W] pairs of one
    size each; for colorize, lists of RGB photos uint8 [3, H, W] of any size."""
    train: list
    held: list
    note: str


def _split(files: list[Path], root: Path) -> tuple[list[Path], list[Path]]:
    if (root / "train").is_dir() and (root / "test").is_dir():
        return image_files(root / "train"), image_files(root / "test")
    held = files[HOLD_EVERY - 1::HOLD_EVERY] if len(files) >= 2 else []
    if len(files) >= 2 and not held:
        held = files[-1:]
    keep = set(held)
    return [f for f in files if f not in keep], held


def load_photos(root: Path, short: int) -> Pictures:
    """Color photos for colorization; gray and unreadable files are skipped and counted."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder of photographs")
    files = image_files(root)
    if not files:
        raise DataError(f"{root}: no image files (.png, .jpg, .jpeg) in it")
    train_f, held_f = _split(files, root)
    gray = bad = 0
    out: dict[str, list] = {"train": [], "held": []}
    for name, group in (("train", train_f), ("held", held_f)):
        for f in group:
            img = read_image(f)
            if img is None:
                bad += 1
            elif img.shape[0] != 3:
                gray += 1
            else:
                out[name].append(fit_short_side(img, short))
    if not out["train"]:
        raise DataError(f"{root}: no color photographs to learn color from ({len(files)} files: "
                        f"{gray} grayscale, {bad} unreadable)")
    note = (f"{len(out['train'])} training and {len(out['held'])} held-out color photos from "
            f"{root}" + (f"; skipped {gray} grayscale and {bad} unreadable files" if gray or bad else ""))
    return Pictures(out["train"], out["held"], note)


def load_pairs(root: Path, size: int) -> Pictures:
    """Paired images: `A/` and `B/` with matching names, or side-by-side AB images, made square
    for crops of `size` px (see _square)."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder of paired images")
    if (root / "A").is_dir() and (root / "B").is_dir():
        a_files = {f.relative_to(root / "A").with_suffix("").as_posix(): f for f in image_files(root / "A")}
        b_files = {f.relative_to(root / "B").with_suffix("").as_posix(): f for f in image_files(root / "B")}
        only_a, only_b = sorted(set(a_files) - set(b_files)), sorted(set(b_files) - set(a_files))
        if only_a or only_b:
            show = ", ".join(([f"A/{n}" for n in only_a[:3]] + [f"B/{n}" for n in only_b[:3]]))
            raise DataError(f"{root}: the file names in A/ and B/ must match: {len(only_a)} in A/ "
                            f"have no partner in B/ and {len(only_b)} in B/ none in A/ (e.g. {show})")
        names = sorted(a_files)
        if not names:
            raise DataError(f"{root}: A/ and B/ hold no image files")
        pairs_of = [(a_files[n], b_files[n]) for n in names]
        source = "A/ and B/"
    else:
        files = image_files(root)
        if not files:
            raise DataError(f"{root}: no image files; expected A/ and B/ subfolders or side-by-side "
                            f"AB images")
        pairs_of = [(f, None) for f in files]
        source = "side-by-side AB images"
    held_names = set(p[0] for p in pairs_of[HOLD_EVERY - 1::HOLD_EVERY]) if len(pairs_of) >= 2 else set()
    for split_dir in ("train", "test"):
        if any(split_dir in Path(p[0]).relative_to(root).parts[:2] for p in pairs_of):
            held_names = {p[0] for p in pairs_of if "test" in Path(p[0]).relative_to(root).parts[:2]}
            break
    out: dict[str, list] = {"train": [], "held": []}
    bad = 0
    for fa, fb in pairs_of:
        a = read_image(fa)
        b = read_image(fb) if fb is not None else None
        if fb is None and a is not None:   # side by side: left half A, right half B
            if a.shape[2] < 2:
                a = None
            else:
                half = a.shape[2] // 2
                a, b = a[:, :, :half], a[:, :, half:2 * half]
        if a is None or b is None:
            bad += 1
            continue
        a, b = _square(a, size), _square(b, size)
        out["held" if fa in held_names else "train"].append((a, b))
    if not out["train"]:
        raise DataError(f"{root}: none of the {len(pairs_of)} image pairs could be read")
    ca = max(a.shape[0] for a, _ in out["train"] + out["held"])
    cb_ = max(b.shape[0] for _, b in out["train"] + out["held"])
    for name in out:   # one channel count per side: gray images join RGB ones as RGB
        out[name] = [(a.expand(ca, -1, -1).contiguous(), b.expand(cb_, -1, -1).contiguous())
                     for a, b in out[name]]
    note = (f"{len(out['train'])} training and {len(out['held'])} held-out pairs ({source}) from "
            f"{root}" + (f"; skipped {bad} unreadable" if bad else ""))
    return Pictures(out["train"], out["held"], note)


def _square(img: torch.Tensor, size: int) -> torch.Tensor:
    """A pair's picture [C, H, W] as pix2pix trains on it: resized to a square of 1.125 x the
    crop, so that random crops jitter it; or, when it is smaller than the crop, made square at
    its own size and padded to the crop the way translate pads its inputs (run_padded), so a
    28-px image is seen at its own scale in training and in use."""
    short = min(img.shape[1:])
    side = max(size, round(size * 1.125)) if short >= size else short
    if img.shape[1:] != (side, side):
        img = F.interpolate(img[None].float(), size=(side, side), mode="bilinear", antialias=True,
                            align_corners=False)[0].round().clamp(0, 255).to(torch.uint8)
    return _pad_end(img[None].float(), size - side, size - side)[0].to(torch.uint8) \
        if side < size else img


def _pad_end(x: torch.Tensor, ph: int, pw: int) -> torch.Tensor:
    """[N, C, H, W] padded by ph rows at the bottom and pw columns at the right (reflected, or
    repeated where the picture is too small to reflect)."""
    if not (ph or pw):
        return x
    h, w = x.shape[-2:]
    return F.pad(x, (0, pw, 0, ph), mode="reflect" if ph < h and pw < w else "replicate")


def colorize_pair(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """RGB [N, 3, H, W] in [-1, 1] -> (Y [N, 1, H, W], CbCr [N, 2, H, W])."""
    ycc = color.rgb_to_ycbcr(rgb)
    return ycc[:, :1], ycc[:, 1:]


@torch.no_grad()
def run_padded(net: nn.Module, x: torch.Tensor, device: torch.device, batch: int = 16
               ) -> torch.Tensor:
    """A fully convolutional net on inputs [N, C, H, W] of any size: padded (reflect) to a
    multiple of 2**net.depth, run in eval mode in batches, cropped back; the output on the CPU."""
    m = 2 ** net.depth
    h, w = x.shape[-2:]
    ph, pw = (-h) % m, (-w) % m
    was = net.training
    net.eval()
    try:
        out = []
        for i in range(0, len(x), batch):
            xi = _pad_end(x[i:i + batch].to(device).float(), ph, pw)
            out.append(net(xi)[..., :h, :w].float().cpu())
    finally:
        net.train(was)
    return torch.cat(out)


def random_crops(pictures: list, size: int, batch: int, g: torch.Generator) -> list[list]:
    """`batch` random crops (with random horizontal flips) of randomly chosen pictures. An item of
    `pictures` is a [C, H, W] tensor or a tuple of them of one size, cropped at the same window."""
    idx = torch.randint(len(pictures), (batch,), generator=g).tolist()
    flips = torch.rand(batch, generator=g) < 0.5
    out = []
    for k, i in enumerate(idx):
        item = pictures[i] if isinstance(pictures[i], tuple) else (pictures[i],)
        h, w = item[0].shape[1:]
        top = int(torch.randint(h - size + 1, (1,), generator=g))
        left = int(torch.randint(w - size + 1, (1,), generator=g))
        crop = [t[:, top:top + size, left:left + size] for t in item]
        out.append([t.flip(-1) for t in crop] if flips[k] else crop)
    return out


class CropSampler:
    """Random crops (same window for A and B) with random horizontal flips, drawn from its own
    generator; its state is the generator's, so a resume replays the same batches."""

    def __init__(self, pictures: list, task: str, size: int, batch_size: int,
                 generator: torch.Generator, device: torch.device):
        self.pictures, self.task, self.size = pictures, task, size
        self.batch_size, self.gen, self.device = batch_size, generator, device
        self.world = 1

    def __len__(self) -> int:
        return len(self.pictures)

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        crops = random_crops(self.pictures, self.size, self.batch_size, self.gen)
        a = from_uint8(torch.stack([c[0] for c in crops])).to(self.device)
        if self.task == "colorize":
            return colorize_pair(a)
        return a, from_uint8(torch.stack([c[1] for c in crops])).to(self.device)

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return {"sampler": self.gen.get_state()}, {}

    def load(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self.gen.set_state(tensors["sampler"])


# --- the task ----------------------------------------------------------------------------------

class Pix2PixTask:
    """Nets G (U-Net) and D (PatchGAN); phases D then G; G's output is reused by the G phase."""

    def __init__(self, G: nn.Module, D: nn.Module, cfg: RunConfig, device: torch.device):
        t, lc = cfg.train, cfg.loss
        self.cfg, self.device = cfg, device
        self.G, self.D = G.to(device), D.to(device)
        self.nets: dict[str, nn.Module] = {"G": self.G, "D": self.D}
        self.optimizers = adam_for({"G": self.G, "D": self.D}, t)
        # --loss none: L1 only, D never trained (the no-GAN ablation of the benchmark)
        self.objective = None if lc.loss == "none" else get_objective(lc.loss)
        if self.objective is not None and self.objective.needs_penalty:
            raise ConfigError(f"--loss {lc.loss} needs a gradient penalty, which pix2pix does not "
                              f"have: use ns, lsgan, hinge or none (L1 only)")
        self.generators = {"dropout": torch.Generator(device).manual_seed(t.seed * 2 + 1)}
        for m in self.G.modules():   # G's dropout is its noise: seeded, and saved with the run
            if isinstance(m, SeededDropout):
                m.generator = self.generators["dropout"]
        self.phases = [Phase("D", ("D",), self.d_loss, grad=("D", "G")),
                       Phase("G", ("G",), self.g_loss)]
        if self.objective is None:
            self.phases = [Phase("G", ("G",), self.g_loss)]
        self._fake: Optional[torch.Tensor] = None
        self.world = 1

    def d_loss(self, batch: tuple[torch.Tensor, torch.Tensor]):  # noqa: ANN201
        a, b = batch
        fake = self.G(a)
        self._fake = fake
        real_logits = self.D(torch.cat([a, b], 1)).float()
        fake_logits = self.D(torch.cat([a, fake.detach()], 1)).float()
        loss = self.objective.d_loss(real_logits, fake_logits)
        return loss, {"d_loss": loss, "d_real": torch.sigmoid(real_logits).mean(),
                      "d_fake": torch.sigmoid(fake_logits).mean()}

    def g_loss(self, batch: tuple[torch.Tensor, torch.Tensor]):  # noqa: ANN201
        a, b = batch
        fake, self._fake = self._fake, None
        if self.objective is None:   # L1 only
            fake = self.G(a)
            l1 = (fake.float() - b.float()).abs().mean()
            loss = self.cfg.options.l1_weight * l1
            return loss, {"g_loss": loss, "g_l1": l1}
        adv = self.objective.g_loss(self.D(torch.cat([a, fake], 1)).float())
        l1 = (fake.float() - b.float()).abs().mean()
        loss = adv + self.cfg.options.l1_weight * l1
        return loss, {"g_loss": loss, "g_adv": adv, "g_l1": l1}

    def end_step(self, step: int, nimg: int) -> None:
        pass

    def translate(self, a: torch.Tensor) -> torch.Tensor:
        return run_padded(self.G, a, self.device)

    def state(self):  # noqa: ANN201
        return task_state(self)

    def load(self, tensors: dict, meta: dict, weights_only: bool = False) -> None:
        load_task_state(self, tensors, meta, weights_only)


# --- the API -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class TranslationBase(TaskOptions):
    """What the image-to-image tasks share: no noise, no classes, no normalization choice in D,
    one D step per G step, no moving average of G, their own nets."""

    UNUSED: ClassVar[frozenset[str]] = frozenset({
        "channels", "z_dim", "conditional", "cond", "d_norm", "n_critic", "gp_weight",
        "r1_gamma", "r2_gamma", "r1_every", "augment", "ema_halflife"})

    def named_dataset(self) -> bool:
        """Whether the dataset is a name (e.g. fashion-mnist) rather than a folder."""
        return False

    @classmethod
    def defaults(cls, given: dict[str, Any]) -> dict[str, Any]:
        # batch 16: more, smaller steps per CPU-minute; measured in bench/edges.py and what
        # bench/colorize.py and bench/cyclegan.py ran
        return {"batch_size": 16}


@dataclass(frozen=True)
class TranslationOptions(TranslationBase):
    """pix2pix's and colorize's own options."""

    l1_weight: float = option(100.0, "weight of the L1 distance to the true output beside the "
                              "adversarial loss", low=0.0)

    @classmethod
    def defaults(cls, given: dict[str, Any]) -> dict[str, Any]:
        return {**TranslationBase.defaults(given), "model": "unet"}


OPTIONS = {"pix2pix": TranslationOptions, "colorize": TranslationOptions}


class ImageTranslation(RunFacade):
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
        if run is not None:   # a loaded run: its pictures are read when first needed
            self._attach(run)
            return
        task = task or self.TASKS_HERE[0]
        if task not in self.TASKS_HERE:
            raise ConfigError(f"unknown task {task!r} for {type(self).__name__}: choose "
                              f"{' or '.join(self.TASKS_HERE)}")
        if not isinstance(dataset, (str, Path)):
            raise DataError("translation needs a folder: A/ and B/ (pix2pix) or photos (colorize)")
        if config is None:
            config = new_config(task, dataset=str(dataset), **options)
        require_options(config, TranslationBase, task)
        name = str(dataset) if config.options.named_dataset() else str(Path(dataset).resolve())
        cfg = prepare_config(config.replace(task=task, data=dataclasses.replace(
            config.data, dataset=name)))
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
                   progress: Optional[bool]) -> list[cb.Callback]:
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
        save_png(grid, out / f"step-{trainer.step:07d}.png", scale=2)


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
            print(pics.note, file=sys.stderr)
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


def as_image_list(images: Any) -> list[torch.Tensor]:
    """Inputs -> list of uint8 [C, H, W] tensors."""
    if isinstance(images, torch.Tensor):
        if images.dim() == 3:
            images = images[None]
        if images.dtype != torch.uint8:
            raise DataError("translate takes uint8 images (0..255)")
        return list(images)
    if isinstance(images, np.ndarray):
        if images.ndim == 3:
            images = images[None]
        if images.dtype != np.uint8 or images.ndim != 4:
            raise DataError(f"translate takes uint8 [N, H, W, C] images, got {images.dtype} "
                            f"{list(images.shape)}")
        return [torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1) for x in images]
    if isinstance(images, (list, tuple)):
        return [t for x in images for t in as_image_list(np.asarray(x) if not isinstance(x, torch.Tensor) else x)]
    raise DataError(f"translate takes uint8 images, got {type(images).__name__}")


NET_OF_TASK = {"pix2pix": "unet", "colorize": "unet", "cyclegan": "cyclegan"}


def prepare_config(cfg: RunConfig) -> RunConfig:
    """Defaults and checks of a translation config: crop size and width (sized to the data and the
    device where not given, and recorded), nets."""
    size, device = cfg.data.resolution, device_kind(cfg.train.device)
    if size is None and not cfg.options.named_dataset():
        size = default_size(cfg.task, short_side(cfg), MAX_SIZE[device])
    if cfg.task == "cyclegan":   # (two classes of a dataset keep the dataset's own size)
        if size is not None and (size % 4 or size < 16):
            raise ConfigError(f"--resolution: CycleGAN works on crops of 16 px or more, a "
                              f"multiple of 4; got {size}")
    else:
        try:
            unet_depth(size)
        except ValueError as e:
            raise ConfigError(f"--resolution: {e}") from None
    net = NET_OF_TASK[cfg.task]
    model = cfg.model.model if cfg.model.model != "dcgan" else net
    if model != net:
        raise ConfigError(f"--task {cfg.task} uses its own nets (--model {net}), not {model}")
    width = cfg.model.width or (CPU_WIDTH[cfg.task] if device == "cpu" else GPU_WIDTH)
    return cfg.replace(data=dataclasses.replace(cfg.data, resolution=size),
                       model=dataclasses.replace(cfg.model, model=net, width=width))


def device_kind(device: str) -> str:
    """"cpu" or "cuda": where a run with --device `device` trains."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return "cuda" if device.startswith("cuda") else "cpu"


def default_size(task: str, short: Optional[int], cap: int) -> int:
    """The crop size a translation task gets from images whose shorter side is `short` px: the
    images' own size (CycleGAN: a multiple of 4; the U-Net: a power of two, the next one up when
    that pads by at most a quarter, so 28-px images train at 32), at most `cap`. Colorization cuts
    its crops from photos resized to twice the crop, so it sizes from half the photos' side."""
    if short is None:   # nothing readable: the loader says why
        return cap
    if task == "colorize":
        short = max(short // 2, 16)
    if task == "cyclegan":
        return max(16, min(cap, short - short % 4))
    up = 1 << max(short - 1, 1).bit_length()   # the smallest power of two >= short
    return max(16, min(cap, up if up <= 1.25 * short else up // 2))


def short_side(cfg: RunConfig) -> Optional[int]:
    """The median shorter side (px) of up to PEEK of the task's images (side-by-side AB images:
    of one half), or None when none can be read."""
    root = Path(cfg.data.dataset)
    paired = cfg.task != "colorize" and (root / "A").is_dir()
    files = image_files(root / "A") if paired else (image_files(root) if root.is_dir() else [])
    return median_short_side(files, halves=cfg.task == "pix2pix" and not paired, peek=PEEK)


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


def translate_files(tr: Translator, inputs: Sequence[Path], output: Path,
                    overwrite: bool = False, direction: str = "AtoB") -> tuple[int, int]:
    """Translate image files (or folders of them, or .npz `images`) into `output/`, same names as
    PNG; returns (written, skipped unreadable)."""
    from ...outputs import refuse_overwrite
    from ...viz import save_png
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise ConfigError(f"--output {output} is a file; name a directory")
    jobs: list[tuple[str, Any]] = []
    for src in map(Path, inputs):
        if src.is_dir():
            jobs += [(f.relative_to(src).with_suffix(".png").as_posix(), f) for f in image_files(src)]
        elif src.suffix.lower() == ".npz":
            from ...evaluation import load_samples
            imgs = load_samples(src)
            jobs += [(f"{src.stem}-{i:06d}.png", img) for i, img in enumerate(imgs)]
        elif src.is_file():
            jobs.append((src.with_suffix(".png").name, src))
        else:
            raise DataError(f"{src}: no such file or folder")
    if not jobs:
        raise DataError("no images to translate")
    output.mkdir(parents=True, exist_ok=True)
    written = skipped = 0
    for name, src in jobs:
        target = output / name
        refuse_overwrite(target, overwrite)
        img = read_image(src) if isinstance(src, Path) else src
        if img is None:
            skipped += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        out = tr.translate(img, direction) if tr.config.task == "cyclegan" else tr.translate(img)
        save_png(out[0], target)
        written += 1
    if skipped:
        import warnings
        warnings.warn(f"skipped {skipped} unreadable image files", GanKitWarning)
    return written, skipped


__all__ = ["OPTIONS", "ImageTranslation", "Translator", "TranslationBase", "TranslationOptions",
           "TASKS", "load_task_run", "load_translation_run",
           "new_run", "translate_files"]
