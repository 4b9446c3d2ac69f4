"""Unpaired translation and style transfer with CycleGAN (Zhu et al. 2017).

Two generators (A -> B and B -> A: ResNet blocks between two stride-2 down- and up-samplings) and
two PatchGAN discriminators, least-squares adversarial losses, a cycle-consistency loss (A -> B ->
A should give A back, lambda 10) and an identity loss (G_AB on a B image should leave it alone,
0.5 lambda), D trained on a history of 50 generated images rather than only the newest, and the
learning rate decaying linearly to zero over the second half of training (when the run has a
--steps total).

Domains: a folder with unpaired `A/` and `B/` images, or two classes of a labeled dataset
(`--dataset fashion-mnist --domains 7,9`: sneakers <-> ankle boots).
"""
from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Optional, Union

import numpy as np
import torch
from torch import nn

from ...config import RunConfig, option
from ...errors import ConfigError, DataError
from ...nets.cyclegan import ResNetTranslator
from ...nets.unet import PatchDiscriminator
from ...objectives import get_objective
from ...run import Run
from ...train.optim import adam_for
from ...train.state import load_task_state, task_state
from ...train.trainer import Phase
from ...viz import from_uint8
from ...data.images import fit_short_side, read_image
from ..translate.facade import (LEGACY_WIDTH, ImageTranslation, TranslationBase, as_image_list, image_files,
                        load_translation_run, random_crops, run_padded)

POOL = 50

@dataclass(frozen=True)
class CycleGANOptions(TranslationBase):
    """CycleGAN's own options (`gankit train --task cyclegan --help` lists them)."""

    UNUSED: ClassVar[frozenset[str]] = TranslationBase.UNUSED - {"channels"}
    domains: str = option("", "on a labeled dataset: the classes A,B that are the two domains "
                          "(e.g. 7,9)")
    cycle_weight: float = option(10.0, "weight of the cycle-consistency loss (lambda)", low=0.0)
    identity_weight: float = option(0.5, "weight of the identity loss, times lambda (0 = off)",
                                    low=0.0)

    def named_dataset(self) -> bool:
        return bool(self.domains)

    @classmethod
    def defaults(cls, given: dict[str, Any]) -> dict[str, Any]:
        """Least squares (CycleGAN's) and batch 16 (more, smaller steps per CPU-minute; measured
        in bench/cyclegan.py)."""
        return {**TranslationBase.defaults(given), "model": "cyclegan", "loss": "lsgan"}


OPTIONS = {"cyclegan": CycleGANOptions}


class HistoryPool:
    """Up to `size` past generated images. Each new image goes in; half the time (once full) D
    sees an old one in its place, so D does not chase only G's latest mistakes (Shrivastava et al.
    2017). Its content and generator are saved with the run."""

    def __init__(self, size: int, generator: torch.Generator):
        self.size, self.gen = size, generator
        self.images: Optional[torch.Tensor] = None   # [n, C, H, W]

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return batch
        out = []
        for img in batch.detach():
            n = 0 if self.images is None else len(self.images)
            if n < self.size:
                self.images = img[None].clone() if self.images is None else \
                    torch.cat([self.images, img[None]])
                out.append(img)
            elif float(torch.rand((), generator=self.gen)) < 0.5:
                k = int(torch.randint(n, (), generator=self.gen))
                out.append(self.images[k].clone())
                self.images[k] = img
            else:
                out.append(img)
        return torch.stack(out)


