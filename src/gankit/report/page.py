"""One self-contained HTML page: jinja2 templates (templates/*.html.j2, autoescaped, so every run
name, path, dataset name or message is escaped), images as data: URIs, no network, and a writer
that never replaces a file it did not write."""
from __future__ import annotations

import base64
import functools
import io
import os
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from .._version import __version__
from ..errors import ConfigError

MARKER = "gankit-report"   # <meta name="generator">: how a later run knows the file is ours


def fmt(v: Any) -> str:
    """A table cell: floats to 4 significant digits, anything else as str()."""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


@functools.cache
def _environment(task_templates: tuple[str, ...]) -> jinja2.Environment:
    """The templates here, then the folders of templates that registered tasks bring."""
    loader = jinja2.ChoiceLoader([jinja2.PackageLoader("gankit.report", "templates"),
                                  jinja2.FileSystemLoader(list(task_templates))])
    env = jinja2.Environment(loader=loader,
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["cell"] = fmt
    env.globals.update(marker=MARKER, version=__version__)
    return env


def render(template: str, **context: Any) -> str:
    """The page `template` (a file in templates/) filled with `context`; values are escaped."""
    from ..tasks import specs
    folders = tuple(str(s.templates) for s in specs() if s.templates is not None)
    return _environment(folders).get_template(template).render(**context)


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
    """A matplotlib figure (viz.figure) -> PNG data: URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return png_uri(buf.getvalue())


def is_report(path: Path) -> bool:
    """Whether `path` is a page gankit wrote (so it may be replaced)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096).decode("utf-8", "replace")
    except OSError:
        return False
    return f'name="generator" content="{MARKER}' in head


def write_page(path: Path, text: str, overwrite: bool = False) -> Path:
    """Write atomically. An existing file is replaced only if gankit wrote it, or with
    `overwrite` (--overwrite)."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"--output {path} is a directory; name an .html file")
    if not path.parent.is_dir():
        raise ConfigError(f"--output {path}: no such directory {path.parent}")
    if path.exists() and not overwrite and not is_report(path):
        raise ConfigError(f"{path} exists and is not a gankit report; refusing to overwrite it "
                          f"(pass --overwrite to replace it)")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
