"""The task registry: what a run trains.

"image-gan" (tasks/gan.py) is the core's; the others live in gankit.apps, registered here by the
module that builds and loads their runs. Such a module has
  - `OPTIONS`: task name -> its TaskOptions subclass (its own config fields and defaults);
  - `new_run(task, config, out)`: a new run from a RunConfig (`config.data.dataset` is its data);
  - `load_task_run(run_dir, config, device, weights_only)` (see gankit.load_run);
its run objects offer the GAN's fit/step/config/run_dir. The core imports those modules only
through this table, by name, when a run of theirs is made or opened.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Optional

from ..config import RunConfig, TaskOptions, with_options
from ..errors import ConfigError
from ..presets import apply_preset

IMAGE_GAN = "image-gan"
APP_TASKS: dict[str, str] = {"pix2pix": "gankit.apps.translate", "colorize": "gankit.apps.translate",
                             "cyclegan": "gankit.apps.cyclegan", "text": "gankit.apps.text",
                             "audio": "gankit.apps.audio",
                             "semi-supervised": "gankit.apps.semi",
                             "table": "gankit.tabular.synth", "impute": "gankit.tabular.gain"}
TRANSLATION_TASKS = ("pix2pix", "colorize", "cyclegan")
CLI_NAMES = {"gan": IMAGE_GAN}   # `gankit train --task gan` is the image GAN


def task_name(name: Optional[str]) -> str:
    """The registry's name of a task as the CLI or config.json names it (None: the image GAN)."""
    name = CLI_NAMES.get(name or "gan", name or "gan")
    if name != IMAGE_GAN and name not in APP_TASKS:
        raise ConfigError(f"unknown task {name!r}: choose one of "
                          f"{', '.join(['gan', *APP_TASKS])}")
    return name


def app_module(task: str) -> ModuleType:
    return importlib.import_module(APP_TASKS[task])


def task_options(task: str) -> type:
    """The TaskOptions class of a task (the image GAN's has no fields)."""
    task = task_name(task)
    return TaskOptions if task == IMAGE_GAN else app_module(task).OPTIONS[task]


def new_config(task: Optional[str] = None, preset: Optional[str] = None,
               **options: Any) -> RunConfig:
    """A new run's configuration, made in this one place for the CLI and every facade: the
    shared defaults, a preset's (image GAN only), the task's own defaults (which may follow
    what the user chose), then the options the user gave (field -> value)."""
    task = task_name(task)
    klass = task_options(task)
    if preset is not None and task != IMAGE_GAN:
        raise ConfigError(f"--preset names an image GAN recipe; the {task} task has its own "
                          f"defaults")
    cfg = apply_preset(RunConfig(task=task, options=klass()), preset)
    return with_options(cfg, **{**klass.defaults(options), **options})


__all__ = ["APP_TASKS", "IMAGE_GAN", "TRANSLATION_TASKS", "app_module", "new_config",
           "task_name", "task_options"]