class CycleTask:
    def __init__(self, nets: dict[str, nn.Module], cfg: RunConfig, device: torch.device):
        t, lc = cfg.train, cfg.loss
        self.cfg, self.device = cfg, device
        self.nets = {k: v.to(device) for k, v in nets.items()}
        self.G_AB, self.G_BA = self.nets["G_AB"], self.nets["G_BA"]
        self.G = self.G_AB   # what Translator.translate uses (A -> B)
        self.D_A, self.D_B = self.nets["D_A"], self.nets["D_B"]
        # one Adam per net (Adam is per parameter, so this equals one over both G's, and lets the
        # trainer switch gradients per net)
        self.optimizers = adam_for(self.nets, t)
        self.base_lr = {name: opt.param_groups[0]["lr"] for name, opt in self.optimizers.items()}
        self.objective = get_objective(lc.loss)
        if self.objective.needs_penalty:
            raise ConfigError(f"--loss {lc.loss} needs a gradient penalty, which CycleGAN does not "
                              f"have: use lsgan (its default), ns or hinge")
        self.generators = {"pool": torch.Generator().manual_seed(t.seed * 2 + 1)}
        self.pools = {"A": HistoryPool(POOL, self.generators["pool"]),
                      "B": HistoryPool(POOL, self.generators["pool"])}
        self.phases = [Phase("G", ("G_AB", "G_BA"), self.g_loss),
                       Phase("D", ("D_A", "D_B"), self.d_loss)]
        self._fakes: Optional[tuple[torch.Tensor, torch.Tensor]] = None
        self.world = 1

    def g_loss(self, batch: tuple[torch.Tensor, torch.Tensor]):  # noqa: ANN201
        a, b = batch
        lam = self.cfg.options.cycle_weight
        fake_b, fake_a = self.G_AB(a), self.G_BA(b)
        adv = (self.objective.g_loss(self.D_B(fake_b).float())
               + self.objective.g_loss(self.D_A(fake_a).float()))
        cycle = (self.G_BA(fake_b) - a).abs().mean() + (self.G_AB(fake_a) - b).abs().mean()
        loss = adv + lam * cycle
        stats = {"g_loss": loss, "g_adv": adv, "cycle": cycle}
        if self.cfg.options.identity_weight > 0 and a.shape[1] == b.shape[1]:
            ident = (self.G_AB(b) - b).abs().mean() + (self.G_BA(a) - a).abs().mean()
            loss = loss + self.cfg.options.identity_weight * lam * ident
            stats["identity"] = ident
        self._fakes = (fake_a.detach(), fake_b.detach())
        return loss, stats

    def d_loss(self, batch: tuple[torch.Tensor, torch.Tensor]):  # noqa: ANN201
        a, b = batch
        fake_a, fake_b = self._fakes
        self._fakes = None
        fake_a, fake_b = self.pools["A"](fake_a), self.pools["B"](fake_b)
        ra, fa = self.D_A(a).float(), self.D_A(fake_a).float()
        rb, fb = self.D_B(b).float(), self.D_B(fake_b).float()
        # halved, as in the paper: D learns more slowly than G
        loss = 0.5 * (self.objective.d_loss(ra, fa) + self.objective.d_loss(rb, fb))
        return loss, {"d_loss": loss, "d_real": torch.sigmoid(torch.cat([ra, rb])).mean(),
                      "d_fake": torch.sigmoid(torch.cat([fa, fb])).mean()}

    def end_step(self, step: int, nimg: int) -> None:
        """Linear decay to zero over the second half of --steps (a function of the step, so a
        resumed run follows the same schedule)."""
        total = self.cfg.train.steps
        if not total:
            return
        frac = min(1.0, max(0.0, (total - step) / (total / 2)))
        for name, opt in self.optimizers.items():
            for group in opt.param_groups:
                group["lr"] = self.base_lr[name] * frac

    def translate(self, x: torch.Tensor, net: Optional[nn.Module] = None) -> torch.Tensor:
        return run_padded(net or self.G_AB, x, self.device)

    def state(self):  # noqa: ANN201
        tensors, meta = task_state(self)
        tensors["pools"] = {k: p.images for k, p in self.pools.items() if p.images is not None}
        return tensors, meta

    def load(self, tensors: dict, meta: dict, weights_only: bool = False) -> None:
        load_task_state(self, tensors, meta, weights_only)
        if weights_only:
            return
        for name, pool in self.pools.items():
            got = tensors.get("pools", {}).get(name)
            pool.images = got.to(self.device) if got is not None else None
        self.end_step(int(meta.get("step", 0)), 0)   # the schedule's learning rate at this step


class UnpairedSampler:
    """A batch of A crops and an independent batch of B crops (random crop, random flip)."""

    def __init__(self, a: list, b: list, size: int, batch_size: int, generator: torch.Generator,
                 device: torch.device):
        self.a, self.b, self.size, self.batch_size = a, b, size, batch_size
        self.gen, self.device, self.world = generator, device, 1

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def _batch(self, pics: list) -> torch.Tensor:
        crops = random_crops(pics, self.size, self.batch_size, self.gen)
        return from_uint8(torch.stack([c[0] for c in crops])).to(self.device)

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._batch(self.a), self._batch(self.b)

    def state(self):  # noqa: ANN201
        return {"sampler": self.gen.get_state()}, {}

    def load(self, tensors: dict, meta: dict) -> None:
        self.gen.set_state(tensors["sampler"])


