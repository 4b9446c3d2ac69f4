"""A pre-flight check of a user's own generator and discriminator: one forward and backward pass
on a small batch of the data, then one line each, with the fix, for the mistakes that beginner
articles teach (a sigmoid before a logits loss, flat outputs for images, no tanh, ...).

    findings = gankit.check(G, D, "mnist")          # [] when nothing is wrong
    for f in findings: print(f.level, f.message)

`GAN(generator=G, discriminator=D, ...)` runs it on copies of the nets (theirs are untouched):
an error (training cannot work) is raised as NetCheckError, a warning (it can, but badly) is
warned as a GanKitWarning.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import ConfigError

BATCH = 16
SEPARATED = 0.99   # D's mean probability on real (and 1 - on fake) that means "already perfect"


class NetCheckError(ConfigError):
    """The user's nets cannot train as given (see `findings`)."""

    def __init__(self, findings: list[Finding]):
        errors = [f.message for f in findings if f.level == "error"]
        super().__init__(errors[0] + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""))
        self.findings = findings


@dataclass(frozen=True)
class Finding:
    level: str     # "error": training cannot work; "warning": it can, but badly
    message: str   # one line: what is wrong and how to fix it


def check(generator: nn.Module, discriminator: nn.Module, dataset: Any = "mnist", *,
          z_dim: Optional[int] = None, loss: str = "ns", labels: Any = None) -> list[Finding]:
    """Check G and D (copies) against a batch of `dataset` (a name, path, array or tensor, as
    GAN takes). `labels`: class labels for a conditional pair, called as G(z, y) and D(x, y)."""
    from ...config import DataConfig
    from ...data.training import load_training_data
    from ...viz import from_uint8
    x, data_labels, _ = load_training_data(dataset, DataConfig())
    real = from_uint8(x[:BATCH])
    y = labels if labels is not None else (data_labels[:BATCH] if data_labels is not None
                                           and _takes_labels(generator) else None)
    return check_batch(generator, discriminator, real, y, z_dim=z_dim, loss=loss)


def check_batch(generator: nn.Module, discriminator: nn.Module, real: torch.Tensor,
                y: Optional[torch.Tensor] = None, *, z_dim: Optional[int] = None,
                loss: str = "ns") -> list[Finding]:
    """The check on a batch of real samples [B, ...] as the nets see them (floats)."""
    G, D = copy.deepcopy(generator).train(), copy.deepcopy(discriminator).train()
    device = next((p.device for p in G.parameters()), torch.device("cpu"))
    real = real.to(device)   # the nets' device (a user's G may sit on a GPU already)
    y = y.to(device) if y is not None else None
    out: list[Finding] = []
    z_dim = z_dim or getattr(generator, "z_dim", None)
    if not isinstance(z_dim, int) or z_dim < 1:
        return [Finding("error", "G has no z_dim: set G.z_dim = N (the size of the noise it "
                        "takes, [batch, N]) or pass z_dim=N")]
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)   # the same noise every check; the caller's RNG state comes back
        fake = _call(G, torch.randn(len(real), z_dim, device=device), y, "G", out)
        if fake is None:
            return out
        out += _shape_and_range(fake.detach(), real)
        if any(f.level == "error" for f in out):
            return out
        out += _critic(D, real, fake, y, loss)
        if not any(f.level == "error" for f in out):
            out += _gradients(G, D, real, y, z_dim)
    return out


def _takes_labels(G: nn.Module) -> bool:
    import inspect
    try:
        return len(inspect.signature(G.forward).parameters) >= 2
    except (TypeError, ValueError):
        return False


