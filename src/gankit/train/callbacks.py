"""Everything around the loop that touches the outside world: progress, logs, pictures, checkpoints."""
from __future__ import annotations

import json
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable, Optional

import torch

from .. import health
from ..errors import ConfigError, GanKitWarning
from ..viz import make_grid, plot_curves, save_png, to_uint8
from .state import STEP_DIR, atomic_write_text, read_best, save_checkpoint, step_name
from .trainer import Callback, Trainer


class Every(Callback):
    """Base for callbacks that act every `every` steps and once more at the end."""

    def __init__(self, every: int):
        self.every = max(int(every), 1)
        self.last = -1

    def on_step(self, trainer: Trainer) -> None:
        if trainer.step % self.every == 0:
            self._fire(trainer)

    def on_end(self, trainer: Trainer) -> None:
        if trainer.step != self.last:
            self._fire(trainer)

    def _fire(self, trainer: Trainer) -> None:
        self.last = trainer.step
        self.act(trainer)

    def act(self, trainer: Trainer) -> None: ...


class MetricsLog(Callback):
    """Appends each log record as one JSON line to metrics.jsonl."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def on_log(self, trainer: Trainer, record: dict[str, float]) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")


class Progress(Callback):
    """A progress bar with live losses and ETA on a terminal; plain lines otherwise."""

    def __init__(self, total_steps: int, max_time: Optional[float], stream: Any = None,
                 bar: Optional[bool] = None):
        # With only a time limit there is no step total: the bar counts up and shows the rate.
        self.total = total_steps if total_steps < 2**62 else None
        self.max_time = max_time
        self.stream = stream or sys.stderr
        self.bar_wanted = self.stream.isatty() if bar is None else bar
        self.bar = None

    def on_start(self, trainer: Trainer) -> None:
        if self.bar_wanted:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=self.total, initial=trainer.step, unit="step", file=self.stream,
                            dynamic_ncols=True)

    def on_step(self, trainer: Trainer) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def on_log(self, trainer: Trainer, record: dict[str, float]) -> None:
        losses = {k: f"{v:.3f}" for k, v in record.items() if k not in ("step", "elapsed", "nimg")}
        if self.bar is not None:
            self.bar.set_postfix(losses, refresh=False)
            return
        rate = record["step"] / max(record["elapsed"], 1e-9)
        text = " ".join(f"{k}={v}" for k, v in losses.items())
        of = f"/{self.total}" if self.total else ""
        print(f"step {record['step']}{of} {record['elapsed']:.0f}s "
              f"({rate:.1f} step/s) {text}", file=self.stream, flush=True)

    def on_end(self, trainer: Trainer) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class LiveView(Callback):
    """A notebook's one live output while a run trains: the step, the total and the last losses,
    the training curve and the newest preview the task wrote (samples/step-*), redrawn in place
    in one display (IPython's display handle; `display`: a function of the page's HTML that
    returns what `.update(html)` redraws). It redraws at most every `interval` seconds, at
    every preview step (`sample_every`) and at the end; the curve, which matplotlib takes a
    good part of a second to draw, at most every `interval` or twenty times its drawing time,
    whichever is longer, and always at the end. A display that fails stops being redrawn, with
    one warning; training goes on."""

    def __init__(self, run_dir: Path, total_steps: int, max_time: Optional[float],
                 sample_every: int, title: str = "", interval: float = 1.0,
                 display: Optional[Callable[[str], Any]] = None):
        from .. import notebook
        self.run_dir, self.title = Path(run_dir), title or Path(run_dir).name
        self.total = total_steps if total_steps < 2**62 else None
        self.max_time, self.every = max_time, max(int(sample_every), 1)
        self.interval = interval
        self.display = display or notebook.LiveDisplay
        self.handle: Any = None
        self.records: list[dict] = []
        self.curve, self.curve_n, self.curve_at, self.curve_cost = "", -1, -1e9, 0.0
        self.preview, self.preview_key = "", None
        self.start, self.first, self.shown_at = 0.0, 0, -1e9

    def on_start(self, trainer: Trainer) -> None:
        self.records = read_metrics(self.run_dir)   # a resumed run's curve from its start
        self.start, self.first = time.monotonic(), trainer.step
        self.show(trainer, force=True)

    def on_step(self, trainer: Trainer) -> None:
        if trainer.step % self.every == 0:
            self.show(trainer, force=True)
        elif time.monotonic() - self.shown_at >= self.interval:
            self.show(trainer)

    def on_log(self, trainer: Trainer, record: dict[str, float]) -> None:
        self.records.append(dict(record))

    def on_end(self, trainer: Trainer) -> None:
        self.show(trainer, force=True, status=trainer.stop_reason or "done")

    def show(self, trainer: Trainer, force: bool = False, status: str = "") -> None:
        """Redraw the page now (`force`: also the curve and preview; `status`: the run ended)."""
        from .. import notebook
        now = time.monotonic()
        self.shown_at = now
        self._draw_curve(now, final=bool(status))
        if force or self.preview_key is None:
            files = notebook.newest_preview(self.run_dir)
            key = [(p.name, _mtime(p)) for p in files]
            if key != self.preview_key:
                self.preview, self.preview_key = notebook.preview_html(files), key
        seconds = now - self.start
        rate = (trainer.step - self.first) / max(seconds, 1e-9)
        page = notebook.live_html(self.title, trainer.step, self.total, trainer.elapsed, rate,
                                  self._left(trainer, seconds, rate),
                                  notebook.last_losses(self.records), self.curve, self.preview,
                                  status)
        try:
            if self.handle is None:
                self.handle = self.display(page)
            else:
                self.handle.update(page)
        except Exception as e:   # a closed notebook, a lost connection: the run matters more
            warnings.warn(f"the notebook's live view stopped ({type(e).__name__}: {e}); "
                          f"training goes on", GanKitWarning)
            self.handle = _Off()

    def _draw_curve(self, now: float, final: bool) -> None:
        from .. import notebook
        due = now - self.curve_at >= max(self.interval, 20 * self.curve_cost)
        if len(self.records) == self.curve_n or not (final or due):
            return
        png = notebook.curves_png(self.records)
        self.curve_cost = time.monotonic() - now
        self.curve_n, self.curve_at = len(self.records), now
        self.curve = notebook.img_tag(png, alt="training curves") if png else ""

    def _left(self, trainer: Trainer, seconds: float, rate: float) -> Optional[float]:
        """Seconds until the run's end, by steps or by its time limit (None: not known yet)."""
        left = []
        if self.total and rate > 0:
            left.append((self.total - trainer.step) / rate)
        if self.max_time:
            left.append(max(self.max_time - seconds, 0.0))
        return min(left) if left else None


