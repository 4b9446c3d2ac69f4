"""`gankit report RUN`: everything about one run on one self-contained page.

The run directory is only read (config.json, metrics.jsonl, samples/, the latest checkpoint);
the page goes elsewhere, by default ./<run name>-report.html.
"""
from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch

from .. import health
from ..errors import DataError, GanKitError
from ..train.callbacks import read_metrics, sample_frames
from ..train.state import read_best, read_progress
from ..viz import make_grid, to_uint8
from . import figures
from .memorization import N_FAKE, check_memorization
from .page import array_uri, png_uri, render, write_page

MAX_FRAMES = 60          # sample grids on the timeline (evenly spaced, always the last)
INTERP_ROWS, INTERP_STEPS = 6, 10
SEED = 0                 # the noise seed of every sample the page shows
SECTIONS = "run_sections.html.j2"


class Section(dict):
    """One part of the page about what the generator does now: the jinja2 macro `macro` of
    the template file `template` (report/templates, or a task's own templates folder), called
    with `value`."""


def section(macro: str, value: Any, template: str = SECTIONS) -> Section:
    return Section(template=template, macro=macro, value=value)


def default_output(run_dir: Path) -> Path:
    return Path(f"{Path(run_dir).resolve().name}-report.html")


def build_report(run_dir: Union[str, Path], output: Union[str, Path, None] = None,
                 overwrite: bool = False, memorization: bool = True,
                 data: Union[str, Path, None] = None) -> Path:
    """Write the report of a run (a table run's, or a TableGAN saved by gankit 0.1, compares with
    its CSV or `data`); returns its path. Never writes into the run directory."""
    from .. import tasks
    from ..api import load_run
    run_dir = Path(run_dir)
    output = Path(output) if output is not None else default_output(run_dir)
    if output.resolve().is_relative_to(run_dir.resolve()):
        raise GanKitError(f"--output {output} is inside the run directory; a report never "
                          f"writes there: choose another path")
    gan = load_run(run_dir, weights_only=True)   # a clear RunError when missing or corrupt
    own = tasks.get(gan.config.task).report(gan, output, overwrite, data)
    if own is not None:   # a task with a page of its own (tables)
        return own
    if data is not None:
        raise GanKitError(f"--data is the real table of a table or impute run's report, and "
                          f"this is a {gan.config.task} run")
    facts = RunFacts(run_dir, gan)
    warnings = facts.warnings(memorization)   # first: it runs the checks the others show
    page = render("run.html.j2", title=f"gankit report: {run_dir.resolve().name}",
                  warnings=warnings, summary=facts.summary(), curves=facts.curves(),
                  timeline=facts.timeline(), sections=gan.report_sections(facts))
    return write_page(output, page, overwrite)


def report_data(run_dir: Path) -> dict[str, Any]:
    """The numbers a report (and `compare`) stands on: config, meta, records, progress, best."""
    cfg_doc = json.loads((run_dir / "config.json").read_text())
    _, state = read_progress(run_dir)
    return {"config": {k: v for k, v in cfg_doc.items() if k != "meta"},
            "meta": cfg_doc.get("meta", {}), "records": read_metrics(run_dir),
            "step": state["step"], "elapsed": state["elapsed"],
            "nimg": state["nimg"], "best": read_best(run_dir)}


