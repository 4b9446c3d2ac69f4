"""How generated clips move, measured on their pixels against real clips: a clip that does not
move (a still picture repeated) or that flickers (independent frames) shows here whatever its
single frames look like.

- motion: the mean absolute change of a pixel from one frame to the next, [0, 1] units;
- accel: the mean absolute change of that change (second difference), [0, 1] units;
- motion_gap, accel_gap: |fake - real| / real of the two (0 = moves as the real clips do);
- frozen: the share of generated clips whose motion is under a tenth of the real clips' median
  (what a repeated frame gives); frozen_real is the same share among the real clips.

And what the clips show, in the features of shipped networks (`video_results`):

- frame_fid: the Fréchet distance between frames of the real and of the generated clips, in the
  MNIST classifier's features for moving digits (or the extractor the user names); at most
  FRAME_BUDGET frames a side, the same evenly spaced frames of every clip;
- fvd: an FVD-style Fréchet distance between clip features of the shipped clip network
  (gankit.metrics.video), which see the digits and how they move (moving digits only);
- identity: the share of a clip's frames whose digit set (the top-k digits of the network's frame
  head, k the digits of the clips) is the clip's most common one, averaged over clips;
  identity_real: the same for the real clips, its ceiling (moving digits only);
  identity_rigid: the identity the same digits would score if they stayed exactly as they are:
  each generated clip's first frame slid one pixel a frame (a seeded direction of eight, back and
  forth over SLIDE pixels). The frame head misreads a hard-to-read digit at some positions and
  not at others, so identity measures how legible the digits are as well as whether they stay;
  identity / identity_rigid is the part that is about staying.
"""
from __future__ import annotations

import warnings
from typing import Any, Optional

import torch

from ...errors import GanKitWarning

FROZEN = 0.1   # of the real clips' median motion
SLIDE = 3   # identity_rigid: pixels a first frame slides before it turns back
FRAME_BUDGET = 2000   # frames a side for frame_fid: about a second of the MNIST classifier on a CPU