def _call(net: nn.Module, x: torch.Tensor, y: Optional[torch.Tensor], name: str,
          out: list[Finding]) -> Optional[torch.Tensor]:
    try:
        result = net(x) if y is None else net(x, y)
    except Exception as e:  # noqa: BLE001 - the user's code: any failure is one line
        shape = list(x.shape)
        hint = " (does it take noise of z_dim, G.z_dim or z_dim=?)" if name == "G" else ""
        out.append(Finding("error", f"{name} fails on a batch of shape {shape}{hint}: "
                           f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"))
        return None
    if isinstance(result, tuple):   # an AC-GAN critic: (logits, class logits)
        result = result[0]
    if not isinstance(result, torch.Tensor):
        out.append(Finding("error", f"{name} returns a {type(result).__name__}, not a tensor"))
        return None
    return result


def _shape_and_range(fake: torch.Tensor, real: torch.Tensor) -> list[Finding]:
    want, got = list(real.shape[1:]), list(fake.shape[1:])
    if got != want:
        how = (f"reshape G's output (x.view(-1, {', '.join(map(str, want))}))"
               if fake[0].numel() == real[0].numel() else "change G's last layer")
        return [Finding("error", f"G makes samples of shape {got}, the data has {want}: {how}")]
    lo, hi = float(fake.min()), float(fake.max())
    rlo, rhi = float(real.min()), float(real.max())
    if rlo < -0.5 and lo >= 0:
        return [Finding("warning", f"G's outputs lie in [{lo:.2g}, {hi:.2g}] and the data's in "
                        f"[-1, 1]: G cannot make the dark half; end G with nn.Tanh(), not a "
                        f"sigmoid")]
    if lo < rlo - 0.05 * (rhi - rlo) - 0.05 or hi > rhi + 0.05 * (rhi - rlo) + 0.05:
        fix = "end G with nn.Tanh()" if rlo >= -1.01 and rhi <= 1.01 else "scale G's output"
        return [Finding("warning", f"G's outputs range over [{lo:.3g}, {hi:.3g}], the data's "
                        f"over [{rlo:.3g}, {rhi:.3g}]: {fix}")]
    return []


def preflight(generator: nn.Module, discriminator: nn.Module, x: torch.Tensor,
              labels: Optional[torch.Tensor], cfg: Any) -> None:
    """What GAN(generator=, discriminator=) runs before a run is made: errors raise
    NetCheckError, warnings are GanKitWarnings (one line each)."""
    import warnings

    from ...errors import GanKitWarning
    from ...viz import from_uint8
    y = labels[:BATCH].long() if cfg.model.conditional and labels is not None else None
    findings = check_batch(generator, discriminator, from_uint8(x[:BATCH]), y,
                           z_dim=int(getattr(generator, "z_dim", cfg.model.z_dim)),
                           loss=cfg.loss.loss)
    if any(f.level == "error" for f in findings):
        raise NetCheckError(findings)
    for f in findings:
        warnings.warn(f.message, GanKitWarning, stacklevel=3)


def _critic(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, y: Optional[torch.Tensor],
            loss: str) -> list[Finding]:
    out: list[Finding] = []
    scores = [_call(D, x, y, "D", out) for x in (real, fake.detach())]
    if out:
        return out
    s_real, s_fake = scores
    if s_real.dim() > 2 or s_real.numel() != len(real):
        return [Finding("error", f"D returns shape {list(s_real.shape)} for {len(real)} items; "
                        f"it must give one score per item ([N] or [N, 1]): end D with "
                        f"nn.Linear(features, 1)")]
    leaves = [m for m in D.modules() if not list(m.children())]
    both = torch.cat([s_real.flatten(), s_fake.flatten()]).detach()
    # probabilities stay in [0, 1] whatever comes in; logits grow with an input 50 times larger
    probabilities = bool(both.min() >= 0 and both.max() <= 1)
    if probabilities:
        loud = _call(D, real * 50, y, "D", [])
        probabilities = loud is not None and bool(loud.min() >= 0 and loud.max() <= 1)
    if (leaves and isinstance(leaves[-1], nn.Sigmoid)) or probabilities:
        out.append(Finding("warning", "D ends in a sigmoid (or returns probabilities): gankit's "
                           "losses take logits and apply the sigmoid themselves, so the game is "
                           "weakened; remove D's final nn.Sigmoid()"))
    p_real, p_fake = (float(torch.sigmoid(s.detach()).mean()) for s in (s_real, s_fake))
    if p_real > SEPARATED and p_fake < 1 - SEPARATED:
        out.append(Finding("warning", f"D already tells real from fake at step 0 (D(x) "
                           f"{p_real:.3f}, D(G(z)) {p_fake:.3f}): G gets no useful gradient; "
                           f"check that real and generated samples are scaled alike"))
    if "gp" in loss and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in leaves):
        out.append(Finding("warning", "D uses BatchNorm with the gradient penalty, which needs "
                           "each item's gradient alone: use no normalization, LayerNorm or "
                           "--d-norm spectral in D"))
    return out


def _gradients(G: nn.Module, D: nn.Module, real: torch.Tensor, y: Optional[torch.Tensor],
               z_dim: int) -> list[Finding]:
    """One D step's and one G step's backward pass: parameters that get no gradient."""
    def score(x: torch.Tensor) -> torch.Tensor:
        s = D(x) if y is None else D(x, y)
        return (s[0] if isinstance(s, tuple) else s).flatten()
    z = torch.randn(len(real), z_dim, device=real.device)
    fake = G(z) if y is None else G(z, y)
    for loss in (F.softplus(-score(real)).mean() + F.softplus(score(fake.detach())).mean(),
                 F.softplus(-score(fake)).mean()):
        if loss.requires_grad:   # (a D without parameters gives G's loss alone one)
            loss.backward()
    out = []
    for name, net in (("G", G), ("D", D)):
        dead = [n for n, p in net.named_parameters() if p.requires_grad and p.grad is None]
        if dead:
            more = f" and {len(dead) - 3} more" if len(dead) > 3 else ""
            out.append(Finding("warning", f"{name}'s parameters {', '.join(dead[:3])}{more} get "
                               f"no gradient: they never train (a layer defined but not used in "
                               f"forward?)"))
    return out


__all__ = ["Finding", "NetCheckError", "check", "check_batch", "preflight"]