class _Off:
    """A live view's display once it failed: redraws nothing."""

    def update(self, page: str) -> None: ...


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return -1


LR_DECAYS = ("none", "linear")


class LRDecay(Callback):
    """Linear learning-rate decay: each optimizer's rate (--lr for G, --lr-d or --lr for the
    rest) times 1 - progress, reaching 0 at the run's end. Progress is the larger of step /
    `total` (an absolute step: a resumed run goes on where it was) and this invocation's share
    of `max_time` seconds; with neither known there is no end to decay to, and rates stay."""

    def __init__(self, optimizers: dict[str, torch.optim.Optimizer], train: Any,
                 total: Optional[int] = None, max_time: Optional[float] = None):
        from .optim import lr_for
        if train.lr_decay not in LR_DECAYS:
            raise ConfigError(f"--lr-decay is none or linear, not {train.lr_decay!r}")
        self.optimizers = optimizers
        self.base = {name: lr_for(name, train) for name in optimizers}
        self.total = total if total is not None and total < 2 ** 62 else None
        self.max_time, self.start = max_time, 0.0

    def progress(self, trainer: Trainer) -> float:
        p = trainer.step / self.total if self.total else 0.0
        if self.max_time:
            p = max(p, (trainer.elapsed - self.start) / self.max_time)
        return min(max(p, 0.0), 1.0)

    def on_start(self, trainer: Trainer) -> None:
        self.start = trainer.elapsed
        self.on_step(trainer)

    def on_step(self, trainer: Trainer) -> None:
        scale = 1.0 - self.progress(trainer)
        for name, opt in self.optimizers.items():
            for group in opt.param_groups:
                group["lr"] = self.base[name] * scale


