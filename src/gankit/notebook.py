"""gankit in a notebook (JupyterLab, the classic Notebook, VS Code's notebooks): one live output
while a run trains, a short card for a run, and samples shown inline.

    gan = gankit.GAN(dataset="mnist")
    gan.fit(steps=2000)     # in a notebook: one output, redrawn in place (train/callbacks.LiveView)
    gan                     # a card: task, data, steps, last losses, run directory, newest preview
    gan.show(16)            # a grid of 16 samples (a text run: a list; audio: players; table: rows)

Nothing here changes anything outside a notebook, and IPython is imported only inside one (it
is not a dependency): `show()` returns its object (`_repr_png_` or `_repr_html_`) either way.
This module knows file types (the previews a run writes into samples/), never a task.
"""
from __future__ import annotations

import base64
import csv
import html
import io
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .errors import ConfigError

ENV = "GANKIT_NOTEBOOK"    # 1: behave as in a notebook, 0: as outside one (else: detected)
PROGRESS = ("notebook",)   # progress= values besides None, True and False
IMAGES = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
PREVIEW_ROWS = 8           # lines of a .txt preview, rows of a .csv one, in a card or live view


# --- where we are --------------------------------------------------------------------------------
def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (JupyterLab, Notebook, VS Code, Colab): IPython's
    shell is the kernel's ZMQInteractiveShell, or its config names IPKernelApp. GANKIT_NOTEBOOK=1
    or 0 decides instead. A terminal IPython is no notebook."""
    forced = os.environ.get(ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    ipython = sys.modules.get("IPython")   # a kernel has imported it; nothing else is asked to
    shell = _shell(ipython)
    if shell is None:
        return False
    if type(shell).__name__ == "ZMQInteractiveShell":
        return True
    try:
        return "IPKernelApp" in shell.config
    except Exception:   # an odd shell object: not a kernel we know
        return False


def _shell(ipython: Any) -> Any:
    try:
        return ipython.get_ipython() if ipython is not None else None
    except Exception:
        return None


def check_progress(progress: Any) -> None:
    """fit's `progress=`: None (the live view in a notebook; a bar on a terminal, lines
    elsewhere), True (a bar), False (nothing) or "notebook" (the live view); ConfigError else."""
    if progress is None or isinstance(progress, bool) or progress in PROGRESS:
        return
    raise ConfigError(f"progress= is None (chosen for where it runs), True (a progress bar), "
                      f"False (none) or \"notebook\" (the live view), not {progress!r}")


def live_wanted(progress: Any) -> bool:
    """Whether a fit with this `progress=` shows the notebook's live view."""
    check_progress(progress)
    return progress == "notebook" or (progress is None and in_notebook())


# --- putting things on the page ------------------------------------------------------------------
def display(obj: Any) -> None:
    """Put `obj` on the notebook's page (IPython's display)."""
    from IPython.display import display as ipython_display
    ipython_display(obj)


def publish(bundle: dict[str, Any]) -> None:
    """Put a MIME bundle ({"text/html": ..., "text/plain": ...}) on the page."""
    from IPython.display import publish_display_data
    publish_display_data(bundle)


def _execution_count() -> Optional[int]:
    shell = _shell(sys.modules.get("IPython"))
    return getattr(shell, "execution_count", None)


def this_cell() -> Optional[int]:
    """The notebook cell running now (IPython's execution count; None outside a kernel)."""
    return _execution_count()


def display_once(bundle: Any, shown_in: Optional[int]) -> bool:
    """Publish `bundle()` unless the thing was already put on the page in this same cell
    (`shown_in`, from this_cell()): then it is a cell's value right after show() or fit(), and
    showing it again would repeat it. Returns whether it published."""
    if shown_in is not None and shown_in == _execution_count():
        return False
    publish(bundle())
    return True


class LiveDisplay:
    """One output area, redrawn in place: IPython's display handle (display_id=True)."""

    def __init__(self, page: str):
        from IPython.display import HTML
        from IPython.display import display as ipython_display
        self.handle = ipython_display(HTML(page), display_id=True)

    def update(self, page: str) -> None:
        from IPython.display import HTML
        self.handle.update(HTML(page))


