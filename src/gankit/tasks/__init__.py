"""The task registry: what a run trains.

Every task is a package under gankit/tasks/ whose `__init__` registers its `TaskSpec`
(tasks/spec.py): finding the packages here is all the core knows of them. A task from outside
gankit registers itself the same way, with `gankit.tasks.register(MySpec())`, and gets `gankit
train --task`, `--resume`, `sample`, `eval`, `info` and `report`.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Optional

from ..errors import ConfigError
from .spec import TaskSpec

_REGISTRY: dict[str, TaskSpec] = {}
_builtins_loaded = False


def register(spec: TaskSpec) -> TaskSpec:
    """Add a task (a TaskSpec instance) to the registry; its name and aliases must be new,
    except that registering the same spec class again replaces it (a module imported twice)."""
    if not isinstance(spec, TaskSpec) or not spec.name:
        raise TypeError("register() takes a TaskSpec instance with a name")
    for key in (spec.name, *spec.aliases):
        old = _lookup(key)
        if old is not None and type(old) is not type(spec) and \
                type(old).__qualname__ != type(spec).__qualname__:
            raise ConfigError(f"a task named {key!r} is registered already ({old!r})")
    if spec.default and any(s.default and s.name != spec.name for s in _REGISTRY.values()):
        raise ConfigError(f"{spec!r} and another task both say they are the default task")
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a task added with register() (tests; a plugin that replaces its own)."""
    _REGISTRY.pop(get(name).name, None)


def _load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    for found in pkgutil.iter_modules(__path__):
        if found.ispkg:
            importlib.import_module(f"{__name__}.{found.name}")


def _lookup(name: str) -> Optional[TaskSpec]:
    spec = _REGISTRY.get(name)
    if spec is None:
        spec = next((s for s in _REGISTRY.values() if name in s.aliases), None)
    return spec


def specs() -> list[TaskSpec]:
    """Every registered task, in `--task` help order."""
    _load_builtins()
    return sorted(_REGISTRY.values(), key=lambda s: (s.order, s.name))


def default_task() -> TaskSpec:
    """The task `gankit train` trains when no --task is given."""
    found = [s for s in specs() if s.default]
    if not found:
        raise ConfigError("no task is registered as the default one")
    return found[0]


def get(name: Optional[str]) -> TaskSpec:
    """The spec of a task by its name or an alias (None: the default task); ConfigError if
    there is no such task."""
    _load_builtins()
    if name is None:
        return default_task()
    spec = _lookup(name)
    if spec is None:
        raise ConfigError(f"unknown task {name!r}: choose one of {', '.join(cli_names())} (a "
                          f"task from your own code is there once its module is imported: "
                          f"--plugins MODULE)")
    return spec


def cli_names() -> list[str]:
    """What `--task` takes: each task's first alias (its short name) or its name."""
    return [(s.aliases or (s.name,))[0] for s in specs()]


def task_name(name: Optional[str]) -> str:
    """The registry's name of a task as the CLI or config.json names it (None: the default)."""
    return get(name).name


def task_options(task: Optional[str]) -> type:
    """The TaskOptions class of a task."""
    return get(task).options()


def new_config(task: Optional[str] = None, preset: Optional[str] = None,
               **options: Any) -> Any:
    """A new run's configuration, made in this one place for the CLI and every facade: the
    shared defaults, a preset's, the task's own defaults (which may follow what the user chose),
    then the options the user gave (field -> value)."""
    from ..config import RunConfig, with_options
    from ..presets import apply_preset
    spec = get(task)
    klass = spec.options()
    if preset is not None and preset not in spec.presets:
        if not spec.presets:
            raise ConfigError(f"--preset names a recipe of another task; the {spec.name} task "
                              f"has its own defaults")
        raise ConfigError(f"unknown preset {preset!r}: choose one of {', '.join(spec.presets)}")
    cfg = apply_preset(RunConfig(task=spec.name, options=klass()), preset)
    return with_options(cfg, **{**klass.defaults(options), **options})


__all__ = ["TaskSpec", "cli_names", "default_task", "get", "new_config", "register", "specs",
           "task_name", "task_options", "unregister"]
