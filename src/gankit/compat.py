"""Reading what gankit 0.1 wrote: every version-1 format the current code still opens, in one
place. Version-1 run directories are converted as they are read (config.json here, the rest by the
loaders they share with version 2); a 0.1 `gankit synth --save DIR` folder, which is no run, is
opened as a table run that samples and reports but does not train."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .config import CONFIG_VERSION, SECTIONS, fields
from .errors import ConfigError, RunError

# Translation runs made before their widths were sized to the data recorded no width: 32.
LEGACY_TRANSLATION_WIDTH = 32
V1_TABLE_TASK = "table"   # what a 0.1 `synth --save` folder opens as


# The fields that version 1 kept in the shared sections for every task, and version 2 keeps in the
# options of the task they belong to.
V1_TASK_FIELDS = frozenset({"domains", "unit", "max_len", "vocab_size", "labels_per_class",
                            "labeled", "audio_length", "text_model", "tau_min", "tau_steps",
                            "mle_steps", "cycle_weight", "identity_weight", "mle_weight",
                            "l1_weight"})


def upgrade_v1(d: dict, options: type) -> dict:
    """A version 1 config.json (gankit 0.1: every task's fields in the shared sections) as
    version 2: the task's own fields moved into `options`, the other tasks' fields and the shared
    fields the task does not read dropped (they had no effect on the run)."""
    own = {f.name for f in fields(options)}
    out: dict[str, Any] = {k: v for k, v in d.items() if k not in SECTIONS}
    moved: dict[str, Any] = {}
    for name in SECTIONS:
        section = d.get(name, {})
        if not isinstance(section, dict):
            raise ConfigError(f"invalid run configuration: section {name!r} is not an object")
        kept = {}
        for key, value in section.items():
            if key in own:
                moved[key] = value
            elif key not in V1_TASK_FIELDS and key not in options.UNUSED:
                kept[key] = value
        out[name] = kept
    out["options"], out["config_version"] = moved, CONFIG_VERSION
    return out


def is_v1_table_save(path: Path) -> bool:
    """A TableGAN saved by gankit 0.1's `gankit synth --save DIR` (model.safetensors and
    table.json, no config.json): not a run, but load_run reads it (load_v1_table_save)."""
    path = Path(path)
    return (path / "table.json").is_file() and not (path / "config.json").exists()


def load_old_save(path: Path, weights_only: bool) -> Optional[Any]:
    """What `load_run` opens from a folder of gankit 0.1 that is no run directory (None: it is
    not one)."""
    if is_v1_table_save(path):
        return load_v1_table_save(path, weights_only)
    return None


# gankit 0.1's TableGANConfig names -> the table task's config fields
V1_TABLE_FIELDS = {"noise_dim": "z_dim", "hidden": "width", "batch_size": "batch_size",
             "epochs": "epochs", "pac": "pac", "lr": "lr", "lr_d": "lr_d",
             "min_steps": "min_steps", "gp_weight": "gp_weight", "max_modes": "max_modes",
             "seed": "seed"}


def load_v1_table_save(path: Path, weights_only: bool) -> Any:
    """A TableGAN saved by gankit 0.1's `gankit synth --save DIR` (G's weights in
    model.safetensors; the layout, settings and source CSV in table.json), loaded with its weights
    alone: it samples the rows it sampled then and reports as a run does, but cannot train on
    (the save holds no critic and no optimizer state)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .data.training import USER_DATA
    from .tasks import new_config
    from .tasks.table.facade import TableGAN, table_run
    from .tasks.table.model import TableModel
    from .train.callbacks import read_metrics
    path = Path(path)
    cannot = (f"{path} is a TableGAN saved by gankit 0.1: it holds G alone, so it samples and "
              f"reports (load_run(..., weights_only=True)) but cannot train on; train a table run "
              f"instead (gankit train --task table --dataset IN.csv)")
    if not weights_only:
        raise RunError(cannot)
    try:
        text = (path / "table.json").read_text()
        meta = json.loads(text)
        old = meta["config"]
        options = {new: old[v1] for v1, new in V1_TABLE_FIELDS.items() if old.get(v1) is not None}
        options["discrete"] = ",".join(map(str, old.get("discrete") or []))
        cfg = new_config(V1_TABLE_TASK, dataset=meta.get("source") or USER_DATA, **options)
        model = TableModel(cfg)
        model.load_json(text)
        model.generator.load_state_dict(load_file(str(path / "model.safetensors")))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as e:
        raise RunError(f"{path}: not a TableGAN saved by gankit 0.1 "
                       f"({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    model.cfg = cfg = cfg.replace(data_shape=(model.dim,), num_classes=0)
    gan = TableGAN(run=table_run(cfg, model, np.random.default_rng(cfg.train.seed),
                                 run_dir=path), model=model)
    gan.run.loaded_step = max((int(r.get("step", 0)) for r in read_metrics(path)), default=0)

    def refuse() -> None:
        raise RunError(cannot)
    gan.run.hooks = dataclasses.replace(gan.run.hooks, sampler=refuse)
    return gan
