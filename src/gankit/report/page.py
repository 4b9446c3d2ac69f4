"""One self-contained HTML page: escaped text, tables, images as data: URIs, no network, and a
writer that never replaces a file it did not write."""
from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy as np

from .._version import __version__
from ..errors import ConfigError

MARKER = "gankit-report"   # <meta name="generator">: how a later run knows the file is ours

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222;
       padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ddd; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0; font-size: .9em; }
td, th { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
.warning { background: #fff3f0; border-left: 4px solid #d33; padding: .5em 1em; margin: .4em 0; }
.ok { background: #f0fff3; border-left: 4px solid #3a3; padding: .5em 1em; }
.note { color: #666; font-size: .9em; }
img { max-width: 100%; } img.pixel { image-rendering: pixelated; }
.pairs { display: flex; flex-wrap: wrap; gap: 12px; }
.pairs figure { margin: 0; text-align: center; font-size: .8em; }
input[type=range] { width: 60%; }
.diff { background: #fffbe0; }
"""

SLIDER_JS = """
function showFrame(i) {
  const frames = document.querySelectorAll('#timeline img.frame');
  frames.forEach((f, k) => { f.hidden = (k !== Number(i)); });
  const shown = frames[Number(i)];
  document.getElementById('timeline-label').textContent = shown ? shown.dataset.label : '';
}
const slider = document.getElementById('timeline-slider');
if (slider) {
  slider.addEventListener('input', (e) => showFrame(e.target.value));
  showFrame(slider.value);
}
"""


def esc(x: Any) -> str:
    return html.escape(str(x))


def fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def table(rows: Iterable[Iterable[Any]], head: Optional[Iterable[str]] = None,
          classes: Optional[list[str]] = None) -> str:
    """Rows of cells (already-escaped HTML is not expected: every cell is escaped)."""
    out = ["<table>"]
    if head is not None:
        out.append("<tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>")
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{esc(fmt(c))}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def array_uri(array: np.ndarray, scale: int = 1) -> str:
    """uint8 [H, W, C] -> a PNG data: URI (nearest-neighbour enlarged by `scale`)."""
    from PIL import Image
    img = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return png_uri(buf.getvalue())


def figure_uri(fig: Any) -> str:
    """A matplotlib figure -> PNG data: URI (and the figure is closed)."""
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return png_uri(buf.getvalue())


def img(uri: str, alt: str, cls: str = "", extra: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<img src="{uri}" alt="{esc(alt)}"{c}{extra}>'


def document(title: str, body: list[str], script: str = "") -> str:
    return "\n".join([
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        f'<meta name="generator" content="{MARKER} {esc(__version__)}">',
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>", *body,
        f"<script>{script}</script>" if script else "", "</body></html>", ""])


def is_report(path: Path) -> bool:
    """Whether `path` is a page gankit wrote (so it may be replaced)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096).decode("utf-8", "replace")
    except OSError:
        return False
    return f'name="generator" content="{MARKER}' in head


def write_page(path: Path, text: str, force: bool = False) -> Path:
    """Write atomically. An existing file is replaced only if gankit wrote it, or with force."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"--output {path} is a directory; name an .html file")
    if not path.parent.is_dir():
        raise ConfigError(f"--output {path}: no such directory {path.parent}")
    if path.exists() and not force and not is_report(path):
        raise ConfigError(f"{path} exists and is not a gankit report; refusing to overwrite it "
                          f"(pass --force to replace it)")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