class Shown:
    """What `show()` returns. In a notebook `show()` has already put it on the page, so shown
    again as its cell's value (`gan.show(16)` on a cell's last line) it is not repeated; shown
    later (`grid` in another cell, `display(grid)`) it is."""

    _cell: Optional[int] = None   # the cell that show() displayed it in

    def bundle(self) -> dict[str, Any]:
        raise NotImplementedError

    def _ipython_display_(self) -> None:
        if not display_once(self.bundle, self._cell):
            self._cell = None   # once: a display() after the cell's value shows it again


class Image(Shown):
    """A picture (PNG bytes): `_repr_png_` for notebooks, `save(path)`, `size` (width, height)."""

    def __init__(self, png: bytes, caption: str = ""):
        self.png, self.caption = png, caption

    @classmethod
    def from_array(cls, array: np.ndarray, scale: int = 1, caption: str = "") -> Image:
        """uint8 [H, W, C] (C 1 or 3) -> an Image, nearest-neighbour enlarged by `scale`."""
        from PIL import Image as PILImage
        img = PILImage.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
        if scale > 1:
            img = img.resize((img.width * scale, img.height * scale), PILImage.NEAREST)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        return cls(buf.getvalue(), caption)

    @property
    def size(self) -> tuple[int, int]:
        from PIL import Image as PILImage
        return PILImage.open(io.BytesIO(self.png)).size

    def save(self, path: Any) -> Path:
        Path(path).write_bytes(self.png)
        return Path(path)

    def _repr_png_(self) -> bytes:
        return self.png

    def bundle(self) -> dict[str, Any]:
        return {"image/png": base64.b64encode(self.png).decode("ascii"), "text/plain": repr(self)}

    def __repr__(self) -> str:
        w, h = self.size
        return f"<gankit image {w}x{h}{': ' + self.caption if self.caption else ''}>"


class HTML(Shown):
    """A piece of HTML (`_repr_html_`): text items, audio players, table rows, a run's card."""

    def __init__(self, page: str, text: str = ""):
        self.page, self.text = page, text

    def _repr_html_(self) -> str:
        return self.page

    def bundle(self) -> dict[str, Any]:
        return {"text/html": self.page, "text/plain": repr(self)}

    def __repr__(self) -> str:
        return f"<gankit {self.text or 'HTML'}>"


def show(obj: Shown) -> Shown:
    """`obj` put on the page in a notebook, and returned (outside one: only returned)."""
    if in_notebook():
        obj._cell = None
        display(obj)
        obj._cell = this_cell()
    return obj


# --- what samples look like ----------------------------------------------------------------------
def samples_view(samples: Any, task: str) -> Shown:
    """The default inline view of what a run's `sample` returned: images [N, C, H, W] in [-1, 1]
    as a grid (enlarged 2x up to 32 px, as the previews are), 2-D points [N, 2] as a scatter
    plot. Facades whose samples are something else give their own `view`."""
    import torch

    from .viz import make_grid, to_uint8
    if isinstance(samples, torch.Tensor) and samples.dim() == 4:
        scale = 2 if samples.shape[-1] <= 32 else 1
        return Image.from_array(make_grid(to_uint8(samples)), scale, f"{len(samples)} samples")
    if isinstance(samples, torch.Tensor) and samples.dim() == 2 and samples.shape[1] == 2:
        from .train.callbacks import scatter_png
        buf = io.BytesIO()
        scatter_png(samples.detach().cpu(), None, buf, title=f"{len(samples)} samples")
        return Image(buf.getvalue(), f"{len(samples)} points")
    raise ConfigError(f"a {task} run's samples have no inline view; use sample() and save()")


def items_html(items: list[str], what: str = "items") -> HTML:
    """Strings as a numbered list (escaped)."""
    rows = "".join(f"<li><code>{html.escape(str(s))}</code></li>" for s in items)
    return HTML(f'<div class="gankit-items"><ol style="margin:0">{rows}</ol></div>',
                f"{len(items)} {what}")