class RunFacts:
    def __init__(self, run_dir: Path, gan: Any):
        self.run_dir, self.gan = run_dir, gan
        self.data = report_data(run_dir)
        self.records: list[dict] = self.data["records"]
        self.cfg = gan.config
        # samples that are images like the training set's (memorization, held-out D)
        self.images = gan.report_images
        self.findings = health.check(self.records, self.cfg.loss.loss)
        self.memo: Optional[Any] = None
        self.memo_note = ""
        self.dloss: Optional[dict] = None

    # --- warnings ----------------------------------------------------------------------
    def warnings(self, memorization: bool) -> list[tuple[str, str]]:
        """(kind, message) per finding: divergence, collapse, overfitting of D, memorization."""
        if memorization and self.images:
            self._memorization()
        self._held_out_d()
        items = [(f.kind, f.message) for f in self.findings]
        m = self.memo
        if m is not None and m.flagged:
            items.append(("memorization", f"memorization: {m.share_close:.0%} of "
                          f"{len(m.fake_dist)} samples are closer to a training image than 99% "
                          f"of {m.ref_label} are (distance < {m.threshold:.3g}); the generator "
                          f"copies its training set (see below)"))
        return items

    @functools.cached_property
    def fake(self) -> torch.Tensor:
        """The EMA samples both checks below score (drawn once)."""
        return self.gan.sample(N_FAKE, seed=SEED)

    def _memorization(self) -> None:
        from ..data.training import load_training_data
        from ..evaluation import default_extractor
        dataset = self.cfg.data.dataset
        if dataset.startswith("<"):
            self.memo_note = "the run was trained on data passed from Python: no memorization check"
            return
        from ..data import load_dataset
        from ..metrics import reference_features
        try:
            ext = default_extractor(dataset)
        except GanKitError:
            ext = None
        fake = self.fake
        try:
            if ext is not None:   # the dataset as the metrics see it, features from their cache
                self.memo = check_memorization(
                    fake, lambda split: load_dataset(dataset, split).images, ext,
                    split_features=lambda split: reference_features(dataset, split, ext))
            else:
                self.memo = check_memorization(
                    fake, lambda split: load_training_data(dataset, self.cfg.data, split)[0], None)
        except DataError as e:
            self.memo_note = f"no memorization check: {e}"

    def _held_out_d(self) -> None:
        """D's loss on held-out vs training real images now (and the logged gap, if any)."""
        from ..evaluation import evaluate_run
        if not self.images or self.cfg.data.dataset.startswith("<"):
            return
        try:
            res = evaluate_run(self.gan, N_FAKE, ["dloss"], split="test", seed=SEED,
                               fake=self.fake)["dloss"]
        except GanKitError:
            return   # no held-out split
        self.dloss = res.extra
        gap = res.extra["train_held_out_gap"]
        if gap > health.OVERFIT_GAP and not any(f.kind == "overfit" for f in self.findings):
            self.findings.append(health.Finding(
                "overfit", self.data["step"], f"D overfits: its loss on held-out real images "
                f"exceeds that on training images by {gap:.2f} nats at step {self.data['step']}; "
                f"more data or augmentation (--augment) helps"))

    # --- the run ------------------------------------------------------------------------
    def summary(self) -> dict[str, list[tuple]]:
        """rows: (what, value) about the run; config: (option, value) of its configuration."""
        d, meta = self.data, self.data["meta"]
        params = {name: sum(p.numel() for p in net.parameters())
                  for name, net in self.gan.task.nets.items() if name != "G_ema"}
        rows = [("run", str(self.run_dir.resolve())), ("task", self.cfg.task),
                ("data", f"{self.cfg.data.dataset}, samples of shape {list(self.cfg.data_shape)}"
                 + (f", {self.cfg.num_classes} classes" if self.cfg.num_classes else "")),
                ("model", f"{self.cfg.model.model}, loss {self.cfg.loss.loss}"
                 + (f", conditional ({self.cfg.model.cond})" if self.cfg.model.conditional else "")),
                ("parameters", ", ".join(f"{k} {v:,}" for k, v in params.items())),
                ("progress", f"step {d['step']:,} ({d['nimg'] or 0:,} images) in "
                 f"{d['elapsed'] / 60:.1f} min of training"),
                ("hardware", meta.get("hardware") or meta.get("machine", "?")),
                ("software", f"gankit {meta.get('gankit_version', '?')}, torch "
                 f"{meta.get('torch_version', '?')}, python {meta.get('python', '?')}"),
                ("written", meta.get("written", "?"))]
        if d["best"]:
            rows.append(("best checkpoint", ", ".join(f"{k} {v:.4g}" if isinstance(v, float)
                                                      else f"{k} {v}" for k, v in d["best"].items())))
        last = next((r for r in reversed(self.records) if "d_loss" in r), None)
        if last:
            rows.append(("last log", ", ".join(f"{k} {v:.4g}" for k, v in last.items()
                                              if k not in figures.COUNTERS)))
        return {"rows": rows, "config": list(flatten_config(d["config"]).items())}

    def curves(self) -> Optional[dict[str, Any]]:
        """None when nothing is logged; else figures [(title, uri)] and whether a best
        checkpoint is marked on them."""
        if not self.records:
            return None
        best = self.data["best"]["step"] if self.data["best"] else None
        return {"figures": figures.curves(self.records, best), "best": best is not None}

    def timeline(self) -> dict[str, Any]:
        """frames: the sample grids over training, at most MAX_FRAMES, [{step, uri}] (the last is
        shown first); caption, conditional: what the grids hold."""
        frames = sample_frames(self.run_dir, ".png")
        if len(frames) > MAX_FRAMES:
            pick = np.linspace(0, len(frames) - 1, MAX_FRAMES).round().astype(int)
            frames = [frames[i] for i in sorted(set(pick.tolist()))]
        return {"frames": [{"step": int(f.stem.split("-")[1]), "uri": png_uri(f.read_bytes())}
                           for f in frames],
                "caption": self.gan.preview_caption, "conditional": self.cfg.model.conditional}

    # --- the generator now --------------------------------------------------------------
    def image_sections(self) -> list[Section]:
        """What an image (or vector) generator does now: interpolations, classes (conditional
        runs) and memorization; or samples (vectors)."""
        if not self.images:
            return [section("samples", self._vectors())]
        out = [section("interpolations", self._interpolations())]
        if self.cfg.model.conditional:
            out.append(section("per_class", self._per_class()))
        return [*out, section("memorization", self._memorized())]

    def _interpolations(self) -> dict[str, Any]:
        """paths: (path, uri) for linear and spherical paths between the same random latents."""
        task = self.gan.task
        g = torch.Generator(self.gan.device).manual_seed(SEED)
        a, b = task.noise(INTERP_ROWS, g), task.noise(INTERP_ROWS, g)
        t = torch.linspace(0, 1, INTERP_STEPS)
        labels = None
        if self.cfg.model.conditional:   # each row keeps one class
            labels = (torch.arange(INTERP_ROWS) % self.cfg.num_classes).repeat_interleave(INTERP_STEPS)
        parts = []
        for name, path in (("linear", _lerp), ("spherical", _slerp)):
            z = torch.stack([path(a[i].cpu(), b[i].cpu(), t) for i in range(INTERP_ROWS)])
            x = task.generate(z.reshape(-1, z.shape[-1]), labels=labels)
            grid = make_grid(to_uint8(x), nrow=INTERP_STEPS)
            parts.append((name, array_uri(grid, _scale(x))))
        return {"steps": INTERP_STEPS, "paths": parts}

    def _per_class(self) -> str:
        """A grid: row k is class k, each column keeps one latent."""
        k = self.cfg.num_classes
        cols = 10
        g = torch.Generator(self.gan.device).manual_seed(SEED + 1)
        z = self.gan.task.noise(cols, g).repeat(k, 1)
        labels = torch.arange(k).repeat_interleave(cols)
        x = self.gan.task.generate(z, labels=labels)
        return array_uri(make_grid(to_uint8(x), nrow=cols), _scale(x))

    def _memorized(self) -> dict[str, Any]:
        """D's held-out loss gap, and the memorization check with its closest pairs."""
        out: dict[str, Any] = {"dloss": self.dloss, "memo": self.memo,
                               "note": self.memo_note or "not run"}
        m = self.memo
        if m is not None:
            out["pairs"] = [(array_uri(np.concatenate([s, t], 1), 2), dist)
                            for s, t, dist in m.pairs]
            out["histogram"] = figures.distance_histogram(m.fake_dist, m.ref_dist, m.ref_label)
            out["medians"] = (float(np.median(m.fake_dist)), float(np.median(m.ref_dist)))
        return out

    def _vectors(self) -> dict[str, str]:
        """Runs on vectors: 2-D points as a scatter plot; tables as marginals + correlations."""
        from ..data.training import load_training_data
        fake = self.gan.sample(2000, seed=SEED).reshape(2000, -1).numpy()
        try:
            real = load_training_data(self.cfg.data.dataset, self.cfg.data)[0]
            real = real.reshape(len(real), -1).float().numpy()[:5000]
        except GanKitError as e:
            return {"error": str(e)}
        if fake.shape[1] == 2:
            return {"scatter": figures.scatter(fake, real)}
        import pandas as pd
        names = [f"column {i}" for i in range(fake.shape[1])]
        frames = [pd.DataFrame(a, columns=names) for a in (real, fake)]
        return {"marginals": figures.marginals(*frames),
                "correlations": figures.correlations(real, fake)}


def _scale(x: torch.Tensor) -> int:
    return 3 if x.shape[-1] <= 32 else 1


def _lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return a[None] + (b - a)[None] * t[:, None]


def _slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    cos = torch.dot(a, b) / (a.norm() * b.norm())
    omega = torch.arccos(cos.clamp(-1 + 1e-7, 1 - 1e-7))
    if float(omega) < 1e-4:
        return _lerp(a, b, t)
    s = math.sin(float(omega))
    return (torch.sin((1 - t) * omega)[:, None] * a[None] + torch.sin(t * omega)[:, None] * b[None]) / s


def flatten_config(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten_config(v, key + "."))
        else:
            out[key] = json.dumps(v) if isinstance(v, (list, tuple)) else v
    return out

