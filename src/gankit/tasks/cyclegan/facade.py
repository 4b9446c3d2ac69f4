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

import warnings
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch

from ...compat import LEGACY_TRANSLATION_WIDTH as LEGACY_WIDTH
from ...config import RunConfig
from ...errors import ConfigError, DataError, GanKitWarning
from ...nets.cyclegan import ResNetTranslator
from ...nets.unet import PatchDiscriminator
from ...run import Run
from ...viz import from_uint8
from ..translate.facade import ImageTranslation, load_translation_run
from ..translate.files import as_image_list
from .data import Domains, UnpairedSampler, load_domains
from .task import CycleTask


class CycleGAN(ImageTranslation):
    """Unpaired A <-> B: `CycleGAN("horses_zebras/").fit(steps=...)`, `translate(images,
    direction="AtoB"|"BtoA")`."""

    TASKS_HERE = ("cyclegan",)
    SCORED = "pictures against their round trip (A -> B -> A, B -> A -> B)"

    @staticmethod
    def load_pictures(cfg: RunConfig) -> Domains:
        pics = load_domains(cfg)
        warnings.warn(pics.note, GanKitWarning)
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


__all__ = ["CycleGAN", "load_task_run", "new_run"]
