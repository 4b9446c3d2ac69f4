"""Is a run healthy? Checks over the numbers a run logs, shared by the live guard during training
(`train/callbacks.py: HealthGuard`) and by `gankit report`.

Each check reads only what the run itself measured (metrics.jsonl records), so a warning can always
point at the step and the numbers behind it:

- divergence: a non-finite loss; or a discriminator that wins outright (D(x) > 0.99 on real and
  D(G(z)) < 0.01 on fake images) for WIN_RECORDS log records in a row, after which G gets almost no
  gradient from the saturating losses and rarely recovers;
- mode collapse: the spread of samples from fixed noise (`diversity`: their mean pairwise distance
  relative to that of real images, logged with the losses) falling to under half of its best and of
  the real data's; or the classes the shipped classifier finds in the samples (`classes`, from
  --eval-every) falling by two or more;
- an overfitting D: its loss on held-out real images rising above its loss on training images
  (`dloss_gap`, from --eval-every with the dloss metric) by more than OVERFIT_GAP nats, and growing.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Optional

import torch

WIN_RECORDS = 10           # log records in a row with D winning outright
WIN_REAL, WIN_FAKE = 0.99, 0.01
COLLAPSE_RATIO = 0.5       # diversity below half its best and half the real data's
COLLAPSE_RECORDS = 3       # ... for this many records in a row
COVERAGE_DROP = 2          # classes lost from the best evaluation
OVERFIT_GAP = 0.5          # nats of held-out minus train real loss
COUNTERS = ("step", "elapsed", "nimg")
# Objectives whose D outputs are not probabilities after a sigmoid: no "D wins" reading.
UNBOUNDED = ("wgan-gp", "wgan")


@dataclass(frozen=True)
class Finding:
    kind: str       # "divergence", "collapse", "overfit" or "memorization"
    step: int       # the first step at which the run's numbers show it
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


def _bad_values(r: dict) -> list[str]:
    return [k for k, v in r.items() if k not in COUNTERS and isinstance(v, float)
            and not math.isfinite(v)]


def _d_winning(r: dict) -> bool:
    return "d_real" in r and r["d_real"] > WIN_REAL and r["d_fake"] < WIN_FAKE


def suspect(record: dict, loss: str = "ns") -> bool:
    """One training record that already looks like divergence (non-finite, or D winning)."""
    return bool(_bad_values(record)) or (loss not in UNBOUNDED and _d_winning(record))


def _nonfinite(records: list[dict]) -> Optional[Finding]:
    for r in records:
        bad = _bad_values(r)
        if bad:
            return Finding("divergence", r["step"], f"diverged: {bad[0]} is {r[bad[0]]} at step "
                           f"{r['step']}")
    return None


def _d_wins(records: list[dict]) -> Optional[Finding]:
    run, first = 0, None
    for r in records:
        if "d_real" not in r:
            continue
        if _d_winning(r):
            run += 1
            first = r["step"] if run == 1 else first
            if run >= WIN_RECORDS:
                return Finding("divergence", first, f"diverged: the discriminator wins outright "
                               f"since step {first} (D(real) {r['d_real']:.3f}, D(fake) "
                               f"{r['d_fake']:.3f} for {run} log records): G gets no useful "
                               f"gradient")
        else:
            run = 0
    return None


def _diversity_falls(records: list[dict]) -> Optional[Finding]:
    best, low, first = 0.0, 0, None
    for r in records:
        d = r.get("diversity")
        if d is None or not math.isfinite(d):
            continue
        if d < COLLAPSE_RATIO * best and d < COLLAPSE_RATIO:
            low += 1
            first = r["step"] if low == 1 else first
            if low >= COLLAPSE_RECORDS:
                return Finding("collapse", first, f"mode collapse: sample diversity fell to "
                               f"{d:.2f} of the real data's (best {best:.2f}) since step {first}")
        else:
            low = 0
        best = max(best, d)
    return None


def _coverage_falls(records: list[dict]) -> Optional[Finding]:
    best = None
    for r in records:
        c = r.get("classes")
        if c is None:
            continue
        if best is not None and c <= best - COVERAGE_DROP:
            return Finding("collapse", r["step"], f"mode collapse: the samples cover {c:g} "
                           f"classes at step {r['step']}, down from {best:g}")
        best = c if best is None else max(best, c)
    return None


def _d_overfits(records: list[dict]) -> Optional[Finding]:
    gaps = [(r["step"], r["dloss_gap"]) for r in records if "dloss_gap" in r]
    if len(gaps) < 2:
        return None
    (_, first), (step, last) = gaps[0], gaps[-1]
    if last > OVERFIT_GAP and last > first + 0.5 * OVERFIT_GAP:
        return Finding("overfit", step, f"D overfits: its loss on held-out real images exceeds "
                       f"that on training images by {last:.2f} nats at step {step} (was "
                       f"{first:.2f}); more data or augmentation (--augment) helps")
    return None


def check(records: Iterable[dict], loss: str = "ns") -> list[Finding]:
    """Every problem the records show (at most one per check), in step order."""
    records = [r for r in records if "step" in r]
    checks = [_nonfinite, _diversity_falls, _coverage_falls, _d_overfits]
    if loss not in UNBOUNDED:
        checks.insert(1, _d_wins)
    found = [f for f in (c(records) for c in checks) if f is not None]
    return sorted(found, key=lambda f: f.step)


def diversity(fake: torch.Tensor, real_spread: float) -> float:
    """Mean pairwise L2 distance of the samples [N, ...] over that of real data (`real_spread`,
    from `spread`): about 1 for a generator that covers the data, near 0 for one that collapsed."""
    return spread(fake) / max(real_spread, 1e-12)


def spread(x: torch.Tensor) -> float:
    """Mean pairwise L2 distance between the rows of x [N, ...] (N >= 2)."""
    flat = x.reshape(len(x), -1).float()
    d = torch.cdist(flat, flat)
    n = len(flat)
    return float(d.sum() / (n * (n - 1)))