# --- the previews a run writes (samples/step-*) --------------------------------------------------
def newest_preview(run_dir: Optional[Path]) -> list[Path]:
    """The files of the newest samples/step-NNNNNNN.* a run wrote that a page can show (pictures,
    .txt and .csv previews; a .wav beside a spectrogram is left to `show()`'s players)."""
    from .train.state import STEP_DIR
    folder = Path(run_dir) / "samples" if run_dir is not None else None
    if folder is None or not folder.is_dir():
        return []
    steps: dict[str, list[Path]] = {}
    for p in folder.iterdir():
        stem, suffix = p.name.split(".", 1)[0], p.suffix.lower()
        if STEP_DIR.fullmatch(stem) and (suffix in IMAGES or suffix in (".txt", ".csv")):
            steps.setdefault(stem, []).append(p)
    if not steps:
        return []
    newest = steps[max(steps, key=lambda s: int(s[5:]))]
    return sorted(newest, key=lambda p: (p.suffix.lower() not in IMAGES, p.name))


def preview_html(files: list[Path], rows: int = PREVIEW_ROWS, size: int = 400) -> str:
    """`files` (see newest_preview) as HTML: pictures embedded (base64, shown at most `size`
    px wide and high), the first `rows` lines of a .txt, the first `rows` rows of a .csv."""
    parts = []
    for path in files:
        try:
            parts.append(_file_html(path, rows, size))
        except (OSError, ValueError, csv.Error):   # a file being replaced: shown next time
            continue
    return "".join(parts)


def _file_html(path: Path, rows: int, size: int) -> str:
    suffix = path.suffix.lower()
    title = html.escape(path.name)
    if suffix in IMAGES:
        return img_tag(path.read_bytes(), IMAGES[suffix], path.name, size)
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    if suffix == ".txt":
        shown = "\n".join(lines[:rows]) + ("\n…" if len(lines) > rows else "")
        return f'<pre title="{title}" style="margin:0">{html.escape(shown)}</pre>'
    table = list(csv.reader(lines[:rows + 1]))
    return table_html(table[0], table[1:], title) if table else ""


def img_tag(data: bytes, mime: str = "image/png", alt: str = "", size: Optional[int] = None
            ) -> str:
    """A picture embedded as a data: URI (at most `size` px wide and high, if given)."""
    uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    fit = f";max-width:min(100%,{size}px);max-height:{size}px" if size else ";max-width:100%"
    return (f'<img src="{uri}" alt="{html.escape(alt)}" title="{html.escape(alt)}" '
            f'style="height:auto;width:auto{fit}">')


