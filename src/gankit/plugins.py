"""A user's own parts, by name from the CLI: `--plugins my_parts.py` (or a module name) imports the
code that calls `register_net` / `register_objective` before the run is built.

The run's config.json records the plugins (files as absolute paths), so `gankit sample`, `eval`
and `--resume` import them again. Importing runs the user's own code, as `python my_parts.py` would.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from .errors import ConfigError


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
