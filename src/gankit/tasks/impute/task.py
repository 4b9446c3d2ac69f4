"""The task the shared trainer walks for GAIN, in a GAINImputer's fit and in an impute run
alike: G's and D's phases on a batch of rows, the batch source, and the callback that keeps the
best validated G."""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Optional

import torch
from torch import nn

from ...errors import RunError
from ...train.trainer import Callback, Phase, Trainer
from ..base import TaskBase

if TYPE_CHECKING:
    from .imputer import GAINImputer


class RowIndices:
    """The trainer's batches: `batch_size` row indices drawn uniformly, with replacement, from
    the imputer's generator (the stream the rest of a step draws from too)."""

    world = 1

    def __init__(self, n: int, batch_size: int, gen: torch.Generator):
        self.n, self.batch_size, self.gen = n, batch_size, gen

    def __len__(self) -> int:
        return self.n

    def next(self) -> torch.Tensor:
        return torch.randint(0, self.n, (self.batch_size,), generator=self.gen)

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return {}, {}   # its generator is the task's

    def load(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        pass


class GAINTask(TaskBase):
    """GAIN's G and D and their two phases on a batch of rows: D learns which cells were
    observed (scored on the cells the hint leaves open); then G, on the same completed rows,
    learns to fool D on the cells it filled and to reconstruct every observed cell.

    With validation cells (`held`), `keep` (a KeepBestG, one of the fit's callbacks) keeps the
    best G so far as the net "G_best"; it and its scores are part of the task's state, so a
    resumed run keeps the same best G and patience."""

    def __init__(self, imp: GAINImputer, x: torch.Tensor, m: torch.Tensor, held: torch.Tensor,
                 gen: torch.Generator, validated: Optional[bool] = None):
        self.imp, self.x, self.m = imp, x, m
        self.nets: dict[str, nn.Module] = {"G": imp.generator_, "D": imp.discriminator_}
        self.optimizers = {name: torch.optim.Adam(net.parameters(), lr=imp.learning_rate,
                                                  weight_decay=imp.weight_decay)
                           for name, net in self.nets.items()}
        if validated is None:   # G is scored when there are cells to score it on
            validated = bool(held.sum() > 0)
        self.keep = KeepBestG(imp, x, m, held, gen) if validated else None
        if self.keep is not None:
            self.nets["G_best"] = self.keep.best_net
        self.generators = {"gain": gen}
        # D's phase also runs G (with gradients), whose output G's phase then scores
        self.phases = [Phase("D", ("D",), self.d_loss, grad=("D", "G")),
                       Phase("G", ("G",), self.g_loss)]
        self.losses: list[float] = []   # the reconstruction loss of each step
        self._batch: Any = None

    def d_loss(self, idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        imp, gen = self.imp, self.generators["gain"]
        xb, mb = self.x[idx], self.m[idx]
        shown = mb * (torch.rand(mb.shape, generator=gen) >= imp.hide_rate).float()   # G's input
        reveal = (torch.rand(mb.shape, generator=gen) < imp.hint_rate).float()
        hint = reveal * shown + 0.5 * (1 - reveal)                       # [B, F]
        open_ = 1 - reveal                                               # cells D is scored on
        g, g_raw = imp.complete(xb, shown, gen, grad=True)               # [B, D]
        self._batch = (xb, mb, shown, hint, open_, g, g_raw)
        d_logit = imp.discriminator_(torch.cat([g.detach(), hint], 1))
        d_loss = (_BCE(d_logit, shown, reduction="none") * open_).sum() / open_.sum().clamp(min=1)
        # not named d_loss: D's hint game is not an image GAN's, and the health checks that read
        # d_loss (D winning outright) do not apply to it
        return d_loss, {"d_bce": d_loss.detach()}

    def g_loss(self, idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        imp = self.imp
        xb, mb, shown, hint, open_, g, g_raw = self._batch
        self._batch = None
        d_logit = imp.discriminator_(torch.cat([g, hint], 1))
        fooled = (_BCE(d_logit, torch.ones_like(mb), reduction="none") * open_ * (1 - shown))
        adv = fooled.sum() / (open_ * (1 - shown)).sum().clamp(min=1)
        # reconstruction over every observed cell, the hidden ones included
        rec = (imp.layout_.recon(xb, g_raw) * mb).sum() / mb.sum().clamp(min=1)
        self.losses.append(rec.item())
        return adv + imp.alpha * rec, {"g_adv": adv.detach(), "recon": rec.detach()}

    def rows(self) -> RowIndices:
        """The trainer's batch source: row indices from the task's generator."""
        return RowIndices(self.x.shape[0], min(self.imp.batch_size, self.x.shape[0]),
                          self.generators["gain"])

    def imputing_net(self) -> nn.Module:
        """The G that fills tables: the best validated G, else the latest."""
        keep = self.keep
        return keep.best_net if keep is not None and keep.found else self.imp.generator_

    def state(self) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
        tensors, meta = super().state()
        if self.keep is not None:
            meta["keep_best"] = self.keep.state()
        return tensors, meta

    def load(self, tensors: dict, meta: dict, weights_only: bool = False) -> None:
        super().load(tensors, meta, weights_only)
        if self.keep is not None:
            self.keep.load(meta.get("keep_best"))


class KeepBestG(Callback):
    """Every `eval_every` steps (and at the last), G's error on the held-out cells: the best G is
    kept (in `best_net`), and training stops after `patience` steps without improvement."""

    def __init__(self, imp: GAINImputer, x: torch.Tensor, m: torch.Tensor, held: torch.Tensor,
                 gen: torch.Generator):
        self.imp, self.x, self.m, self.held, self.gen = imp, x, m, held, gen
        self.scores: list[tuple[int, float]] = []
        self.best = float("inf")
        self.best_net = copy.deepcopy(imp.generator_)
        self.best_it = self.last_best_it = 0   # first and latest step that scored `best`

    @property
    def found(self) -> bool:
        """Whether a validation has run (best_net then holds the best G)."""
        return self.best < float("inf")

    def state(self) -> dict[str, Any]:
        return {"best": self.best if self.found else None, "best_it": self.best_it,
                "last_best_it": self.last_best_it, "scores": [list(p) for p in self.scores]}

    def load(self, meta: Optional[dict[str, Any]]) -> None:
        if not isinstance(meta, dict):
            raise RunError("the checkpoint's state.json lacks GAIN's validation state "
                           "(keep_best): the run is incomplete or was damaged")
        self.best = float("inf") if meta["best"] is None else float(meta["best"])
        self.best_it, self.last_best_it = int(meta["best_it"]), int(meta["last_best_it"])
        self.scores = [(int(it), float(v)) for it, v in meta["scores"]]

    def on_step(self, trainer: Trainer) -> None:
        it, imp = trainer.step, self.imp
        if it % imp.eval_every and it != imp.iterations:
            return
        score = imp.validate(self.x, self.m, self.held, self.gen)
        self.scores.append((it, score))
        trainer.log_extra({"held_out_error": score})   # a run's metrics.jsonl and curves
        if score < self.best:
            self.best = score
            self.best_net.load_state_dict(imp.generator_.state_dict())
            self.best_it = self.last_best_it = it
            return
        if score == self.best:
            self.last_best_it = it
        if it - self.last_best_it >= imp.patience:
            trainer.stop_reason = f"no better validation error for {imp.patience} steps"


_BCE = nn.functional.binary_cross_entropy_with_logits


__all__ = ["GAINTask", "KeepBestG", "RowIndices"]