def table_html(header: list[Any], rows: list[list[Any]], title: str = "") -> str:
    """A small HTML table (every cell escaped)."""
    cell = (lambda v, tag: f"<{tag} style=\"padding:1px 6px;text-align:right\">"
                           f"{html.escape(_fmt(v))}</{tag}>")
    head = "".join(cell(h, "th") for h in header)
    body = "".join("<tr>" + "".join(cell(v, "td") for v in row) + "</tr>" for row in rows)
    return (f'<table title="{html.escape(title)}" style="border-collapse:collapse;font-size:90%">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


# --- a run's card and its live view ------------------------------------------------------------
SKIP = ("step", "elapsed", "nimg")


def _values(record: dict) -> dict[str, float]:
    return {k: v for k, v in record.items() if k not in SKIP and isinstance(v, (int, float))}


def last_losses(records: list[dict]) -> dict[str, float]:
    """The numbers of the newest training record: of the last 20 records, the newest of the
    kind most of them are (a task's losses, whatever it calls them; not a rarer evaluation's)."""
    recent = [r for r in records[-20:] if _values(r)]
    if not recent:
        return {}
    kinds = Counter(frozenset(_values(r)) for r in recent)
    kind = kinds.most_common(1)[0][0]
    return next(_values(r) for r in reversed(recent) if frozenset(_values(r)) == kind)


def curves_png(records: list[dict], most: int = 4) -> Optional[bytes]:
    """The live view's training curves over steps, as PNG bytes (None without records): the
    report's panels (report.figures.panels: losses, D's outputs, diversity, then each other
    number the task logs), at most `most` of them side by side."""
    from .report.figures import panels
    recs = [r for r in records if isinstance(r.get("step"), int)]
    chosen = panels(recs)[:most]
    if not chosen:
        return None
    from .viz import figure
    fig = figure((3.4 * len(chosen), 2.6))
    axes = fig.subplots(1, len(chosen), squeeze=False)
    for ax, (title, keys) in zip(axes[0], chosen):
        for key in keys:
            rows = [r for r in recs if isinstance(r.get(key), (int, float))]
            ax.plot([r["step"] for r in rows], [r[key] for r in rows], label=key, ms=2,
                    marker="o" if len(rows) < 30 else None)
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return buf.getvalue()


def numbers(values: dict[str, float]) -> str:
    return " · ".join(f"{html.escape(k)} {html.escape(_fmt(float(v)))}" for k, v in values.items())


def card_html(facade: Any) -> str:
    """A run as a short card: its class and task, data, steps, last losses, run directory and
    its newest preview (read from config, history and the run directory, nothing else)."""
    cfg, run_dir = facade.config, facade.run_dir
    data = Path(str(cfg.data.dataset)).name or str(cfg.data.dataset)
    lines = [f"<b>{html.escape(type(facade).__name__)}</b> · task {html.escape(cfg.task)} · "
             f"data {html.escape(data)}"]
    if run_dir is None:
        lines.append(f"step {facade.step:,} · not trained yet: fit() writes its run directory")
    else:
        records = facade.history
        losses = last_losses(records)
        lines.append(f"step {facade.step:,}" + (f" · {numbers(losses)}" if losses else ""))
        lines.append(f"run <code>{html.escape(str(run_dir))}</code>")
    reason = getattr(facade, "stop_reason", None)
    if reason:
        lines.append(f"last fit: {html.escape(reason)}")
    preview = preview_html(newest_preview(run_dir), size=240) if run_dir is not None else ""
    body = "".join(f"<div>{line}</div>" for line in lines)
    if preview:
        body += f'<div style="margin-top:6px">{preview}</div>'
    return (f'<div class="gankit-card" style="border:1px solid rgba(128,128,128,.5);'
            f'border-radius:6px;padding:8px 10px;display:inline-block;max-width:100%">'
            f"{body}</div>")


def live_html(title: str, step: int, total: Optional[int], seconds: float, rate: float,
              left: Optional[float], losses: dict[str, float], curve: str, preview: str,
              status: str = "") -> str:
    """The live view's page: progress, last losses, the curve and the newest preview."""
    of = f" / {total:,}" if total else ""
    bar = (f' <progress value="{step}" max="{total}" style="vertical-align:middle"></progress>'
           f" {100 * step / max(total, 1):.0f}%" if total else "")
    facts = [f"{_duration(seconds)}", f"{rate:.1f} steps/s"]
    if left is not None and not status:
        facts.append(f"about {_duration(left)} left")
    head = (f"<b>{html.escape(title)}</b> · step {step:,}{of}{bar} · " + " · ".join(facts))
    rows = [head]
    if losses:
        rows.append(numbers(losses))
    if status:
        rows.append(f"<b>{html.escape(status)}</b>")
    pictures = "".join(f"<div>{part}</div>" for part in (curve, preview) if part)
    return ('<div class="gankit-live">' + "".join(f"<div>{r}</div>" for r in rows)
            + f'<div style="display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start;'
              f'margin-top:6px">{pictures}</div></div>')


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


__all__ = ["HTML", "Image", "LiveDisplay", "Shown", "card_html", "check_progress", "in_notebook",
           "items_html", "live_wanted", "newest_preview", "preview_html", "samples_view", "show",
           "table_html"]
