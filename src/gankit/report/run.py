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
from ..tasks import TRANSLATION_TASKS
from ..errors import DataError, GanKitError
from ..train.callbacks import read_metrics, sample_frames
from ..train.state import read_best, read_progress
from ..viz import make_grid, to_uint8
from . import figures
from .memorization import N_FAKE, check_memorization
from .page import array_uri, document, esc, img, table, write_page, SLIDER_JS

MAX_FRAMES = 60          # sample grids on the timeline (evenly spaced, always the last)
INTERP_ROWS, INTERP_STEPS = 6, 10
SEED = 0


def default_output(run_dir: Path) -> Path:
    return Path(f"{Path(run_dir).resolve().name}-report.html")


def build_report(run_dir: Union[str, Path], output: Union[str, Path, None] = None,
                 force: bool = False, memorization: bool = True,
                 data: Union[str, Path, None] = None) -> Path:
    """Write the report of a run (or of a TableGAN saved by `gankit synth --save DIR`, compared
    with its CSV or `data`); returns its path. Never writes into the run directory."""
    from ..api import load_run
    from .table import build_table_report, is_table_model
    run_dir = Path(run_dir)
    output = Path(output) if output is not None else default_output(run_dir)
    if output.resolve().is_relative_to(run_dir.resolve()):
        raise GanKitError(f"--output {output} is inside the run directory; a report never "
                          f"writes there: choose another path")
    if is_table_model(run_dir):
        return build_table_report(run_dir, output, force, data)
    gan = load_run(run_dir, weights_only=True)   # a clear RunError when missing or corrupt
    if gan.config.task in ("text", "audio"):
        what = {"text": "step-*.txt", "audio": "step-*.png and .wav"}[gan.config.task]
        raise GanKitError(f"{run_dir} is a {gan.config.task} run: the report covers image runs "
                          f"so far; see `gankit eval {run_dir}` and {run_dir}/samples/{what}")
    facts = RunFacts(run_dir, gan)
    body = [facts.warnings_section(memorization), facts.summary_section(),
            facts.curves_section(), facts.timeline_section(), *facts.generator_sections()]
    page = document(f"gankit report: {run_dir.resolve().name}", body, SLIDER_JS)
    return write_page(output, page, force)


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
        self.translation = self.cfg.task in TRANSLATION_TASKS
        self.images = len(self.cfg.data_shape) == 3 and not self.translation
        self.findings = health.check(self.records, self.cfg.loss.loss)
        self.memo: Optional[Any] = None
        self.memo_note = ""
        self.dloss: Optional[dict] = None

    # --- warnings ----------------------------------------------------------------------
    def warnings_section(self, memorization: bool) -> str:
        if memorization and self.images:
            self._memorization()
        self._held_out_d()
        items = [f'<div class="warning" data-kind="{esc(f.kind)}">{esc(f.message)}</div>'
                 for f in self.findings]
        if self.memo is not None and self.memo.flagged:
            m = self.memo
            items.append(f'<div class="warning" data-kind="memorization">memorization: '
                         f'{m.share_close:.0%} of {len(m.fake_dist)} samples are closer to a '
                         f'training image than 99% of {esc(m.ref_label)} are '
                         f'(distance &lt; {m.threshold:.3g}); the generator copies its training '
                         f'set (see below)</div>')
        if not items:
            items = ['<p class="ok" id="healthy">No warnings: no divergence, collapse, '
                     'overfitting of D or memorization in what this run measured.</p>']
        return '<section id="warnings"><h2>Warnings</h2>' + "\n".join(items) + "</section>"

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
    def summary_section(self) -> str:
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
        flat = _flatten(d["config"])
        conf = table(((k, v) for k, v in flat.items()), head=("option", "value"))
        return ('<section id="summary"><h2>Run</h2>' + table(rows) +
                "<details><summary>full configuration</summary>" + conf + "</details></section>")

    def curves_section(self) -> str:
        if not self.records:
            return '<section id="curves"><h2>Curves</h2><p>Nothing logged yet.</p></section>'
        best = self.data["best"]["step"] if self.data["best"] else None
        figs = figures.curves(self.records, best)
        parts = [f"<h3>{esc(t)}</h3>" + img(u, t) for t, u in figs]
        note = ("<p class='note'>Red dashed line: the best checkpoint (lowest FID).</p>"
                if best is not None else "")
        return '<section id="curves"><h2>Curves</h2>' + note + "\n".join(parts) + "</section>"

    def timeline_section(self) -> str:
        frames = sample_frames(self.run_dir, ".png")
        if not frames:
            return '<section id="timeline"><h2>Samples over training</h2><p>No sample grids.</p></section>'
        if len(frames) > MAX_FRAMES:
            pick = np.linspace(0, len(frames) - 1, MAX_FRAMES).round().astype(int)
            frames = [frames[i] for i in sorted(set(pick.tolist()))]
        from .page import png_uri
        imgs = []
        for i, f in enumerate(frames):
            step = int(f.stem.split("-")[1])
            hidden = "" if i == len(frames) - 1 else " hidden"
            imgs.append(img(png_uri(f.read_bytes()), f"samples at step {step}", "frame pixel",
                            f' data-label="step {step:,}"{hidden}'))
        last = len(frames) - 1
        return ('<section id="timeline"><h2>Samples over training</h2>'
                "<p class='note'>" + ("The same held-out inputs (input | output | truth)"
                                      if self.translation else "The same fixed noise")
                + " at every step"
                + (" (one class per row)" if self.cfg.model.conditional else "") + ".</p>"
                f'<input type="range" id="timeline-slider" min="0" max="{last}" value="{last}" '
                f'step="1" aria-label="training step"> <span id="timeline-label"></span>'
                f"<div>{''.join(imgs)}</div></section>")

    # --- the generator now --------------------------------------------------------------
    def generator_sections(self) -> list[str]:
        if self.translation:
            return [self._translations()]
        if self.images:
            out = [self._interpolations()]
            if self.cfg.model.conditional:
                out.append(self._per_class())
            out.append(self._memorization_section())
            return out
        return [self._vectors()]

    def _translations(self) -> str:
        """Held-out scores of a pix2pix/colorize run, and its held-out examples now."""
        try:
            self.gan.pictures   # read now: a loaded run reads its pictures when first asked
        except GanKitError as e:
            return f'<section id="translations"><h2>Translations</h2><p>{esc(e)}</p></section>'
        scores = self.gan.evaluate()
        which = "held-out" if self.gan.pictures.held else "training (nothing is held out)"
        x = self.gan.triptych()
        grid = make_grid(to_uint8(x), nrow=3)
        return ('<section id="translations"><h2>Translations</h2>'
                f"<p>On the {which} pictures, whole: " +
                ", ".join(f"{k} {v:.4g}" for k, v in scores.items()) + "</p>"
                "<p class='note'>Rows: input | output | truth (centre crops).</p>" +
                img(array_uri(grid, 2), "translations", "pixel") + "</section>")

    def _interpolations(self) -> str:
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
            parts.append(f"<h3>{name}</h3>" + img(array_uri(grid, _scale(x)), f"{name} "
                                                   f"interpolation", "pixel"))
        return ('<section id="interpolations"><h2>Latent interpolations</h2><p class="note">'
                f"Each row walks from one random latent to another in {INTERP_STEPS} steps "
                "(EMA generator); spherical paths keep the latent's norm, as Gaussian noise "
                "of this size has.</p>" + "".join(parts) + "</section>")

    def _per_class(self) -> str:
        k = self.cfg.num_classes
        cols = 10
        g = torch.Generator(self.gan.device).manual_seed(SEED + 1)
        z = self.gan.task.noise(cols, g).repeat(k, 1)
        labels = torch.arange(k).repeat_interleave(cols)
        x = self.gan.task.generate(z, labels=labels)
        grid = make_grid(to_uint8(x), nrow=cols)
        return ('<section id="classes"><h2>Per class</h2><p class="note">Row k: class k; each '
                'column keeps one latent.</p>' + img(array_uri(grid, _scale(x)), "samples per "
                                                       "class", "pixel") + "</section>")

    def _memorization_section(self) -> str:
        head = '<section id="memorization"><h2>Memorization check</h2>'
        dl = ""
        if self.dloss is not None:
            d = self.dloss
            dl = ("<p>Discriminator loss on real images now: training "
                  f"{d['real_train']:.3f}, held-out {d['real_held_out']:.3f} (gap "
                  f"{d['train_held_out_gap']:+.3f} nats; a growing gap means D memorizes).</p>")
        m = self.memo
        if m is None:
            return head + dl + f"<p>{esc(self.memo_note or 'not run')}</p></section>"
        pairs = "".join(
            f"<figure>{img(array_uri(np.concatenate([s, t], 1), 2), 'sample and nearest', 'pixel')}"
            f"<figcaption>distance {dist:.3g}</figcaption></figure>" for s, t, dist in m.pairs)
        verdict = ("<p class='warning'>Flagged: many samples are nearer to a training image "
                   "than held-out real images ever are.</p>" if m.flagged else
                   "<p class='ok'>Not flagged.</p>")
        return (head + dl + verdict +
                f"<p>{len(m.fake_dist):,} EMA samples against {m.n_train:,} training images in "
                f"{esc(m.space)}. {m.share_close:.1%} of samples are nearer to a training image "
                f"than 99% of {esc(m.ref_label)} (expected about 1% for fresh samples; "
                f"flagged above 10%). Median distance: samples {np.median(m.fake_dist):.3g}, "
                f"reference {np.median(m.ref_dist):.3g}.</p>"
                + img(figures.distance_histogram(m.fake_dist, m.ref_dist, m.ref_label),
                      "distance histogram")
                + "<h3>The closest samples (left) beside their nearest training image (right)</h3>"
                f"<div class='pairs'>{pairs}</div></section>")

    def _vectors(self) -> str:
        """Runs on vectors: 2-D points as a scatter plot; tables as marginals + correlations."""
        from ..data.training import load_training_data
        fake = self.gan.sample(2000, seed=SEED).reshape(2000, -1).numpy()
        try:
            real = load_training_data(self.cfg.data.dataset, self.cfg.data)[0]
            real = real.reshape(len(real), -1).float().numpy()[:5000]
        except GanKitError as e:
            return f'<section id="samples"><h2>Samples</h2><p>{esc(e)}</p></section>'
        if fake.shape[1] == 2:
            return ('<section id="samples"><h2>Samples</h2>' +
                    img(figures.scatter(fake, real), "samples vs real points") + "</section>")
        import pandas as pd
        names = [f"column {i}" for i in range(fake.shape[1])]
        frames = [pd.DataFrame(a, columns=names) for a in (real, fake)]
        return ('<section id="samples"><h2>Columns: real vs generated</h2>' +
                img(figures.marginals(*frames), "marginals") +
                img(figures.correlations(real, fake), "correlations") + "</section>")


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


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = json.dumps(v) if isinstance(v, (list, tuple)) else v
    return out

