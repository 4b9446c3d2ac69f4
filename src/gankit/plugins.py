"""A user's own parts, by name from the CLI: `--plugins my_parts.py` (or a module name) imports the
code that calls `register_net` / `register_objective` before the run is built.

Importing runs the user's own code, as `python my_parts.py` would, so gankit imports only what the
user names each time: `--plugins` on the command line (Python: `plugins=`), or `--trust-plugins`
(`trust_plugins=True`) for what a run's config.json records. Opening a run directory never
imports anything by itself: config.json is data, and anyone may have written it.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from .errors import ConfigError, RunError


def split_plugins(spec: str) -> list[str]:
    return [p.strip() for p in (spec or "").split(",") if p.strip()]


def normalize_plugins(spec: str) -> str:
    """File paths made absolute (so the run can be loaded from any directory); modules kept."""
    out = []
    for item in split_plugins(spec):
        if _is_file(item):
            path = Path(item).expanduser()
            if not path.is_file():
                raise ConfigError(f"plugin {item}: no such file")
            item = str(path.resolve())
        out.append(item)
    return ",".join(out)


def load_plugins(spec: str) -> None:
    """Import each plugin once (a file by its path, anything else as a module name)."""
    for item in split_plugins(spec):
        name = _module_name(item)
        if name in sys.modules:
            continue
        try:
            if _is_file(item):
                path = Path(item).expanduser()
                if not path.is_file():
                    raise ConfigError(f"plugin {item}: no such file")
                spec_ = importlib.util.spec_from_file_location(name, path)
                module = importlib.util.module_from_spec(spec_)
                sys.modules[name] = module
                try:
                    spec_.loader.exec_module(module)
                except BaseException:
                    del sys.modules[name]
                    raise
            else:
                importlib.import_module(item)
        except ConfigError:
            raise
        except Exception as e:   # the user's code: any error becomes one line naming the plugin
            raise ConfigError(f"plugin {item} failed to import: {type(e).__name__}: {e}") from None


def _is_file(item: str) -> bool:
    return item.endswith(".py") or "/" in item or "\\" in item


def _module_name(item: str) -> str:
    if not _is_file(item):
        return item
    path = str(Path(item).expanduser().resolve())
    return "gankit_plugin_" + "".join(c if c.isalnum() else "_" for c in path)


def check_plugins(run_dir: Path, cfg: Any) -> None:
    """RunError when a run's nets or loss come from plugin code that is not imported now."""
    from .nets import NETS
    from .objectives import ALIASES, OBJECTIVES
    from .tasks import get
    if not get(cfg.task).plugin_parts:   # its nets and loss are its own, never a plugin's
        return
    missing = []
    if cfg.model.model not in NETS and cfg.model.model != "custom":
        missing.append(f"model {cfg.model.model!r}")
    if ALIASES.get(cfg.loss.loss, cfg.loss.loss) not in OBJECTIVES:
        missing.append(f"loss {cfg.loss.loss!r}")
    if not missing:
        return
    named = cfg.model.plugins
    where = (f"plugin code ({named})" if named else "a name registered from Python")
    raise RunError(f"{run_dir} needs {' and '.join(missing)}, from {where}; gankit never runs "
                   f"code because a run directory names it: if you trust that code, pass "
                   f"--plugins {named or 'FILE'} or --trust-plugins (Python: plugins=... or "
                   f"trust_plugins=True)")


TRUST_HELP = ("import the plugin code the run's config.json names (only for a run you trust: a "
              "run directory's files are otherwise never run as code)")


def add_plugin_flags(p: Any) -> None:
    """What a command that opens a run needs for a run trained with plugins."""
    p.add_argument("--plugins", metavar="SPEC", help="import these modules or .py files first "
                   "(the ones the run was trained with); opening a run never imports them by "
                   "itself")
    p.add_argument("--trust-plugins", action="store_true", help=TRUST_HELP)
