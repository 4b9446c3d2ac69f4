"""Does the generator copy its training set? Nearest training images of generated samples, judged
against how near held-out real images come to the training set.

Distances are taken in the feature space of the dataset's shipped classifier when there is one (so
"near" means "looks alike" rather than "same pixels"), else in pixel space at 16 px. The reference
is the held-out (test) split; without one, each of a subset of training images against the rest
of the training set (leave-one-out).

The flag: a share of generated samples nearer to a training image than almost every held-out real
image is (closer than the 1st percentile of the held-out distances) that is many times the 1%
expected of samples drawn like fresh data.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError, GanKitError
from ..metrics.prdc import close_share, nearest
from ..viz import from_uint8

N_FAKE = 1000
N_REFERENCE = 1000


@dataclass
class Memorization:
    flagged: bool
    share_close: float          # generated samples closer than the reference's 1% quantile
    threshold: float            # that quantile
    fake_dist: np.ndarray       # [n_fake] distance of each sample to its nearest training image
    ref_dist: np.ndarray        # [n_ref] the same for held-out real images
    ref_label: str
    space: str                  # "classifier features (mnist)" or "pixels at 16 px"
    n_train: int
    pairs: list[tuple[np.ndarray, np.ndarray, float]]   # (sample, nearest training image, dist)

    def summary(self) -> dict[str, Any]:
        return {"flagged": self.flagged, "share_close": self.share_close,
                "threshold": self.threshold, "space": self.space, "n_train": self.n_train,
                "median_fake": float(np.median(self.fake_dist)),
                "median_reference": float(np.median(self.ref_dist)),
                "reference": self.ref_label}


def _pixels(x: torch.Tensor) -> torch.Tensor:
    """Images (uint8 or [-1, 1]) -> [N, C*16*16] pixel features in [-1, 1]."""
    x = from_uint8(x)
    if x.shape[-1] > 16:
        x = F.adaptive_avg_pool2d(x, 16)
    return x.reshape(len(x), -1)


def check_memorization(fake: torch.Tensor, load_split: Callable[[str], torch.Tensor],
                       extractor: Optional[Any], n_pairs: int = 8, seed: int = 0,
                       split_features: Optional[Callable[[str], torch.Tensor]] = None
                       ) -> Memorization:
    """fake: generated images [N, C, H, W] in [-1, 1]; load_split(split) -> uint8 images of the
    run's data ("train", "test"); extractor: a gankit Extractor, or None for pixel space;
    split_features(split): the extractor's features of those images, when they are at hand (the
    metrics' cache) rather than to be computed here."""
    train = load_split("train")
    try:
        held: Optional[torch.Tensor] = load_split("test")
    except (DataError, GanKitError):
        held = None
    embed = (lambda x: extractor.features(x)) if extractor is not None else _pixels
    space = (f"classifier features ({extractor.name})" if extractor is not None
             else "pixels at 16 px")

    def features(split: str, images: torch.Tensor) -> torch.Tensor:
        return (split_features(split) if split_features is not None else embed(images)).float()

    f_train = features("train", train)
    f_fake = embed(fake).float()
    g = torch.Generator().manual_seed(seed)
    if held is not None and len(held):
        pick = torch.randperm(len(held), generator=g)[:N_REFERENCE]
        ref_dist, _ = nearest(features("test", held)[pick], f_train)
        ref_label = "held-out real images (test split)"
    else:   # leave-one-out: the first images of a shuffled training set against all the others
        perm = torch.randperm(len(train), generator=g)
        f_train, train = f_train[perm], train[perm]
        ref_dist, _ = nearest(f_train[:N_REFERENCE], f_train, skip_self=True)
        ref_label = "training images (each vs the rest; no held-out split)"
    fake_dist, fake_idx = nearest(f_fake, f_train)
    share, threshold, flagged = close_share(fake_dist, ref_dist)
    order = torch.argsort(fake_dist)[:n_pairs]   # the closest samples: where copies would show
    from ..data.images import convert_channels, resize_square
    from ..viz import to_uint8

    def as_sample(img: torch.Tensor) -> np.ndarray:   # a training image shown at the samples' size
        img = convert_channels(resize_square(img[None], fake.shape[-1]), fake.shape[1])[0]
        return img.permute(1, 2, 0).numpy()

    pairs = [(to_uint8(fake[i:i + 1])[0], as_sample(train[fake_idx[i]]), float(fake_dist[i]))
             for i in order.tolist()]
    return Memorization(flagged, share, threshold, fake_dist.numpy(),
                        ref_dist.numpy(), ref_label, space, len(train), pairs)
