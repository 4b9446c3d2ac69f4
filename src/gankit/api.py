"""The Python API's one generic entry: `load_run(dir)` rebuilds any task's run from its directory
(its task's spec, from the registry, makes the facade). `gankit.GAN` lives in
gankit.tasks.gan.facade.

    gan = gankit.load_run("runs/mnist-dcgan")
    images = gan.sample(16)
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Union

from torch import nn

from . import compat, tasks
from .errors import ConfigError
from .plugins import check_plugins, load_plugins, normalize_plugins
from .rundir import read_config


def load_run(run_dir: Union[str, Path], *, dataset: Any = None, device: str = "auto",
             generator: Optional[nn.Module] = None, discriminator: Optional[nn.Module] = None,
             weights_only: bool = False, plugins: Optional[str] = None,
             trust_plugins: bool = False, allow_data_change: bool = False) -> Any:
    """Rebuild a run from its directory: nets, EMA, optimizers, step, RNG and data order.

    `fit()` then continues exactly where the run stopped. Runs trained on data passed from Python
    need `dataset=` again to continue training; runs with a user's own nets need `generator=` and
    `discriminator=` (fresh instances of the same classes).

    Loading runs no code from the run directory. A run trained with plugins (`--plugins`) needs
    its nets and losses registered again: import them yourself, pass `plugins="my_parts.py"`, or,
    for a run you trust, `trust_plugins=True` (imports what its config.json names).
    """
    run_dir = Path(run_dir)
    old = compat.load_old_save(run_dir, weights_only)   # a save of gankit 0.1 that is no run
    if old is not None:
        return old
    cfg = read_config(run_dir)
    if plugins:
        load_plugins(normalize_plugins(plugins))
    elif trust_plugins:
        load_plugins(cfg.model.plugins)
    check_plugins(run_dir, cfg)
    spec = tasks.get(cfg.task)
    given = {k: v for k, v in (("dataset", dataset), ("generator", generator),
                               ("discriminator", discriminator)) if v is not None}
    for name in given:
        if name not in spec.load_options:
            what = ("its own nets" if name != "dataset" else
                    f"its data from {cfg.data.dataset}")
            raise ConfigError(f"a {cfg.task} run builds {what}; {name}= does not apply to it")
    gan = spec.load_run(run_dir, cfg, device=device, weights_only=weights_only, **given)
    gan.allow_data_change = allow_data_change
    return gan
