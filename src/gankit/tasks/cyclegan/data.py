"""CycleGAN's pictures: A/ and B/ folders of unpaired images, or two classes of a labeled dataset
(`--domains KA,KB`), and the sampler drawing an independent batch of crops from each."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from ...config import RunConfig
from ...data.images import fit_short_side, image_files, read_image
from ...errors import ConfigError, DataError
from ...viz import from_uint8
from ..translate.data import random_crops


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