class TensorBoard(Callback):
    """TensorBoard scalars, when the `tensorboard` package is installed (silently off otherwise)."""

    def __init__(self, log_dir: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            self.writer = None
            return
        self.writer = SummaryWriter(str(log_dir))

    def on_log(self, trainer: Trainer, record: dict[str, float]) -> None:
        if self.writer is not None:
            for k, v in record.items():
                if k not in ("step", "nimg"):
                    self.writer.add_scalar(k, v, record["step"])

    def on_end(self, trainer: Trainer) -> None:
        if self.writer is not None:
            self.writer.flush()


class SampleGrid(Every):
    """Samples from fixed noise: a grid PNG per interval (a scatter plot for 2-D points)."""

    def __init__(self, out_dir: Path, every: int, draw: Callable[[], torch.Tensor],
                 real: Optional[torch.Tensor] = None):
        super().__init__(every)
        self.out_dir, self.draw, self.real = Path(out_dir), draw, real
        self.out_dir.mkdir(parents=True, exist_ok=True)

    def act(self, trainer: Trainer) -> None:
        fake = self.draw()
        path = self.out_dir / f"{step_name(trainer.step)}.png"
        if fake.dim() == 4:
            save_png(make_grid(to_uint8(fake)), path, scale=2 if fake.shape[-1] <= 32 else 1)
        elif fake.dim() == 2 and fake.shape[1] == 2:
            scatter_png(fake, self.real, path, title=f"step {trainer.step}")


def scatter_png(fake: torch.Tensor, real: Optional[torch.Tensor], path: Path, title: str) -> None:
    from ..viz import figure
    fig = figure((5, 5))
    ax = fig.subplots()
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=3, alpha=0.3, label="real")
    ax.scatter(fake[:, 0], fake[:, 1], s=3, alpha=0.5, label="generated")
    ax.set_title(title)
    ax.legend(loc="upper right")
    fig.savefig(path, dpi=80)


DIVERGED = "diverged"   # the start of a stop reason set by HealthGuard


def diverged(trainer: Trainer) -> bool:
    return (trainer.stop_reason or "").startswith(DIVERGED)


def finite_state(tensors: dict[str, dict[str, torch.Tensor]]) -> bool:
    """No NaN or inf in any floating-point tensor of a checkpoint."""
    return all(bool(torch.isfinite(t).all()) for tdict in tensors.values()
               for t in tdict.values() if t.is_floating_point())


class Checkpointer(Every):
    """Saves the full training state every N steps and at the end; redraws curves.png.

    A state with NaN/inf weights is never saved; nor, once the run has a checkpoint, one reached
    after the run was declared diverged or while `hold()` says it is diverging: it would become
    `latest` and, with --keep-checkpoints, push out the good ones."""

    def __init__(self, run_dir: Path, every: int, keep: int, title: str = "",
                 hold: Optional[Callable[[], bool]] = None, minutes: float = 0.0):
        super().__init__(every)
        self.run_dir, self.keep, self.title = Path(run_dir), keep, title
        self.hold = hold   # True: the run looks unhealthy right now, keep the last checkpoint
        self.refused = False
        self.seconds = 60.0 * minutes   # also save when this long has passed (0: never)
        self.saved_at = time.monotonic()

    def on_step(self, trainer: Trainer) -> None:
        if trainer.step % self.every == 0 or (
                self.seconds > 0 and time.monotonic() - self.saved_at >= self.seconds):
            self._fire(trainer)

    def act(self, trainer: Trainer) -> None:
        self.saved_at = time.monotonic()
        plot_curves(read_metrics(self.run_dir), self.run_dir / "curves.png", self.title)
        has_one = (self.run_dir / "checkpoints" / "latest").exists()
        if has_one and (diverged(trainer) or (self.hold is not None and self.hold())):
            return   # (a run always keeps one checkpoint, so it can be looked at and resumed)
        tensors, meta = trainer.state()
        if not finite_state(tensors):
            if not self.refused:
                warnings.warn(f"step {trainer.step}: the weights hold NaN/inf; not saving this "
                              f"state (the last good checkpoint stays the latest)", GanKitWarning)
            self.refused = True
            return
        save_checkpoint(self.run_dir, trainer.step, tensors, meta, keep=self.keep)