def clip_motion(clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per clip [N]: mean |x[t+1] - x[t]| and mean |second difference|, in [0, 1] units."""
    x = (clips.float() + 1) / 2                                      # [N, T, C, H, W] in [0, 1]
    d1 = x[:, 1:] - x[:, :-1]
    d2 = d1[:, 1:] - d1[:, :-1] if x.shape[1] > 2 else torch.zeros_like(d1)
    return d1.abs().mean((1, 2, 3, 4)), d2.abs().mean((1, 2, 3, 4))


def temporal_scores(fake: torch.Tensor, real: torch.Tensor) -> dict[str, float]:
    """The scores above for clips fake and real [N, T, C, H, W] in [-1, 1]."""
    fm, fa = clip_motion(fake)
    rm, ra = clip_motion(real)
    still = FROZEN * float(rm.median())
    motion, accel = float(fm.mean()), float(fa.mean())
    real_motion, real_accel = float(rm.mean()), float(ra.mean())
    return {"motion": motion, "motion_real": real_motion,
            "motion_gap": abs(motion - real_motion) / max(real_motion, 1e-8),
            "accel": accel, "accel_real": real_accel,
            "accel_gap": abs(accel - real_accel) / max(real_accel, 1e-8),
            "frozen": float((fm < still).float().mean()),
            "frozen_real": float((rm < still).float().mean())}


def even_frames(clips: torch.Tensor, per_clip: int) -> torch.Tensor:
    """`per_clip` evenly spaced frames (first and last included) of each clip [N, T, C, H, W],
    as frames [N * per_clip, C, H, W]."""
    t = clips.shape[1]
    at = torch.linspace(0, t - 1, max(1, min(per_clip, t))).round().long()
    return clips[:, at].flatten(0, 1)


def frame_fid(fake: torch.Tensor, real: torch.Tensor, extractor: Any,
              budget: int = FRAME_BUDGET) -> tuple[float, dict]:
    """Fréchet distance between frames of clips [N, T, C, H, W] (fake) and [M, T, C, H, W] (real)
    in `extractor`'s features, with the frames used: the same evenly spaced frames of every clip,
    as many a clip as keep each side within `budget` frames."""
    from ...metrics.fid import fid
    per_clip = max(1, min(fake.shape[1], budget // max(len(fake), len(real))))
    f, r = even_frames(fake, per_clip), even_frames(real, per_clip)
    value = fid(extractor.features(r), extractor.features(f))
    return value, {"frames_per_clip": per_clip, "n_real_frames": len(r), "n_fake_frames": len(f)}


def slid(frames: torch.Tensor, t: int, seed: int = 0, reach: int = SLIDE) -> torch.Tensor:
    """Clips [N, t, C, H, W]: frames [N, C, H, W] each slid one pixel a frame in a seeded one of
    eight directions, turning back after `reach` pixels (so that a digit stays in the frame);
    what moves in from outside is black (-1). What the frames show is kept exactly."""
    n, c, h, w = frames.shape
    g = torch.Generator().manual_seed(seed)
    steps = torch.tensor([[dy, dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx])
    step = steps[torch.randint(len(steps), (n,), generator=g)]          # [N, 2]: (dy, dx)
    padded = torch.nn.functional.pad(frames, (reach,) * 4, value=-1.0)
    out = []
    for k in range(t):   # frame k reads the window d steps back along the direction
        d = min(k % (2 * reach), 2 * reach - k % (2 * reach))
        corner = (reach - step * d).tolist()
        out.append(torch.stack([padded[i, :, r:r + h, q:q + w]
                                for i, (r, q) in enumerate(corner)]))
    return torch.stack(out, 1)


def clip_scores(fake: torch.Tensor, real: torch.Tensor, extractor: Any,
                digits: int) -> dict[str, tuple[float, dict]]:
    """fvd, identity, identity_real and identity_rigid of clips fake [N, T, C, H, W] and real
    [M, T, C, H, W] (moving digits, `digits` a clip) in the clip network `extractor`'s outputs,
    each with its side results."""
    from ...metrics.fid import fid
    from ...metrics.video import ORDERS, frame_classes, identity
    out_f, out_r = extractor.outputs(fake), extractor.outputs(real)
    orders = extractor.heads(out_f.features)[1].argmax(1)   # what the order head calls each fake
    seen = {name: float((orders == i).double().mean()) for i, name in enumerate(ORDERS)}
    ident_f = identity(frame_classes(out_f.frame_probs, digits))   # [N]
    ident_r = identity(frame_classes(out_r.frame_probs, digits))
    rigid = extractor.outputs(slid(fake[:, 0], fake.shape[1])).frame_probs
    ident_s = identity(frame_classes(rigid, digits))
    return {"fvd": (fid(out_r.features, out_f.features), {"orders_seen": seen}),
            "identity": (float(ident_f.mean()), {"worst_clip": float(ident_f.min())}),
            "identity_real": (float(ident_r.mean()), {"worst_clip": float(ident_r.min())}),
            "identity_rigid": (float(ident_s.mean()), {"worst_clip": float(ident_s.min())})}


def video_results(fake: torch.Tensor, real: torch.Tensor, *, moving_digits: Optional[int],
                  extractor: Optional[str] = None, **proto: Any) -> dict:
    """Every score of generated clips `fake` [N, T, C, H, W] against real clips [M, T, C, H, W]
    (both in [-1, 1]) as MetricResults with their protocols (`proto`: reference, split, seed):
    the temporal scores on pixels; frame_fid in `extractor`'s features (by name; moving digits:
    the MNIST classifier); and, for moving digits (`moving_digits` digits a clip), fvd, identity
    and identity_real in the shipped clip network's. For the user's own clips without an
    extractor named, frame_fid is left out with a warning saying how to get it."""
    from ...metrics import MetricResult, load_extractor, protocol, task_results
    n = {"n_real": len(real), "n_fake": len(fake)}
    results = task_results(temporal_scores(fake, real), extractor="pixels", **n, **proto)
    name = extractor or ("mnist" if moving_digits else None)
    if name is None:
        warnings.warn("frame_fid needs a feature extractor of these clips' frames, and gankit "
                      "ships none for them: give one (--extractor mnist, fashion-mnist or "
                      "inception); fvd and identity are measured on moving-mnist only",
                      GanKitWarning, stacklevel=2)
    else:
        ext = load_extractor(name)
        value, extra = frame_fid(fake, real, ext)
        results["frame_fid"] = MetricResult("frame_fid", value, extra, protocol(
            "frame_fid", ext, extra["n_real_frames"], extra["n_fake_frames"], **proto,
            preprocessing=ext.input_note((len(fake), *fake.shape[2:]))))
    if moving_digits:
        results.update(_clip_results(fake, real, moving_digits, n, proto))
    return results


def _clip_results(fake: torch.Tensor, real: torch.Tensor, digits: int, n: dict,
                  proto: dict) -> dict:
    """fvd and the identities as MetricResults; none (a warning) for clips too short."""
    from ...metrics import MetricResult, protocol
    from ...metrics.video import MIN_FRAMES, load_video_extractor
    if fake.shape[1] < MIN_FRAMES:
        warnings.warn(f"fvd and identity need clips of at least {MIN_FRAMES} frames; these have "
                      f"{fake.shape[1]}", GanKitWarning, stacklevel=3)
        return {}
    ext = load_video_extractor("moving-mnist")
    more = {**proto, "digits": digits, "preprocessing": ext.input_note(tuple(fake.shape))}
    return {k: MetricResult(k, v, extra, protocol(k, ext, n["n_real"], n["n_fake"], **more))
            for k, (v, extra) in clip_scores(fake, real, ext, digits).items()}


__all__ = ["clip_motion", "clip_scores", "even_frames", "frame_fid", "slid", "temporal_scores",
           "video_results"]