@dataclasses.dataclass
class Domains:
    train: tuple[list, list]
    held: tuple[list, list]
    note: str


def load_domains(cfg: RunConfig) -> Domains:
    """A/ and B/ image folders (any sizes, resized so the shorter side is ~1.125 x the crop), or two
    classes of a labeled dataset (`--domains KA,KB`)."""
    size, source = cfg.data.resolution, cfg.data.dataset
    if cfg.options.domains:
        from ...data import load_dataset
        try:
            ka, kb = (int(k) for k in cfg.options.domains.split(","))
        except ValueError:
            raise ConfigError(f"--domains takes two class numbers A,B (e.g. 7,9), got "
                              f"{cfg.options.domains!r}") from None
        parts = {}
        for split in ("train", "test"):
            try:
                d = load_dataset(source, split, resolution=size, channels=cfg.data.channels)
            except DataError:
                if split == "train":
                    raise
                parts[split] = ([], [])
                continue
            if d.labels is None:
                raise DataError(f"--domains needs a labeled dataset; {source} has no labels")
            sides = []
            for k in (ka, kb):
                if not 0 <= k <= int(d.labels.max()):
                    raise ConfigError(f"--domains: class {k} is not in {source} (classes 0 to "
                                      f"{int(d.labels.max())})")
                sides.append(list(d.images[d.labels == k]))
            parts[split] = tuple(sides)
        names = (f"class {ka}", f"class {kb}")
        if hasattr(d, "classes") and d.classes:
            names = (d.classes[ka], d.classes[kb])
        note = (f"domains of {source}: A = {names[0]} ({len(parts['train'][0])}), B = {names[1]} "
                f"({len(parts['train'][1])})")
        return Domains(parts["train"], parts["test"], note)
    root = Path(source)
    if not (root / "A").is_dir() or not (root / "B").is_dir():
        raise DataError(f"{root}: CycleGAN needs a folder with A/ and B/ subfolders (unpaired "
                        f"images), or a labeled dataset with --domains A,B")
    load = max(size, round(size * 1.125))   # crops jitter over an eighth of the picture
    sides, held, bad = [], [], 0
    for side in ("A", "B"):
        files = image_files(root / side)
        imgs = []
        for f in files:
            img = read_image(f)
            if img is None:
                bad += 1
            else:
                # downscaled to `load`; never upscaled beyond the crop (28-px images train at 28)
                imgs.append(fit_short_side(img, max(size, min(load, min(img.shape[1:])))))
        if not imgs:
            raise DataError(f"{root / side}: no readable images")
        c = max(i.shape[0] for i in imgs)
        imgs = [i.expand(c, -1, -1).contiguous() for i in imgs]
        cut = len(imgs) // 10 if len(imgs) >= 10 else 0
        sides.append(imgs[cut:])
        held.append(imgs[:cut])
    note = (f"A: {len(sides[0])} images, B: {len(sides[1])} images from {root}"
            + (f"; skipped {bad} unreadable" if bad else ""))
    return Domains((sides[0], sides[1]), (held[0], held[1]), note)