class HealthGuard(Callback):
    """The checks of gankit.health, live at every log record: one warning line per problem, and
    with `stop_on_divergence` the run ends (stop reason "diverged: …") before the next step.

    It also measures `diversity` (see health.diversity) of the raw generator's samples from fixed
    noise at each log, into the same record; so it must come before MetricsLog in the callbacks.
    """

    def __init__(self, draw: Optional[Callable[[], torch.Tensor]], real: Optional[torch.Tensor],
                 loss: str, stop_on_divergence: bool = True, past: Sequence[dict] = ()):
        # draw/real None: no diversity reading (a translator's outputs follow its inputs)
        self.draw, self.loss, self.stop = draw, loss, stop_on_divergence
        self.real_spread = health.spread(real) if real is not None else 0.0
        # A resumed run's records so far: a streak of D winning goes on counting across resumes.
        self.records: list[dict] = [dict(r) for r in past]
        self.seen: set[str] = set()

    def suspect(self) -> bool:
        """Whether the latest training record already shows a divergence in the making (a
        non-finite number, or D winning outright): a state not to checkpoint when the run is to
        stop on divergence."""
        last = next((r for r in reversed(self.records) if "d_loss" in r), None)
        return last is not None and health.suspect(last, self.loss)

    def on_log(self, trainer: Trainer, record: dict[str, float]) -> None:
        if "d_loss" in record and self.draw is not None:   # a training record (not an evaluation)
            record["diversity"] = health.diversity(self.draw(), self.real_spread)
        self.records.append(dict(record))
        for f in health.check(self.records, self.loss):
            if f.kind in self.seen:
                continue
            self.seen.add(f.kind)
            stopping = f.kind == "divergence" and self.stop
            warnings.warn(f.message + ("; stopping, the last good checkpoint is kept "
                                       "(--no-stop-on-divergence trains on)" if stopping else ""),
                          GanKitWarning)
            if stopping:
                trainer.stop_reason = f"{DIVERGED} (since step {f.step})"


class Evaluate(Every):
    """Scores the generator every N steps, logs the numbers, and keeps the best checkpoint
    (lowest `key`, e.g. FID) under checkpoints/best."""

    def __init__(self, run_dir: Path, every: int, score: Callable[[], dict[str, float]],
                 key: str = "fid", patience: int = 0):
        super().__init__(every)
        self.run_dir, self.score, self.key, self.patience = Path(run_dir), score, key, patience
        best = read_best(self.run_dir) or {}
        self.best = best.get(key, float("inf"))
        # Evaluations since the best one, from the log: early stopping counts across resumes.
        self.since_best = sum(1 for r in read_metrics(self.run_dir)
                              if key in r and r["step"] > best.get("step", -1))

    def on_end(self, trainer: Trainer) -> None:
        if not trainer.interrupted:   # Ctrl-C wants the run saved and ended, not scored first
            super().on_end(trainer)

    def act(self, trainer: Trainer) -> None:
        if diverged(trainer):   # its samples are not worth scoring (and may be NaN)
            return
        values = self.score()
        trainer.log_extra(values)
        value = values.get(self.key)
        if value is not None and value >= self.best:
            self.since_best += 1
            if self.patience and self.since_best >= self.patience and trainer.stop_reason is None:
                trainer.stop_reason = (f"early stop: {self.key} has not improved for "
                                       f"{self.since_best} evaluations (best {self.best:.4g})")
        if value is not None and value < self.best:
            self.best, self.since_best = value, 0
            tensors, meta = trainer.state()
            ckpt = save_checkpoint(self.run_dir, trainer.step, tensors, meta)
            root = ckpt.parent
            atomic_write_text(root / "best", ckpt.name + "\n")
            atomic_write_text(root / "best.json", json.dumps({"step": trainer.step,
                                                               self.key: value}))


def read_metrics(run_dir: Path) -> list[dict]:
    """The records of metrics.jsonl (a torn last line from a crash is skipped)."""
    path = Path(run_dir) / "metrics.jsonl"
    out = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and isinstance(row.get("step"), int):
                out.append(row)
    return out


def sample_frames(run_dir: Path, suffix: str) -> list[Path]:
    """The run's `samples/step-NNNNNNN<suffix>` files in step order (files of other names, a
    user's notes, say, are not frames)."""
    folder = Path(run_dir) / "samples"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.name.endswith(suffix) and STEP_DIR.fullmatch(p.name[:-len(suffix)]))
