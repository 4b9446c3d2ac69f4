"""How generated clips move, measured on their pixels against real clips: a clip that does not
move (a still picture repeated) or that flickers (independent frames) shows here whatever its
single frames look like.

- motion: the mean absolute change of a pixel from one frame to the next, [0, 1] units;
- accel: the mean absolute change of that change (second difference), [0, 1] units;
- motion_gap, accel_gap: |fake - real| / real of the two (0 = moves as the real clips do);
- frozen: the share of generated clips whose motion is under a tenth of the real clips' median
  (what a repeated frame gives); frozen_real is the same share among the real clips.
"""
from __future__ import annotations

import torch

FROZEN = 0.1   # of the real clips' median motion


def _motion(clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per clip [N]: mean |x[t+1] - x[t]| and mean |second difference|, in [0, 1] units."""
    x = (clips.float() + 1) / 2                                      # [N, T, C, H, W] in [0, 1]
    d1 = x[:, 1:] - x[:, :-1]
    d2 = d1[:, 1:] - d1[:, :-1] if x.shape[1] > 2 else torch.zeros_like(d1)
    return d1.abs().mean((1, 2, 3, 4)), d2.abs().mean((1, 2, 3, 4))


def temporal_scores(fake: torch.Tensor, real: torch.Tensor) -> dict[str, float]:
    """The scores above for clips fake and real [N, T, C, H, W] in [-1, 1]."""
    fm, fa = _motion(fake)
    rm, ra = _motion(real)
    still = FROZEN * float(rm.median())
    motion, accel = float(fm.mean()), float(fa.mean())
    real_motion, real_accel = float(rm.mean()), float(ra.mean())
    return {"motion": motion, "motion_real": real_motion,
            "motion_gap": abs(motion - real_motion) / max(real_motion, 1e-8),
            "accel": accel, "accel_real": real_accel,
            "accel_gap": abs(accel - real_accel) / max(real_accel, 1e-8),
            "frozen": float((fm < still).float().mean()),
            "frozen_real": float((rm < still).float().mean())}


__all__ = ["temporal_scores"]