class CycleGAN(ImageTranslation):
    """Unpaired A <-> B: `CycleGAN("horses_zebras/").fit(steps=...)`, `translate(images,
    direction="AtoB"|"BtoA")`."""

    TASKS_HERE = ("cyclegan",)
    SCORED = "pictures against their round trip (A -> B -> A, B -> A -> B)"

    @staticmethod
    def load_pictures(cfg: RunConfig) -> Domains:
        pics = load_domains(cfg)
        print(pics.note, file=sys.stderr)
        return pics

    @staticmethod
    def shapes(cfg: RunConfig, pictures: Domains) -> tuple[int, ...]:
        a, b = pictures.train
        size = cfg.data.resolution or min(a[0].shape[-1], a[0].shape[-2])   # --domains: native size
        return (a[0].shape[0], b[0].shape[0], size)

    @classmethod
    def make_run(cls, cfg: RunConfig, *, out: Union[str, Path, None] = None,
                 run_dir: Optional[Path] = None) -> Run:
        """Two ResNet translators and two PatchGAN critics from the seed, task, device."""
        c_a, c_b, size = cfg.data_shape
        width = cfg.model.width or LEGACY_WIDTH
        torch.manual_seed(cfg.train.seed)
        n_layers = 3 if size >= 32 else 2
        nets = {"G_AB": ResNetTranslator(c_a, c_b, width), "G_BA": ResNetTranslator(c_b, c_a, width),
                "D_A": PatchDiscriminator(c_a, width, n_layers), "D_B": PatchDiscriminator(c_b, width, n_layers)}
        return Run.for_task(cfg, lambda device: CycleTask(nets, cfg, device),
                            one_process="translation", out=out, run_dir=run_dir)

    def _sampler(self) -> UnpairedSampler:
        t = self.config.train
        a, b = self.pictures.train
        return UnpairedSampler(a, b, self.config.data_shape[2], t.batch_size,
                               torch.Generator().manual_seed(t.seed * 2), self.device)

    def _epoch_steps(self, epochs: float) -> int:
        n = max(len(side) for side in self.pictures.train)
        return max(int(np.ceil(epochs * n / self.config.train.batch_size)), 1)

    def _examples(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Centre crops of up to 4 held-out (else training) images of each domain."""
        s = self.config.data_shape[2]
        out = []
        for k in (0, 1):
            pics = self.pictures.held[k] or self.pictures.train[k]
            crops = []
            for img in pics[:4]:
                h, w = img.shape[1:]
                top, left = (h - s) // 2, (w - s) // 2
                crops.append(img[:, top:top + s, left:left + s])
            out.append(from_uint8(torch.stack(crops)))
        return out[0], out[1]

    def triptych(self) -> torch.Tensor:
        """Rows: A | A->B | A->B->A, then B | B->A | B->A->B."""
        a, b = self._examples()
        t = self.task
        ab = t.translate(a, net=t.G_AB)
        aba = t.translate(ab, net=t.G_BA)
        ba = t.translate(b, net=t.G_BA)
        bab = t.translate(ba, net=t.G_AB)
        c = max(a.shape[1], b.shape[1])
        rows = [torch.stack([x.expand(-1, c, -1, -1) for x in trio], 1)
                for trio in ((a, ab, aba), (b, ba, bab))]
        return torch.cat(rows).reshape(-1, c, *a.shape[-2:])

    def translate(self, images: Any, direction: str = "AtoB") -> np.ndarray:
        from ...viz import to_uint8
        if direction not in ("AtoB", "BtoA"):
            raise ConfigError(f"direction must be AtoB or BtoA, got {direction!r}")
        net = self.task.G_AB if direction == "AtoB" else self.task.G_BA
        want = self.config.data_shape[0 if direction == "AtoB" else 1]
        outs = []
        for img in as_image_list(images):
            x = from_uint8(img[None])
            if x.shape[1] != want:
                if x.shape[1] == 1:
                    x = x.expand(-1, want, -1, -1)
                else:
                    raise DataError(f"an input image has {x.shape[1]} channels; this direction "
                                    f"takes {want}")
            outs.append(to_uint8(self.task.translate(x, net=net))[0])
        return np.stack(outs) if len({o.shape for o in outs}) == 1 else outs

    def evaluate(self, pictures: Optional[Any] = None) -> dict[str, float]:
        """Cycle error (mean absolute, [-1, 1] scale) on held-out (else training) images."""
        a, b = (pictures or self.pictures.held)
        if not len(a) or not len(b):
            a, b = self.pictures.train
        t = self.task
        xa, xb = (from_uint8(torch.stack(list(side[:200]))) for side in (a, b))
        aba = t.translate(t.translate(xa, net=t.G_AB), net=t.G_BA)
        bab = t.translate(t.translate(xb, net=t.G_BA), net=t.G_AB)
        return {"l1": float(((aba - xa).abs().mean() + (bab - xb).abs().mean()) / 2),
                "cycle_a": float((aba - xa).abs().mean()), "cycle_b": float((bab - xb).abs().mean())}


def new_run(task: str, cfg: RunConfig, out: Optional[Path] = None) -> CycleGAN:
    """A new CycleGAN run (the CLI's `gankit train --task cyclegan`)."""
    return CycleGAN(cfg.data.dataset, task, config=cfg, out=out)


def load_task_run(run_dir: Path, cfg: RunConfig, device: str, weights_only: bool) -> CycleGAN:
    """Rebuild a CycleGAN run (see api.load_run)."""
    return load_translation_run(CycleGAN, run_dir, cfg, device, weights_only)
